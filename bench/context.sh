#!/usr/bin/env bash
# Build-context benchmark on the lab's many-files case (20,000 small files +
# 3 large ones, ~213 MB): COPY data/ /data/ as strata-build's fileops does it.
#
#   bench/context.sh [CONTEXT_DIR]     (default /tmp/lab/ctx/many-files)
#
# Phases, each a fresh process (peak RSS per phase):
#   cold    empty stat index: walk + hash everything
#   no-op   warm index, nothing changed (3 runs)
#   change  one line appended to data/small/d042/f0117.txt (3 runs)
#   copy    select + copy_into of everything into a layer dir (3 runs)
# BuildKit on the same VM (lab BASELINE.md, whole builds): cold 25.6 s,
# no-op 1.18 s, one-file change 11.1 s.
# Each run prints wall and CPU (user+sys, all threads) time. BENCH_RT=1
# (the default as root) runs the phases under SCHED_FIFO (chrt -f 50) so
# that other jobs on a shared VM do not inflate the wall times; BENCH_RT=0
# measures as an ordinary process.
set -euo pipefail
cd "$(dirname "$0")/.."

CTX=${1:-/tmp/lab/ctx/many-files}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
if [ ! -f "$CTX/data/.complete" ]; then
  bash ../shared/lab/cases/many-files/gen-context.sh "$CTX/data"
fi
cargo build -q --release -p strata-build --example bench_context
BIN=$CARGO_TARGET_DIR/release/examples/bench_context
RUN=("$BIN")
if [ "${BENCH_RT:-$([ "$(id -u)" = 0 ] && echo 1 || echo 0)}" = 1 ] && command -v chrt >/dev/null; then
  RUN=(chrt -f 50 "$BIN")
  echo "(phases run under chrt -f 50)"
fi

WORK=$(mktemp -d /tmp/strata-bench-context.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
STORE=$WORK/store
cat "$CTX"/data/large/* > /dev/null   # page cache warm, as the peers' runs were
sleep 2.1                              # let freshly generated files leave the racy window

echo "== cold (empty stat index)"
"${RUN[@]}" select "$CTX" "$STORE" data/
echo "== no-op"
for i in 1 2 3; do "${RUN[@]}" select "$CTX" "$STORE" data/; done
echo "== one-file change"
F=$CTX/data/small/d042/f0117.txt
for i in 1 2 3; do
  echo "bench change $i $(date +%s%N)" >> "$F"
  "${RUN[@]}" select "$CTX" "$STORE" data/
done
echo "== copy_into (select on a warm index + copy of everything)"
for i in 1 2 3; do
  rm -rf "$WORK/layer"
  "${RUN[@]}" copy "$CTX" "$STORE" data/ "$WORK/layer"
done
