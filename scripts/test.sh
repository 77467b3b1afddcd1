#!/usr/bin/env bash
# Every test: formatting and lints, unit and integration tests (cargo; the cluster's start
# redis-servers of their own), a bounded fuzzing run of the decoders (scripts/fuzz.sh), then,
# against a release server and a two-instance cluster on loopback, the Socket.IO 2.x/4.x
# compatibility suites and the Playwright browser tests, and last the container image and the
# compose deployment (scripts/container.sh, scripts/compose-check.sh;
# SIGNALROOM_SKIP_CONTAINER=1 skips both), after quick benchmark runs (scripts/bench.sh quick
# and cluster-quick; SIGNALROOM_SKIP_BENCH=1 skips them).
# Installs what it needs (pinned tools, Debian's Chromium, Redis and podman, npm packages) and
# skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh

step() { printf '\n== %s\n' "$*"; }
# Free disk, printed at the start and the end: a clean run fills target/ with about 5 GB, and a
# full disk shows up late and oddly (the linker dies with SIGBUS).
disk() { step "disk: $(df -h --output=avail . | tail -1 | tr -d ' ') free $*"; }
disk "before the tests"

container=${SIGNALROOM_SKIP_CONTAINER:+skip}
packages=()
command -v chromium >/dev/null || packages+=(chromium)
# The cluster tests start their own redis-server processes on loopback ports of their own.
command -v redis-server >/dev/null || packages+=(redis-server)
# The connectivity check's browser test relays through real TURN servers on loopback.
command -v turnserver >/dev/null || packages+=(coturn)
if [ -z "$container" ]; then
  command -v podman >/dev/null || packages+=(podman)
  command -v runc >/dev/null || packages+=(runc)
  command -v debootstrap >/dev/null || packages+=(debootstrap)
  command -v podman-compose >/dev/null || packages+=(podman-compose)
fi
if [ ${#packages[@]} -gt 0 ]; then
  step "installing Debian packages: ${packages[*]}"
  sudo_=""; [ "$(id -u)" = 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "${packages[@]}" >/dev/null
fi

step "npm packages for the browser and compatibility tests"
(cd end2end && npm ci --no-audit --no-fund --loglevel=error)

step "format and lints"
cargo fmt --check
cargo clippy --features ssr,loadgen --all-targets -- -D warnings
cargo clippy --lib --features hydrate --target wasm32-unknown-unknown -- -D warnings

step "unit and integration tests"
cargo test --features ssr,loadgen

step "fuzzing the decoders (fixed seed, bounded)"
scripts/fuzz.sh

step "release build"
scripts/build.sh

# serve NAME PORT [flags...]: a release server on 127.0.0.1:PORT, logging to target/NAME.log;
# returns once it answers.
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
serve() {
  local name=$1 port=$2; shift 2
  target/release/signalroom --addr "127.0.0.1:$port" --log-file "target/$name.log" --log-level warn "$@" &
  pids+=($!)
  local scheme=http
  [[ " $* " == *" --tls-self-signed "* ]] && scheme=https
  for _ in $(seq 50); do
    curl -sfk "$scheme://127.0.0.1:$port/" >/dev/null && return
    kill -0 "${pids[-1]}" 2>/dev/null || { echo "$name exited" >&2; exit 1; }
    sleep 0.2
  done
  echo "$name did not answer" >&2; exit 1
}

# One signalroom alone, as the tutorial's server, a cluster of two on a Redis of their own, one
# that checks join tokens, one for operators (API, dashboard, TURN) and one over TLS.
port=${SIGNALROOM_TEST_PORT:-9985}
redis_port=$((port + 4))
step "starting signalroom on 127.0.0.1:$port, and two instances on a Redis at 127.0.0.1:$redis_port"
serve test-server "$port"
redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no >target/test-redis.log 2>&1 &
pids+=($!)
until redis-cli -p "$redis_port" ping >/dev/null 2>&1; do sleep 0.1; done
serve test-cluster-a $((port + 2)) --redis-url "redis://127.0.0.1:$redis_port"
serve test-cluster-b $((port + 3)) --redis-url "redis://127.0.0.1:$redis_port"
# And one that checks join tokens.
export SIGNALROOM_TEST_SECRET="test.sh's secret, thirty-two bytes or more"
serve test-secured $((port + 5)) --auth-secret "$SIGNALROOM_TEST_SECRET"

# turn NAME PORT SECRET FIRST_RELAY_PORT: coturn on 127.0.0.1:PORT (scripts/turn.sh), its
# files and log in target/NAME.*.
turn() {
  local name=$1
  scripts/turn.sh "$2" "$3" "$4" "target/$name" >"target/$name.log" 2>&1 &
  pids+=($!)
}
# And one for operators: the server API and its dashboard, and ICE servers for the
# connectivity check (a STUN and TURN server that knows its secret, a TURN server with another
# secret, and a TURN port where nothing listens).
export SIGNALROOM_TEST_API_KEY="test.sh's API key"
export SIGNALROOM_TEST_TURN_PORT=$((port + 11)) SIGNALROOM_TEST_WRONG_TURN_PORT=$((port + 12))
export SIGNALROOM_TEST_CLOSED_PORT=$((port + 13))
turn_secret="test.sh's TURN secret"
turn test-turn "$SIGNALROOM_TEST_TURN_PORT" "$turn_secret" 49160
turn test-turn-wrong "$SIGNALROOM_TEST_WRONG_TURN_PORT" "another secret" 49200
turn_url() { echo "turn:127.0.0.1:$1?transport=udp"; }
# The ICE-restart browser test starts, kills and restarts a coturn of its own on this port.
export SIGNALROOM_TEST_RELAY_PORT=$((port + 14))
# The restart browser test starts, stops and starts again a signalroom of its own on this port.
export SIGNALROOM_TEST_RESTART_PORT=$((port + 15))
# The adoption browser test runs a Redis, two instances and a load balancer of its own on this
# port and the three after it, and kills an instance.
export SIGNALROOM_TEST_ADOPT_PORT=$((port + 16))
SIGNALROOM_TURN_SECRET="$turn_secret" serve test-ops $((port + 6)) --api-key "$SIGNALROOM_TEST_API_KEY" \
  --stun-urls "stun:127.0.0.1:$SIGNALROOM_TEST_TURN_PORT" \
  --turn-urls "$(turn_url "$SIGNALROOM_TEST_TURN_PORT"),$(turn_url "$SIGNALROOM_TEST_WRONG_TURN_PORT"),$(turn_url "$SIGNALROOM_TEST_CLOSED_PORT")"
# And one over TLS, with a certificate made at startup.
serve test-tls $((port + 7)) --tls-self-signed
export SIGNALROOM_URL="http://127.0.0.1:$port"
export SIGNALROOM_CLUSTER_URLS="http://127.0.0.1:$((port + 2)),http://127.0.0.1:$((port + 3))"
export SIGNALROOM_SECURED_URL="http://127.0.0.1:$((port + 5))"
export SIGNALROOM_OPS_URL="http://127.0.0.1:$((port + 6))"
export SIGNALROOM_TLS_URL="https://127.0.0.1:$((port + 7))"

step "Socket.IO client compatibility (socket.io-client 2.x and 4.x, alone and across instances)"
(cd end2end && node --test compat/)

step "browser tests (Playwright, Chromium)"
(cd end2end && npx playwright test)

kill "${pids[@]}" 2>/dev/null || true

if [ -z "${SIGNALROOM_SKIP_BENCH:-}" ]; then
  step "benchmark, quick mode (keeps scripts/bench.sh working; numbers: docs/benchmarks.md)"
  scripts/bench.sh quick
  scripts/bench.sh cluster-quick
fi

if [ -z "$container" ]; then
  step "container image (podman)"
  scripts/container.sh
  step "the compose deployment: Redis, two instances, HAProxy (podman-compose)"
  scripts/compose-check.sh
fi

disk "after the tests"
