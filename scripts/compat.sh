#!/usr/bin/env bash
# Compatibility suites: real third-party Keycloak clients against a real Portcullis.
# Installs what they need (a Python venv in target/, npm packages from the committed
# lock files, Debian's Chromium for keycloak-js), starts the server with the compat realm on a
# free port, runs the suites, and stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked --bin portcullis
BIN=$PWD/target/debug/portcullis
VENV=target/compat-venv
if [ ! -x "$VENV/bin/pytest" ] || ! cmp -s compat/python/requirements.txt "$VENV/requirements.txt"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r compat/python/requirements.txt
  cp compat/python/requirements.txt "$VENV/requirements.txt"
fi
if command -v npm >/dev/null 2>&1; then
  (cd compat/node && npm ci --no-audit --no-fund --silent)
  (cd compat/browser && npm ci --no-audit --no-fund --silent)
else
  echo "compat: npm is required for the openid-client suite" >&2
  exit 1
fi
# keycloak-js runs in Debian's Chromium (no browser download); the suite needs jq for the
# project's register-client.sh.
bash scripts/install-chromium.sh
command -v jq >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq jq; }
WORK=$(mktemp -d)
mkdir -p "$WORK/import" && cp compat/realm-compat.json "$WORK/import/"
"$BIN" start-dev --data-dir "$WORK" --import-realm --http-host 127.0.0.1 --http-port 0 > "$WORK/start.json" 2> "$WORK/server.log" &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 200); do [ -s "$WORK/start.json" ] && break; sleep 0.05; done
ADDR=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["http"])' "$WORK/start.json")
export PORTCULLIS_URL="http://$ADDR"
echo "compat: python-keycloak against $PORTCULLIS_URL"
"$VENV/bin/pytest" -q compat/python
echo "compat: openid-client (node) against $PORTCULLIS_URL"
(cd compat/node && node --test)
echo "compat: keycloak-js 26.2.4 in Chromium against $PORTCULLIS_URL"
(cd compat/browser && node --test)
echo "compat: python-keycloak upstream suite"
bash scripts/compat-upstream.sh
