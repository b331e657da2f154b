#!/usr/bin/env bash
# Installs the integration tests' SMTP sink (aiosmtpd, pinned in
# crates/portcullis/tests/smtp-sink/requirements.txt) into a venv under target/, once per
# requirements change. The tests find it at target/smtp-venv/bin/python (or
# PORTCULLIS_TEST_PYTHON); with CI=true a test that needs it fails when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=target/smtp-venv
REQ=crates/portcullis/tests/smtp-sink/requirements.txt
if [ ! -x "$VENV/bin/python" ] || ! cmp -s "$REQ" "$VENV/requirements.txt"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQ"
  cp "$REQ" "$VENV/requirements.txt"
fi
