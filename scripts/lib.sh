# shellcheck shell=bash
# Helpers shared by strata's scripts (test, demo, bench). Source it.
# Every daemon is started on 127.0.0.1 only, recorded by PID under $STRATA_RUN,
# and stopped by that PID. Nothing here touches processes it did not start.

STRATA_REPO=${STRATA_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
STRATA_RUN=${STRATA_RUN:-/tmp/strata-run}
mkdir -p "$STRATA_RUN"

say() { printf '[strata %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# The apt packages the tests and the benches use.
STRATA_APT_PACKAGES="busybox-static skopeo umoci docker.io runc docker-registry apache2-utils \
  debootstrap jq curl tar gzip zstd hyperfine time python3 iproute2 nodejs openssl tini \
  libseccomp-dev pkg-config gcc libc6-dev fonts-dejavu-core man-db bash \
  passt netavark aardvark-dns iptables uidmap podman docker-compose python3-docker python3-venv fuse-overlayfs"
# The demo needs only these: a busybox rootfs, the host's node for its base image,
# libseccomp to build strata, netavark, aardvark-dns, pasta and iptables for
# the container's private network, and man-db and bash-completion for the man pages
# and the completion it installs.
STRATA_DEMO_PACKAGES="busybox-static nodejs libseccomp-dev pkg-config passt netavark aardvark-dns iptables man-db bash-completion"

# install_packages [PACKAGE...]: apt-get installs the missing ones
# (default: $STRATA_APT_PACKAGES). SKIP_APT=1 skips it.
install_packages() {
  [ -n "${SKIP_APT:-}" ] && return 0
  local missing p wanted=${*:-$STRATA_APT_PACKAGES}
  missing=$(for p in $wanted; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
  done)
  if [ -n "$missing" ]; then
    say "apt-get install:" $missing
    apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  fi
  # Debian's docker.io and docker-registry enable units that listen on all
  # interfaces; the tests never use them (the demo installs neither, and
  # leaves a docker you run alone).
  case " $wanted " in
    *" docker.io "* | *" docker-registry "*)
      if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
        systemctl disable --now docker-registry docker.socket docker 2>/dev/null || true
      fi
      ;;
  esac
}

# user_tun: /dev/net/tun as Debian's udev leaves it (0666): rootless pasta
# (strata's and podman's rootless networks) opens it as the user. Containers
# and VMs without udev often have it 0600 or missing.
user_tun() {
  [ -e /dev/net/tun ] || { mkdir -p /dev/net && mknod -m 0666 /dev/net/tun c 10 200; } || return 0
  [ "$(stat -c %a /dev/net/tun)" = 666 ] || chmod 0666 /dev/net/tun
}

# user_fuse: /dev/fuse as Debian's udev leaves it (0666): a rootless
# fuse-overlayfs (strata's fallback overlay, STRATA_OVERLAY=fuse-overlayfs)
# opens it as the user. Without udev it is often 0600.
user_fuse() {
  [ -e /dev/fuse ] || mknod -m 0666 /dev/fuse c 10 229 || return 0
  [ "$(stat -c %a /dev/fuse)" = 666 ] || chmod 0666 /dev/fuse
}

pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pidfile() {
  local f=$1 p
  if pid_alive "$f"; then
    p=$(cat "$f"); kill "$p" 2>/dev/null || true
    for _ in $(seq 1 80); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$p" 2>/dev/null && kill -9 "$p" 2>/dev/null
  fi
  rm -f "$f"
}

# start_registry NAME ADDR [HTPASSWD_FILE]: a docker-registry with filesystem storage.
start_registry() {
  local name=$1 addr=$2 htpasswd=${3:-} dir=$STRATA_RUN/$1
  pid_alive "$STRATA_RUN/$name.pid" && return 0
  rm -rf "$dir"; mkdir -p "$dir/data"
  {
    echo "version: 0.1"
    echo "log: {level: warn}"
    echo "storage: {filesystem: {rootdirectory: $dir/data}, delete: {enabled: true}}"
    echo "http: {addr: $addr}"
    if [ -n "$htpasswd" ]; then
      echo "auth: {htpasswd: {realm: strata-test, path: $htpasswd}}"
    fi
  } >"$dir/config.yml"
  nohup /usr/bin/docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
  echo $! >"$STRATA_RUN/$name.pid"
  for _ in $(seq 1 80); do
    curl -s -o /dev/null "http://$addr/v2/" && break; sleep 0.25
  done
  curl -s -o /dev/null "http://$addr/v2/" || { cat "$dir/log" >&2; return 1; }
  say "$name listening on $addr (pid $(cat "$STRATA_RUN/$name.pid"))"
}

# A private dockerd (own socket, data-root, no bridge, no iptables) for interop tests.
STRATA_DOCKER_SOCK=${STRATA_DOCKER_SOCK:-$STRATA_RUN/docker.sock}
STRATA_DOCKER_DATA=${STRATA_DOCKER_DATA:-/var/lib/strata-test-docker}
start_dockerd() {
  pid_alive "$STRATA_RUN/dockerd.pid" && return 0
  command -v dockerd >/dev/null || { say "dockerd not installed"; return 1; }
  mkdir -p "$STRATA_RUN/docker-exec"
  nohup dockerd --bridge=none --iptables=false --ip-masq=false --ip6tables=false \
    --host "unix://$STRATA_DOCKER_SOCK" --data-root "$STRATA_DOCKER_DATA" \
    --exec-root "$STRATA_RUN/docker-exec" --pidfile "$STRATA_RUN/dockerd.real.pid" \
    >"$STRATA_RUN/dockerd.log" 2>&1 &
  echo $! >"$STRATA_RUN/dockerd.pid"
  for _ in $(seq 1 120); do
    DOCKER_HOST="unix://$STRATA_DOCKER_SOCK" /usr/bin/docker info >/dev/null 2>&1 && break; sleep 0.5
  done
  if ! DOCKER_HOST="unix://$STRATA_DOCKER_SOCK" /usr/bin/docker info >/dev/null 2>&1; then
    say "dockerd did not start (see $STRATA_RUN/dockerd.log)"
    stop_pidfile "$STRATA_RUN/dockerd.pid"; return 1
  fi
  say "dockerd ready on $STRATA_DOCKER_SOCK (pid $(cat "$STRATA_RUN/dockerd.pid"))"
}

# start_token_registry NAME ADDR TOKEN_ADDR USER PASSWORD: a docker-registry
# with token auth (auth: token:) and scripts/token-server.py as its token
# server on TOKEN_ADDR, signing with a throwaway EC key made here.
start_token_registry() {
  local name=$1 addr=$2 token_addr=$3 user=$4 password=$5 dir=$STRATA_RUN/$1
  pid_alive "$STRATA_RUN/$name.pid" && pid_alive "$STRATA_RUN/$name-token.pid" && return 0
  stop_pidfile "$STRATA_RUN/$name.pid"; stop_pidfile "$STRATA_RUN/$name-token.pid"
  rm -rf "$dir"; mkdir -p "$dir/data"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -subj /CN=strata-test-token -keyout "$dir/key.pem" -out "$dir/cert.pem" >/dev/null 2>&1 \
    || { say "openssl cannot make the token key"; return 1; }
  nohup python3 "$STRATA_REPO/scripts/token-server.py" --listen "$token_addr" \
    --key "$dir/key.pem" --cert "$dir/cert.pem" --issuer strata-test-issuer \
    --service strata-test-registry --user "$user" --password "$password" >"$dir/token.log" 2>&1 &
  echo $! >"$STRATA_RUN/$name-token.pid"
  {
    echo "version: 0.1"
    echo "log: {level: warn}"
    echo "storage: {filesystem: {rootdirectory: $dir/data}, delete: {enabled: true}}"
    echo "http: {addr: $addr}"
    echo "auth: {token: {realm: 'http://$token_addr/token', service: strata-test-registry, issuer: strata-test-issuer, rootcertbundle: $dir/cert.pem}}"
  } >"$dir/config.yml"
  nohup /usr/bin/docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
  echo $! >"$STRATA_RUN/$name.pid"
  for _ in $(seq 1 80); do
    curl -s -o /dev/null "http://$addr/v2/" && curl -s -o /dev/null "http://$token_addr/token" && break; sleep 0.25
  done
  curl -s -o /dev/null "http://$token_addr/token" || { cat "$dir/token.log" >&2; return 1; }
  say "$name listening on $addr, token server on $token_addr"
}
