#!/usr/bin/env bash
# Builds Portcullis and starts it in development mode on http://localhost:8080 with the
# example realm from realms/ imported (admin console user: admin / admin).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --bin portcullis
mkdir -p data/import
cp realms/*.json data/import/
exec ./target/release/portcullis start-dev --import-realm --health-enabled=true "$@"
