#!/usr/bin/env bash
# W1 and W2 before and after a change, side by side in one run on this machine: our own code
# at two commits, no peer. Used to show that a refactor costs nothing (issue 11).
#
# usage: bench/before_after.sh BASE [HEAD] [--rounds 3] [--threads 2] [--size 64] [--steps 20]
#
#  1. checks out BASE and HEAD (default: HEAD) into temporary git worktrees and builds, for
#     each, `--release --example bench_compile` and `--example bench_train` in its own target
#     dir under ${KFP_RS_BA_TARGET:-$HOME/.cache/kfp-rs/before-after} (outside the repo);
#  2. per round, runs for BASE then HEAD (then HEAD then BASE in the next round, so a slow spell
#     of the machine hits both): bench_compile --sizes 10000 --repeat 5 (W1: best of 5 compiles
#     of the 10,000-task chain) and bench_train --arch caltech-s --size S --batch 32 --threads T
#     --warmup 3 --steps N (W2: training and inference images per second);
#  3. writes every result as a JSON line to bench/results/before_after-<date>.jsonl (first line
#     {"meta": ...}: both commits, whether the tree was clean, CPU model, load) and prints a
#     Markdown table of medians and HEAD/BASE ratios on stdout.
# Run it on an otherwise idle machine: the CPU load before each run is recorded beside it.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# shellcheck source=bench/common.sh
source bench/common.sh

base="" head="HEAD" rounds=3 threads=2 size=64 steps=20
positional=()
while (($#)); do
    case "$1" in
        --rounds) rounds="$2"; shift ;;
        --threads) threads="$2"; shift ;;
        --size) size="$2"; shift ;;
        --steps) steps="$2"; shift ;;
        -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "before_after.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
        *) positional+=("$1") ;;
    esac
    shift
done
say() { echo "before_after: $*" >&2; }
((${#positional[@]} >= 1 && ${#positional[@]} <= 2)) || { say "give BASE and optionally HEAD (see --help)"; exit 2; }
base="${positional[0]}"
[[ ${#positional[@]} -eq 2 ]] && head="${positional[1]}"
for value in "$rounds" "$threads" "$size" "$steps"; do
    [[ "$value" =~ ^[0-9]+$ && "$value" -gt 0 ]] || { say "not a positive whole number: '$value'"; exit 2; }
done

base_sha="$(git rev-parse --verify "$base^{commit}")" || { say "no such commit: $base"; exit 2; }
head_sha="$(git rev-parse --verify "$head^{commit}")" || { say "no such commit: $head"; exit 2; }
clean=true
git diff --quiet HEAD 2>/dev/null || clean=false

scripts/build-deps.sh
work="$(mktemp -d)"
cleanup() {
    for rev in base head; do git worktree remove --force "$work/$rev" >/dev/null 2>&1 || true; done
    rm -rf "$work"
}
trap cleanup EXIT
targets="${KFP_RS_BA_TARGET:-$HOME/.cache/kfp-rs/before-after}"
declare -A bin_compile bin_train
for rev in base head; do
    sha="$base_sha"
    [[ "$rev" == head ]] && sha="$head_sha"
    git worktree add --quiet --detach "$work/$rev" "$sha"
    say "building $rev ($sha): bench_compile, bench_train (release)"
    (cd "$work/$rev" && CARGO_TARGET_DIR="$targets/$rev" cargo build --release --quiet \
        --example bench_compile --example bench_train)
    bin_compile[$rev]="$targets/$rev/release/examples/bench_compile"
    bin_train[$rev]="$targets/$rev/release/examples/bench_train"
done

out="$(results_file before_after)"
lines="$(mktemp)"
cpu="$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
python3 - "$base_sha" "$head_sha" "$clean" "$cpu" "$(nproc)" "$(cut -d' ' -f1 /proc/loadavg)" \
    "$(cpu_busy_percent)" "$rounds" "$threads" "$size" "$steps" "$(rustc -V)" >>"$lines" <<'PY'
import datetime, json, sys
base, head, clean, cpu, cores, load1, busy, rounds, threads, size, steps, rustc = sys.argv[1:]
print(json.dumps({"meta": {
    "workload": "W1+W2 before/after", "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "base": base, "head": head, "clean_tree": clean == "true", "cpu": cpu, "cores": int(cores),
    "load1_at_start": load1, "cpu_busy_percent_at_start": busy, "rounds": int(rounds),
    "threads": int(threads), "size": int(size), "steps": int(steps), "rustc": rustc}}))
PY

record() { # rev, round, workload, output line(s)
    python3 - "$1" "$2" "$3" "$(cut -d' ' -f1 /proc/loadavg)" "$4" <<'PY' | tee -a "$lines" >&2
import json, re, sys
rev, rnd, workload, load1, text = sys.argv[1:]
row = {"rev": rev, "round": int(rnd), "workload": workload, "load1_before": load1}
if workload == "W1":
    data = json.loads([l for l in text.splitlines() if l.startswith("{")][-1])
    row.update(n=data["n"], seconds=data["seconds"], bytes=data["bytes"])
else:
    row.update({k: float(v) for k, v in re.findall(r"(\w+)=([-+.\deE]+)", text.strip().splitlines()[-1])})
print(json.dumps(row))
PY
}

for ((round = 1; round <= rounds; round++)); do
    order=(base head)
    ((round % 2 == 0)) && order=(head base)
    for rev in "${order[@]}"; do
        say "round $round/$rounds: $rev"
        record "$rev" "$round" W1 "$("${bin_compile[$rev]}" --sizes 10000 --repeat 5)"
        record "$rev" "$round" W2 "$("${bin_train[$rev]}" --arch caltech-s --size "$size" --batch 32 \
            --threads "$threads" --warmup 3 --steps "$steps" 2>/dev/null)"
    done
done

cat "$lines" >"$out"
rm -f "$lines"
say "raw results: $out"
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
meta = rows[0]["meta"]
runs = rows[1:]
def med(rev, workload, key):
    values = [r[key] for r in runs if r["rev"] == rev and r["workload"] == workload and key in r]
    return statistics.median(values) if values else None
print(f"Base {meta['base'][:10]}, head {meta['head'][:10]} (clean tree: {meta['clean_tree']}), {meta['cpu']}, "
      f"medians of {meta['rounds']} rounds.\n")
print("| figure | base | head | head / base |")
print("| --- | ---: | ---: | ---: |")
for label, workload, key, scale, unit in [
    ("W1 10,000-task compile (best of 5)", "W1", "seconds", 1e3, "ms"),
    (f"W2 training, {meta['size']}x{meta['size']}, batch 32", "W2", "train_img_per_s", 1, "img/s"),
    (f"W2 inference, {meta['size']}x{meta['size']}, batch 32", "W2", "infer_img_per_s", 1, "img/s"),
]:
    b, h = med("base", workload, key), med("head", workload, key)
    ratio = f"{h / b:.3f}" if b and h else "—"
    fmt = lambda v: f"{v * scale:,.1f} {unit}" if v is not None else "—"
    print(f"| {label} | {fmt(b)} | {fmt(h)} | {ratio} |")
sizes = {(r["rev"], r["bytes"]) for r in runs if r["workload"] == "W1"}
print(f"\nW1 YAML bytes per commit: {sorted(sizes)}")
PY
