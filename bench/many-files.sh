#!/usr/bin/env bash
# The lab's many-files build (20,000 small files + 3 large ones, 213 MB, one
# COPY) by strata and by BuildKit, both on the same filesystem in the same
# hyperfine run, once on a freshly made loop-mounted ext4 and once on tmpfs
# (issue 13's goals: cold ≤ 1/3, no-op ≤ 1/15, one-file change ≤ 1/4 of
# BuildKit):
#
#   cold     strata: a new empty store (base image pulled, not timed);
#            BuildKit: image removed, `builder prune -af` (base image kept)
#   no-op    a rebuild with nothing changed
#   change   a line appended to data/small/d042/f0117.txt before each run
#
# BuildKit is a private dockerd whose data root is on the filesystem under
# test (its own socket, no bridge, no iptables), so it is as cold as strata;
# the context is copied onto the same filesystem. `sync` runs before every
# timed run so no run pays for another's writeback.
#
# Usage: bench/many-files.sh     (as root; builds strata in release mode unless STRATA is set)
# Env:   RUNS=5  NOOP_RUNS=20  FS="ext4 tmpfs"  PHASES="cold noop change"  SKIP_DOCKER=1
# Needs: hyperfine, mkfs.ext4, dockerd (optional), the lab registry on
#        127.0.0.1:5000 with busybox (../shared/lab/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export STRATA_RUN=${BENCH_DIR:-/tmp/strata-bench-many-files}
source scripts/lib.sh
source bench/lib.sh
LABDIR=${LABDIR:-$(cd ../shared/lab 2>/dev/null && pwd || echo /work/shared/lab)}

RUNS=${RUNS:-5}
NOOP_RUNS=${NOOP_RUNS:-20}
FS=${FS:-ext4 tmpfs}
PHASES=${PHASES:-cold noop change}
BASE=127.0.0.1:5000/busybox:latest
TAG=lab/many-files:bench
CHANGE=data/small/d042/f0117.txt
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
command -v hyperfine >/dev/null || { echo "need hyperfine" >&2; exit 1; }
curl -sf -o /dev/null http://127.0.0.1:5000/v2/busybox/tags/list ||
  { echo "the lab registry (127.0.0.1:5000) has no busybox: run $LABDIR/setup.sh" >&2; exit 1; }
if [ -z "${STRATA:-}" ]; then
  cargo build -q --release -p strata
  STRATA=$CARGO_TARGET_DIR/release/strata
fi

W=$STRATA_RUN/work
rm -rf "$W"; mkdir -p "$W/mnt"
# The context is generated once (deterministically) and copied per filesystem.
GEN=$STRATA_RUN/ctx
if [ ! -f "$GEN/.done" ]; then
  rm -rf "$GEN"; mkdir -p "$GEN"
  cp -a "$LABDIR/cases/many-files/." "$GEN/"
  bash "$GEN/gen-context.sh" "$GEN/data" >/dev/null
  touch "$GEN/.done"
fi
cleanup() {
  stop_pidfile "$STRATA_RUN/mf-dockerd.pid"
  umount "$W/mnt" 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT

# start_docker DATA_ROOT: a private dockerd whose data root is DATA_ROOT,
# with the base image pulled.
DOCKER=
start_docker() {
  DOCKER=$(bench_start_dockerd mf "$1")
  [ -z "$DOCKER" ] || $DOCKER pull -q "$BASE" >/dev/null
}

mount_fs() {
  bench_mount_fs "$1" "$W/mnt" 8G
  cp -a "$GEN" "$W/mnt/ctx"
}

umount_fs() {
  stop_pidfile "$STRATA_RUN/mf-dockerd.pid"
  bench_umount_fs "$W/mnt"
}

# phase FS PHASE: strata and BuildKit, one hyperfine run.
phase() {
  local fs=$1 ph=$2 M=$W/mnt runs=$RUNS
  local S="$STRATA --root $M/strata" ctx=$M/ctx
  local sb="$S build -q -t $TAG $ctx >/dev/null"
  local db="DOCKER_BUILDKIT=1 $DOCKER build -q --network=host -t $TAG $ctx >/dev/null"
  local sp dp
  case $ph in
    cold)
      sp="rm -rf $M/strata; $S pull -q $BASE >/dev/null; sync"
      dp="$DOCKER image rm -f $TAG >/dev/null 2>&1 || true; $DOCKER builder prune -af >/dev/null; sync" ;;
    noop)
      runs=$NOOP_RUNS; sp=sync; dp=sync
      # Files hashed within 2 s of their last change are hashed again next
      # time (the stat index's racy-timestamp rule): warm up past that.
      # BuildKit warms up first: strata's timed runs come next, and must
      # not share the machine with dockerd's work after a build.
      [ -z "$DOCKER" ] || bash -c "$db"; bash -c "$sb"; sleep 2.1; bash -c "$sb" ;;
    change)
      sp="echo \"lab change \$(date +%s%N)\" >> $ctx/$CHANGE; sync"; dp=$sp
      [ -z "$DOCKER" ] || bash -c "$db"; bash -c "$sb" ;;
  esac
  local cmds=(--prepare "$sp" -n "strata $ph" "$sb")
  [ -n "$DOCKER" ] && cmds+=(--prepare "$dp" -n "BuildKit $ph" "$db")
  say "many-files $ph on $fs ($runs runs each, load $(cut -d' ' -f1 /proc/loadavg))"
  hyperfine --shell bash --runs "$runs" --export-markdown "$STRATA_RUN/$ph-$fs.md" \
    --export-json "$STRATA_RUN/$ph-$fs.json" "${cmds[@]}"
}

for fs in $FS; do
  mount_fs "$fs"
  start_docker "$W/mnt/docker"
  for ph in $PHASES; do phase "$fs" "$ph"; done
  umount_fs
done
# One table: median seconds and strata / BuildKit per phase and filesystem.
{
  echo "| many-files | strata | BuildKit | ratio |"
  echo "|---|---|---|---|"
  for fs in $FS; do for ph in $PHASES; do
    j=$STRATA_RUN/$ph-$fs.json
    [ -f "$j" ] || continue
    jq -r --arg n "$ph ($fs)" '
      [.results[] | .median] as $m
      | if ($m | length) > 1
        then "| \($n) | \($m[0]*1000|round/1000) s | \($m[1]*1000|round/1000) s | \(($m[0]/$m[1])*1000|round/1000) |"
        else "| \($n) | \($m[0]*1000|round/1000) s | - | - |" end' "$j"
  done; done
} | tee "$STRATA_RUN/table.md"
