#!/usr/bin/env bash
# Brings deploy/compose.yaml up with podman-compose (Redis, two signalroom instances, HAProxy)
# and checks it through the load balancer: the page answers, both instances registered in Redis,
# WebSocket clients spread over both share a room, a polling client that keeps HAProxy's
# cookie keeps its session, a resumable client that keeps it resumes on its own instance, and
# one sent to the other instance is carried back to its own (at the address each registered,
# found from its route to Redis); then it
# stops one instance, and clients whose cookie names it must get in through the other.
# Takes the signalroom image scripts/container.sh built. Skips (exit 0) when podman-compose is
# not installed (`apt-get install podman-compose`).
#
# Where no image registry is reachable (as on the CI machines), the Redis and HAProxy images are
# made from container.sh's local Debian base with Debian's own packages, so the compose file is
# run exactly as written, with only its image variables set.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v podman-compose >/dev/null; then
  echo "compose: podman-compose is not installed; skipping (apt-get install podman-compose)"
  exit 0
fi

note() { echo "compose: $*"; }
# podman's default open-files limit for containers is above this machine's hard limit, which
# runc then fails to set: a containers.conf of the check's own lowers it (as container.sh's
# --ulimit does), so the compose file itself stays as users run it.
conf=$(mktemp)
cat >"$conf" <<'CONF'
[containers]
default_ulimits = ["nofile=16384:16384", "nproc=4096:4096"]
[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF=$conf
export SIGNALROOM_IMAGE=${SIGNALROOM_IMAGE:-localhost/signalroom:check}
export SIGNALROOM_PORT=${SIGNALROOM_COMPOSE_PORT:-9994}
# Two instances on this machine's two cores: a worker thread each, as the README advises.
export SIGNALROOM_THREADS=${SIGNALROOM_THREADS:-1}
export REDIS_IMAGE=${REDIS_IMAGE:-docker.io/library/redis:7}
export HAPROXY_IMAGE=${HAPROXY_IMAGE:-docker.io/library/haproxy:2.8}
project=signalroom-check
compose() { podman-compose -p "$project" -f deploy/compose.yaml "$@"; }
cleanup() { compose down >/dev/null 2>&1 || true; }
finish() { cleanup; rm -f "$conf"; }
trap finish EXIT

podman image exists "$SIGNALROOM_IMAGE" || { note "no image $SIGNALROOM_IMAGE: run scripts/container.sh first"; exit 1; }

# local_image NAME PACKAGE: an image of Debian's PACKAGE on the local base, named NAME.
local_image() {
  local name=$1 package=$2 ctx
  podman image exists "$name" && return
  podman image exists localhost/signalroom-base:bookworm \
    || { note "no local base image: run scripts/container.sh first"; exit 1; }
  note "making $name from the local Debian base"
  ctx=$(mktemp -d)
  mkdir -p "$ctx/extra-ca"
  cp /usr/local/share/ca-certificates/*.crt "$ctx/extra-ca/" 2>/dev/null || true
  cat >"$ctx/Containerfile" <<CONTAINERFILE
FROM localhost/signalroom-base:bookworm
COPY extra-ca/ /usr/local/share/ca-certificates/
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates $package \
 && update-ca-certificates && rm -rf /var/lib/apt/lists/*
CONTAINERFILE
  podman build -q -t "$name" "$ctx" >/dev/null
  rm -rf "$ctx"
}
if ! timeout 60 podman pull -q "$REDIS_IMAGE" >/dev/null 2>&1 \
  || ! timeout 60 podman pull -q "$HAPROXY_IMAGE" >/dev/null 2>&1; then
  note "no image registry reachable: Redis and HAProxy from Debian's packages"
  export REDIS_IMAGE=localhost/signalroom-redis:check HAPROXY_IMAGE=localhost/signalroom-haproxy:check
  local_image "$REDIS_IMAGE" redis-server
  local_image "$HAPROXY_IMAGE" haproxy
fi

note "up: $SIGNALROOM_IMAGE x2, $REDIS_IMAGE, $HAPROXY_IMAGE on 127.0.0.1:$SIGNALROOM_PORT"
cleanup
compose up -d >/dev/null
url="http://127.0.0.1:$SIGNALROOM_PORT"
# On a failure: each container's last lines, and every instance's warnings (a resume that
# could not be carried says why there).
fail() {
  note "FAILED: $*"
  local c
  for c in $(podman ps -a --filter "label=io.podman.compose.project=$project" --format '{{.Names}}'); do
    echo "--- $c"
    # Each container's warnings and last lines; none is no reason to stop listing.
    podman logs "$c" 2>&1 | grep -E ' (WARN|ERROR) ' | tail -20 || true
    podman logs --tail 15 "$c" 2>&1 || true
  done
  exit 1
}
for _ in $(seq 100); do
  curl -sf "$url/healthz" >/dev/null && break
  sleep 0.3
done
curl -sf "$url/" | grep -q 'id="connect"' || fail "the page did not answer through HAProxy"
# Both instances registered: the heartbeat set holds two.
nodes=0
for _ in $(seq 50); do
  nodes=$(podman exec "${project}_redis_1" redis-cli ZCARD signalroom:nodes 2>/dev/null || echo 0)
  [ "$nodes" = 2 ] && break
  sleep 0.2
done
[ "$nodes" = 2 ] || fail "$nodes instances registered in Redis, not 2"
# Each registered where the other reaches it: its own address on the compose network, found
# from its route to Redis (compose.yaml sets no SIGNALROOM_INSTANCE_URL).
urls=$(podman exec "${project}_redis_1" redis-cli HVALS signalroom:urls | sort -u)
[ "$(grep -cE '^http://[0-9.]+:9980$' <<<"$urls")" = 2 ] || fail "instance URLs in Redis: $urls"
note "instances reach each other at" $urls
(cd end2end && SIGNALROOM_PROXY_URL=$url node --test deploy/proxy.test.mjs) || fail "the checks through HAProxy"
# Clients landed on both: each instance logged joins (the tutorial's log line).
for instance in a b; do
  joins=$(podman logs "${project}_signalroom-${instance}_1" 2>&1 | grep -c 'joined; the number of users' || true)
  [ "$joins" -gt 0 ] || fail "no client reached instance $instance"
  note "instance $instance took $joins joins"
done
# The resumes sent to the other instance were carried, not started afresh: proxy.test.mjs sends
# the client that began on a to b, a and b again, so two of its three resumes land on b.
carried=0
for instance in a b; do
  n=$(podman logs "${project}_signalroom-${instance}_1" 2>&1 | grep -c 'resuming through the instance that holds the session' || true)
  carried=$((carried + n))
done
[ "$carried" -ge 2 ] || fail "$carried resumes carried to the instance holding the session, not 2"
note "$carried resumes carried to the instance holding the session"
# An instance stops (a restart, a crash): clients whose cookie names it get in through the other.
note "stopping instance a"
podman stop -t 10 "${project}_signalroom-a_1" >/dev/null
(cd end2end && SIGNALROOM_PROXY_URL=$url SIGNALROOM_PROXY_GONE=a node --test deploy/failover.test.mjs) \
  || fail "a client whose cookie names the stopped instance"
note "ok: page, two instances in Redis, one room across both, sticky polling and resumes, carried resumes, failover"
