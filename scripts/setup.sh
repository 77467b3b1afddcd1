#!/usr/bin/env bash
# Installs the pinned build tools from Leptos.toml, skipping what is already installed at the
# right version. Source it (`. scripts/setup.sh`) to also get .tools on PATH.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# tool_version NAME: the version pinned in Leptos.toml's [tools] table.
tool_version() {
  local v
  v=$(sed -n "s/^$1 *= *\"\([^\"]*\)\".*/\1/p" "$root/Leptos.toml")
  [ -n "$v" ] || { echo "setup: no version for $1 in Leptos.toml" >&2; return 1; }
  echo "$v"
}

say() { echo "setup: $*" >&2; }

leptos_v=$(tool_version cargo-leptos)
bindgen_v=$(tool_version wasm-bindgen-cli)
binaryen_v=$(tool_version binaryen)
sass_v=$(tool_version sass)

export PATH="$root/.tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown >&2
fi

if [ "$(cargo leptos --version 2>/dev/null | awk '{print $2}')" != "$leptos_v" ]; then
  say "installing cargo-leptos $leptos_v (about 12 minutes)"
  cargo install cargo-leptos --locked --version "$leptos_v" --features no_downloads >&2
fi

if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$bindgen_v" ]; then
  say "installing wasm-bindgen-cli $bindgen_v (about 4 minutes)"
  cargo install wasm-bindgen-cli --locked --version "$bindgen_v" >&2
fi

# The CLI and the crate must match exactly, or the bundle fails at load time.
locked=$(grep -A1 '^name = "wasm-bindgen"$' "$root/Cargo.lock" | sed -n 's/^version = "\(.*\)"/\1/p')
if [ "$locked" != "$bindgen_v" ]; then
  echo "setup: Cargo.lock has wasm-bindgen $locked but Leptos.toml pins $bindgen_v" >&2
  exit 1
fi

npm_version() { node -p "require('$root/.tools/node_modules/$1/package.json').version" 2>/dev/null || true; }
if [ "$(npm_version binaryen)" != "$binaryen_v" ] || [ "$(npm_version sass)" != "$sass_v" ]; then
  say "installing binaryen $binaryen_v and sass $sass_v under .tools/"
  mkdir -p "$root/.tools"
  [ -f "$root/.tools/package.json" ] || echo '{"private": true}' > "$root/.tools/package.json"
  npm install --prefix "$root/.tools" --no-audit --no-fund --loglevel=error \
    "binaryen@$binaryen_v" "sass@$sass_v" >&2
fi
