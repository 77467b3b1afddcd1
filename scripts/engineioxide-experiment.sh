#!/usr/bin/env bash
# What two small changes inside engineioxide would do to the benchmark (docs/benchmarks.md,
# "What it would take"). It builds signalroom against copies of the engineioxide crates from
# Cargo's registry, changed in two places, and runs scripts/bench.sh against that server.
# Nothing in the repository changes: signalroom itself builds with the crates as published.
#   1. engineioxide-core: a packet buffer holds one packet inline instead of two. Every
#      connection's packet channel allocates a block of 32 buffers up front, so the block shrinks.
#   2. engineioxide: the WebSocket writer, having drained its queue, yields to the scheduler
#      once and drains it again before it writes, so one write carries more frames.
# Usage: scripts/engineioxide-experiment.sh [quick|full|cluster|cluster-quick]   (scripts/bench.sh's modes)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-quick}
exp=$PWD/target/engineioxide-experiment
# The versions the changes below were written against: a different version stops the script
# rather than patching code it has not seen.
want_engine=0.17.9 want_core=0.2.3

. scripts/setup.sh
cargo fetch --quiet
manifest() { # manifest NAME: the path of NAME's Cargo.toml in the registry, and its version
  cargo metadata --format-version 1 --features ssr --quiet | python3 -c '
import json, sys
name = sys.argv[1]
found = [p for p in json.load(sys.stdin)["packages"] if p["name"] == name]
if len(found) != 1:
    sys.exit(f"expected one {name} in the dependency graph, found {len(found)}")
print(found[0]["manifest_path"], found[0]["version"])' "$1"
}
engine=$(manifest engineioxide)
core=$(manifest engineioxide-core)
read -r engine_toml engine_version <<<"$engine"
read -r core_toml core_version <<<"$core"
if [ "$engine_version" != "$want_engine" ] || [ "$core_version" != "$want_core" ]; then
  echo "this experiment was written for engineioxide $want_engine and engineioxide-core" \
       "$want_core; the lockfile has $engine_version and $core_version: update the script" >&2
  exit 1
fi

echo "== copying and changing engineioxide $engine_version and engineioxide-core $core_version"
rm -rf "$exp/engineioxide" "$exp/engineioxide-core" "$exp/crate"
mkdir -p "$exp/crate"
cp -r "$(dirname "$engine_toml")" "$exp/engineioxide"
cp -r "$(dirname "$core_toml")" "$exp/engineioxide-core"
python3 - "$exp" <<'EOF'
import sys

def change(path, old, new):
    """Replace the one occurrence of `old` in `path`, or stop: the code is not what was measured."""
    text = open(path).read()
    if text.count(old) != 1:
        sys.exit(f"{path}: expected the text to change exactly once, found {text.count(old)}")
    open(path, "w").write(text.replace(old, new))

exp = sys.argv[1]
change(f"{exp}/engineioxide-core/src/packet.rs",
       "pub type PacketBuf = SmallVec<[Packet; 2]>;",
       "pub type PacketBuf = SmallVec<[Packet; 1]>;")
drain = """                        while let Ok(packets) = buffered_rx.try_recv() {
                            for item in packets {
                                map_fn!(item);
                            }
                        }
"""
change(f"{exp}/engineioxide/src/transport/ws.rs", drain,
       drain + "                        tokio::task::yield_now().await;\n" + drain)
EOF

echo "== building signalroom against the changed crates (target/engineioxide-experiment)"
# A copy of the crate, so the patched lockfile stays out of the repository.
cp -r Cargo.toml Cargo.lock src tests "$exp/crate/"
(cd "$exp/crate" && CARGO_TARGET_DIR="$exp/target" cargo build --release --quiet \
  --features ssr --bin signalroom \
  --config "patch.crates-io.engineioxide.path=\"$exp/engineioxide\"" \
  --config "patch.crates-io.engineioxide-core.path=\"$exp/engineioxide-core\"")

SIGNALROOM_BIN=$exp/target/release/signalroom scripts/bench.sh "$mode"
