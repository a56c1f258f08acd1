#!/usr/bin/env bash
# W6 side by side: the local runner's overhead per task, kfp-rs against kfp.local.
#
# usage: bench/local_overhead.sh
# kfp-rs: a chain of $CHAIN and a fan-out of $FANOUT no-op tasks (examples/bench_local.rs);
# kfp.local (kfp 2.17, SubprocessRunner(use_venv=False)): a chain and a fan-out of
# $KFP_TASKS no-op lightweight components each (about 0.7 s per task, so fewer tasks).
# Writes the JSON lines to bench/results/local_overhead-<date>.jsonl and prints a table.
# Defaults: CHAIN=200 FANOUT=1000 KFP_TASKS=20.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
CHAIN="${CHAIN:-200}"
FANOUT="${FANOUT:-1000}"
KFP_TASKS="${KFP_TASKS:-20}"
venv="${KFP_RS_BENCH_VENV:-$HOME/.cache/kfp-rs/bench-venv}"

py="$(scripts/python-env.sh --venv "$venv" --requirements bench/requirements.txt --print-python)"
mkdir -p bench/results
out="bench/results/local_overhead-$(date -u +%Y-%m-%d).jsonl"
: >"$out"
echo "local_overhead: kfp-rs (chain $CHAIN, fan-out $FANOUT)" >&2
cargo run --release --quiet --example bench_local -- --chain "$CHAIN" --fanout "$FANOUT" | tee -a "$out" >&2
echo "local_overhead: kfp.local (chain $KFP_TASKS, fan-out $KFP_TASKS)" >&2
# kfp.local logs every task to stdout; keep the result lines only.
"$py" bench/local_overhead_kfp.py --chain "$KFP_TASKS" --fanout "$KFP_TASKS" | grep '^{"tool"' | tee -a "$out" >&2
"$py" - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {(r["tool"], r["shape"]): r for r in rows}
print("| shape | kfp-rs tasks | kfp-rs ms/task | kfp.local tasks | kfp.local ms/task | kfp.local / kfp-rs |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for shape in ("chain", "fanout"):
    ours, peer = by[("kfp-rs", shape)], by[("kfp.local", shape)]
    ratio = peer["ms_per_task"] / ours["ms_per_task"]
    print(f"| {shape} | {ours['tasks']} | {ours['ms_per_task']:.2f} | {peer['tasks']} | {peer['ms_per_task']:.0f} | {ratio:.0f}x |")
PY
