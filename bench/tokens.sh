#!/usr/bin/env bash
# Token endpoint throughput: server pinned to core 0, wrk (keep-alive, 64 connections) on
# core 1, 10 s each, against 127.0.0.1 only. Prints requests/s and latency percentiles for
# client_credentials on RS256, ES256 and EdDSA realms and for the password grant, then the
# per-core ceilings from the criterion bench (signing, Argon2id) for comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release --locked --bin portcullis
BIN=$PWD/target/release/portcullis
WORK=$(mktemp -d)
PORT=18081
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/import" && cp bench/realm-bench.json "$WORK/import/"
taskset -c 0 "$BIN" start-dev --data-dir "$WORK" --import-realm --http-host 127.0.0.1 --http-port $PORT --log-level warn >/dev/null 2>&1 &
for _ in $(seq 1 400); do curl -sf "http://127.0.0.1:$PORT/realms/bench-rs" >/dev/null && break; sleep 0.05; done
AUTH=$(printf 'bench-api:bench-secret' | base64)
run() { # name realm body [connections]
  echo "-- $1"
  BODY="$3" AUTH="$AUTH" taskset -c 1 wrk -t1 -c"${4:-64}" -d10s --latency -s bench/form-post.lua "http://127.0.0.1:$PORT/realms/$2/protocol/openid-connect/token" \
    | grep -E "Requests/sec|^ +(50|99)%|Non-2xx|Socket errors" || true
}
curl -sf -u bench-api:bench-secret -d grant_type=client_credentials "http://127.0.0.1:$PORT/realms/bench-rs/protocol/openid-connect/token" >/dev/null
run "client_credentials, RS256" bench-rs "grant_type=client_credentials"
run "client_credentials, ES256" bench-es "grant_type=client_credentials"
run "client_credentials, EdDSA" bench-ed "grant_type=client_credentials"
# Few connections: each request hashes for ~20 ms on the one core, and wrk's 2 s timeout
# would otherwise drop queued requests from the count.
run "password grant (Argon2id m=19456 t=2), RS256, 4 connections" bench-rs "grant_type=password&username=bench-user&password=bench-password" 4
kill %1 2>/dev/null || true
echo "-- per-core ceilings (criterion, one thread)"
taskset -c 0 cargo bench --locked -p portcullis --bench crypto -- --warm-up-time 1 --measurement-time 4 2>/dev/null | grep -E "^(sign|password)|time:" || true
