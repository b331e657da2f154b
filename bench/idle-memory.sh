#!/usr/bin/env bash
# Resident memory of an idle server after password hashing: a fresh server (master realm only)
# whose first start hashed the bootstrap administrator's password, then the same server after a
# burst of the administrator's password grants (4 at a time for 10 s, so several Argon2 working memories of 19 MiB each were in use).
# Prints the resident set (VmRSS, with its anonymous and file-backed parts) every 10 s for 70 s after each; idle Argon2 memory is freed
# after 30 s without a hash, so the last samples show the resting figure. Then 3 more minutes
# idle, sampled each minute.
# Usage: bash bench/idle-memory.sh   (BIN=path to test another binary, PORT=another port than
# 18093 to run two side by side, TAIL_MIN=minutes sampled at the end, 3 by default; the
# allocator's MIMALLOC_* variables, if set, reach the server)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/portcullis}
[ -n "${NO_BUILD:-}" ] || [ "$BIN" != target/release/portcullis ] || cargo build --release --locked --bin portcullis
PORT=${PORT:-18093}
TAIL_MIN=${TAIL_MIN:-3}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
KC_BOOTSTRAP_ADMIN_USERNAME=admin KC_BOOTSTRAP_ADMIN_PASSWORD=admin \
  "$BIN" start-dev --data-dir "$WORK" --http-host 127.0.0.1 --http-port $PORT --log-level warn >/dev/null 2>&1 &
PID=$!
for _ in $(seq 1 400); do curl -sf http://127.0.0.1:$PORT/realms/master >/dev/null && break; sleep 0.05; done
# VmRSS, and its two parts: anonymous memory (heap, stacks) and file pages (the binary's code and
# data, shared libraries).
rss() {
  awk '/^VmRSS/ {t=$2} /^RssAnon/ {a=$2} /^RssFile/ {f=$2}
       END {printf "%.1f MB (anonymous %.1f, file %.1f)", t/1024, a/1024, f/1024}' "/proc/$PID/status"
}
samples() { for t in 0 10 20 30 40 50 60 70; do [ "$t" = 0 ] || sleep 10; echo "  t=${t}s: $(rss)"; done; }
echo "-- fresh start (bootstrap admin hashed once)"
samples
echo "-- after 10 s of password grants, 4 at a time"
end=$((SECONDS + 10))
for _ in 1 2 3 4; do
  ( while [ $SECONDS -lt $end ]; do
      curl -sf -d grant_type=password -d client_id=admin-cli -d username=admin -d password=admin \
        http://127.0.0.1:$PORT/realms/master/protocol/openid-connect/token >/dev/null &&
        echo >>"$WORK/grants"
    done ) &
done
wait $(jobs -p | grep -v "^$PID$") 2>/dev/null || true
echo "  at the end of the burst ($(wc -l <"$WORK/grants") grants): $(rss)"
samples
for m in $(seq 1 "$TAIL_MIN"); do sleep 60; echo "  +${m} min: $(rss)"; done
