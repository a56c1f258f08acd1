#!/usr/bin/env bash
# Builds the fuzz targets in fuzz/ (libFuzzer through libfuzzer-sys, nightly toolchain) and
# runs each for SECONDS.
#
# usage: scripts/fuzz.sh [SECONDS] [TARGET...]     (default 20 seconds, every target)
#
# The build is what `cargo fuzz build -O --sanitizer none` does (the same coverage flags), made
# with plain cargo so that CI needs no cargo-fuzz; with cargo-fuzz installed, `cd fuzz && cargo
# +nightly fuzz run TARGET` works too. The seed corpus is written first
# (kfp-components/examples/fuzz_seeds.rs, into fuzz/corpus/, not committed); what the fuzzer
# adds is kept there between runs. A crash stops the script with the fuzzer's report and the
# input saved under fuzz/artifacts/TARGET/: make it a regression test in the crate that owns
# the code (docs/reliability.md). Without the nightly toolchain it fails under CI=true and
# skips otherwise. Build folder: ${KFP_RS_FUZZ_TARGET:-~/.cache/kfp-rs/fuzz-target}.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds="${1:-20}"
shift || true
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "fuzz.sh: SECONDS must be a whole number, got '$seconds'" >&2; exit 2; }
targets=("$@")
((${#targets[@]})) || targets=(params run_record dataset_manifest archive)

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    if [[ "${CI:-}" == true ]]; then
        echo "fuzz.sh: no nightly toolchain (libFuzzer's coverage flags need it)" >&2
        exit 1
    fi
    echo "fuzz.sh: skipped: no nightly toolchain" >&2
    exit 0
fi

# The seed corpus, written by an ordinary build (kfp-components' example fuzz_seeds).
cargo run --quiet -p kfp-components --example fuzz_seeds -- fuzz/corpus

fuzz_target_dir="${KFP_RS_FUZZ_TARGET:-$HOME/.cache/kfp-rs/fuzz-target}"
triple="$(rustc +nightly -vV | sed -n 's/^host: //p')"
# Coverage instrumentation as cargo-fuzz sets it; no sanitizer (the code under test is safe
# Rust: panics and aborts are what the fuzzer looks for).
CARGO_TARGET_DIR="$fuzz_target_dir" RUSTFLAGS="-Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=4 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table -Cllvm-args=-sanitizer-coverage-trace-compares \
--cfg fuzzing -Cdebug-assertions" \
    cargo +nightly build --quiet --release --manifest-path fuzz/Cargo.toml --target "$triple" \
    "${targets[@]/#/--bin=}"

for target in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
    log="$(mktemp)"
    if ! "$fuzz_target_dir/$triple/release/$target" "fuzz/corpus/$target" \
        -artifact_prefix="fuzz/artifacts/$target/" -max_total_time="$seconds" \
        -print_final_stats=1 >"$log" 2>&1; then
        tail -40 "$log" >&2
        echo "fuzz.sh: $target found a crash (see above and fuzz/artifacts/$target/)" >&2
        rm -f "$log"
        exit 1
    fi
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
    echo "fuzz: $target: $runs executions in ${seconds} s, no crash"
    rm -f "$log"
done
