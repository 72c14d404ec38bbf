#!/usr/bin/env bash
# A paired A/B of two strata binaries on the many-files no-op rebuild: the
# runs alternate A, B, B, A, … so that both see the same machine. On this
# VM a hyperfine run of A and then of B drifted by up to 30 %, more than
# most single changes are worth; the paired ratio (B's run over the A run
# next to it) does not drift.
#
# Each binary gets its own store (a cold build, then two warm-up builds
# more than 2 s apart: the stat index's racy-timestamp rule) on the same
# freshly made filesystem, with the lab's context copied onto it.
#
# Usage: bench/ab-noop.sh A_BINARY B_BINARY     (as root)
# Env:   PAIRS=200  FS=tmpfs (or ext4)
# Needs: python3, mkfs.ext4 for ext4, the lab registry on 127.0.0.1:5000
#        with busybox (../shared/lab/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { sed -n '2,15p' "$0" >&2; exit 2; }
A=$(realpath "$1") B=$(realpath "$2")
export STRATA_RUN=${BENCH_DIR:-/tmp/strata-bench-ab-noop}
source scripts/lib.sh
source bench/lib.sh
LABDIR=${LABDIR:-$(cd ../shared/lab 2>/dev/null && pwd || echo /work/shared/lab)}
PAIRS=${PAIRS:-200}
FS=${FS:-tmpfs}
curl -sf -o /dev/null http://127.0.0.1:5000/v2/busybox/tags/list ||
  { echo "the lab registry (127.0.0.1:5000) has no busybox: run $LABDIR/setup.sh" >&2; exit 1; }

M=$STRATA_RUN/mnt
mkdir -p "$M"
cleanup() { bench_umount_fs "$M" || true; }
trap cleanup EXIT
bench_mount_fs "$FS" "$M" 8G
cp -a "$LABDIR/cases/many-files" "$M/ctx"
bash "$M/ctx/gen-context.sh" "$M/ctx/data" >/dev/null

for s in a b; do
  bin=$A; [ $s = b ] && bin=$B
  for _ in 1 2 3; do
    (cd "$M/ctx" && "$bin" --root "$M/store-$s" build -q -t mf . >/dev/null)
    sleep 2.1
  done
done

say "$PAIRS pairs on $FS: A=$A B=$B"
python3 - "$PAIRS" "$M" "$A" "$B" <<'EOF'
import os, statistics, subprocess, sys, time
pairs, m, a, b = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
runs = {"A": [], "B": []}
def run(name, binary, store):
    t = time.perf_counter()
    subprocess.run([binary, "--root", store, "build", "-q", "-t", "mf", "."],
                   cwd=f"{m}/ctx", stdout=subprocess.DEVNULL, check=True)
    runs[name].append(time.perf_counter() - t)
for i in range(pairs):
    order = [("A", a, f"{m}/store-a"), ("B", b, f"{m}/store-b")]
    for name, binary, store in (order if i % 2 == 0 else order[::-1]):
        run(name, binary, store)
ratios = [y / x for x, y in zip(runs["A"], runs["B"])]
for name in ("A", "B"):
    print(f"{name}: median {statistics.median(runs[name]) * 1000:.2f} ms")
print(f"B/A, paired: median {statistics.median(ratios):.3f}")
EOF
