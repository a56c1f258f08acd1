#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs the Python oracle venv (outside the
# repo), checks generated code, formatting and lints, then runs every Rust test (unit,
# integration, trybuild UI, doc tests) including the oracle and real-data tests.
#
# usage: scripts/test.sh
# CARGO_TARGET_DIR defaults to ~/.cache/kfp-rs/target so that repeat runs (and fresh clones
# on the same machine) are incremental.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kfp-rs/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
step() { printf '\n== %s\n' "$*"; }

step "build tools (nasm for the JPEG decoder's SIMD code)"
scripts/build-deps.sh

step "python oracle venv (jsonschema, pyyaml, hera)"
KFP_RS_PYTHON="$(scripts/python-env.sh --print-python)"
export KFP_RS_PYTHON
"$KFP_RS_PYTHON" -c 'import hera, jsonschema, yaml; print("hera", hera.__version__ if hasattr(hera, "__version__") else "ok")'

step "generated Argo model is up to date"
python3 tools/gen_argo_model.py --check

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "the caltech101 download feature (built and its offline parts tested: a loopback server)"
cargo clippy -p kfp-components --features download --all-targets -- -D warnings
cargo test -p kfp-components --features download --lib caltech101::download

step "cargo doc (missing docs and broken links are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet

step "cargo test --workspace"
cargo test --workspace

step "fuzz targets (fuzz/): 15 s each (longer runs: scripts/fuzz.sh SECONDS)"
scripts/fuzz.sh 15
