#!/usr/bin/env bash
# Builds the fuzz targets in fuzz/ (cargo-fuzz, nightly toolchain) and runs each for SECONDS.
#
# usage: scripts/fuzz.sh [SECONDS] [TARGET...]     (default 20 seconds, every target)
#
# Installs cargo-fuzz with `cargo install` when it is missing. The seed corpus is written
# first (kfp-components/examples/fuzz_seeds.rs, into fuzz/corpus/, not committed); what the fuzzer adds to the corpus is
# kept there between runs. A crash stops the script with the fuzzer's report and the input
# saved under fuzz/artifacts/TARGET/: make it a regression test in the crate that owns the
# code (docs/fuzzing.md). Without the nightly toolchain it fails under CI=true and skips
# otherwise. CARGO_TARGET_DIR defaults to ~/.cache/kfp-rs/fuzz-target.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds="${1:-20}"
shift || true
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "fuzz.sh: SECONDS must be a whole number, got '$seconds'" >&2; exit 2; }
targets=("$@")
((${#targets[@]})) || targets=(params run_record dataset_manifest archive)

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    if [[ "${CI:-}" == true ]]; then
        echo "fuzz.sh: no nightly toolchain (cargo-fuzz needs it)" >&2
        exit 1
    fi
    echo "fuzz.sh: skipped: no nightly toolchain" >&2
    exit 0
fi
if ! cargo fuzz --help >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz (cargo install --locked cargo-fuzz)" >&2
    cargo install --locked --quiet cargo-fuzz
fi
# The seed corpus, written by an ordinary build (kfp-components' example fuzz_seeds).
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kfp-rs/target}" \
    cargo run --quiet -p kfp-components --example fuzz_seeds -- fuzz/corpus
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR_FUZZ:-$HOME/.cache/kfp-rs/fuzz-target}"
cd fuzz
# One build of every target with coverage instrumentation; panics and aborts are what the
# fuzzer looks for (no sanitizer: the code under test is safe Rust).
cargo +nightly fuzz build --sanitizer none -O
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    log="$(mktemp)"
    if ! cargo +nightly fuzz run --sanitizer none -O "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
        cat "$log" >&2
        echo "fuzz.sh: $target found a crash (see above and fuzz/artifacts/$target/)" >&2
        rm -f "$log"
        exit 1
    fi
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
    echo "fuzz: $target: $runs executions in ${seconds}s, no crash"
    rm -f "$log"
done
