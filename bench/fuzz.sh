#!/usr/bin/env bash
# Fuzzes every target of fuzz/ (cargo-fuzz, libFuzzer) for SECONDS each (default 300), one
# after another on one core (one libFuzzer process, pinned with taskset when present).
#
#   bash bench/fuzz.sh [seconds-per-target] [target ...]
#   bash bench/fuzz.sh --build-only
#
# Needs the nightly toolchain; installs cargo-fuzz through scripts/fuzz-tools.sh. The seed
# corpus (fuzz/corpus/<target>/, committed) is read, never written: what libFuzzer learns goes
# to fuzz/target/corpus-run/<target>/ and is kept between runs. A crash is written to
# fuzz/artifacts/<target>/ and the script exits 1; copy it into fuzz/regressions/<target>/
# (replayed by `cargo test`, tests/it/fuzz_corpus.rs) and fix it. FUZZ_SANITIZER (default
# none: the crate forbids unsafe; `address` works too, slower), FUZZ_TARGET_DIR (default
# fuzz/target), FUZZ_TIMEOUT (seconds one input may take, default 30). FUZZ_QUICK=1 builds
# for short runs (scripts/test.sh): optimisation level 1, 16 codegen units and no debug
# information, a cheaper build than cargo-fuzz's default (level 3, one codegen unit, line
# tables) whose inputs run slower; it goes to fuzz/target/quick so the two builds never
# replace each other.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_ONLY=
[ "${1:-}" != --build-only ] || { BUILD_ONLY=1; shift; }
SECONDS_PER_TARGET="${1:-300}"
shift || true
SANITIZER="${FUZZ_SANITIZER:-none}"
TARGET_DIR="${FUZZ_TARGET_DIR:-$PWD/fuzz/target}"
if [ -n "${FUZZ_QUICK:-}" ]; then
  TARGET_DIR="${FUZZ_TARGET_DIR:-$PWD/fuzz/target/quick}"
  # cargo-fuzz forces one codegen unit per crate (so that its release builds inline well) and
  # line tables; RUSTFLAGS come after its own flags, so these win.
  export CARGO_PROFILE_RELEASE_OPT_LEVEL=1
  export RUSTFLAGS="${RUSTFLAGS:-} -Cdebuginfo=0 -Ccodegen-units=16"
fi
TIMEOUT="${FUZZ_TIMEOUT:-30}"

bash scripts/fuzz-tools.sh
cd fuzz
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
pin=()
if command -v taskset >/dev/null 2>&1; then
  pin=(taskset -c "$(( $(nproc) - 1 ))")
fi

start=$(date +%s)
cargo +nightly fuzz build -s "$SANITIZER" --target-dir "$TARGET_DIR"
echo "fuzz: built in $(( $(date +%s) - start )) s"
[ -z "$BUILD_ONLY" ] || exit 0

crashed=()
for t in "${targets[@]}"; do
  mkdir -p "target/corpus-run/$t" "artifacts/$t"
  t0=$(date +%s)
  if ! "${pin[@]}" cargo +nightly fuzz run -s "$SANITIZER" --target-dir "$TARGET_DIR" "$t" \
      "target/corpus-run/$t" "corpus/$t" -- \
      -max_total_time="$SECONDS_PER_TARGET" -timeout="$TIMEOUT" -rss_limit_mb=2048 \
      -artifact_prefix="artifacts/$t/" -print_final_stats=1 >"target/fuzz-$t.log" 2>&1; then
    crashed+=("$t")
    tail -40 "target/fuzz-$t.log"
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "target/fuzz-$t.log" | grep -o '[0-9]*$' || echo '?')
  echo "fuzz: $t: $runs inputs in $(( $(date +%s) - t0 )) s"
done
echo "fuzz: ${#targets[@]} targets, $(( $(date +%s) - start )) s in all"
if [ ${#crashed[@]} -gt 0 ]; then
  echo "fuzz: crashes in ${crashed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
