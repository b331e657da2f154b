#!/usr/bin/env bash
# Browser login with password + TOTP (issue 17, Performance): the whole login (authorization
# endpoint, login page, password, OTP page, code + PKCE exchange) against the Argon2id hash
# rate of the same build, one core. Paired rounds, the order swapped each round: the browser
# login of a user with an OTP credential (Keycloak's default browser flow asks for the code)
# and of a user without one (password only). The realm's OTP policy lets a code be reused in
# its period (`otpPolicyCodeReusable`), so four workers can log the same user in.
# Release build; the server on core 0, the load on core 1; the Argon2id rate of one thread on
# core 0 (the example `argon2_rate`), in windows alternated with the logins'. The load is the
# example `login_load` (the login of bench/login.mjs in Rust: about 0.45 s of CPU in a 10 s run
# where node's fetch took 3.8 s, so the load disturbs the server's core less; the two vCPUs of
# these machines share their host's resources). LOADGEN=node runs bench/login.mjs instead.
# Usage: bash bench/mfa.sh [rounds]     (NO_BUILD=1 to reuse target/release/portcullis and
#        the two examples in target/release/examples; WIN=seconds per window, 3; BIN=path to run another build of the server,
#        e.g. an older one for a paired comparison)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq jq; }
[ -n "${NO_BUILD:-}" ] || cargo build --release --locked -p portcullis --bin portcullis --example login_load --example argon2_rate
ROUNDS=${1:-10}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
PORT=${PORT:-18093}
SECRET=aB3dE5fG7hJ9kL1mN2pQ
mkdir -p "$WORK/data/import"
jq --arg s "$SECRET" 'map(. + {otpPolicyCodeReusable: true,
    users: (.users + [{username: "bench-otp", email: "bench-otp@example.com", firstName: "Bench", lastName: "Otp", enabled: true, credentials: [
      {type: "password", value: "bench-password"},
      {type: "otp", userLabel: "bench", secretData: ({value: $s} | tojson),
       credentialData: ({subType: "totp", digits: 6, counter: 0, period: 30, algorithm: "HmacSHA1"} | tojson)}]}])})' \
  bench/realm-bench.json > "$WORK/data/import/realm-bench.json"
taskset -c 0 "${BIN:-target/release/portcullis}" start-dev --data-dir "$WORK/data" --import-realm --http-host 127.0.0.1 \
  --http-port "$PORT" --log-level warn >/dev/null 2>&1 &
BASE="http://127.0.0.1:$PORT/realms/bench-rs/protocol/openid-connect"
for _ in $(seq 1 400); do curl -sf "http://127.0.0.1:$PORT/realms/bench-rs" >/dev/null && break; sleep 0.05; done

if [ "${LOADGEN:-}" = node ]; then LOAD="node bench/login.mjs"; else LOAD=target/release/examples/login_load; fi
PID=$(pgrep -f "start-dev --data-dir $WORK" | head -1)
cpu() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }   # the server's CPU time, in ticks
WIN=${WIN:-3}   # seconds per window
login() { # user [otp-secret] -> "logins/s logins server-CPU-ticks"
  local a b out
  a=$(cpu)
  out=$(taskset -c 1 $LOAD "$BASE/auth" "$BASE/token" bench-web bench-secret "http://127.0.0.1/cb" \
    "$1" bench-password 4 "$WIN" ${2:-} | tee -a "$WORK/log")
  b=$(cpu)
  echo "$out" | awk -v t="$((b - a))" '{ n = $3; sub(/^\(/, "", n); printf "%s %s %s", $2, n, t }'
}
hashes() { # -> "hashes seconds": the Argon2id rate of one thread on the server's core, the server idle
  taskset -c 0 target/release/examples/argon2_rate "$WIN" | awk '{ printf "%s %s", $2, $4 }'
}
login bench-otp "$SECRET" >/dev/null   # warm-up, and a check that the OTP path works
grep -q " 0 errors" "$WORK/log" || { cat "$WORK/log"; exit 1; }
# The host's speed drifts by 10-30 % within minutes, and Argon2id, which walks 19 MiB, follows
# it; a ceiling measured minutes apart from the logins can flatter or wrong them. So each round
# is three short windows back to back on the same core: the Argon2id rate (the example
# `argon2_rate`: crypto::password::hash in a loop, the function the criterion bench measures),
# the password-only login and the password + TOTP login (their order swapped every round).
# The figure is the ratio of the sums over all rounds; each round's own ratio shows the spread.
for round in $(seq 1 "$ROUNDS"); do
  h=$(hashes)
  if [ $((round % 2)) -eq 1 ]; then pw=$(login bench-user); otp=$(login bench-otp "$SECRET")
  else otp=$(login bench-otp "$SECRET"); pw=$(login bench-user); fi
  echo "$round $h $pw $otp" >> "$WORK/windows"
  echo "$h $pw $otp" | awk -v r="$round" -v hz="$(getconf CLK_TCK)" '{
    c = $1 / $2; pw = $3; otp = $6
    printf "round %d  Argon2id %.1f/s (%.2f ms)  password only %5.1f logins/s (%.1f %%)  password + TOTP %5.1f logins/s (%.1f %% of the Argon2id rate)  server CPU per login: TOTP %.2f ms, password only %.2f ms\n",
      r, c, 1e3 / c, pw, 100 * pw / c, otp, 100 * otp / c, 1e3 * $8 / hz / $7, 1e3 * $5 / hz / $4 }'
done
awk -v hz="$(getconf CLK_TCK)" '{ h += $2; hs += $3; p += $4; o += $7; on += $8; oc += $9 } END {
  c = h / hs; p /= NR; o /= NR
  printf "all %d rounds (%d s each window): Argon2id %.1f hashes/s; password only %.1f logins/s = %.1f %%; password + TOTP %.1f logins/s = %.1f %% of the Argon2id rate (%.1f %% of password only); server CPU per TOTP login %.2f ms against %.2f ms per hash\n",
    NR, '"$WIN"', c, p, 100 * p / c, o, 100 * o / c, 100 * o / p, 1e3 * oc / hz / on, 1e3 / c }' "$WORK/windows"
if grep -v " 0 errors" "$WORK/log" | grep -q .; then echo "some logins failed:"; cat "$WORK/log"; exit 1; fi
