#!/usr/bin/env bash
# Fuzzes strata's parsers and readers, one target after the other, for
# SECS seconds each (default 600):
#
#   layer      layer tar reader/extractor into a temp root (strata-store)
#   archive    docker-archive and OCI-layout `load` (strata-store)
#   manifest   manifest/index/config JSON (strata-oci)
#   reference  image references (strata-oci)
#   template   Go templates (strata-format)
#   parser expander dockerignore   the Dockerfile front end
#
#   scripts/fuzz.sh                      # every target, 10 min each
#   SECS=60 scripts/fuzz.sh layer manifest
#   STABLE=1 scripts/fuzz.sh             # force the stable driver
#
# With a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`) this
# runs libFuzzer (coverage-guided) over fuzz/fuzz_targets/*; the corpus
# grows in $WORK/<target>/corpus and crashes land in $WORK/<target>/. Without
# them it runs the seeded stable driver of each crate's
# tests/fuzz_regressions.rs (STRATA_FUZZ_SECS, STRATA_FUZZ_SEED; see
# strata_oci::fuzzing), which CI also runs briefly on every `cargo test`.
# As root, the layer and archive targets run as `nobody` in a user
# namespace: an extraction bug cannot write outside what nobody may write.
# Fixed crashes go to crates/<crate>/tests/fuzz-regressions/<target>/ with a
# descriptive name, where the regression tests replay them.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
SECS=${SECS:-600}
WORK=${WORK:-/tmp/strata-fuzz}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
FUZZ_TARGET_DIR=${FUZZ_TARGET_DIR:-$CARGO_TARGET_DIR-fuzz}
ALL="layer archive manifest reference template parser expander dockerignore"
TARGETS=${*:-$ALL}

crate_of() {
  case $1 in
    layer|archive) echo strata-store ;;
    manifest|reference) echo strata-oci ;;
    template) echo strata-format ;;
    parser|expander|dockerignore) echo strata-dockerfile ;;
    *) echo "unknown target $1" >&2; exit 2 ;;
  esac
}

dict_of() {
  case $1 in
    parser) echo "-dict=$REPO/fuzz/parser.dict" ;;
    dockerignore) echo "-dict=$REPO/fuzz/dockerignore.dict" ;;
  esac
}

log() { printf '[fuzz %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

libfuzzer=0
if [ -z "${STABLE:-}" ] && rustup run nightly rustc --version >/dev/null 2>&1 \
   && cargo fuzz --version >/dev/null 2>&1; then
  libfuzzer=1
fi

if [ $libfuzzer = 1 ]; then
  log "building the cargo-fuzz targets (nightly, release, debug assertions)"
  (cd fuzz && CARGO_TARGET_DIR=$FUZZ_TARGET_DIR nice -n 10 cargo +nightly fuzz build -O -a --sanitizer none)
  BIN=$FUZZ_TARGET_DIR/x86_64-unknown-linux-gnu/release
fi

for t in $TARGETS; do
  crate=$(crate_of "$t")
  dir=$WORK/$t
  mkdir -p "$dir/corpus"
  # Seed with the kept regressions and corpus.
  cp -n "crates/$crate/tests/fuzz-regressions/$t/"* "$dir/corpus/" 2>/dev/null || true
  start=$(date +%s)
  if [ $libfuzzer = 1 ]; then
    run=("$BIN/$t" "$dir/corpus" "-max_total_time=$SECS" -timeout=20 -rss_limit_mb=2048
         "-artifact_prefix=$dir/" -print_final_stats=1)
    d=$(dict_of "$t"); [ -n "$d" ] && run+=("$d")
    if [ "$(id -u)" = 0 ] && [[ $t == layer || $t == archive ]]; then
      # nobody, root only in its own user and mount namespace, writing into
      # a tmpfs there (fast, and gone with the process).
      mkdir -p "$dir/tmp"; chown -R 65534:65534 "$dir"
      run=(env "STRATA_FUZZ_TMP=$dir/tmp" setpriv --reuid=65534 --regid=65534 --clear-groups
           unshare --user --map-root-user --mount
           sh -c 'mount -t tmpfs -o size=1g strata-fuzz "$STRATA_FUZZ_TMP" && exec "$@"' fuzz
           "${run[@]}")
    fi
    log "$t: libFuzzer for ${SECS}s"
    status=0
    (cd "$dir" && nice -n 10 "${run[@]}") >"$dir/log" 2>&1 || status=$?
  else
    log "$t: stable driver for ${SECS}s"
    status=0
    STRATA_FUZZ_SECS=$SECS STRATA_FUZZ_ARTIFACTS=$dir nice -n 10 \
      cargo test -q --release -p "$crate" --test fuzz_regressions -- "drive::$t" --exact \
      >"$dir/log" 2>&1 || status=$?
  fi
  took=$(( $(date +%s) - start ))
  runs=$(grep -oE '(stat::number_of_executed_units: *[0-9]+|drive::[a-z]+: [0-9]+ inputs)' "$dir/log" | tail -1 || true)
  crashes=$(find "$dir" -maxdepth 1 -name 'crash-*' -o -maxdepth 1 -name 'oom-*' -o -maxdepth 1 -name 'timeout-*' | wc -l)
  log "$t: ${took}s, exit $status, ${runs:-? runs}, $crashes crash/oom/timeout inputs (log: $dir/log)"
done
