#!/usr/bin/env bash
# The seed workflow of "build your first image", end to end, offline, as root:
#   make the base image diamol/node locally (busybox-static + the host's node),
#   strata image build --tag web-ping demo/web-ping      (the chapter's Dockerfile)
#   strata image history web-ping                        (one row per instruction)
#   strata container run -d --name web-ping -e TARGET=… web-ping ; strata container logs web-ping
#   rebuild (all cached), change app.js (COPY and CMD re-run), and the optimized
#   Dockerfile (CMD first, one ENV) reusing the cache.
# It uses a store of its own (a fresh directory under /tmp, removed at the end;
# DEMO_KEEP=1 keeps it): a STRATA_ROOT you exported is never read or touched.
# It installs only what it needs (busybox-static, nodejs) when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
install_packages $STRATA_DEMO_PACKAGES
TARGET_DIR=${CARGO_TARGET_DIR:-target}
say "building strata (release)"
cargo build --release -q -p strata
S=$(cd "$TARGET_DIR/release" && pwd)/strata

DEMO_ROOT=$(mktemp -d /tmp/strata-demo.XXXXXX)
W=$(mktemp -d /tmp/strata-demo-ctx.XXXXXX)
export STRATA_ROOT=$DEMO_ROOT
finish() {
  "$S" container rm -f web-ping >/dev/null 2>&1 || true
  rm -rf "$W"
  if [ -n "${DEMO_KEEP:-}" ]; then
    say "the demo's store is kept in $DEMO_ROOT (strata --root $DEMO_ROOT …)"
  else
    rm -rf "$DEMO_ROOT"
  fi
}
trap finish EXIT
run() { printf '\n$ strata %s\n' "$*"; "$S" "$@"; }

say "making the base image diamol/node (busybox-static + host node, no registry) in $DEMO_ROOT"
scripts/make-node-base.sh "$S" "$DEMO_ROOT" >/dev/null
run image ls

cp -r demo/web-ping demo/web-ping-optimized "$W/"
cp demo/web-ping/app.js "$W/web-ping-optimized/"   # the same app, built the optimized way
run image build --tag web-ping "$W/web-ping"
run image history web-ping
run container run -d --name web-ping --network none -e TARGET=example.com -e INTERVAL=500 web-ping
sleep 2
run container logs web-ping
run container ps
run container rm -f web-ping

say "rebuild with nothing changed: every step CACHED"
run image build --progress plain --tag web-ping "$W/web-ping"
say "change app.js: COPY and CMD re-run, everything before is reused"
echo "// changed $(date +%s)" >>"$W/web-ping/app.js"
run image build --progress plain --explain --tag web-ping "$W/web-ping"
say "the optimized Dockerfile (CMD first, one ENV): rarely-changed steps first"
run image build --progress plain --tag web-ping:v2 "$W/web-ping-optimized"
echo "// changed again $(date +%s)" >>"$W/web-ping-optimized/app.js"
run image build --progress plain --tag web-ping:v2 "$W/web-ping-optimized"
run image history web-ping:v2
run system df
