#!/usr/bin/env bash
# The release build of the server (target/release/signalroom) and the site (target/site), the
# one way every script and the Dockerfile make it. Extra arguments go to cargo-leptos.
#
# --split puts the code that only some pages run (the /admin dashboard, the connectivity check)
# in WASM files of their own, loaded when first needed, so the chat page's bundle does not carry
# them; --precompress writes a .br and a .gz beside each file for browsers that accept them.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
cargo leptos build --release --precompress --split "$@"
