#!/usr/bin/env bash
# The benchmark: signalroom against the tutorial's server on Node (bench/node), side by side
# on this machine, on loopback. Usage: scripts/bench.sh [quick|full|cluster|cluster-quick|metrics]
#   quick (about a minute): 3 rounds of short runs, 500 connections;
#   full (a few minutes, the README's numbers): 5 rounds of longer runs, an offered-load sweep
#     for the chart, and 20,000 connections held by one signalroom (or as many as the
#     open-files limit allows).
#   cluster (a few minutes): two signalroom instances (one worker thread each: see
#     cluster_flags) on one Redis against two Node servers with @socket.io/redis-adapter on one
#     Redis, clients spread so every room has members on both (every message crosses); CPU and
#     memory are the instances' and Redis's together. Also the same saturation with signalroom's
#     default workers, and one signalroom alone at the fixed load, for the latency crossing adds.
#   cluster-quick (about a minute): the same, short, to keep it working.
#   metrics (about five minutes): what metrics cost. signalroom alone on one worker thread at
#     saturation, with and without --metrics-addr (scraped every second), 11 rounds in
#     alternation, compared round by round; then the same load under callgrind (if valgrind is
#     installed), which counts the instructions the server runs per delivery, noise-free.
# quick and full also run signalroom with --metrics-addr at saturation (the report's "metrics on"
# line: the cost of metrics), time the page's hydration in headless Chromium (if installed) and report
# the bundle's brotli size.
# Each round starts fresh servers and runs the same scenarios against each in alternation;
# results go to target/bench/<time>/results.jsonl, then `loadgen report` prints the medians and
# ratios (and, in full mode, writes docs/benchmarks.svg). See docs/benchmarks.md.
# SIGNALROOM_BIN benchmarks another build of the server instead of target/release/signalroom
# (scripts/engineioxide-experiment.sh sets it); its chart then stays in the results directory.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-quick}
case $mode in
  quick) rounds=3; secs=1; conns=500; churn_secs=1; sweep=""; hold=0 ;;
  full) rounds=5; secs=4; conns=5000; churn_secs=3; sweep="0.25 0.5 1 1.5 2 3"; hold=20000 ;;
  cluster) rounds=5; secs=4; conns=5000; hold=0 ;;
  cluster-quick) rounds=2; secs=1; conns=500; hold=0 ;;
  metrics) rounds=11; secs=4; conns=0; hold=0 ;;
  *) echo "usage: $0 [quick|full|cluster|cluster-quick|metrics]" >&2; exit 2 ;;
esac
rooms=10 members=10
server_bin=${SIGNALROOM_BIN:-target/release/signalroom}

echo "== building (release)"
. scripts/setup.sh
scripts/build.sh >/dev/null
# The generator builds in a target directory of its own: the crate's library is also a cdylib,
# whose file name carries no feature hash, so building it here with other features than
# cargo-leptos's would make the next scripts/build.sh link the server again (minutes).
loadgen=target/loadgen/release/loadgen
CARGO_TARGET_DIR=target/loadgen cargo build --release --quiet --features loadgen --bin loadgen
echo "== the Node baseline's packages"
(cd bench/node && npm ci --no-audit --no-fund --loglevel=error)

# Many sockets: raise this shell's file-descriptor limit to its hard limit (the server and the
# generator inherit it; each holds one socket per connection), not the system's.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fds=$(ulimit -n)
if [ "$fds" != unlimited ] && [ "$hold" -gt $((fds - 100)) ]; then
  echo "note: $fds open files per process at most here; holding $((fds - 100)) connections" >&2
  hold=$((fds - 100))
fi

out=target/bench/$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
results=$out/results.jsonl
# What runs now: the processes whose CPU and memory count, and the addresses clients use.
pids=()
addrs=()
port=0

# instance KIND PORT [REDIS_URL [signalroom's extra flags...]]: one server, in the background.
instance() {
  local kind=$1 port=$2 redis=${3:-}; shift $(($# < 3 ? $# : 3))
  local cluster=()
  [ -n "$redis" ] && cluster=(--redis-url "$redis")
  case $kind in
    # The per-client event-rate limit would refuse the closed loop's bursts; logging is at the
    # level an operator would run (no per-event lines), as for Node.
    signalroom) "$server_bin" --addr "127.0.0.1:$port" --log-file "" --log-level warn \
                  --event-rate 0 --max-connections 100000 "${cluster[@]}" "$@" >>"$out/$kind.log" 2>&1 & ;;
    node) node bench/node/server.js "$port" $redis >>"$out/$kind.log" 2>&1 & ;;
  esac
  pids+=($!)
  addrs+=("127.0.0.1:$port")
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/socket.io/?EIO=4&transport=polling" >/dev/null && return
    sleep 0.1
  done
  echo "$kind did not start" >&2; exit 1
}
start() { # start KIND PORT [signalroom's extra flags...]: one server alone
  local kind=$1
  port=$2; shift 2
  instance "$kind" "$port" "" "$@"
}
# start_cluster KIND [signalroom's extra flags...]: a fresh Redis on 9993 and two instances on
# 9991, 9992.
start_cluster() {
  local kind=$1; shift
  redis-server --bind 127.0.0.1 --port 9993 --save '' --appendonly no >>"$out/redis.log" 2>&1 &
  pids+=($!)
  until redis-cli -p 9993 ping >/dev/null 2>&1; do sleep 0.05; done
  instance "$kind" 9991 redis://127.0.0.1:9993 "$@"
  instance "$kind" 9992 redis://127.0.0.1:9993 "$@"
}
# Two instances share this machine's cores, so each gets its share: one worker thread, as the
# README advises for instances on one host (Node's are single-threaded anyway). Each round also
# measures saturation with the default, a worker per core: four workers on two cores.
cluster_flags=(--threads 1)
stop() {
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  pids=()
  addrs=()
}
trap stop EXIT

load() { # load KIND TAG SCENARIO ARGS...
  local kind=$1 tag=$2; shift 2
  "$loadgen" "${addrs[@]/#/--addr=}" "${pids[@]/#/--pid=}" --label "$kind" --tag "$tag" "$@" \
    | tee -a "$results" | cut -c1-160
}

fanout=(fanout --rooms $rooms --members $members --size 100 --duration $secs)
# fixed_from_last: the fixed load, half of the last run's saturated message rate.
fixed_from_last() {
  local deliveries
  deliveries=$(tail -1 "$results" | sed -E 's/.*"deliveries_per_s":([0-9.]+).*/\1/')
  awk -v d="$deliveries" -v m=$members 'BEGIN { printf "%.0f", d / m / 2 }'
}

# metered_saturation TAG [FLAGS...]: signalroom with metrics on, at saturation, scraped every
# second meanwhile (Prometheus's default is every 15 s); its result tagged TAG.
metered_saturation() {
  local tag=$1; shift
  start signalroom 9990 --metrics-addr 127.0.0.1:9989 "$@"
  (while curl -sf http://127.0.0.1:9989/metrics >"$out/metrics.txt"; do sleep 1; done) &
  local scraper=$!
  load "signalroom --metrics-addr" "$tag" "${fanout[@]}"
  kill "$scraper" 2>/dev/null || true
  stop
}

# under_callgrind VARIANT: the fan-out against signalroom (plain or metered) run by callgrind,
# counting from just before the load to just after it; appends the instructions to the results.
under_callgrind() {
  local variant=$1 label=signalroom flags=() file="$out/callgrind.$1"
  if [ "$variant" = metered ]; then label="signalroom --metrics-addr"; flags=(--metrics-addr 127.0.0.1:9989); fi
  valgrind --tool=callgrind --callgrind-out-file="$file.%p" "$server_bin" --addr 127.0.0.1:9990 \
    --log-file "" --log-level warn --event-rate 0 --threads 1 "${flags[@]}" >>"$out/callgrind.log" 2>&1 &
  local pid=$!
  pids=("$pid"); addrs=(127.0.0.1:9990)
  until curl -sf "http://127.0.0.1:9990/socket.io/?EIO=4&transport=polling" >/dev/null; do sleep 0.5; done
  local scraper=""
  if [ "$variant" = metered ]; then
    (while curl -sf http://127.0.0.1:9989/metrics >/dev/null; do sleep 1; done) &
    scraper=$!
  fi
  callgrind_control -z "$pid" >/dev/null 2>&1
  local line
  line=$("$loadgen" --addr=127.0.0.1:9990 --pid="$pid" --label "$label" --tag callgrind-load \
    fanout --rooms $rooms --members $members --size 100 --duration 10)
  callgrind_control -d "$pid" >/dev/null 2>&1
  [ -n "$scraper" ] && kill "$scraper" 2>/dev/null
  stop
  local instructions deliveries
  instructions=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$file.$pid".[0-9]* | head -1)
  deliveries=$(echo "$line" | sed -E 's/.*"deliveries":([0-9]+).*/\1/')
  echo "{\"server\":\"$label\",\"tag\":\"callgrind\",\"instructions\":$instructions,\"deliveries\":$deliveries}" \
    | tee -a "$results"
}

if [ "$mode" = metrics ]; then
  # One worker thread: the server on one core and the load generator on the other, which keeps
  # the machine's scheduling out of the comparison as far as it can be.
  for round in $(seq "$rounds"); do
    if [ $((round % 2)) = 1 ]; then order="plain metered"; else order="metered plain"; fi
    for variant in $order; do
      echo "== metrics round $round/$rounds: $variant"
      if [ "$variant" = plain ]; then
        start signalroom 9990 --threads 1
        load signalroom metrics "${fanout[@]}"
        stop
      else
        metered_saturation metrics --threads 1
      fi
    done
  done
  if command -v valgrind >/dev/null; then
    for variant in plain metered; do
      echo "== under callgrind: $variant"
      under_callgrind "$variant"
    done
  else
    echo "(no valgrind: the instruction counts are skipped)"
  fi
  echo
  "$loadgen" report "$results" | tee "$out/report.md"
  echo "results: $results"
  exit 0
fi

if [[ $mode == cluster* ]]; then
  command -v redis-server >/dev/null || { echo "bench: the cluster modes need Debian's redis-server" >&2; exit 1; }
  fixed=""
  for round in $(seq "$rounds"); do
    if [ $((round % 2)) = 1 ]; then order="node signalroom"; else order="signalroom node"; fi
    for kind in $order; do
      echo "== cluster round $round/$rounds: $kind, two instances on one Redis"
      start_cluster "$kind" "${cluster_flags[@]}"
      load "$kind" cluster-connections connections --count "$conns" --hold 1
      stop; start_cluster "$kind" "${cluster_flags[@]}"
      load "$kind" cluster-saturation "${fanout[@]}"
      if [ "$kind" = node ] && [ -z "$fixed" ]; then
        fixed=$(fixed_from_last)
        echo "   fixed load: $fixed messages/s (half of Node's cluster saturation)"
      fi
      stop
    done
    for kind in $order; do
      start_cluster "$kind" "${cluster_flags[@]}"
      load "$kind" cluster-fixed "${fanout[@]}" --rate "$fixed"
      stop
    done
    start_cluster signalroom
    load "signalroom, a worker per core" cluster-saturation "${fanout[@]}"
    stop
    # One signalroom alone at the same load: what crossing instances adds to latency.
    start signalroom 9990
    load signalroom cluster-single "${fanout[@]}" --rate "$fixed"
    stop
  done
  echo
  "$loadgen" report "$results" | tee "$out/report.md"
  echo "results: $results"
  exit 0
fi

node_saturation=""
for round in $(seq "$rounds"); do
  # Alternate which server goes first, so neither always runs on a warmer machine.
  if [ $((round % 2)) = 1 ]; then order="node signalroom"; else order="signalroom node"; fi
  for kind in $order; do
    echo "== round $round/$rounds: $kind"
    start "$kind" 9990
    load "$kind" connections connections --count "$conns" --hold 1
    stop; start "$kind" 9990
    load "$kind" saturation "${fanout[@]}"
    if [ "$kind" = node ] && [ -z "$node_saturation" ]; then
      # The fixed load: half of Node's saturated message rate, measured in its first round.
      node_saturation=yes
      fixed=$(fixed_from_last)
      echo "   fixed load: $fixed messages/s (half of Node's saturation)"
    fi
    load "$kind" churn churn --workers 20 --duration $churn_secs
    stop
  done
  # signalroom on one worker thread, at saturation only: a row of its own in the report.
  echo "== round $round/$rounds: signalroom --threads 1"
  start signalroom 9990 --threads 1
  load "signalroom --threads 1" saturation "${fanout[@]}"
  stop
  # With metrics on: the report's "metrics on" line (scripts/bench.sh metrics measures it
  # more closely).
  echo "== round $round/$rounds: signalroom --metrics-addr"
  metered_saturation saturation
  # The fixed-load runs need Node's saturation first, so they follow within the round.
  for kind in $order; do
    start "$kind" 9990
    load "$kind" fixed "${fanout[@]}" --rate "$fixed"
    if [ "$round" = 1 ]; then
      for f in $sweep; do
        rate=$(awk -v r="$fixed" -v f="$f" 'BEGIN { printf "%.0f", r * 2 * f }')
        load "$kind" sweep "${fanout[@]}" --rate "$rate"
      done
    fi
    stop
  done
done

if [ "$hold" -gt 0 ]; then
  echo "== $hold idle connections held by one signalroom"
  start signalroom 9990
  load signalroom hold connections --count "$hold" --per-room 10 --hold 5
  stop
fi

if command -v chromium >/dev/null; then
  echo "== page hydration in headless Chromium"
  (cd end2end && [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error)
  start signalroom 9990
  (cd end2end && SIGNALROOM_URL="http://127.0.0.1:$port" HYDRATION_RUNS=$([ "$mode" = full ] && echo 40 || echo 10) \
    npx playwright test -c bench/playwright.bench.config.ts 2>&1) \
    | grep '"scenario":"hydration"' | sed 's/^{/{"server":"signalroom","tag":"hydration",/' | tee -a "$results"
  stop
else
  echo "(no chromium: the page hydration benchmark is skipped)"
fi
# What the chat page loads: its WASM, its JS, the split loader's JS and the stylesheet (the
# dashboard's and the connectivity check's WASM files load only where they are used).
sizes=$(for f in target/site/pkg/signalroom.wasm target/site/pkg/signalroom.js \
  target/site/pkg/__wasm_split.*.js target/site/pkg/signalroom.css; do
  [ -f "$f.br" ] && stat -c %s "$f.br"; done | awk '{ total += $1 } END { print total + 0 }')
echo "{\"server\":\"signalroom\",\"tag\":\"bundle\",\"brotli_bytes\":${sizes:-0}}" | tee -a "$results"

echo
svg=()
chart=docs/benchmarks.svg
[ -n "${SIGNALROOM_BIN:-}" ] && chart=$out/benchmarks.svg
[ -n "$sweep" ] && svg=(--svg "$chart")
"$loadgen" report "$results" "${svg[@]}" | tee "$out/report.md"
echo "results: $results"
