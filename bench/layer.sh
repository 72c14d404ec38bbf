#!/usr/bin/env bash
# Layer create/apply throughput and peak RSS (strata-store::layer).
#
#   bench/layer.sh [NODE_SAVE_TAR] [ROOTFS_TAR]
#
# Defaults to the lab's cache: a `docker save` of the node image (uncompressed
# layer tars inside) and the debian bookworm minbase rootfs tar. Applies the
# node image's layers as snapshots and the rootfs as a merge; then creates
# layers of the applied debian tree (none/gzip/zstd). GNU tar extracting the
# same layers is printed alongside for reference. Needs root (devices,
# chown, trusted xattrs). Work files go to a temp dir that is removed;
# LAYER_BENCH_TMPFS=1 puts it on a tmpfs, which separates our CPU cost from
# the filesystem's (ext4 with online discard varies a lot run to run).
set -euo pipefail
cd "$(dirname "$0")/.."

NODE=${1:-/tmp/lab/cache/node-image.tar}
ROOTFS=${2:-/tmp/lab/cache/debian-bookworm-minbase.tar}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}

command -v /usr/bin/time >/dev/null || { echo "need /usr/bin/time (apt-get install -y time)"; exit 1; }
cargo build -q --release -p strata-store --example bench_layer
BIN=$CARGO_TARGET_DIR/release/examples/bench_layer

WORK=$(mktemp -d /tmp/strata-bench-layer.XXXXXX)
if [ "${LAYER_BENCH_TMPFS:-0}" = 1 ]; then
  mount -t tmpfs -o size=3g tmpfs "$WORK"
  trap 'umount "$WORK"; rmdir "$WORK"' EXIT
  echo "(work dir on tmpfs)"
else
  trap 'rm -rf "$WORK"' EXIT
fi

peak() { # command... ; prints its output, then user/sys CPU and peak RSS from time -v
  /usr/bin/time -v "$@" 2> "$WORK/time.txt"
  awk -F: '/User time/ {u=$2} /System time/ {s=$2} /Maximum resident set size/ {r=$2}
           END {printf "    time -v: user %.2f s  sys %.2f s  peak RSS %.1f MB\n", u, s, r/1024}' "$WORK/time.txt"
}

cat "$NODE" "$ROOTFS" > /dev/null   # warm the page cache; we measure CPU, not the disk

echo "== apply: node image layers ($(du -m "$NODE" | cut -f1) MB docker save)"
for run in 1 2 3; do
  rm -rf "$WORK/node"; mkdir "$WORK/node"; sync
  peak "$BIN" apply-save "$NODE" "$WORK/node"
done

echo "== reference: GNU tar -xpf of the same layer tars"
mkdir -p "$WORK/save" && tar -xf "$NODE" -C "$WORK/save"
for l in "$WORK"/save/*/layer.tar; do
  rm -rf "$WORK/gnu"; mkdir "$WORK/gnu"
  s=$(date +%s.%N); tar --numeric-owner -xpf "$l" -C "$WORK/gnu"; e=$(date +%s.%N)
  awk -v b="$(stat -c %s "$l")" -v s="$s" -v e="$e" 'BEGIN {printf "  gnu tar  %8.1f MB  %6.3f s  %8.1f MB/s\n", b/1e6, e-s, b/1e6/(e-s)}'
done
rm -rf "$WORK/gnu" "$WORK/save"

echo "== apply: debian rootfs tar"
rm -rf "$WORK/debian"
peak "$BIN" apply-tar "$ROOTFS" "$WORK/debian"

echo "== create from the applied debian tree"
for c in none gzip zstd; do
  peak "$BIN" create "$WORK/debian" "$c"
done
