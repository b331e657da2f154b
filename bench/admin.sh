#!/usr/bin/env bash
# Admin API figures against a release build, on SQLite and on PostgreSQL:
#   1. users created through POST /admin/realms/{realm}/users per second (no password hashing)
#   2. latency of a user-name prefix search (GET /users?search=...) in a realm of 100,000 users
# Server pinned to core 0, wrk on core 1. Results are printed; copy them into
# docs/benchmarks.md. Traffic goes to 127.0.0.1 only, and every loop is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq jq; }
[ -n "${NO_BUILD:-}" ] || cargo build --release --locked --bin portcullis
BIN=$PWD/target/release/portcullis
WORK=$(mktemp -d)
PG_URL=${PORTCULLIS_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}
SCHEMA=bench_admin_$$
trap 'kill $(jobs -p) 2>/dev/null || true; psql "$PG_URL" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
PORT=18081
python3 bench/gen_users.py 100000 "$WORK/users.json"

run() { # $1 = label, rest = store arguments
  local label=$1; shift
  "$BIN" import "$@" --file "$WORK/users.json" >/dev/null
  KC_BOOTSTRAP_ADMIN_USERNAME=admin KC_BOOTSTRAP_ADMIN_PASSWORD=admin \
    taskset -c 0 "$BIN" start-dev "$@" --http-port $PORT --http-host 127.0.0.1 >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 1 400); do curl -sf "http://127.0.0.1:$PORT/realms/bulk" >/dev/null && break; sleep 0.05; done
  token() {
    curl -sf -d grant_type=password -d client_id=admin-cli -d username=admin -d password=admin \
      "http://127.0.0.1:$PORT/realms/master/protocol/openid-connect/token" | jq -r .access_token
  }
  for digits in 3 2; do
    echo "-- $label: user search, prefix matching $((10 ** (5 - digits))) of 100,000 users, 1 connection, 10 s"
    TOKEN=$(token) REALM=bulk DIGITS=$digits taskset -c 1 wrk -t1 -c1 -d10s --latency -s bench/admin-search-user.lua "http://127.0.0.1:$PORT" \
      | grep -E "Requests/sec|50%|90%|99%|Non-2xx" || true
  done
  echo "-- $label: user creation, 16 connections, 10 s"
  TOKEN=$(token) REALM=bulk taskset -c 1 wrk -t1 -c16 -d10s -s bench/admin-create-user.lua "http://127.0.0.1:$PORT" \
    | grep -E "Requests/sec|Latency|Non-2xx|non-2xx" || true
  echo "-- $label: users in the realm afterwards"
  curl -sf -H "Authorization: Bearer $(token)" "http://127.0.0.1:$PORT/admin/realms/bulk/users/count"; echo
  kill $pid; wait $pid 2>/dev/null || true
}

run sqlite --data-dir "$WORK/sqlite"
run postgres --db postgres --db-url "$PG_URL" --db-schema $SCHEMA --data-dir "$WORK/pg"
