#!/usr/bin/env bash
# Browser login with password + TOTP (issue 17, Performance): the whole login (authorization
# endpoint, login page, password, OTP page, code + PKCE exchange) against the Argon2id hash
# rate of the same build, one core. Paired rounds, the order swapped each round: the browser
# login of a user with an OTP credential (Keycloak's default browser flow asks for the code)
# and of a user without one (password only). The realm's OTP policy lets a code be reused in
# its period (`otpPolicyCodeReusable`), so four workers can log the same user in.
# Release build; the server on core 0, the load (node) on core 1; after each round the
# Argon2id rate from the criterion bench `crypto` pinned to core 0.
# Usage: bash bench/mfa.sh [rounds]     (NO_BUILD=1 to reuse target/release/portcullis)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq jq; }
[ -n "${NO_BUILD:-}" ] || cargo build --release --locked --bin portcullis
ROUNDS=${1:-3}
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
taskset -c 0 target/release/portcullis start-dev --data-dir "$WORK/data" --import-realm --http-host 127.0.0.1 \
  --http-port "$PORT" --log-level warn >/dev/null 2>&1 &
BASE="http://127.0.0.1:$PORT/realms/bench-rs/protocol/openid-connect"
for _ in $(seq 1 400); do curl -sf "http://127.0.0.1:$PORT/realms/bench-rs" >/dev/null && break; sleep 0.05; done

login() { # user [otp-secret] -> logins/s
  taskset -c 1 node bench/login.mjs "$BASE/auth" "$BASE/token" bench-web bench-secret "http://127.0.0.1/cb" \
    "$1" bench-password 4 10 ${2:-} | tee -a "$WORK/log" | awk '{ print $2 }'
}
login bench-otp "$SECRET" >/dev/null   # warm-up, and a check that the OTP path works
grep -q " 0 errors" "$WORK/log" || { cat "$WORK/log"; exit 1; }
# Each round is followed at once by the Argon2id ceiling it is judged against (bench/lib.sh).
for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) -eq 1 ]; then pw=$(login bench-user); otp=$(login bench-otp "$SECRET")
  else otp=$(login bench-otp "$SECRET"); pw=$(login bench-user); fi
  c=$(ceiling_seconds "password/argon2id m=19456 t=2 p=1")
  awk -v r="$round" -v pw="$pw" -v otp="$otp" -v c="$c" 'BEGIN {
    printf "round %d  password only %6.1f logins/s (%.1f %%)  password + TOTP %6.1f logins/s (%.1f %% of the Argon2id rate, %.1f %% of password only)  argon2id %.2f ms\n",
      r, pw, 100 * pw * c, otp, 100 * otp * c, 100 * otp / pw, c * 1e3 }'
done
grep -c " 0 errors" "$WORK/log" >/dev/null
