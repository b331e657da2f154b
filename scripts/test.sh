#!/usr/bin/env bash
# Runs the whole test suite: formatting, lints, unit and integration tests on SQLite and
# PostgreSQL. PostgreSQL comes from PORTCULLIS_TEST_PG_URL (default
# postgres://postgres@127.0.0.1:5432/test); when CI=true it must answer.
set -euo pipefail
cd "$(dirname "$0")/.."

export PORTCULLIS_TEST_PG_URL="${PORTCULLIS_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"

# Start the local PostgreSQL cluster if it is installed but stopped (a no-op elsewhere).
if command -v pg_ctlcluster >/dev/null 2>&1 && command -v pg_isready >/dev/null 2>&1; then
  if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  fi
fi

# The docs' curl examples are run by the tests; they need curl and jq.
if ! command -v curl >/dev/null 2>&1 || ! command -v jq >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq curl jq
fi

# The e-mail tests deliver to a real SMTP server (aiosmtpd) in a venv under target/.
bash scripts/smtp-sink-venv.sh

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked

# Real third-party clients (python-keycloak) against the real server.
bash scripts/compat.sh

# A short fuzz run (about 10 s a target, bench/fuzz.sh) with the nightly toolchain; the corpus
# itself is replayed on stable by `cargo test` (tests/it/fuzz_corpus.rs). The fuzz crate's first
# build is a nightly release build of every dependency (more than ten minutes on two cores), so
# the step runs when asked (FUZZ=1) or when an earlier build is there to reuse (fuzz/target),
# and prints why it is skipped otherwise.
fuzz_start=$(date +%s)
if [ -z "${FUZZ:-}" ] && [ ! -d fuzz/target ]; then
  echo "fuzz: skipped (set FUZZ=1 to build the fuzz crate with nightly and run each target ~10 s)"
elif cargo +nightly --version >/dev/null 2>&1 && bash scripts/fuzz-tools.sh; then
  build=0
  (cd fuzz && timeout "${FUZZ_BUILD_BUDGET:-1500}" cargo +nightly fuzz build -s none --target-dir "$PWD/target") || build=$?
  if [ "$build" -eq 0 ]; then
    bash bench/fuzz.sh "${FUZZ_SECONDS:-10}"
    echo "fuzz: step took $(( $(date +%s) - fuzz_start )) s"
  elif [ "$build" -eq 124 ]; then
    echo "fuzz: skipped (the fuzz crate did not build within ${FUZZ_BUILD_BUDGET:-1500} s)"
  else
    echo "fuzz: the fuzz crate does not build" >&2
    exit 1
  fi
else
  echo "fuzz: skipped (no nightly toolchain or cargo-fuzz)"
fi
