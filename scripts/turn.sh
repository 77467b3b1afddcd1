#!/usr/bin/env bash
# turn.sh PORT SECRET FIRST_RELAY_PORT STATE: Debian's coturn on 127.0.0.1:PORT for the tests,
# checking credentials made with SECRET (use-auth-secret, as signalroom's --turn-secret makes
# them) and relaying on 127.0.0.1 from FIRST_RELAY_PORT (40 ports). Its database and pid file are
# STATE.sqlite and STATE.pid; it logs to stdout. It replaces this script's process, so killing
# what started it stops coturn. Used by scripts/test.sh and by the ICE-restart browser test.
set -euo pipefail
port=$1 secret=$2 relays=$3 state=$4
exec turnserver -n --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 --listening-port="$port" \
  --min-port="$relays" --max-port=$((relays + 39)) --realm=signalroom.test --use-auth-secret \
  --static-auth-secret="$secret" --no-cli --no-tls --no-dtls --allow-loopback-peers \
  --fingerprint --log-file=stdout --simple-log --userdb="$state.sqlite" --pidfile="$state.pid"
