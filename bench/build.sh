#!/usr/bin/env bash
# Build benchmark: strata side by side with BuildKit, the legacy builder and
# buildah on the lab's cases (../shared/lab/cases), the way
# ../shared/lab/bench-peers.sh runs the peers:
#   cold   = before each run the case image and every build cache are removed
#            (strata: rmi + `builder prune -af`); base images stay local
#   no-op  = rebuild with a warm cache, nothing changed
#   change = before each run one line is appended to the case's change file
# All builds use -q. Also reports strata's peak RSS (cold and no-op) and the
# load average around each measurement.
#
#   bench/build.sh                      # all cases, all tools
#   CASES="web-ping many-files" TOOLS="strata buildkit" RUNS=5 bench/build.sh
#
# Needs: the lab set up (../shared/lab/setup.sh: base images in
# /tmp/lab/oci, dockerd + registry started with ../shared/lab/start.sh for
# the docker peers), hyperfine, jq, /usr/bin/time. Builds strata in release
# mode first. Results: $RES (default /tmp/strata-bench-build).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
LABDIR=${LABDIR:-$(cd "$REPO/../shared/lab" 2>/dev/null && pwd || echo /work/shared/lab)}
source "$LABDIR/lib.sh"
source "$REPO/bench/lib.sh"

RUNS=${RUNS:-3}
NOOP_RUNS=${NOOP_RUNS:-20}
CASES=${CASES:-web-ping web-ping-optimized many-files multi-stage run-heavy}
TOOLS=${TOOLS:-strata buildkit legacy buildah}
RES=${RES:-/tmp/strata-bench-build}
CTX=$LAB/ctx                                  # the peers' contexts (shared)
ROOT=${STRATA_BENCH_ROOT:-/tmp/strata-bench-build/root}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
mkdir -p "$RES/json" "$CTX"

command -v hyperfine >/dev/null || { echo "need hyperfine"; exit 1; }
cargo build -q --release -p strata
STRATA="$CARGO_TARGET_DIR/release/strata --root $ROOT"

if [[ " $TOOLS " == *" buildkit "* || " $TOOLS " == *" legacy "* ]]; then
  $DOCKER info >/dev/null 2>&1 || { echo "dockerd not running: run $LABDIR/start.sh (or TOOLS=strata)"; exit 1; }
fi

# Base images into strata's store, named as the Dockerfiles name them.
for spec in busybox:latest debian:bookworm node:latest; do
  name=${spec%%:*}
  [ -f "/tmp/lab/oci/$name/index.json" ] || { log "no /tmp/lab/oci/$name: run $LABDIR/setup.sh"; exit 1; }
  if ! $STRATA image inspect "$REG/$spec" >/dev/null 2>&1; then
    tar -C "/tmp/lab/oci/$name" -cf "$RES/$name.tar" .
    id=$($STRATA load -i "$RES/$name.tar" | sed -n 's/^Loaded image ID: //p')
    $STRATA tag "$id" "$REG/$spec"
    rm -f "$RES/$name.tar"
  fi
done

change_target() {
  case $1 in
    web-ping|web-ping-optimized) echo app.js ;;
    many-files) echo data/small/d042/f0117.txt ;;
    multi-stage) echo src/pages/index.txt ;;
    run-heavy) echo config/app.conf ;;
  esac
}
prepare_ctx() {
  local c=$1 t
  mkdir -p "$CTX/$c"
  cp -a "$LABDIR/cases/$c/." "$CTX/$c/"
  if [ "$c" = many-files ]; then "$CTX/$c/gen-context.sh" "$CTX/$c/data" >/dev/null; fi
  t=$(change_target "$c")
  mkdir -p "$CTX/.orig/$c/$(dirname "$t")"; cp -a "$CTX/$c/$t" "$CTX/.orig/$c/$t"
}
restore_ctx() { local t; t=$(change_target "$1"); cp -a "$CTX/.orig/$1/$t" "$CTX/$1/$t"; }

build_cmd() { bench_build_cmd "$1" "lab/$2:$1" "$CTX/$2"; }
clean_cmd() { bench_clean_cmd "$1" "lab/$2:$1"; }
change_cmd() {
  local c=$1 t cm='#'; t=$(change_target "$c")
  case $t in *.js) cm='//' ;; *.txt) cm='' ;; esac
  echo "echo \"$cm lab change \$(date +%s%N)\" >> $CTX/$c/$t"
}
hf() { bench_median "$@"; }  # hf NAME RUNS PREPARE CMD -> median seconds
fmt() { case $1 in FAIL|'') echo FAIL ;; *) awk -v s="$1" 'BEGIN{ if (s < 0.1) printf "%.1fms", s*1000; else printf "%.2fs", s }' ;; esac; }
load() { cut -d' ' -f1 /proc/loadavg; }
rss() {  # peak RSS in MB of one run of CMD (after PREP)
  bash -c "$1" >/dev/null 2>&1 || true
  /usr/bin/time -f %M bash -c "${2% >/dev/null}" 2>&1 >/dev/null | tail -1 | awk '{printf "%.0f", $1/1024}'
}

echo "case|tool|cold|noop|change|strata peak RSS MB (cold/noop)|load" >"$RES/builds.psv"
for c in $CASES; do
  prepare_ctx "$c"
  for tool in $TOOLS; do
    b=$(build_cmd "$tool" "$c"); cl=$(clean_cmd "$tool" "$c"); ch=$(change_cmd "$c")
    l0=$(load)
    log "$c / $tool: cold"
    cold=$(hf "$c.$tool.cold" "$RUNS" "$cl" "$b")
    restore_ctx "$c"; bash -c "$b" || true
    log "$c / $tool: no-op"
    runs=$RUNS; [ "$tool" = strata ] && runs=$NOOP_RUNS
    noop=$(hf "$c.$tool.noop" "$runs" "" "$b")
    log "$c / $tool: one change"
    chg=$(hf "$c.$tool.change" "$RUNS" "$ch" "$b")
    mem=-
    if [ "$tool" = strata ]; then
      restore_ctx "$c"
      cold_rss=$(rss "$cl" "$b"); noop_rss=$(rss "" "$b")
      mem="$cold_rss/$noop_rss"
    fi
    restore_ctx "$c"; bash -c "$b" >/dev/null 2>&1 || true
    echo "$c|$tool|$(fmt "$cold")|$(fmt "$noop")|$(fmt "$chg")|$mem|$l0-$(load)" | tee -a "$RES/builds.psv" >&2
  done
done
column -t -s'|' "$RES/builds.psv"
