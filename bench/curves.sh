#!/usr/bin/env bash
# Scaling curves (issue 13): how each cost grows with the size of its input,
# strata beside its peers in the same run on this machine. Each curve is a
# CSV (tool,size,median seconds) under $OUT, printed as a markdown table and
# drawn as a PNG with log-log axes, one line per tool (the plotter is
# crates/strata/examples/plot_curves.rs):
#
#   context-cold  context-noop   files in a COPY'd context (FROM scratch,
#                                COPY data /data; 100-byte files, 1,000 a
#                                directory): cold build, then no-op rebuild
#   length                       Dockerfile length: FROM scratch + N LABELs, cold
#   layers                       N `RUN echo I > /lI` layers on busybox, cold
#   load  pull  push             one layer of N MB of random data (FROM scratch,
#                                COPY blob /blob): load of its `save` tar, cold
#                                pull and push over loopback
#
# Builds: strata, BuildKit (DOCKER_BUILDKIT=1 against the private dockerd of
# scripts/test.sh / htest.sh) and buildah (--layers, its own --root). Cold =
# image and build caches removed before each run (bench/lib.sh
# bench_clean_cmd), the base image kept; for buildah a fresh --root with
# the base pulled back in (its rmi of a 1,000-image chain takes minutes). Load/pull/push: strata, podman
# (--root <fresh dir>), docker (the private dockerd, its own data root); for
# load and pull each tool's store is emptied before each run (strata,
# podman: directory removed; docker: image removed); for push the pushed
# repository AND the layer's blob are removed from the registry's storage
# before each run, so that no tool can skip the upload by mounting the blob
# from another repository.
#
#   bash -c 'source scripts/lib.sh; start_registry registry 127.0.0.1:5100; start_dockerd'
#   bench/curves.sh                       # the full ranges (an hour or more)
#   QUICK=1 bench/curves.sh               # 2-3 small points per curve
#   CURVES="length layers" LENGTH_SIZES="10 1000" RUNS=5 bench/curves.sh
#
# Env: CURVES (context length layers image), CONTEXT_SIZES (1000 10000
#   100000 files), LENGTH_SIZES (10 100 1000 10000 instructions),
#   LAYER_SIZES (1 10 100), IMAGE_SIZES (10 100 1000 MB), RUNS (3; QUICK: 2),
#   BUILDAH_MAX_LENGTH (1000: buildah's length curve stops there, see below),
#   BUILD_TOOLS (strata buildkit buildah), IMAGE_TOOLS (strata podman docker),
#   OUT (/tmp/strata-curves), STRATA (binary; default: release build),
#   BASE (the layers curve's base image, 127.0.0.1:5000/busybox:latest from the lab),
#   STRATA_TEST_REGISTRY (the registry for pull/push; its storage must be
#   $STRATA_RUN/registry/data, as scripts/lib.sh start_registry makes it).
# Needs: hyperfine, jq, and for the peers the private dockerd, buildah,
# podman. Best run under scripts/test.sh's or htest.sh's environment.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
source bench/lib.sh

if [ -n "${QUICK:-}" ]; then
  CONTEXT_SIZES=${CONTEXT_SIZES:-500 2000}
  LENGTH_SIZES=${LENGTH_SIZES:-10 100 300}
  LAYER_SIZES=${LAYER_SIZES:-1 5}
  IMAGE_SIZES=${IMAGE_SIZES:-10 50}
  RUNS=${RUNS:-2}
fi
CONTEXT_SIZES=${CONTEXT_SIZES:-1000 10000 100000}
LENGTH_SIZES=${LENGTH_SIZES:-10 100 1000 10000}
LAYER_SIZES=${LAYER_SIZES:-1 10 100}
IMAGE_SIZES=${IMAGE_SIZES:-10 100 1000}
RUNS=${RUNS:-3}
BUILDAH_MAX_LENGTH=${BUILDAH_MAX_LENGTH:-1000}
CURVES=${CURVES:-context length layers image}
BUILD_TOOLS=${BUILD_TOOLS:-strata buildkit buildah}
IMAGE_TOOLS=${IMAGE_TOOLS:-strata podman docker}
OUT=${OUT:-/tmp/strata-curves}
BASE=${BASE:-127.0.0.1:5000/busybox:latest}
REG=${STRATA_TEST_REGISTRY:-127.0.0.1:5100}
REGDATA=$STRATA_RUN/registry/data/docker/registry/v2
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
command -v hyperfine >/dev/null && command -v jq >/dev/null || { echo "need hyperfine and jq" >&2; exit 1; }
if [ -z "${STRATA:-}" ]; then
  cargo build -q --release -p strata
  STRATA=$CARGO_TARGET_DIR/release/strata
fi
cargo build -q --release -p strata --example plot_curves
PLOT=$CARGO_TARGET_DIR/release/examples/plot_curves
SBIN=$STRATA

RES=$OUT/hyperfine
W=$OUT/work
rm -rf "$W" "$RES"; mkdir -p "$W" "$RES"
STRATA="$SBIN --root $W/strata"
BUILDAH="buildah --root $W/buildah --runroot $W/buildah-run --storage-driver overlay"
PODMAN="podman --root $W/podman --runroot $W/podman-run --storage-driver overlay"
DOCKER=$(private_docker) || DOCKER=
# fresh TOOL: removes TOOL's store under $W (buildah and podman leave their
# overlay directory bind-mounted on itself).
fresh() { echo "umount $W/$1/overlay 2>/dev/null; rm -rf $W/$1 $W/$1-run"; }
cleanup() {
  bash -c "$(fresh buildah); $(fresh podman)"
  if [ -n "$DOCKER" ]; then
    $DOCKER images --format '{{.Repository}}:{{.Tag}}' | grep -E '^(curves/|.*/curves/)' \
      | xargs -r $DOCKER rmi -f >/dev/null 2>&1 || true
    $DOCKER builder prune -af >/dev/null 2>&1 || true
  fi
  rm -rf "$W"
}
trap cleanup EXIT

# usable TOOL: whether TOOL can run here (a missing peer is left out, said once).
usable() {
  case $1 in
    buildkit | docker) [ -n "$DOCKER" ] ;;
    buildah | podman) command -v "$1" >/dev/null ;;
    *) true ;;
  esac || { say "$1 not available (no private dockerd on $STRATA_DOCKER_SOCK, or not installed): left out"; return 1; }
}
# (`if`, not `&&`: a missing last tool must not fail the substitution.)
BUILD_TOOLS=$(for t in $BUILD_TOOLS; do if usable "$t"; then echo "$t"; fi; done)
IMAGE_TOOLS=$(for t in $IMAGE_TOOLS; do if usable "$t"; then echo "$t"; fi; done)

# record CURVE TOOL SIZE SECONDS: one CSV row.
record() {
  [ -f "$OUT/$1.csv" ] || echo "tool,size,seconds" >"$OUT/$1.csv"
  echo "$2,$3,$4" >>"$OUT/$1.csv"
  say "$1: $2 at $3 = $4 s"
}

# finish CURVE TITLE X_LABEL: the CSV as a markdown table (a row per size, a
# column per tool) into $OUT/CURVE.md, and the PNG.
finish() {
  local c=$1
  [ -f "$OUT/$c.csv" ] || return 0
  awk -F, -v x="$3" 'NR > 1 {
      if (!($1 in seen)) { seen[$1] = 1; tools[++nt] = $1 }
      if (!($2 in sseen)) { sseen[$2] = 1; sizes[++ns] = $2 }
      v[$1, $2] = ($3 == "FAIL") ? "FAIL" : sprintf("%.3f", $3)
    }
    END {
      h = "| " x; sep = "|---:"
      for (i = 1; i <= nt; i++) { h = h " | " tools[i] " (s)"; sep = sep "|---:" }
      print h " |"; print sep "|"
      for (j = 1; j <= ns; j++) {
        r = "| " sizes[j]
        for (i = 1; i <= nt; i++) r = r " | " (((tools[i], sizes[j]) in v) ? v[tools[i], sizes[j]] : "-")
        print r " |"
      }
    }' "$OUT/$c.csv" >"$OUT/$c.md"
  printf '\n## %s\n\n' "$2"; cat "$OUT/$c.md"
  "$PLOT" "$OUT/$c.csv" "$OUT/$c.png" "$2" "$3" || say "$c: no picture"
}

# build_curve CURVE TOOL SIZE CONTEXT [noop]: cold builds of CONTEXT; with
# noop, also the no-op rebuild (recorded as CURVE's "-noop" sibling).
build_curve() {
  local c=$1 tool=$2 n=$3 ctx=$4 tag=curves/$1-$2:$3 b cl
  b=$(bench_build_cmd "$tool" "$tag" "$ctx"); cl=$(bench_clean_cmd "$tool" "$tag")
  # buildah's rmi of a long chain of --layers images takes minutes (1,000
  # LABELs: over 8 min): a fresh store instead, the base pulled back into it.
  [ "$tool" = buildah ] && cl="$(fresh buildah); ${BUILDAH_BASE:-true}; sync"
  record "$c" "$tool" "$n" "$(bench_median "$c.$tool.$n" "$RUNS" "$cl" "$b")"
  if [ "${5:-}" = noop ]; then
    local base=${c%-cold}
    record "$base-noop" "$tool" "$n" "$(bench_median "$base-noop.$tool.$n" "$RUNS" "" "$b")"
  fi
  bash -c "$cl" >/dev/null 2>&1 || true
}

# gen_context N DIR: DIR/Dockerfile and N 100-byte files under DIR/data.
gen_context() {
  local n=$1 d=$2 i
  mkdir -p "$d/data"
  printf 'FROM scratch\nCOPY data /data\n' >"$d/Dockerfile"
  for ((i = 0; i < n; i++)); do
    ((i % 1000)) || mkdir -p "$d/data/d$((i / 1000))"
    printf '%-99s\n' "file $i" >"$d/data/d$((i / 1000))/f$i"
  done
}

curve_context() {
  local n
  for n in $CONTEXT_SIZES; do
    say "context: $n files"
    gen_context "$n" "$W/ctx"
    sleep 1.1  # out of the racy-mtime window of the files just written
    for t in $BUILD_TOOLS; do build_curve context-cold "$t" "$n" "$W/ctx" noop; done
    rm -rf "$W/ctx"
  done
  finish context-cold "COPY of N small files, cold build" "files in the context"
  finish context-noop "COPY of N small files, no-op rebuild" "files in the context"
}

curve_length() {
  local n
  for n in $LENGTH_SIZES; do
    mkdir -p "$W/len"; labels_dockerfile "$n" >"$W/len/Dockerfile"
    for t in $BUILD_TOOLS; do
      # buildah commits a layer per LABEL and grows faster than linearly
      # (100: 6 s, 1,000: about 4 min here)
      if [ "$t" = buildah ] && [ "$n" -gt "$BUILDAH_MAX_LENGTH" ]; then
        say "length: buildah left out at $n (> BUILDAH_MAX_LENGTH=$BUILDAH_MAX_LENGTH)"; continue
      fi
      build_curve length "$t" "$n" "$W/len"
    done
    rm -rf "$W/len"
  done
  finish length "Dockerfile of N LABEL lines, cold build" "instructions"
}

curve_layers() {
  local n t i
  for t in $BUILD_TOOLS; do
    case $t in
      strata) $STRATA pull -q "$BASE" >/dev/null ;;
      buildkit) $DOCKER pull -q "$BASE" >/dev/null ;;
      buildah) BUILDAH_BASE="$BUILDAH pull -q --tls-verify=false $BASE >/dev/null" ;;
    esac
  done
  for n in $LAYER_SIZES; do
    mkdir -p "$W/lay"
    { echo "FROM $BASE"; for ((i = 0; i < n; i++)); do echo "RUN echo $i > /l$i"; done; } >"$W/lay/Dockerfile"
    for t in $BUILD_TOOLS; do build_curve layers "$t" "$n" "$W/lay"; done
    rm -rf "$W/lay"
  done
  BUILDAH_BASE=
  finish layers "N RUN layers on busybox, cold build" "layers"
}

# image_bin TOOL: the command line of an image tool, with its store.
image_bin() {
  case $1 in strata) echo "$STRATA" ;; podman) echo "$PODMAN" ;; docker) echo "$DOCKER" ;; esac
}

# image_cmd TOOL VERB REF TAR: prepare and command (two lines) of one load
# (of TAR), pull or push (of REF) by TOOL.
image_cmd() {
  local tool=$1 verb=$2 ref=$3 tar=$4 bin tls= repo
  bin=$(image_bin "$tool")
  case $tool:$verb in
    strata:load | strata:pull) echo "rm -rf $W/strata; sync" ;;
    podman:load | podman:pull) echo "$(fresh podman); sync" ;;
    docker:load | docker:pull) echo "$DOCKER rmi -f $ref >/dev/null 2>&1; $DOCKER image prune -f >/dev/null; sync" ;;
    *:push)
      repo=${ref#*/}; repo=${repo%:*}
      echo "rm -rf $REGDATA/repositories/$repo $REGDATA/blobs/sha256/${LAYER:0:2}/$LAYER; sync" ;;
  esac
  [ "$tool" = podman ] && tls=--tls-verify=false
  case $verb in
    load) echo "$bin load -q -i $tar >/dev/null" ;;
    *) echo "$bin $verb -q $tls $ref >/dev/null" ;;
  esac
}

curve_image() {
  local mb t verb img tar prep cmd
  curl -sf -o /dev/null "http://$REG/v2/" && [ -d "$STRATA_RUN/registry/data" ] || {
    say "no registry on $REG with storage in $STRATA_RUN/registry/data: image curves skipped"; return 0; }
  for mb in $IMAGE_SIZES; do
    say "image: $mb MB"
    img=$REG/curves/img:$mb tar=$W/img.tar
    mkdir -p "$W/img"; head -c "${mb}M" /dev/urandom >"$W/img/blob"
    printf 'FROM scratch\nCOPY blob /blob\n' >"$W/img/Dockerfile"
    $SBIN --root "$W/seed" build -q -t "$img" "$W/img" >/dev/null
    $SBIN --root "$W/seed" save -o "$tar" "$img"
    $SBIN --root "$W/seed" push -q "$img" >/dev/null
    # the layer blob everyone pulls: the push curve removes it from the registry
    LAYER=$(curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
      "http://$REG/v2/curves/img/manifests/$mb" | jq -r '.layers[0].digest')
    LAYER=${LAYER#sha256:}
    rm -rf "$W/seed" "$W/img"
    for verb in load pull push; do
      for t in $IMAGE_TOOLS; do
        local ref=$img
        if [ "$verb" = push ]; then
          ref=$REG/curves/push-$t:$mb
          $(image_bin "$t") tag "$img" "$ref"
        fi
        { read -r prep; read -r cmd; } < <(image_cmd "$t" "$verb" "$ref" "$tar")
        record "$verb" "$t" "$mb" "$(bench_median "$verb.$t.$mb" "$RUNS" "$prep" "$cmd")"
      done
    done
    for t in $IMAGE_TOOLS; do bash -c "$(image_cmd "$t" load "$img" "$tar" | head -1)" >/dev/null 2>&1 || true; done
    [ -n "$DOCKER" ] && $DOCKER rmi -f $(for t in $IMAGE_TOOLS; do echo "$REG/curves/push-$t:$mb"; done) >/dev/null 2>&1 || true
    rm -f "$tar"
  done
  finish load "load of a one-layer image of N MB (save tar)" "MB"
  finish pull "cold pull of a one-layer image of N MB (loopback registry)" "MB"
  finish push "push of a one-layer image of N MB (loopback registry)" "MB"
}

rm -f "$OUT"/*.csv "$OUT"/*.md "$OUT"/*.png
say "curves: $CURVES; builds by $(echo $BUILD_TOOLS), images by $(echo $IMAGE_TOOLS); $RUNS runs each; load $(cut -d' ' -f1-3 /proc/loadavg)"
for c in $CURVES; do "curve_$c"; done
say "CSVs, tables and PNGs in $OUT (load now $(cut -d' ' -f1-3 /proc/loadavg))"
