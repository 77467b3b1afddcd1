#!/usr/bin/env bash
# Fuzzes the decoders (fuzz/fuzz_targets/decode.rs) for a fixed, seeded budget: bounded, so
# scripts/test.sh can run it every time. SIGNALROOM_FUZZ_RUNS sets the budget.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh

# cargo fuzz needs a nightly compiler (sanitizer coverage); this machine kind's image has one.
if ! rustup toolchain list | grep -q '^nightly'; then
  echo "fuzz: no nightly toolchain here; skipping (rustup toolchain install nightly)"
  exit 0
fi
fuzz_v=$(tool_version cargo-fuzz)
if [ "$(cargo fuzz --version 2>/dev/null | awk '{print $2}')" != "$fuzz_v" ]; then
  echo "fuzz: installing cargo-fuzz $fuzz_v" >&2
  cargo install cargo-fuzz --locked --version "$fuzz_v" >&2
fi

corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
cargo +nightly fuzz run decode "$corpus" fuzz/seeds/decode -- \
  -runs="${SIGNALROOM_FUZZ_RUNS:-1000000}" -seed=1 -max_len=4096
