# shellcheck shell=bash
# Helpers shared by bench/*.sh (source it after scripts/lib.sh or the lab's
# lib.sh). Commands are returned as strings for hyperfine; they use
#   $STRATA   strata with its --root
#   $DOCKER   the docker client with its DOCKER_HOST
#   $BUILDAH  buildah with its storage flags (default: plain `buildah`)
#   $RES      where bench_median keeps hyperfine's JSON and logs

# private_docker: prints the docker command for the private dockerd of
# scripts/test.sh (or htest.sh) on $STRATA_DOCKER_SOCK; fails when it is not up.
private_docker() {
  [ -S "$STRATA_DOCKER_SOCK" ] && DOCKER_HOST="unix://$STRATA_DOCKER_SOCK" /usr/bin/docker info >/dev/null 2>&1 \
    && echo "env DOCKER_HOST=unix://$STRATA_DOCKER_SOCK /usr/bin/docker"
}

# labels_dockerfile N: `FROM scratch` and N `LABEL keyI=valueI` lines.
labels_dockerfile() {
  echo "FROM scratch"
  for i in $(seq 0 $(($1 - 1))); do echo "LABEL key$i=value$i"; done
}

# bench_build_cmd TOOL TAG CONTEXT: a quiet build of CONTEXT by TOOL
# (strata, buildkit, legacy, buildah).
bench_build_cmd() {
  local tool=$1 tag=$2 ctx=$3
  case $tool in
    strata)   echo "$STRATA build -q -t $tag $ctx >/dev/null" ;;
    buildkit) echo "DOCKER_BUILDKIT=1 $DOCKER build -q --network=host -t $tag $ctx >/dev/null" ;;
    legacy)   echo "DOCKER_BUILDKIT=0 $DOCKER build -q --network=host -t $tag $ctx >/dev/null" ;;
    buildah)  echo "${BUILDAH:-buildah} bud -q --layers --network=host -t $tag $ctx >/dev/null" ;;
  esac
}

# bench_clean_cmd TOOL TAG: removes TAG and every build cache of TOOL (base
# images stay), then syncs: what runs before each cold build.
bench_clean_cmd() {
  local tool=$1 tag=$2 b=${BUILDAH:-buildah}
  case $tool in
    strata)   echo "$STRATA rmi -f $tag >/dev/null 2>&1 || true; $STRATA builder prune -af >/dev/null; sync" ;;
    buildkit) echo "$DOCKER image rm -f $tag >/dev/null 2>&1 || true; $DOCKER builder prune -af >/dev/null; sync" ;;
    legacy)   echo "$DOCKER image rm -f $tag >/dev/null 2>&1 || true; $DOCKER image prune -f >/dev/null; $DOCKER builder prune -af >/dev/null; sync" ;;
    buildah)  echo "$b rm --all >/dev/null; $b rmi -f $tag >/dev/null 2>&1 || true; $b rmi --prune >/dev/null 2>&1 || true; sync" ;;
  esac
}

# bench_median NAME RUNS PREPARE CMD: runs CMD RUNS times under hyperfine
# (PREPARE before each run, if not empty) and prints the median seconds, or
# FAIL (with the log's tail on stderr).
bench_median() {
  local name=$1 runs=$2 prep=$3 cmd=$4 extra=()
  [ -n "$prep" ] && extra=(--prepare "$prep")
  mkdir -p "$RES/json"
  if hyperfine --shell bash --style basic --runs "$runs" "${extra[@]}" \
       --export-json "$RES/json/$name.json" "$cmd" >"$RES/hf-$name.log" 2>&1; then
    jq -r '.results[0].median' "$RES/json/$name.json"
  else
    echo FAIL; tail -5 "$RES/hf-$name.log" >&2
  fi
}

# bench_start_dockerd NAME DATA_ROOT: starts a private dockerd with its own
# socket, exec root and data root (no bridge, no iptables; files under
# $STRATA_RUN/NAME-*) and prints the docker command for it; prints nothing
# when dockerd is absent, SKIP_DOCKER is set or it does not start. Stop it
# with `stop_pidfile "$STRATA_RUN/NAME-dockerd.pid"` (scripts/lib.sh).
bench_start_dockerd() {
  local name=$1 root=$2 sock=$STRATA_RUN/$1-docker.sock
  [ -z "${SKIP_DOCKER:-}" ] && command -v dockerd >/dev/null && [ -x /usr/bin/docker ] || return 0
  mkdir -p "$STRATA_RUN/$name-docker-exec" "$root"
  nohup dockerd --bridge=none --iptables=false --ip-masq=false --ip6tables=false \
    --host "unix://$sock" --data-root "$root" --exec-root "$STRATA_RUN/$name-docker-exec" \
    --pidfile "$STRATA_RUN/$name-dockerd.real.pid" >"$STRATA_RUN/$name-dockerd.log" 2>&1 &
  echo $! >"$STRATA_RUN/$name-dockerd.pid"
  for _ in $(seq 1 120); do DOCKER_HOST=unix://$sock /usr/bin/docker info >/dev/null 2>&1 && break; sleep 0.5; done
  if DOCKER_HOST=unix://$sock /usr/bin/docker info >/dev/null 2>&1; then
    echo "env DOCKER_HOST=unix://$sock /usr/bin/docker"
  else
    echo "private dockerd did not start; docker skipped" >&2
    stop_pidfile "$STRATA_RUN/$name-dockerd.pid"
  fi
}

# bench_mount_fs KIND DIR SIZE: mounts a freshly made filesystem on DIR:
# ext4 (mkfs.ext4 on DIR.img, loop-mounted; this VM's churned root ext4 is
# slow and erratic at creating inodes) or tmpfs, SIZE bytes (e.g. 6G).
# bench_umount_fs DIR undoes it.
bench_mount_fs() {
  local kind=$1 dir=$2 size=$3
  case $kind in
    ext4)
      truncate -s "$size" "$dir.img"
      mkfs.ext4 -q -F "$dir.img"
      mount -o loop "$dir.img" "$dir" ;;
    tmpfs) mount -t tmpfs -o "size=$size" tmpfs "$dir" ;;
    *) echo "bench_mount_fs: unknown filesystem $kind" >&2; return 1 ;;
  esac
}
bench_umount_fs() { umount "$1"; rm -f "$1.img"; }
