#!/usr/bin/env bash
# Soak (issue 19, point 6): one server (release build, SQLite by default, PostgreSQL with
# DB=postgres) under bench/soak.mjs's mixed load for MINUTES (default 60), a line per minute
# (throughput and p99 per kind, resident memory, open files, threads, store size). Traffic goes
# to 127.0.0.1 only. Copy the figures into docs/benchmarks.md.
#   MINUTES=60 bash bench/soak.sh      NO_BUILD=1 to use the binary as built
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${MINUTES:-60}
DB=${DB:-sqlite}
PG_URL=${PORTCULLIS_BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/test}
[ -n "${NO_BUILD:-}" ] || cargo build --release --locked --bin portcullis
BIN=$PWD/target/release/portcullis
WORK=$(mktemp -d)
SCHEMA="bench_soak_$$"
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  [ "$DB" = postgres ] && psql "$PG_URL" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT
PORT=${PORT:-18083}
mkdir -p "$WORK/import" && cp bench/realm-bench.json "$WORK/import/"
DB_ARGS=()
[ "$DB" = postgres ] && DB_ARGS=(--db postgres --db-url "$PG_URL" --db-schema "$SCHEMA")
KC_BOOTSTRAP_ADMIN_USERNAME=admin KC_BOOTSTRAP_ADMIN_PASSWORD=admin \
  "$BIN" start-dev --data-dir "$WORK" --import-realm --http-port "$PORT" --http-host 127.0.0.1 \
  --log-level warn "${DB_ARGS[@]}" >/dev/null 2>"$WORK/log" &
PID=$!
for _ in $(seq 1 400); do curl -sf "http://127.0.0.1:$PORT/realms/bench-rs" >/dev/null && break; sleep 0.05; done
echo "== soak: $MINUTES minutes on $DB, server pid $PID ($(date -u +%H:%M) UTC)"
node bench/soak.mjs "http://127.0.0.1:$PORT" "$PID" "$WORK" "$MINUTES"
kill -0 $PID || { echo "the server died:"; tail -20 "$WORK/log"; exit 1; }
