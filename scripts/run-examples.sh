#!/usr/bin/env bash
# The main job: run the flagship pipeline (examples/flagship.rs: load Caltech101 from
# ../shared, train caltech-m for $EPOCHS epochs with our recipe, evaluate on the test split;
# about 20 minutes on 2 cores at the default 40 epochs), then the small example pipelines, each on this
# machine with the local runner (results and the cache under OUT_DIR/local), and compile each
# one to Argo Workflow YAML under OUT_DIR, checked against Argo's schema and Hera's models.
#
# usage: [EPOCHS=40] [KFP_SHARED_DIR=../shared] scripts/run-examples.sh [OUT_DIR]   (default: out/)
# Pruning, int8 quantization and the Edge TPU TFLite export join the flagship as they land.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out="${1:-out}"
mkdir -p "$out"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kfp-rs/target}"

scripts/build-deps.sh
cargo build --release --quiet --examples
shared="$(cd "${KFP_SHARED_DIR:-../shared}" && pwd)"
echo "== flagship (Caltech101 -> caltech-m, ${EPOCHS:-40} epochs)"
cargo run --release --quiet --example flagship -- run --store "$out/local" \
    -p "source=$shared/caltech101/101_ObjectCategories.tar.gz" -p "epochs=${EPOCHS:-40}"
cargo run --release --quiet --example flagship -- compile -o "$out/flagship.yaml"
echo "wrote $out/flagship.yaml"
for example in hello_world add_numbers artifacts diamond condition guarded_branch parallel_for exit_handler kubernetes_config; do
    echo "== $example"
    cargo run --release --quiet --example "$example" -- run --store "$out/local"
    cargo run --release --quiet --example "$example" -- compile -o "$out/$example.yaml"
    echo "wrote $out/$example.yaml"
done
python="$(scripts/python-env.sh --print-python)"
"$python" tests/oracle/validate_argo.py "$out"/*.yaml
echo "done: local runs in $out/local (runs list: cargo run --example diamond -- runs list --store $out/local);"
echo "      the YAML is in $out/; submit it with 'argo submit $out/add_numbers.yaml' on a cluster"
