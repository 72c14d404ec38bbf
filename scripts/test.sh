#!/usr/bin/env bash
# strata's test suite, for a fresh Debian 12 machine, as root:
#   installs the tools the tests drive (skopeo, umoci, docker.io, runc, docker-registry, ...),
#   sets up the lab (../shared/lab/setup.sh: base images and a registry on 127.0.0.1:5000),
#   starts a private dockerd and three registries on 127.0.0.1 (plain :5100, htpasswd :5101,
#   token auth :5102 with its token server on :5103),
#   runs cargo fmt --check, clippy -D warnings and every test, then stops what it started.
# Env: SKIP_APT=1 (packages already there), CARGO_TARGET_DIR (reuse a build dir).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

install_packages
# The rootless tests' user reaches the network through pasta, and mounts
# fuse-overlayfs.
user_tun
user_fuse
# The lab (../shared/lab): base images busybox, debian:bookworm and node made
# locally, served by its registry on 127.0.0.1:5000 and its dockerd; the
# lab-case tests build the same Dockerfiles with strata and with docker.
LAB_DIR=${STRATA_LAB:-$PWD/../shared/lab}
lab_was_up=
curl -fs -o /dev/null http://127.0.0.1:5000/v2/ && lab_was_up=1
[ -x "$LAB_DIR/setup.sh" ] || { say "no lab at $LAB_DIR (set STRATA_LAB)"; exit 1; }
cleanup() {
  [ -n "$lab_was_up" ] || "$LAB_DIR/stop.sh" >/dev/null 2>&1 || true
  stop_pidfile "$STRATA_RUN/registry.pid"
  stop_pidfile "$STRATA_RUN/registry-auth.pid"
  stop_pidfile "$STRATA_RUN/registry-token.pid"
  stop_pidfile "$STRATA_RUN/registry-token-token.pid"
  stop_pidfile "$STRATA_RUN/dockerd.pid"
}
trap cleanup EXIT
say "lab setup (base images, registry 127.0.0.1:5000)"; "$LAB_DIR/setup.sh"

command -v htpasswd >/dev/null || { say "htpasswd missing (apt-get install apache2-utils)"; exit 1; }
htpasswd -Bbc "$STRATA_RUN/htpasswd" strata s3cret >/dev/null
start_registry registry 127.0.0.1:5100
start_registry registry-auth 127.0.0.1:5101 "$STRATA_RUN/htpasswd"
# Every test runs: a registry or dockerd that cannot start fails the run.
start_token_registry registry-token 127.0.0.1:5102 127.0.0.1:5103 strata s3cret ||
  { say "the token registry did not start"; exit 1; }
export STRATA_TEST_TOKEN_REGISTRY=127.0.0.1:5102 STRATA_TEST_TOKEN_USER=strata STRATA_TEST_TOKEN_PASSWORD=s3cret
start_dockerd || { say "dockerd did not start (the oracle of the fidelity tests)"; exit 1; }
export STRATA_TEST_DOCKER_HOST="unix://$STRATA_DOCKER_SOCK"
export STRATA_TEST_REGISTRY=127.0.0.1:5100
export STRATA_TEST_AUTH_REGISTRY=127.0.0.1:5101 STRATA_TEST_AUTH_USER=strata STRATA_TEST_AUTH_PASSWORD=s3cret
# Testcontainers (PyPI, pinned) for the Engine API test, in a venv of its
# own under the user's cache (beside the Debian docker SDK it may use).
TC_VENV=${XDG_CACHE_HOME:-$HOME/.cache}/strata-testcontainers
if [ ! -x "$TC_VENV/bin/python" ] || ! "$TC_VENV/bin/python" -c 'import testcontainers' 2>/dev/null; then
  say "testcontainers (PyPI) into $TC_VENV"
  /usr/bin/python3 -m venv --system-site-packages "$TC_VENV"
  "$TC_VENV/bin/pip" install -q "testcontainers==4.15.0"
fi
export STRATA_TEST_TESTCONTAINERS_PYTHON=$TC_VENV/bin/python
# The conformance data lives beside the repository (../shared/conformance).
for c in "${STRATA_CONFORMANCE:-}" "$PWD/../shared/conformance"; do
  if [ -n "$c" ] && [ -d "$c" ]; then export STRATA_CONFORMANCE=$c; break; fi
done

say "cargo fmt --check"; cargo fmt --all -- --check
say "cargo clippy";      cargo clippy --workspace --all-targets -- -D warnings
say "cargo test";        cargo test --workspace
say "all tests passed"
