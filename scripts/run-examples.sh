#!/usr/bin/env bash
# The main job, for now: build the example pipelines, compile each one to Argo Workflow YAML
# under out/, check it against Argo's schema and Hera's models, and run each example's YAML
# step by step on this machine the way Argo would (the `examples` test does that part).
#
# usage: scripts/run-examples.sh [OUT_DIR]     (default: out/)
# The flagship Caltech101 pipeline and the local runner replace this as they land.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out="${1:-out}"
mkdir -p "$out"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kfp-rs/target}"

cargo build --release --quiet --examples
for example in hello_world add_numbers artifacts; do
    cargo run --release --quiet --example "$example" -- compile -o "$out/$example.yaml"
    echo "wrote $out/$example.yaml"
done
python="$(scripts/python-env.sh --print-python)"
"$python" tests/oracle/validate_argo.py "$out"/*.yaml
cargo test --release --quiet --test examples
echo "done: the YAML is in $out/; submit it with 'argo submit $out/add_numbers.yaml' on a cluster"
