#!/usr/bin/env bash
# The seed workflow of "build your first image", end to end, offline, as root:
#   make the base image diamol/node locally (busybox-static + the host's node),
#   strata image build --tag web-ping demo/web-ping      (the chapter's Dockerfile)
#   strata image history web-ping                        (one row per instruction)
#   strata container run -d --name web-ping -e TARGET=… web-ping ; strata container logs web-ping
#   rebuild (all cached), change app.js (COPY and CMD re-run), and the optimized
#   Dockerfile (CMD first, one ENV) reusing the cache.
# Uses its own store (STRATA_ROOT, default /tmp/strata-demo) so it never touches yours.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
install_packages
export STRATA_ROOT=${STRATA_ROOT:-/tmp/strata-demo}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
say "building strata (release)"
cargo build --release -q -p strata
S=$TARGET_DIR/release/strata
run() { printf '\n$ strata %s\n' "$*"; "$S" "$@"; }

rm -rf "$STRATA_ROOT"
say "making the base image diamol/node (busybox-static + host node, no registry)"
scripts/make-node-base.sh "$S" >/dev/null
run image ls

W=$(mktemp -d /tmp/strata-demo-ctx.XXXX); trap 'rm -rf "$W"' EXIT
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
