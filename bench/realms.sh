#!/usr/bin/env bash
# Realm per tenant (issue 16): creates COUNT realms (default 1000) through the Admin API on a
# fresh SQLite server (release build, pinned to core 0; the client on core 1) and prints the
# creation latency p50/p99 by batch, resident memory, the admin token's size, the time of
# GET /admin/realms and a client-credentials grant in the last realm; then restarts the server
# on the same store and prints the time to its first token, its memory with HOT realms in use
# and the brief realm list's time (bench/realms_restart.py). PAUSE=1 waits a second
# between creations (a realm created now and then: the key pool is refilled in between); without
# it realms are created back to back. Copy the figures into
# docs/benchmarks.md. Traffic goes to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-1000}
BATCH=${BATCH:-100}
[ -n "${NO_BUILD:-}" ] || cargo build --release --locked --bin portcullis
BIN=$PWD/target/release/portcullis
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
PORT=18082
KC_BOOTSTRAP_ADMIN_USERNAME=admin KC_BOOTSTRAP_ADMIN_PASSWORD=admin \
  taskset -c 0 "$BIN" start-dev --data-dir "$WORK" --http-port $PORT --http-host 127.0.0.1 >/dev/null 2>"$WORK/log" &
PID=$!
for _ in $(seq 1 400); do curl -sf "http://127.0.0.1:$PORT/realms/master" >/dev/null && break; sleep 0.05; done
taskset -c 1 python3 bench/realms.py $PORT "$COUNT" "$BATCH" $PID "sqlite"
kill $PID; wait $PID 2>/dev/null || true
# Restart on the same store: time to the first token, memory with HOT realms in use (the
# snapshot cache holds CACHE of them, --realm-cache-size), the brief realm list.
HOT=${HOT:-100}
CACHE=${CACHE:-256}
START_NS=$(date +%s%N)
KC_BOOTSTRAP_ADMIN_USERNAME=admin KC_BOOTSTRAP_ADMIN_PASSWORD=admin \
  taskset -c 0 "$BIN" start-dev --data-dir "$WORK" --http-port $PORT --http-host 127.0.0.1 \
  --realm-cache-size "$CACHE" >/dev/null 2>>"$WORK/log" &
PID=$!
taskset -c 1 python3 bench/realms_restart.py $PORT "$COUNT" "$START_NS" $PID "$HOT"
kill $PID; wait $PID 2>/dev/null || true
