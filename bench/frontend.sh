#!/bin/sh
# Front-end benchmark (strata-dockerfile): parse + typed instructions of a
# generated 10,000-line Dockerfile, and 100,000 paths against 50
# .dockerignore patterns. Builds and runs the example in release mode.
set -eu
cd "$(dirname "$0")/.."
exec cargo run --quiet --release -p strata-dockerfile --example bench_frontend "$@"
