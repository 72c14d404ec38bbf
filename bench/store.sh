#!/usr/bin/env bash
# Store benchmarks (issue 2), side by side with docker in one hyperfine run:
#   1. `image load` of the lab node image (docker-archive, 245 MB unpacked) vs `docker load`
#      (a private dockerd with an empty data root, so its load is cold too), and peak RSS;
#   2. `image save --format oci` of an image whose layers are already gzip-compressed
#      (the lab node OCI layout): bytes copied, GB/s.
# bench/load.sh times load and cold pull against podman and docker on a fresh loop ext4
# and on tmpfs, every tool in the same hyperfine run (issue 13).
# Needs the lab (../shared/lab/setup.sh): /tmp/lab/cache/node-image.tar, /tmp/lab/oci/node.
# Env: RUNS (default 5), STRATA (binary; default: release build).
#
# This VM's ext4 root is slow at creating inodes (8,000 empty files take
# ~3.5 s; perf shows ext4's free-inode scan), and both tools create ~9,000
# for the node image: a third command loads into a root on tmpfs to show
# what strata's own work costs.
set -euo pipefail
cd "$(dirname "$0")/.."
# A private dockerd of its own (socket, exec root and an empty data root),
# not the tests' one, whose images share layers with node.
export STRATA_RUN=/tmp/strata-bench-store-run STRATA_DOCKER_DATA=/var/lib/strata-bench-store-docker
rm -rf "$STRATA_DOCKER_DATA"
source scripts/lib.sh
RUNS=${RUNS:-5}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
[ -n "${STRATA:-}" ] || { cargo build --release -q -p strata; STRATA=$TARGET/release/strata; }
NODE_TAR=${NODE_TAR:-/tmp/lab/cache/node-image.tar}
NODE_OCI=${NODE_OCI:-/tmp/lab/oci/node}
[ -s "$NODE_TAR" ] && [ -d "$NODE_OCI" ] || { echo "run ../shared/lab/setup.sh first" >&2; exit 1; }
W=$(mktemp -d /tmp/strata-bench-store.XXXX)
cleanup() {
  stop_pidfile "$STRATA_RUN/dockerd.pid"; umount "$W/tmpfs" 2>/dev/null || true
  rm -rf "$W" "$STRATA_DOCKER_DATA"
}
trap cleanup EXIT

mkdir -p "$W/tmpfs" && mount -t tmpfs -o size=2g tmpfs "$W/tmpfs"
start_dockerd
export DOCKER_HOST="unix://$STRATA_DOCKER_SOCK"
say "load: strata vs docker ($RUNS runs each)"
hyperfine --runs "$RUNS" --export-json "$W/load.json" \
  --prepare "rm -rf $W/root; sync" "$STRATA --root $W/root load -q -i $NODE_TAR" \
  --prepare "/usr/bin/docker rmi -f 127.0.0.1:5000/node:latest >/dev/null 2>&1; /usr/bin/docker image prune -af >/dev/null; sync" \
  "/usr/bin/docker load -q -i $NODE_TAR" \
  --prepare "rm -rf $W/tmpfs/root" "$STRATA --root $W/tmpfs/root load -q -i $NODE_TAR"
rm -rf "$W/root"; sync
/usr/bin/time -v "$STRATA" --root "$W/root" load -q -i "$NODE_TAR" 2>"$W/time.txt" >/dev/null
say "strata load peak RSS: $(awk -F': ' '/Maximum resident/{print $2}' "$W/time.txt") KB"

say "save of gzip layers: copy throughput"
tar -C "$NODE_OCI" -cf "$W/node-oci.tar" .
rm -rf "$W/root"; "$STRATA" --root "$W/root" load -q -i "$W/node-oci.tar"
ID=$("$STRATA" --root "$W/root" images -q | head -1)
# `cp` of the same bytes is the machine's file-copy ceiling.
hyperfine --warmup 2 --runs 10 --export-json "$W/save.json" \
  --prepare "rm -f $W/saved.tar $W/cp.tar" "$STRATA --root $W/root save --format oci -o $W/saved.tar $ID" \
  "cp $W/node-oci.tar $W/cp.tar"
"$STRATA" --root "$W/root" save --format oci -o "$W/saved.tar" "$ID"
bytes=$(stat -c %s "$W/saved.tar")
mean=$(jq '.results[0].mean' "$W/save.json")
say "saved $bytes bytes in ${mean}s: $(python3 -c "print(f'{$bytes/$mean/1e9:.2f}')") GB/s"
/usr/bin/time -v "$STRATA" --root "$W/root" save --format oci -o "$W/saved.tar" "$ID" 2>"$W/time2.txt"
say "strata save peak RSS: $(awk -F': ' '/Maximum resident/{print $2}' "$W/time2.txt") KB"
