#!/usr/bin/env bash
# Installs what the fuzz targets need: cargo-fuzz (libFuzzer driver) for the nightly toolchain.
# Idempotent: does nothing when `cargo fuzz` already answers. Exits non-zero when nightly is
# missing, so callers can print a skip.
set -euo pipefail
if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz-tools: no nightly toolchain (cargo +nightly)" >&2
  exit 1
fi
if cargo fuzz --version >/dev/null 2>&1; then
  exit 0
fi
cargo install cargo-fuzz --locked
