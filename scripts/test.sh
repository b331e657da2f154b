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

# WebAuthn verification (webauthn-rs-core) links the system OpenSSL through openssl-sys.
if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists openssl 2>/dev/null; then
  apt-get update -qq && apt-get install -y -qq libssl-dev pkg-config
fi

# The e-mail tests deliver to a real SMTP server (aiosmtpd) in a venv under target/.
bash scripts/smtp-sink-venv.sh

# The fuzz step's nightly build (cargo-fuzz, then the fuzz crate and its dependencies, about
# 15 CPU-minutes from a clean clone) starts now, in the background and at the lowest CPU priority
# (nice 19), so it runs on what the stable build and the tests leave idle (one core during the
# long codegen of the server crate and the test binary's link, both while tests wait on I/O).
# The run itself comes last. FUZZ=0 skips the step.
fuzz_build=
fuzz_skip=
fuzz_start=$(date +%s)
fuzz_log=$PWD/fuzz/target/quick-build.log
if [ "${FUZZ:-}" = 0 ]; then
  fuzz_skip="FUZZ=0"
elif ! cargo +nightly --version >/dev/null 2>&1; then
  fuzz_skip="no nightly toolchain: rustup toolchain install nightly"
else
  mkdir -p "$(dirname "$fuzz_log")"
  # Its own process group (setsid), so that an early exit of this script stops the whole build.
  setsid nice -n 19 env FUZZ_QUICK=1 bash bench/fuzz.sh --build-only >"$fuzz_log" 2>&1 &
  fuzz_build=$!
  trap '[ -z "$fuzz_build" ] || kill -- -"$fuzz_build" 2>/dev/null || true' EXIT
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked

# Real third-party clients (python-keycloak) against the real server.
bash scripts/compat.sh

# The fuzz step: every target for about 10 s (bench/fuzz.sh) with the nightly toolchain; the
# corpus itself is replayed on stable by `cargo test` (tests/it/fuzz_corpus.rs). Its build was
# started in the background at the top of this script; wait for it, then run.
if [ -n "$fuzz_build" ]; then
  if wait "$fuzz_build"; then
    fuzz_build=
    tail -1 "$fuzz_log"
    FUZZ_QUICK=1 bash bench/fuzz.sh "${FUZZ_SECONDS:-10}"
    echo "fuzz: step took $(( $(date +%s) - fuzz_start )) s from its background build's start"
  else
    fuzz_build=
    tail -40 "$fuzz_log" >&2
    echo "fuzz: the fuzz crate does not build (whole log: $fuzz_log)" >&2
    exit 1
  fi
else
  echo "fuzz: skipped ($fuzz_skip)"
fi
