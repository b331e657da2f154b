#!/usr/bin/env bash
# The flow engine's cost (issue 17, Performance): the password grant and the whole browser
# login of this build against an older build (OLD_BIN, e.g. the commit before issue 17's first
# change, 52b0a44, built with `cargo build --release` in a worktree), in paired rounds: both
# servers run side by side on core 0 with the same realm file (bench/realm-bench.json), the
# load on core 1, and each round measures old then new (the order swapped every round, as the
# host's speed drifts from one minute to the next). Password grant: wrk, 4 keep-alive
# connections, 10 s; browser login: bench/login.mjs, 4 workers, 10 s.
# Usage: OLD_BIN=/path/to/old/portcullis bash bench/flow_cost.sh [rounds]
#   (NO_BUILD=1 to reuse target/release/portcullis)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
[ -n "${NO_BUILD:-}" ] || cargo build --release --locked --bin portcullis
: "${OLD_BIN:?set OLD_BIN to the binary of the older build}"
NEW_BIN=$PWD/target/release/portcullis
ROUNDS=${1:-5}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
AUTH=$(printf 'bench-api:bench-secret' | base64)

start() { # name binary port
  mkdir -p "$WORK/$1/import" && cp bench/realm-bench.json "$WORK/$1/import/"
  taskset -c 0 "$2" start-dev --data-dir "$WORK/$1" --import-realm --http-host 127.0.0.1 --http-port "$3" \
    --log-level warn >/dev/null 2>"$WORK/$1.log" &
  for _ in $(seq 1 400); do curl -sf "http://127.0.0.1:$3/realms/bench-rs" >/dev/null && return 0; sleep 0.05; done
  cat "$WORK/$1.log" >&2; return 1
}
grant() { # port -> requests/s
  BODY="grant_type=password&username=bench-user&password=bench-password" AUTH="$AUTH" \
    taskset -c 1 wrk -t1 -c4 -d10s -s bench/form-post.lua "http://127.0.0.1:$1/realms/bench-rs/protocol/openid-connect/token" \
    | awk '/Requests\/sec/ { r = $2 } /Non-2xx/ { bad = 1 } END { print bad ? "errors" : r }'
}
login() { # port -> logins/s
  local base="http://127.0.0.1:$1/realms/bench-rs/protocol/openid-connect"
  taskset -c 1 node bench/login.mjs "$base/auth" "$base/token" bench-web bench-secret "http://127.0.0.1/cb" \
    bench-user bench-password 4 10 | tee -a "$WORK/logins" | awk '{ print $2 }'
}
start old "$OLD_BIN" 18101
start new "$NEW_BIN" 18102
login 18101 >/dev/null; login 18102 >/dev/null   # warm-up, and a check that both log in
[ "$(grep -c ' 0 errors' "$WORK/logins")" -eq 2 ] || { cat "$WORK/logins"; exit 1; }
for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) -eq 1 ]; then og=$(grant 18101); ng=$(grant 18102); ol=$(login 18101); nl=$(login 18102)
  else ng=$(grant 18102); og=$(grant 18101); nl=$(login 18102); ol=$(login 18101); fi
  awk -v r="$round" -v og="$og" -v ng="$ng" -v ol="$ol" -v nl="$nl" 'BEGIN {
    printf "round %d  password grant old %6.1f/s new %6.1f/s (%.1f %%)  browser login old %6.1f/s new %6.1f/s (%.1f %%)\n",
      r, og, ng, 100 * ng / og, ol, nl, 100 * nl / ol }'
done
