#!/usr/bin/env bash
# The long concurrency soak (issues 11 and 18): 8 processes looping
# pull / tag / build / run --rm / rmi / container prune / builder prune /
# image prune on one root for STRATA_SOAK_SECS (default 60) seconds, then
# the kill -9 crash test with STRATA_CRASH_ROUNDS (default 10) rounds.
# Prints operations, failures by kind and run time; exits non-zero on a
# failure. Needs root and a registry: STRATA_TEST_REGISTRY, else one is
# started on 127.0.0.1:${STRATA_SOAK_REGISTRY_PORT:-5180} and stopped at the end.
# Replay a run with STRATA_TEST_SEED=<the printed seed>.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

export STRATA_SOAK_SECS=${STRATA_SOAK_SECS:-60}
export STRATA_CRASH_ROUNDS=${STRATA_CRASH_ROUNDS:-10}
if [ -z "${STRATA_TEST_REGISTRY:-}" ]; then
  addr=127.0.0.1:${STRATA_SOAK_REGISTRY_PORT:-5180}
  start_registry registry-soak "$addr"
  trap 'stop_pidfile "$STRATA_RUN/registry-soak.pid"' EXIT
  export STRATA_TEST_REGISTRY=$addr
fi
say "soak: ${STRATA_SOAK_SECS}s, 8 processes, registry $STRATA_TEST_REGISTRY"
cargo test -p strata --test cli store_concurrency::eight_processes_loop_on_one_root -- --nocapture
say "crash: ${STRATA_CRASH_ROUNDS} rounds of 6 kills"
cargo test -p strata --test cli lifecycle_crash -- --nocapture
