#!/usr/bin/env bash
# Load and cold pull of the lab node image (docker save, ~9,000 inodes), every tool on the
# same filesystem in the same hyperfine run, once on a freshly made loop-mounted ext4 and
# once on tmpfs (issue 13):
#
#   load        strata load (packed: layers unpacked on first use; the default)
#               strata load with STRATA_UNPACK=eager (unpacked while loading, as before)
#               podman --root <empty dir> --runroot <empty dir> load
#               docker load into a private dockerd whose data root is on that filesystem
#   cold pull   the same four, from the lab registry (127.0.0.1:5000)
#   first use   strata load, then the first `run` (which unpacks a packed image), and the
#               two together: packed vs eager, so the default is chosen by the sum
#
# Before every run the tool's store is emptied (strata and podman: directory removed;
# docker: image removed and pruned) and `sync` flushes what the previous run left dirty,
# so no run pays for another's writeback. The ext4 image is made once per invocation
# (mkfs.ext4 on a file, mount -o loop): it is fresh, unlike this VM's churned root.
#
# Usage: bench/load.sh     (as root; builds strata in release mode unless STRATA is set)
# Env:   RUNS=5  STRATA=path/to/strata  FS="ext4 tmpfs"  PHASES="load pull first"  SKIP_DOCKER=1
# Needs: hyperfine, mkfs.ext4, podman (optional), dockerd (optional), the lab
#        (/tmp/lab/cache/node-image.tar; the registry on 127.0.0.1:5000 for pull).
set -euo pipefail
cd "$(dirname "$0")/.."
export STRATA_RUN=${BENCH_DIR:-/tmp/strata-bench-load}
source scripts/lib.sh
source bench/lib.sh

RUNS=${RUNS:-5}
FS=${FS:-ext4 tmpfs}
PHASES=${PHASES:-load pull first}
NODE_TAR=${NODE_TAR:-/tmp/lab/cache/node-image.tar}
IMAGE=127.0.0.1:5000/node:latest
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
[ -s "$NODE_TAR" ] || { echo "need $NODE_TAR (run ../shared/lab/setup.sh)" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "need hyperfine" >&2; exit 1; }
if [ -z "${STRATA:-}" ]; then
  cargo build -q --release -p strata
  STRATA=$CARGO_TARGET_DIR/release/strata
fi

W=$STRATA_RUN/work
rm -rf "$W"; mkdir -p "$W/mnt"
cleanup() {
  stop_pidfile "$STRATA_RUN/load-dockerd.pid"
  umount "$W/mnt" 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT

have_pull=1
curl -sf -o /dev/null "http://127.0.0.1:5000/v2/node/manifests/latest" \
  -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' || {
  say "the lab registry (127.0.0.1:5000) has no node image: pull skipped"; have_pull=0; }

# start_docker DATA_ROOT: a private dockerd whose data root is DATA_ROOT.
DOCKER=()
start_docker() {
  local cmd
  cmd=$(bench_start_dockerd load "$1")
  read -r -a DOCKER <<<"$cmd"
}

mount_fs() {
  bench_mount_fs "$1" "$W/mnt" 6G
}

umount_fs() {
  stop_pidfile "$STRATA_RUN/load-dockerd.pid"
  bench_umount_fs "$W/mnt"
}

# bench NAME VERB ARGS...: strata, strata eager, podman and docker doing VERB.
bench() {
  local fs=$1 verb=$2 src=$3 M=$W/mnt
  local s_args p_args d_args
  if [ "$verb" = load ]; then
    s_args="load -q -i $src"; p_args="load -q -i $src"; d_args="load -q -i $src"
  else
    s_args="pull -q $src"; p_args="pull -q --tls-verify=false $src"; d_args="pull -q $src"
  fi
  local cmds=(
    --prepare "rm -rf $M/strata; sync" -n "strata $verb" "$STRATA --root $M/strata $s_args"
    --prepare "rm -rf $M/strata-eager; sync" -n "strata $verb (eager)"
    "env STRATA_UNPACK=eager $STRATA --root $M/strata-eager $s_args"
  )
  if command -v podman >/dev/null; then
    cmds+=(--prepare "rm -rf $M/podman $M/podman-run; sync" -n "podman $verb"
      "podman --root $M/podman --runroot $M/podman-run --storage-driver overlay $p_args")
  fi
  if [ ${#DOCKER[@]} -gt 0 ]; then
    cmds+=(--prepare "${DOCKER[*]} rmi -f $IMAGE >/dev/null 2>&1; ${DOCKER[*]} image prune -af >/dev/null; sync"
      -n "docker $verb" "${DOCKER[*]} $d_args")
  fi
  say "$verb on $fs ($RUNS runs each)"
  hyperfine --runs "$RUNS" --export-markdown "$STRATA_RUN/$verb-$fs.md" \
    --export-json "$STRATA_RUN/$verb-$fs.json" "${cmds[@]}"
}

# first_use FS: load then the first run, packed vs eager, apart and together.
first_use() {
  local fs=$1 M=$W/mnt run="run --rm --network none $IMAGE true"
  say "first use on $fs: load, first run, both ($RUNS runs each)"
  hyperfine --runs "$RUNS" --export-markdown "$STRATA_RUN/first-$fs.md" \
    --export-json "$STRATA_RUN/first-$fs.json" \
    --prepare "rm -rf $M/s; $STRATA --root $M/s load -q -i $NODE_TAR; sync" \
    -n "first run after packed load" "$STRATA --root $M/s $run" \
    --prepare "rm -rf $M/e; STRATA_UNPACK=eager $STRATA --root $M/e load -q -i $NODE_TAR; sync" \
    -n "first run after eager load" "$STRATA --root $M/e $run" \
    --prepare "rm -rf $M/s; sync" -n "packed load + first run" \
    "$STRATA --root $M/s load -q -i $NODE_TAR && $STRATA --root $M/s $run" \
    --prepare "rm -rf $M/e; sync" -n "eager load + first run" \
    "env STRATA_UNPACK=eager $STRATA --root $M/e load -q -i $NODE_TAR && $STRATA --root $M/e $run"
}

for fs in $FS; do
  mount_fs "$fs"
  start_docker "$W/mnt/docker"
  for phase in $PHASES; do
    case $phase in
      load) bench "$fs" load "$NODE_TAR" ;;
      pull) [ "$have_pull" = 1 ] && bench "$fs" pull "$IMAGE" ;;
      first) first_use "$fs" ;;
    esac
  done
  umount_fs
done
for f in "$STRATA_RUN"/*.md; do echo; echo "## $(basename "$f" .md)"; cat "$f"; done
