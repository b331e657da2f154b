#!/usr/bin/env bash
# Events, admin events and the audit trail on vs off (issue 15, performance): two servers of
# the same release build, one with the bench realms' eventsEnabled, adminEventsEnabled and
# adminEventsDetailsEnabled on and the audit trail on (`--audit-enabled true`, the default),
# the other with events off and `--audit-enabled false`. Paired rounds, the order swapped
# every round so drift of the host's speed hits both alike: client_credentials (64
# connections, a CLIENT_LOGIN stored per request), the password grant (4 connections, a
# LOGIN stored and chained per request) and the whole browser login (4 workers). Prints each
# run's rate and p99, and the on/off ratio per pair. Servers on core 0, load on core 1, to
# 127.0.0.1 only, every loop bounded.
# Usage: bash bench/events.sh [rounds]   (NO_BUILD=1 to reuse target/release/portcullis;
# BIN=path to test another binary)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq jq; }
BIN=${BIN:-target/release/portcullis}
[ -n "${NO_BUILD:-}" ] || [ "$BIN" != target/release/portcullis ] || cargo build --release --locked --bin portcullis
ROUNDS=${1:-3}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
AUTH=$(printf 'bench-api:bench-secret' | base64)

start() { # port on|off
  local dir="$WORK/$2" audit=false
  mkdir -p "$dir/import"
  if [ "$2" = on ]; then
    jq 'map(. + {eventsEnabled: true, adminEventsEnabled: true, adminEventsDetailsEnabled: true})' \
      bench/realm-bench.json > "$dir/import/realm-bench.json"
    audit=true
  else
    cp bench/realm-bench.json "$dir/import/"
  fi
  taskset -c 0 "$BIN" start-dev --data-dir "$dir" --import-realm --http-host 127.0.0.1 \
    --http-port "$1" --log-level warn --audit-enabled $audit >/dev/null 2>&1 &
  for _ in $(seq 1 400); do curl -sf "http://127.0.0.1:$1/realms/bench-rs" >/dev/null && break; sleep 0.05; done
  curl -sf -u bench-api:bench-secret -d grant_type=client_credentials \
    "http://127.0.0.1:$1/realms/bench-rs/protocol/openid-connect/token" >/dev/null
}

wrk_run() { # port body connections -> "rate p99"
  BODY="$2" AUTH="$AUTH" taskset -c 1 wrk -t1 -c"$3" -d10s --latency -s bench/form-post.lua \
    "http://127.0.0.1:$1/realms/bench-rs/protocol/openid-connect/token" \
    | awk '/Requests\/sec/ { r = $2 } /^ +99%/ { p = $2 } END { print r, p }'
}
login_run() { # port -> "rate -"
  local base="http://127.0.0.1:$1/realms/bench-rs/protocol/openid-connect"
  taskset -c 1 node bench/login.mjs "$base/auth" "$base/token" bench-web bench-secret "http://127.0.0.1/cb" \
    bench-user bench-password 4 10 | awk '{ print $2, "-" }'
}
wrk_run_cc() { wrk_run "$1" "grant_type=client_credentials" 64; }
wrk_run_pw() { wrk_run "$1" "grant_type=password&username=bench-user&password=bench-password" 4; }
measure() { # name command (the port is appended)
  local name=$1 off on; shift
  if [ $((round % 2)) -eq 1 ]; then
    off=$("$@" 18091); on=$("$@" 18092)
  else
    on=$("$@" 18092); off=$("$@" 18091)
  fi
  awk -v n="$name" -v r="$round" -v off="$off" -v on="$on" 'BEGIN {
    split(off, a, " "); split(on, b, " ");
    printf "round %d  %-20s off %8.1f/s (p99 %s)  on %8.1f/s (p99 %s)  on/off %.1f %%\n", r, n, a[1], a[2], b[1], b[2], 100 * b[1] / a[1] }'
}

start 18091 off
start 18092 on
ON_PID=$!
for round in $(seq 1 "$ROUNDS"); do
  measure client_credentials wrk_run_cc
  measure "password grant" wrk_run_pw
  measure "browser login" login_run
done
echo "-- audit records chained by the 'on' server (the password grants and browser logins)"
kill "$ON_PID" 2>/dev/null || true; wait "$ON_PID" 2>/dev/null || true
"$BIN" audit verify --data-dir "$WORK/on" 2>/dev/null || true
