#!/usr/bin/env bash
# W2 side by side: training and inference speed of the reference CNN "caltech-s" (random data),
# kfp-rs against PyTorch 2.15 CPU in both its layouts, in one run.
#
# usage: bench/train_cnn.sh [--sizes "64 128"] [--rounds 3] [--threads 2] [--batch 32]
#                           [--warmup 3] [--steps 20] [--only kfp-rs|pytorch]
#
#  1. creates/updates the peer venv ${KFP_RS_TORCH_VENV:-$HOME/.cache/kfp-rs/torch-venv} from
#     bench/requirements-torch.txt (through scripts/python-env.sh; outside the repo; ~5 GB);
#  2. builds ours once: cargo build --release --example bench_train;
#  3. per round, per size, runs in a fresh process each, in this order: kfp-rs
#     (bench_train --arch caltech-s --size S --batch B --threads T --warmup W --steps N),
#     PyTorch channels_last and PyTorch NCHW (bench/train_pytorch.py, the same options): both
#     time N batches after W untimed ones, training then inference (the order makes a slow
#     spell of the machine hit all three); peak memory of each process is measured from
#     outside, the same way for all (ru_maxrss of the waited-for child, as /usr/bin/time -v
#     reports it), and the CPU load just before each run is recorded beside it;
#  4. saves every JSON line to bench/results/train_cnn-<date>.jsonl (first line: {"meta": ...})
#     and prints the Markdown table (medians of the rounds; ratios kfp-rs / PyTorch
#     channels_last) on stdout.
# --only runs one side (e.g. to test the harness before ours exists). Run it on an otherwise
# idle machine: a busy machine is warned of. PyTorch's OpenMP threads spin while they wait,
# which collapses its speed when other processes want the cores (measured 3.6x slower on a
# machine busy compiling); there, OMP_WAIT_POLICY=PASSIVE bench/train_cnn.sh is the fairer
# peer (the policy is recorded in every result line).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# shellcheck source=bench/common.sh
source bench/common.sh

sizes="64 128"
rounds=3
threads=2
batch=32
warmup=3
steps=20
only=""
while (($#)); do
    case "$1" in
        --sizes) sizes="$2"; shift ;;
        --rounds) rounds="$2"; shift ;;
        --threads) threads="$2"; shift ;;
        --batch) batch="$2"; shift ;;
        --warmup) warmup="$2"; shift ;;
        --steps) steps="$2"; shift ;;
        --only) only="$2"; shift ;;
        -h | --help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "train_cnn.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
say() { echo "train_cnn: $*" >&2; }
read -ra size_list <<<"${sizes//,/ }"
for value in "${size_list[@]}" "$rounds" "$threads" "$batch" "$warmup" "$steps"; do
    [[ "$value" =~ ^[0-9]+$ ]] || { say "not a whole number: '$value' (see --help)"; exit 2; }
done
((${#size_list[@]} > 0 && rounds > 0)) || { say "nothing to run: --sizes is empty or --rounds is 0"; exit 2; }
case "$only" in
    "" | kfp-rs | pytorch) ;;
    *) say "--only takes kfp-rs or pytorch, not '$only'"; exit 2 ;;
esac

venv="${KFP_RS_TORCH_VENV:-$HOME/.cache/kfp-rs/torch-venv}"
say "peer venv $venv (bench/requirements-torch.txt)"
py="$(scripts/python-env.sh --venv "$venv" --requirements bench/requirements-torch.txt --print-python)"

ours=""
if [[ "$only" != pytorch ]]; then
    scripts/build-deps.sh
    say "building: cargo build --release --example bench_train"
    cargo build --release --quiet --example bench_train
    ours="${CARGO_TARGET_DIR:-$repo/target}/release/examples/bench_train"
fi

out="$(results_file train_cnn)"
lines="$(mktemp)"
trap 'rm -f "$lines"' EXIT

# Runs one benchmark process and prints its JSON result line: argv = tool, layout, round,
# load1, busy%, then the command. Peak memory: ru_maxrss of the (only) child once waited for,
# what /usr/bin/time -v prints as "Maximum resident set size". kfp-rs prints
# "train_img_per_s=X infer_img_per_s=Y" on stdout (and "peak_rss_mb=Z" on stderr); PyTorch one
# JSON line.
runner=$(
    cat <<'PY'
import json, re, resource, subprocess, sys, time
tool, layout, rnd, load1, busy, *cmd = sys.argv[1:]
started = time.perf_counter()
proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
wall = time.perf_counter() - started
peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
def fail(why):
    sys.stderr.write("".join(proc.stderr.splitlines(True)[-20:]))
    sys.exit(f"train_cnn: {tool} {layout}: {why}")
if proc.returncode != 0:
    fail(f"exit status {proc.returncode}")
if tool == "kfp-rs":
    pairs = dict(re.findall(r"(\w+)=([-+.\deE]+)", proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""))
    if "train_img_per_s" not in pairs or "infer_img_per_s" not in pairs:
        fail(f"no 'train_img_per_s=.. infer_img_per_s=..' line in its output: {proc.stdout[-300:]!r}")
    row = {"tool": tool, "layout": layout, **{k: float(v) for k, v in pairs.items()}}
    own = re.findall(r"peak_rss_mb=([\d.]+)", proc.stderr)
    row["peak_rss_mb_self"] = float(own[-1]) if own else None
    size, batch, threads = (cmd[cmd.index(flag) + 1] for flag in ("--size", "--batch", "--threads"))
    row.update(size=int(size), batch=int(batch), threads=int(threads))
else:
    found = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    if not found:
        fail(f"no JSON line in its output: {proc.stdout[-300:]!r}")
    row = json.loads(found[-1])
    row["peak_rss_mb_self"] = row.pop("peak_rss_mb")
row.update(round=int(rnd), peak_rss_mb=peak_mb, wall_seconds=wall, load1_before=load1, cpu_busy_percent_before=busy)
print(json.dumps(row))
PY
)

load1="$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo "?")"
busy="$(cpu_busy_percent 2>/dev/null || echo "?")"
SIZES="${size_list[*]}" ROUNDS="$rounds" THREADS="$threads" BATCH="$batch" WARMUP="$warmup" STEPS="$steps" \
    ONLY="${only:-both}" LOAD1="$load1" BUSY="$busy" RUSTC="$(rustc -V 2>/dev/null || echo none)" COMMIT="$(commit_id)" \
    "$py" - >>"$lines" <<'PY'
import datetime, json, os, platform
import torch
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
e = os.environ
print(json.dumps({"meta": {
    "workload": "W2 train caltech-s", "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "commit": e["COMMIT"], "cpu": cpu, "cores": os.cpu_count(), "load1_at_start": e["LOAD1"],
    "cpu_busy_percent_at_start": e["BUSY"], "python": platform.python_version(), "torch": torch.__version__,
    "rustc": e["RUSTC"], "sizes": e["SIZES"], "rounds": int(e["ROUNDS"]), "threads": int(e["THREADS"]),
    "batch": int(e["BATCH"]), "warmup": int(e["WARMUP"]), "steps": int(e["STEPS"]), "only": e["ONLY"],
    "omp_wait_policy": e.get("OMP_WAIT_POLICY")}}))
PY
if [[ "$busy" =~ ^[0-9]+$ ]] && ((busy > 15)); then
    say "warning: the CPU was ${busy}% busy just before starting (load average $load1):"
    say "         something else is running, and the figures will suffer"
fi

status=0
run() { # tool, layout, round, command...
    local tool="$1" layout="$2" round="$3" line before_load before_busy
    shift 3
    before_load="$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo "?")"
    before_busy="$(cpu_busy_percent 2>/dev/null || echo "?")"
    if line="$("$py" -c "$runner" "$tool" "$layout" "$round" "$before_load" "$before_busy" "$@")"; then
        echo "$line" | tee -a "$lines" >&2
    else
        say "$tool $layout failed"
        status=1
    fi
}
for ((round = 1; round <= rounds; round++)); do
    for size in "${size_list[@]}"; do
        say "size $size, round $round/$rounds"
        if [[ -n "$ours" ]]; then
            run kfp-rs nhwc "$round" "$ours" --arch caltech-s --size "$size" --batch "$batch" --threads "$threads" \
                --warmup "$warmup" --steps "$steps"
        fi
        if [[ "$only" != kfp-rs ]]; then
            for layout in channels_last nchw; do
                run pytorch "$layout" "$round" "$py" bench/train_pytorch.py --size "$size" --batch "$batch" \
                    --threads "$threads" --layout "$layout" --warmup "$warmup" --steps "$steps"
            done
        fi
    done
done

cat "$lines" >"$out"
say "raw results: $out"
"$py" - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
runs = [r for r in rows if "tool" in r]
def median(size, tool, layout, key):
    values = [r[key] for r in runs if (r["size"], r["tool"], r["layout"]) == (size, tool, layout) and r.get(key) is not None]
    return statistics.median(values) if values else None
rate = lambda v: f"{v:,.0f}" if v is not None else "—"
ratio = lambda a, b: f"{a / b:.2f}×" if a is not None and b else "—"
mem = lambda v: f"{v:,.0f} MB" if v is not None else "—"
print("| size | kfp-rs train img/s | PyTorch CL train | PyTorch NCHW train | train kfp-rs / CL "
      "| kfp-rs infer img/s | PyTorch CL infer | PyTorch NCHW infer | infer kfp-rs / CL "
      "| kfp-rs peak memory | PyTorch CL peak | PyTorch NCHW peak |")
print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for size in sorted({r["size"] for r in runs}):
    ours = {k: median(size, "kfp-rs", "nhwc", k) for k in ("train_img_per_s", "infer_img_per_s", "peak_rss_mb")}
    cl = {k: median(size, "pytorch", "channels_last", k) for k in ("train_img_per_s", "infer_img_per_s", "peak_rss_mb")}
    nchw = {k: median(size, "pytorch", "nchw", k) for k in ("train_img_per_s", "infer_img_per_s", "peak_rss_mb")}
    print(f"| {size}×{size} | {rate(ours['train_img_per_s'])} | {rate(cl['train_img_per_s'])} | {rate(nchw['train_img_per_s'])} "
          f"| {ratio(ours['train_img_per_s'], cl['train_img_per_s'])} | {rate(ours['infer_img_per_s'])} "
          f"| {rate(cl['infer_img_per_s'])} | {rate(nchw['infer_img_per_s'])} | {ratio(ours['infer_img_per_s'], cl['infer_img_per_s'])} "
          f"| {mem(ours['peak_rss_mb'])} | {mem(cl['peak_rss_mb'])} | {mem(nchw['peak_rss_mb'])} |")
busy = [int(r["cpu_busy_percent_before"]) for r in runs if str(r.get("cpu_busy_percent_before", "")).isdigit()]
policy = rows[0].get("meta", {}).get("omp_wait_policy") or "unset"
print(f"\nMedians of {max((r['round'] for r in runs), default=0)} rounds; CPU busy just before the runs "
      f"(other processes): {min(busy, default=0)}–{max(busy, default=0)}%; PyTorch's OMP_WAIT_POLICY: {policy}.")
PY
exit "$status"
