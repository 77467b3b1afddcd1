#!/usr/bin/env bash
# Quick start: install the pinned tools, build the release site and server, and run it on the
# embedded defaults (http://127.0.0.1:9980). Extra arguments go to the server (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
exec target/release/signalroom "$@"
