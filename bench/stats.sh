#!/usr/bin/env bash
# `stats --no-stream` over N running containers (default 20; target
# ≤ 200 ms, issue 10), and `ps` over the same containers, with hyperfine.
# `--no-stream` samples twice, 100 ms apart, for CPU % (docker's daemon
# waits for its next 1 s collection). The busybox containers run
# `sleep` on the default network, in a store of its own, removed at the end.
#
# Usage: bench/stats.sh            (as root; builds strata in release mode)
# Env:   RUNS=20  N=20  STRATA=path/to/strata  CARGO_TARGET_DIR=…
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-20}
N=${N:-20}
if [[ -z "${STRATA:-}" ]]; then
  cargo build --release -p strata >&2
  STRATA="${CARGO_TARGET_DIR:-$PWD/target}/release/strata"
fi
[[ $(id -u) == 0 ]] || { echo "bench/stats.sh must run as root" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "hyperfine is required" >&2; exit 1; }

WORK=$(mktemp -d /tmp/strata-bench-stats.XXXXXX)
export STRATA_ROOT="$WORK/root"
cleanup() {
  "$STRATA" ps -aq --no-trunc 2>/dev/null | xargs -r "$STRATA" rm -f >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

BB=$(command -v busybox)
mkdir -p "$WORK/rootfs"/{bin,etc,dev,proc,sys,tmp,root}
cp "$BB" "$WORK/rootfs/bin/busybox"
for p in sh sleep; do ln -sf busybox "$WORK/rootfs/bin/$p"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$WORK/rootfs/etc/passwd"
tar -C "$WORK/rootfs" -cf "$WORK/busybox.tar" .
"$STRATA" image import --change 'CMD ["sh"]' "$WORK/busybox.tar" busybox >/dev/null

for i in $(seq 1 "$N"); do
  "$STRATA" run -d --name "stats-$i" busybox sleep 3600 >/dev/null
done
"$STRATA" stats --no-stream | head -3

hyperfine --warmup 2 --runs "$RUNS" -N \
  -n "stats --no-stream ($N containers)" "$STRATA stats --no-stream" \
  -n "ps ($N containers)" "$STRATA ps"
