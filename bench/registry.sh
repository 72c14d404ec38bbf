#!/usr/bin/env bash
# Registry pull and push of the lab node image, side by side (hyperfine):
#
#   cold pull  strata pull  vs docker pull  vs buildah pull   (from the lab registry, 127.0.0.1:5000)
#              every run starts empty: strata's root removed, docker's image and layers removed
#              (a private dockerd with its own data root), buildah's private storage reset
#   push       strata push  vs skopeo copy oci:/tmp/lab/oci/node:latest
#              (to a scratch registry on 127.0.0.1:5001 whose storage is wiped before each run;
#               strata pushes the same OCI layout, loaded with `strata load`)
#   peak RSS   /usr/bin/time -v of one strata pull and one strata push
#
# bench/load.sh times load and cold pull against podman and docker on a fresh loop ext4
# and on tmpfs, every tool in the same hyperfine run (issue 13).
# This VM's ext4 root is slow at creating inodes (8,000 empty files take ~3.5 s),
# and every tool creates ~9,000 to unpack node: `strata pull (tmpfs root)` shows
# what strata's own work costs.
#
# Usage: bench/registry.sh     (as root; builds strata in release mode)
# Env:   RUNS=5  STRATA=path/to/strata  CARGO_TARGET_DIR=…  SKIP_PEERS=1  BENCH_DIR=/tmp/strata-bench-registry
# Needs: hyperfine, skopeo, docker-registry, /usr/bin/time; docker (dockerd) and buildah are optional.
# The lab registry is started with /work/shared/lab/start.sh when it is not running (and stopped
# again at the end only if this script started it); everything else this script starts it stops,
# by PID. Only 127.0.0.1 is contacted.
set -euo pipefail
cd "$(dirname "$0")/.."
export STRATA_RUN=${BENCH_DIR:-/tmp/strata-bench-registry}
source scripts/lib.sh

RUNS=${RUNS:-5}
IMAGE=127.0.0.1:5000/node:latest
LAYOUT=/tmp/lab/oci/node
LAB=${LAB:-/work/shared/lab}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}

for t in hyperfine skopeo /usr/bin/time /usr/bin/docker-registry; do
  command -v "$t" >/dev/null || { echo "need $t (scripts/lib.sh lists the apt packages)"; exit 1; }
done
[ -d "$LAYOUT" ] || { echo "need the lab's OCI layout $LAYOUT (run $LAB/setup.sh)"; exit 1; }

if [ -z "${STRATA:-}" ]; then
  cargo build -q --release -p strata
  STRATA=$CARGO_TARGET_DIR/release/strata
fi

WORK=$STRATA_RUN/work
rm -rf "$WORK"; mkdir -p "$WORK"
started_lab=0
cleanup() {
  stop_pidfile "$STRATA_RUN/bench-push-registry.pid"
  stop_pidfile "$STRATA_RUN/bench-dockerd.pid"
  if [ "$started_lab" = 1 ] && [ -x "$LAB/stop.sh" ]; then "$LAB/stop.sh" || true; fi
  umount "$WORK/tmpfs" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

if ! curl -s -o /dev/null "http://127.0.0.1:5000/v2/"; then
  say "starting the lab registry ($LAB/start.sh)"
  "$LAB/start.sh"; started_lab=1
fi
curl -sf -o /dev/null -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
  "http://127.0.0.1:5000/v2/node/manifests/latest" || { echo "the lab registry has no node image"; exit 1; }

# ---- peers ---------------------------------------------------------------
DOCKER=()
if [ -z "${SKIP_PEERS:-}" ] && command -v dockerd >/dev/null && [ -x /usr/bin/docker ]; then
  sock=$STRATA_RUN/bench-docker.sock
  mkdir -p "$STRATA_RUN/bench-docker-exec"
  nohup dockerd --bridge=none --iptables=false --ip-masq=false --ip6tables=false \
    --host "unix://$sock" --data-root /var/lib/strata-bench-docker \
    --exec-root "$STRATA_RUN/bench-docker-exec" --pidfile "$STRATA_RUN/bench-dockerd.real.pid" \
    >"$STRATA_RUN/bench-dockerd.log" 2>&1 &
  echo $! >"$STRATA_RUN/bench-dockerd.pid"
  for _ in $(seq 1 120); do DOCKER_HOST=unix://$sock /usr/bin/docker info >/dev/null 2>&1 && break; sleep 0.5; done
  if DOCKER_HOST=unix://$sock /usr/bin/docker info >/dev/null 2>&1; then
    DOCKER=(env DOCKER_HOST=unix://$sock /usr/bin/docker)
  else
    say "private dockerd did not start; skipping docker"; stop_pidfile "$STRATA_RUN/bench-dockerd.pid"
  fi
fi
BUILDAH=()
if [ -z "${SKIP_PEERS:-}" ] && command -v buildah >/dev/null; then
  BUILDAH=(buildah --root "$WORK/buildah" --runroot "$WORK/buildah-run" --storage-driver overlay)
fi

# ---- cold pull -------------------------------------------------------------
say "cold pull of $IMAGE ($RUNS runs each)"
ROOT=$WORK/pull-root
cmds=(--command-name "strata pull" --prepare "rm -rf $ROOT && sync" "$STRATA --root $ROOT pull -q $IMAGE")
if [ ${#DOCKER[@]} -gt 0 ]; then
  cmds+=(--command-name "docker pull"
         --prepare "${DOCKER[*]} rmi -f $IMAGE >/dev/null 2>&1; ${DOCKER[*]} image prune -af >/dev/null 2>&1; sync"
         "${DOCKER[*]} pull -q $IMAGE")
fi
if [ ${#BUILDAH[@]} -gt 0 ]; then
  cmds+=(--command-name "buildah pull"
         --prepare "${BUILDAH[*]} rmi -a -f >/dev/null 2>&1; sync"
         "${BUILDAH[*]} pull -q --tls-verify=false $IMAGE")
fi
mkdir -p "$WORK/tmpfs" && mount -t tmpfs -o size=2g tmpfs "$WORK/tmpfs"
cmds+=(--command-name "strata pull (tmpfs root)" --prepare "rm -rf $WORK/tmpfs/root"
       "$STRATA --root $WORK/tmpfs/root pull -q $IMAGE")
hyperfine --runs "$RUNS" --export-markdown "$WORK/pull.md" "${cmds[@]}"
umount "$WORK/tmpfs"

# ---- push ------------------------------------------------------------------
say "push of the node OCI layout to an empty registry ($RUNS runs each)"
start_registry bench-push-registry 127.0.0.1:5001
REGDATA=$STRATA_RUN/bench-push-registry/data
PROOT=$WORK/push-root
tar -C "$LAYOUT" -cf "$WORK/node-oci.tar" .
"$STRATA" --root "$PROOT" load -q -i "$WORK/node-oci.tar"
"$STRATA" --root "$PROOT" tag "$("$STRATA" --root "$PROOT" images -q | head -1)" 127.0.0.1:5001/node:latest
wipe="rm -rf $REGDATA && mkdir -p $REGDATA"
hyperfine --runs "$RUNS" --export-markdown "$WORK/push.md" \
  --command-name "strata push" --prepare "$wipe" "$STRATA --root $PROOT push -q 127.0.0.1:5001/node:latest" \
  --command-name "skopeo copy oci:" --prepare "$wipe" \
  "skopeo copy -q --dest-tls-verify=false oci:$LAYOUT:latest docker://127.0.0.1:5001/node:latest"

# ---- peak RSS ---------------------------------------------------------------
rss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F: '/Maximum resident set size/ {printf "%.1f MB", $2/1024}'; }
rm -rf "$ROOT"; sync
pull_rss=$(rss "$STRATA" --root "$ROOT" pull -q "$IMAGE")
eval "$wipe"
push_rss=$(rss "$STRATA" --root "$PROOT" push -q 127.0.0.1:5001/node:latest)

echo
echo "## cold pull"; cat "$WORK/pull.md"
echo
echo "## push to an empty registry"; cat "$WORK/push.md"
echo
echo "peak RSS: strata pull $pull_rss, strata push $push_rss"
