#!/usr/bin/env bash
# Realm per tenant (issue 16): creates COUNT realms (default 1000) through the Admin API on a
# fresh SQLite server (release build, pinned to core 0; the client on core 1) and prints the
# creation latency p50/p99 by batch, resident memory, the admin token's size, the time of
# GET /admin/realms and a client-credentials grant in the last realm; then client-credentials
# throughput and p99 in the first and the last realm against a one-realm server; then restarts the server
# on the same store and prints the time to its first token, its memory with HOT realms in use
# and the brief realm list's time (bench/realms_restart.py). PAUSE=1 waits a second
# between creations (a realm created now and then: the key pool is refilled in between); without
# it realms are created back to back. DB=postgres runs the same on PostgreSQL (PG_URL, default
# the local test database; a fresh schema, dropped at the end; PostgreSQL itself is not
# pinned). Copy the figures into docs/benchmarks.md. Traffic goes to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-1000}
BATCH=${BATCH:-100}
[ -n "${NO_BUILD:-}" ] || cargo build --release --locked --bin portcullis
BIN=$PWD/target/release/portcullis
WORK=$(mktemp -d)
DB=${DB:-sqlite}
DB_ARGS=()
if [ "$DB" = postgres ]; then
  PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/test}
  SCHEMA=bench_realms_$$
  DB_ARGS=(--db postgres --db-url "$PG_URL" --db-schema "$SCHEMA")
  trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"; psql "$PG_URL" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true' EXIT
else
  trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
fi
PORT=18082
KC_BOOTSTRAP_ADMIN_USERNAME=admin KC_BOOTSTRAP_ADMIN_PASSWORD=admin \
  taskset -c 0 "$BIN" start-dev --data-dir "$WORK" "${DB_ARGS[@]}" --http-port $PORT --http-host 127.0.0.1 >/dev/null 2>"$WORK/log" &
PID=$!
for _ in $(seq 1 400); do curl -sf "http://127.0.0.1:$PORT/realms/master" >/dev/null && break; sleep 0.05; done
taskset -c 1 python3 bench/realms.py $PORT "$COUNT" "$BATCH" $PID "$DB"
# Client credentials in the first and the last realm against a server holding that one realm
# alone (same store kind, created the same way), in the same run: wrk on core 1, 64
# keep-alive connections, 10 s each, the three alternated ROUNDS times (the host drifts from
# one minute to the next); the medians are the figures. SKIP_RATES=1 leaves this out.
if [ -z "${SKIP_RATES:-}" ]; then
  command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
  SINGLE_PORT=18083
  SINGLE_ARGS=(--data-dir "$WORK/single")
  [ "$DB" = postgres ] && SINGLE_ARGS+=(--db postgres --db-url "$PG_URL" --db-schema "${SCHEMA}_single")
  mkdir -p "$WORK/single"
  KC_BOOTSTRAP_ADMIN_USERNAME=admin KC_BOOTSTRAP_ADMIN_PASSWORD=admin \
    taskset -c 0 "$BIN" start-dev "${SINGLE_ARGS[@]}" --http-port $SINGLE_PORT --http-host 127.0.0.1 >/dev/null 2>>"$WORK/log" &
  SINGLE_PID=$!
  for _ in $(seq 1 400); do curl -sf "http://127.0.0.1:$SINGLE_PORT/realms/master" >/dev/null && break; sleep 0.05; done
  taskset -c 1 python3 bench/realms.py $SINGLE_PORT 1 1 $SINGLE_PID "single" >/dev/null
  cc() { # port index -> "requests/s p99"
    AUTH=$(printf 'svc:s-%d' "$2" | base64) BODY=grant_type=client_credentials \
      taskset -c 1 wrk -t1 -c64 -d10s --latency -s bench/form-post.lua \
      "http://127.0.0.1:$1/realms/tenant-$(printf %05d "$2")/protocol/openid-connect/token" \
      | awk '/Requests\/sec/ { r = $2 } /^ +99%/ { p = $2 } /Non-2xx/ { bad = 1 } END { if (bad) r = "errors"; print r, p }'
  }
  for round in $(seq 1 "${ROUNDS:-3}"); do
    echo "rates round $round: single realm $(cc $SINGLE_PORT 0) | first realm $(cc $PORT 0) | last realm $(cc $PORT $((COUNT - 1)))"
  done
  kill $SINGLE_PID; wait $SINGLE_PID 2>/dev/null || true
  [ "$DB" = postgres ] && { psql "$PG_URL" -qc "DROP SCHEMA IF EXISTS ${SCHEMA}_single CASCADE" >/dev/null 2>&1 || true; }
fi
kill $PID; wait $PID 2>/dev/null || true
# Restart on the same store: time to the first token, memory with HOT realms in use (the
# snapshot cache holds CACHE of them, --realm-cache-size), the brief realm list.
HOT=${HOT:-100}
CACHE=${CACHE:-256}
START_NS=$(date +%s%N)
KC_BOOTSTRAP_ADMIN_USERNAME=admin KC_BOOTSTRAP_ADMIN_PASSWORD=admin \
  taskset -c 0 "$BIN" start-dev --data-dir "$WORK" "${DB_ARGS[@]}" --http-port $PORT --http-host 127.0.0.1 \
  --realm-cache-size "$CACHE" >/dev/null 2>>"$WORK/log" &
PID=$!
taskset -c 1 python3 bench/realms_restart.py $PORT "$COUNT" "$START_NS" $PID "$HOT"
kill $PID; wait $PID 2>/dev/null || true
