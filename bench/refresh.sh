#!/usr/bin/env bash
# The refresh grant at 64 keep-alive connections, server pinned to core 0, load on core 1,
# against 127.0.0.1 only, on SQLite and on PostgreSQL (PORTCULLIS_BENCH_PG_URL, default the
# local test database). Three loads each:
#   - wrk replaying one refresh token (as bench/tokens.sh): the session's last use is written at
#     most once a second;
#   - bench/refresh.mjs: 64 clients, each with its own session, each refreshing with the newest
#     token it got: every session's last use is written each second;
#   - the same on a realm with revokeRefreshToken (every refresh rotates the token: a write on
#     every request).
# Then the ceiling: two RS256 signatures (criterion, core 0).
# Usage: bash bench/refresh.sh [sqlite|postgres|ceiling ...]   (BIN=path to test another binary)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
PARTS=${*:-sqlite postgres ceiling}
BIN=${BIN:-target/release/portcullis}
PG_URL=${PORTCULLIS_BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/test}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
AUTH=$(printf 'bench-api:bench-secret' | base64)
[ -n "${NO_BUILD:-}" ] || [ "$BIN" != target/release/portcullis ] || cargo build --release --locked --bin portcullis

wait_for() { for _ in $(seq 1 400); do curl -sf "$1" >/dev/null && return 0; sleep 0.05; done; echo "no answer from $1" >&2; return 1; }

start() { # port db-args...; sets PID
  local port=$1; shift
  local dir="$WORK/pc-$port"
  mkdir -p "$dir/import" && cp bench/realm-bench.json bench/realm-rotation.json "$dir/import/"
  taskset -c 0 "$BIN" start-dev --data-dir "$dir" --import-realm --http-host 127.0.0.1 --http-port "$port" --log-level warn "$@" >/dev/null 2>&1 &
  PID=$!
  wait_for "http://127.0.0.1:$port/realms/bench-rot"
}

loads() { # port
  local base="http://127.0.0.1:$1/realms" refresh
  refresh=$(curl -sf -u bench-api:bench-secret -d grant_type=password -d username=bench-user -d password=bench-password -d scope=openid "$base/bench-rs/protocol/openid-connect/token" | jq -r .refresh_token)
  echo "-- wrk, one refresh token replayed, 64 connections"
  BODY="grant_type=refresh_token&refresh_token=$refresh" AUTH="$AUTH" taskset -c 1 wrk -t1 -c64 -d10s --latency -s bench/form-post.lua "$base/bench-rs/protocol/openid-connect/token" \
    | grep -E "Requests/sec|^ +(50|99)%|Non-2xx|Socket errors" || true
  echo "-- 64 clients, a session each, newest token each time"
  taskset -c 1 node bench/refresh.mjs "$base/bench-rs/protocol/openid-connect/token" bench-api bench-secret bench-user bench-password 64 10
  echo "-- the same with revokeRefreshToken (rotation on every refresh)"
  taskset -c 1 node bench/refresh.mjs "$base/bench-rot/protocol/openid-connect/token" bench-api bench-secret bench-user bench-password 64 10
}

for part in $PARTS; do
  case $part in
    sqlite)
      echo "== SQLite ($BIN)"
      start 18091; loads 18091; kill $PID; wait $PID 2>/dev/null || true ;;
    postgres)
      echo "== PostgreSQL ($BIN)"
      schema="bench_refresh_$$"
      start 18092 --db postgres --db-url "$PG_URL" --db-schema "$schema"; loads 18092; kill $PID; wait $PID 2>/dev/null || true
      psql "$PG_URL" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true ;;
    ceiling)
      echo "== ceiling: RS256 signature (criterion, core 0); refresh = 2 signatures"
      taskset -c 0 cargo bench --locked -p portcullis --bench crypto -- --warm-up-time 1 --measurement-time 4 --exact "sign RS256" 2>/dev/null | grep -E "time:" || true ;;
    *) echo "unknown part $part (sqlite, postgres, ceiling)" >&2; exit 2 ;;
  esac
done
