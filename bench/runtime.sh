#!/usr/bin/env bash
# Container start-up, side by side, with hyperfine (busybox, `true`):
#   * `--network none`: strata vs docker (vs podman if it has busybox), plus
#     strata with `--security-opt seccomp=unconfined` (the difference is what
#     compiling and loading docker's seccomp profile costs);
#   * the default private network: strata's bridge in its infra namespace
#     (as configured: the infra process lingers 2 s after its last
#     container, so back-to-back runs find it up; cold: STRATA_NET_LINGER=0,
#     it starts and ends with each run) and `--network pasta` (a pasta of
#     its own) vs docker's default bridge network.
# docker here is a dockerd this script starts INSIDE a network namespace
# of its own (`unshare -n -m`: its bridge, veths and iptables rules exist
# only there; own data root, exec root, socket and pid file), torn down at
# the end. Then the cost split of strata's network setup (from the
# supervisor's and infra process's debug timings), and 50 detached strata
# containers started and removed, checking that no mount, process or
# cgroup directory is left behind.
#
# Both tools keep their data on one fresh tmpfs mounted for the run
# (BENCH_FS=tmpfs; BENCH_FS=disk keeps it under /tmp), so neither pays for
# a disk the other does not. The two start-up tables are also written as
# hyperfine markdown (both tools in one run) to $BENCH_OUT if set.
#
# Usage: bench/runtime.sh            (as root; builds strata in release mode)
# Env:   RUNS=30  STRATA=path/to/strata  CARGO_TARGET_DIR=…  SKIP_PEERS=1
#        BENCH_FS=tmpfs|disk  BENCH_OUT=dir  PHASES="start split leaks"
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-30}
if [[ -z "${STRATA:-}" ]]; then
  cargo build --release -p strata >&2
  STRATA="${CARGO_TARGET_DIR:-$PWD/target}/release/strata"
fi
[[ $(id -u) == 0 ]] || { echo "bench/runtime.sh must run as root" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "hyperfine is required" >&2; exit 1; }

PHASES=${PHASES:-start split leaks}
has_phase() { [[ " $PHASES " == *" $1 "* ]]; }
WORK=$(mktemp -d /tmp/strata-bench-runtime.XXXXXX)
if [[ ${BENCH_FS:-tmpfs} == tmpfs ]]; then
  mount -t tmpfs -o size=4g strata-bench "$WORK"
fi
export STRATA_ROOT="$WORK/root"
DOCKERD_PID=
DOCKER_SOCK="$WORK/dockerd/docker.sock"
docker_in_ns() { /usr/bin/docker -H "unix://$DOCKER_SOCK" "$@"; }
cleanup() {
  "$STRATA" ps -aq --no-trunc 2>/dev/null | xargs -r "$STRATA" rm -f >/dev/null 2>&1 || true
  if [[ -n $DOCKERD_PID ]]; then
    kill "$DOCKERD_PID" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.5; done
  fi
  if mountpoint -q "$WORK"; then umount -l "$WORK"; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# A busybox image like the lab's: busybox-static plus its applet links.
BB=$(command -v busybox)
mkdir -p "$WORK/rootfs"/{bin,etc,dev,proc,sys,tmp,root,usr/bin,usr/sbin,sbin,var/tmp,home}
cp "$BB" "$WORK/rootfs/bin/busybox"
for p in $("$BB" --list-full); do [[ $p == bin/busybox ]] || ln -sf /bin/busybox "$WORK/rootfs/$p"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' > "$WORK/rootfs/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' > "$WORK/rootfs/etc/group"
tar -C "$WORK/rootfs" -cf "$WORK/busybox.tar" .
"$STRATA" image import --change 'CMD ["sh"]' "$WORK/busybox.tar" busybox >/dev/null

# docker 20.10 with its default bridge network, inside a network (and
# mount) namespace of its own: nothing of it reaches the host's.
start_docker_in_netns() {
  command -v dockerd >/dev/null && [[ -x /usr/bin/docker ]] || return 1
  local d=$WORK/dockerd
  mkdir -p "$d"
  cat >"$d/run.sh" <<EOF
ip link set lo up
exec dockerd --data-root $d/data --exec-root $d/exec --pidfile $d/dockerd.pid \\
  -H unix://$DOCKER_SOCK --iptables=true --ip-masq=true --ip6tables=false
EOF
  unshare --net --mount --propagation private sh "$d/run.sh" >"$d/log" 2>&1 &
  DOCKERD_PID=$!
  for _ in $(seq 1 60); do docker_in_ns info >/dev/null 2>&1 && break; sleep 0.5; done
  docker_in_ns info >/dev/null 2>&1 || { echo "dockerd in its netns did not start: $(tail -3 "$d/log")" >&2; return 1; }
  docker_in_ns import "$WORK/busybox.tar" busybox >/dev/null
}

NONE=(-n "strata none" "$STRATA run --rm --network none busybox true"
      -n "strata none, no seccomp" "$STRATA run --rm --network none --security-opt seccomp=unconfined busybox true")
NET=(-n "strata bridge" "$STRATA run --rm busybox true"
     -n "strata pasta" "$STRATA run --rm --network pasta busybox true")
if [[ -z "${SKIP_PEERS:-}" ]]; then
  if start_docker_in_netns; then
    NONE+=(-n "docker none" "/usr/bin/docker -H unix://$DOCKER_SOCK run --rm --network=none busybox true")
    NET+=(-n "docker bridge" "/usr/bin/docker -H unix://$DOCKER_SOCK run --rm busybox true")
  fi
  if command -v podman >/dev/null && podman image exists busybox 2>/dev/null; then
    NONE+=(-n podman "podman run --rm --network=none busybox true")
  fi
fi

table() {
  python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
print("| command | mean | median | min | max |")
print("|---|---|---|---|---|")
for x in r:
    print(f"| {x['command']} | {x['mean']*1000:.1f} ms | {x['median']*1000:.1f} ms | {x['min']*1000:.1f} ms | {x['max']*1000:.1f} ms |")
PY
}

md() { [[ -z ${BENCH_OUT:-} ]] || { mkdir -p "$BENCH_OUT"; echo --export-markdown "$BENCH_OUT/$1.md"; }; }

if has_phase start; then
echo "== run --rm --network none busybox true (${RUNS} runs) =="
# shellcheck disable=SC2046
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$WORK/none.json" $(md none) "${NONE[@]}"
table "$WORK/none.json"

echo
echo "== run --rm busybox true, default private network (${RUNS} runs) =="
# shellcheck disable=SC2046
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$WORK/net.json" $(md net) "${NET[@]}"
table "$WORK/net.json"

echo
echo "== what the seccomp cache saves: compiled at every start vs once (${RUNS} runs) =="
# The compiled default profile lives in /run/strata/seccomp (tmpfs, per
# boot); removed before each run, the start compiles it with libseccomp.
hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$WORK/seccomp.json" \
  --prepare true --prepare "rm -rf /run/strata/seccomp" \
  -n "strata none, cached filter" "$STRATA run --rm --network none busybox true" \
  -n "strata none, filter compiled" "$STRATA run --rm --network none busybox true"
table "$WORK/seccomp.json"
fi

if has_phase split; then
echo
echo "== the same with a cold infra namespace every time (STRATA_NET_LINGER=0; ${RUNS} runs) =="
sleep 3  # the infra process of the runs above lingers 2 s
hyperfine -N --warmup 1 --runs "$RUNS" --prepare "sleep 0.3" --export-json "$WORK/cold.json" \
  -n "strata bridge (cold infra)" "env STRATA_NET_LINGER=0 $STRATA run --rm busybox true"
table "$WORK/cold.json"


echo
echo "== where a bridge start's time goes (10 detached runs, median ms since the supervisor started) =="
split() {
  local tag=$1 shared=$2; shift 2
  : >"$WORK/split.log"
  for _ in $(seq 1 10); do
    id=$(STRATA_LOG=strata_runtime=debug "$STRATA" run -d "$@" busybox true)
    "$STRATA" wait "$id" >/dev/null
    cat "$STRATA_ROOT/containers/$id/supervisor.log" >>"$WORK/split.log"
    [[ $shared == 1 ]] || cat "$STRATA_ROOT/net/infra.log" >>"$WORK/split.log" 2>/dev/null || true
    "$STRATA" rm "$id" >/dev/null
    sleep 0.3
  done
  [[ $shared == 0 ]] || cat "$STRATA_ROOT/net/infra.log" >>"$WORK/split.log" 2>/dev/null || true
  python3 - "$WORK/split.log" "$tag" <<'PY'
import re, statistics, sys
marks = {}
for line in open(sys.argv[1]):
    line = re.sub(r"\x1b\[[0-9;]*m", "", line)
    m = re.search(r"DEBUG \S+: (.*?) ms=(\d+)(.*)", line)
    if not m:
        continue
    key = m.group(1)
    if key.startswith("netavark:"):
        verb = re.search(r'verb="?(\w+)', m.group(3))
        key = f"netavark {verb.group(1) if verb else ''} (infra process, duration)"
    elif key == "pasta ready":
        key = "pasta ready (infra process, since start)"
    marks.setdefault(key, []).append(int(m.group(2)))
print(f"-- {sys.argv[2]} --")
for k, v in marks.items():
    print(f"  {k:50s} {statistics.median(v):6.0f} ms  (n={len(v)})")
PY
}
sleep 3
STRATA_NET_LINGER=0 split "bridge, cold infra" 0
keeper=$("$STRATA" run -d busybox sleep 3600)
split "bridge, warm infra" 1
"$STRATA" rm -f "$keeper" >/dev/null
split "pasta" 0 --network pasta
split "none" 0 --network none

fi

has_phase leaks || exit 0
echo
echo "== 50 detached containers, started and removed =="
cg_count() { find /sys/fs/cgroup -maxdepth 3 -path '*/strata/*' -type d 2>/dev/null | wc -l; }
mounts_before=$(grep -c "$STRATA_ROOT" /proc/self/mountinfo || true)
cg_before=$(cg_count)
t0=$(date +%s.%N)
ids=()
for i in $(seq 1 50); do ids+=("$("$STRATA" run -d --network none busybox sleep 600)"); done
t1=$(date +%s.%N)
running=$("$STRATA" ps -q | wc -l)
mounted=$(grep -c "$STRATA_ROOT" /proc/self/mountinfo || true)
"$STRATA" rm -f "${ids[@]}" >/dev/null
t2=$(date +%s.%N)
# SIGKILLed processes may still be tearing down for a moment, and the
# infra process lingers STRATA_NET_LINGER (2 s) after its last container.
for _ in $(seq 1 50); do
  pgrep -f "(__shim (supervise|infra) $STRATA_ROOT|$STRATA_ROOT/net/|^sleep 600$)" >/dev/null || break
  sleep 0.2
done
mounts_after=$(grep -c "$STRATA_ROOT" /proc/self/mountinfo || true)
procs_after=$(pgrep -fc "__shim (supervise|infra|proxy) $STRATA_ROOT" || true)
net_after=$(pgrep -fc -- "$STRATA_ROOT/net/" || true)
sleeps_after=$(pgrep -fc '^sleep 600$' || true)
cg_after=$(cg_count)
printf 'started 50 in %.2f s (%d running, %d rootfs mounts); removed in %.2f s\n' \
  "$(echo "$t1 - $t0" | bc)" "$running" "$mounted" "$(echo "$t2 - $t1" | bc)"
echo "left behind: mounts $mounts_after (before $mounts_before), supervisors/infra $procs_after, pasta/aardvark $net_after, sleep processes $sleeps_after, cgroup dirs $cg_after (before $cg_before)"
if [[ $mounts_after != "$mounts_before" || $procs_after != 0 || $net_after != 0 || $sleeps_after != 0 || $cg_after != "$cg_before" ]]; then
  echo "LEAK" >&2
  exit 1
fi
echo "no leaks"
