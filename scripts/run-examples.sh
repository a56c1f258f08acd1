#!/usr/bin/env bash
# The main job, for now: build the example pipelines, run each one on this machine with the
# local runner (results and the cache under OUT_DIR/local), and compile each one to Argo
# Workflow YAML under OUT_DIR, checked against Argo's schema and Hera's models.
#
# usage: scripts/run-examples.sh [OUT_DIR]     (default: out/)
# The flagship Caltech101 pipeline replaces this as its components land.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out="${1:-out}"
mkdir -p "$out"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kfp-rs/target}"

scripts/build-deps.sh
cargo build --release --quiet --examples
for example in hello_world add_numbers artifacts diamond condition parallel_for exit_handler kubernetes_config; do
    echo "== $example"
    cargo run --release --quiet --example "$example" -- run --store "$out/local"
    cargo run --release --quiet --example "$example" -- compile -o "$out/$example.yaml"
    echo "wrote $out/$example.yaml"
done
python="$(scripts/python-env.sh --print-python)"
"$python" tests/oracle/validate_argo.py "$out"/*.yaml
echo "done: local runs in $out/local (runs list: cargo run --example diamond -- runs list --store $out/local);"
echo "      the YAML is in $out/; submit it with 'argo submit $out/add_numbers.yaml' on a cluster"
