#!/usr/bin/env bash
# W3 side by side: Caltech101 accuracy of the reference CNN "caltech-s" trained with the
# protocol's recipe, kfp-rs against PyTorch 2.15 CPU, on the same images and the same split.
#
# usage: bench/accuracy_caltech101.sh [--epochs 30] [--size 64] [--threads 2] [--seed 0]
#                                     [--data DIR] [--source PATH] [--only kfp-rs|pytorch]
#
#  1. creates/updates the peer venv ${KFP_RS_TORCH_VENV:-$HOME/.cache/kfp-rs/torch-venv} from
#     bench/requirements-torch.txt (through scripts/python-env.sh; outside the repo; ~5 GB);
#  2. makes the Dataset artifact when DIR holds none: images stretched (bilinear) to S + S/8,
#     the W3 split (20% of each class for test, seed 0), with
#     cargo run --release --example load_caltech101 -- --source PATH --size S+S/8 --out DIR;
#     default DIR ~/.cache/kfp-rs/caltech101-<S+S/8>, default PATH
#     $KFP_SHARED_DIR/caltech101/101_ObjectCategories.tar.gz (../shared);
#  3. trains and tests, one after the other, each in a fresh process on THREADS threads:
#     kfp-rs (cargo build --release --example train_caltech101, then train_caltech101
#     --data DIR --arch caltech-s --epochs N --size S --threads T --seed SEED
#     --out out/accuracy_caltech101/<time>-caltech-s/, recipe W3 by default; its last line is
#     "top1=X mean_per_class=Y") and PyTorch (bench/accuracy_pytorch.py, channels_last);
#     wall time and peak memory (ru_maxrss of the child, as /usr/bin/time -v reports it) are
#     measured from outside for both, with the CPU load just before each;
#  4. saves every JSON line to bench/results/accuracy_caltech101-<date>.jsonl (first line:
#     {"meta": ...}) and prints a Markdown table on stdout.
# A run of 30 epochs takes about 10 minutes per side on an idle 2-core machine, far more on a
# busy one (there, OMP_WAIT_POLICY=PASSIVE keeps PyTorch's OpenMP threads from spinning: see
# bench/train_cnn.sh). --only runs one side.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# shellcheck source=bench/common.sh
source bench/common.sh

shared="${KFP_SHARED_DIR:-$repo/../shared}"
source_path="$shared/caltech101/101_ObjectCategories.tar.gz"
epochs=30
size=64
threads=2
seed=0
data=""
only=""
while (($#)); do
    case "$1" in
        --epochs) epochs="$2"; shift ;;
        --size) size="$2"; shift ;;
        --threads) threads="$2"; shift ;;
        --seed) seed="$2"; shift ;;
        --data) data="$2"; shift ;;
        --source) source_path="$2"; shift ;;
        --only) only="$2"; shift ;;
        -h | --help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "accuracy_caltech101.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
say() { echo "accuracy_caltech101: $*" >&2; }
for value in "$epochs" "$size" "$threads" "$seed"; do
    [[ "$value" =~ ^[0-9]+$ ]] || { say "not a whole number: '$value' (see --help)"; exit 2; }
done
((epochs > 0 && threads > 0 && size >= 8 && size % 8 == 0)) ||
    { say "--epochs and --threads must be at least 1, --size a multiple of 8"; exit 2; }
case "$only" in
    "" | kfp-rs | pytorch) ;;
    *) say "--only takes kfp-rs or pytorch, not '$only'"; exit 2 ;;
esac
stored=$((size + size / 8))
data="${data:-$HOME/.cache/kfp-rs/caltech101-$stored}"

venv="${KFP_RS_TORCH_VENV:-$HOME/.cache/kfp-rs/torch-venv}"
say "peer venv $venv (bench/requirements-torch.txt)"
py="$(scripts/python-env.sh --venv "$venv" --requirements bench/requirements-torch.txt --print-python)"

if [[ "$only" != pytorch ]] || [[ ! -f "$data/dataset.json" ]]; then
    scripts/build-deps.sh
fi
if [[ ! -f "$data/dataset.json" || ! -f "$data/images.npy" ]]; then
    [[ -f "$source_path" ]] || { say "no archive at $source_path (use --source or KFP_SHARED_DIR)"; exit 1; }
    say "making the Dataset artifact $data (${stored}x$stored) from $source_path"
    mkdir -p "$(dirname "$data")"
    cargo run --release --quiet --example load_caltech101 -- --source "$source_path" --size "$stored" --out "$data" >&2
fi
# The artifact must hold S + S/8 images, or the crops would not be the protocol's.
DATA="$data" STORED="$stored" "$py" - <<'PY'
import json, os, sys
meta = json.load(open(os.path.join(os.environ["DATA"], "dataset.json")))
if meta.get("image_size") != int(os.environ["STORED"]):
    sys.exit(f"accuracy_caltech101: {os.environ['DATA']} holds {meta.get('image_size')}px images; "
             f"this size needs {os.environ['STORED']}px (S + S/8): pass another --data")
PY

ours=""
if [[ "$only" != pytorch ]]; then
    say "building: cargo build --release --example train_caltech101"
    cargo build --release --quiet --example train_caltech101
    ours="${CARGO_TARGET_DIR:-$repo/target}/release/examples/train_caltech101"
fi

out="$(results_file accuracy_caltech101)"
lines="$(mktemp)"
trap 'rm -f "$lines"' EXIT

# Runs one training process and prints its JSON result line: argv = tool, epochs, load1, busy%,
# then the command. Its stderr (progress) is passed through and kept: kfp-rs's summary line there
# gives its training seconds per epoch and top-5. kfp-rs's last stdout line holds key=value pairs
# (top1=.. mean_per_class=..); PyTorch prints one JSON line.
runner=$(
    cat <<'PY'
import json, re, resource, subprocess, sys, threading, time
tool, epochs, load1, busy, *cmd = sys.argv[1:]
err = []
def relay(stream):
    for line in stream:
        sys.stderr.write(line)
        sys.stderr.flush()
        err.append(line)
started = time.perf_counter()
proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
relayer = threading.Thread(target=relay, args=(proc.stderr,))
relayer.start()
stdout = proc.stdout.read()
proc.wait()
relayer.join()
wall = time.perf_counter() - started
peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
lines = stdout.strip().splitlines()
if proc.returncode != 0:
    sys.exit(f"accuracy_caltech101: {tool}: exit status {proc.returncode}")
if tool == "kfp-rs":
    pairs = dict(re.findall(r"(\w+)=([-+.\deE]+)", lines[-1] if lines else ""))
    if "top1" not in pairs or "mean_per_class" not in pairs:
        sys.exit(f"accuracy_caltech101: kfp-rs: no 'top1=.. mean_per_class=..' last line: {stdout[-300:]!r}")
    row = {"tool": tool, "arch": "caltech-s", "epochs": int(epochs), **{k: float(v) for k, v in pairs.items()}}
    text = "".join(err)
    # "30 epochs, 570.0 s training (19.0 s per epoch); test top-5 0.8800, ..." (optional)
    per_epoch = re.findall(r"\(([\d.]+) s per epoch\)", text)
    top5 = re.findall(r"top-5 ([\d.]+)", text)
    if per_epoch:
        row["seconds_per_epoch"] = float(per_epoch[-1])
    if top5:
        row["top5"] = float(top5[-1])
else:
    found = [l for l in lines if l.startswith("{")]
    if not found:
        sys.exit(f"accuracy_caltech101: pytorch: no JSON line in its output: {stdout[-300:]!r}")
    row = json.loads(found[-1])
    row["peak_rss_mb_self"] = row.pop("peak_rss_mb")
row.update(command=cmd, peak_rss_mb=peak_mb, wall_seconds=wall, load1_before=load1, cpu_busy_percent_before=busy)
print(json.dumps(row))
PY
)

load1="$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo "?")"
busy="$(cpu_busy_percent 2>/dev/null || echo "?")"
EPOCHS="$epochs" SIZE="$size" THREADS="$threads" SEED="$seed" DATA="$data" ONLY="${only:-both}" \
    LOAD1="$load1" BUSY="$busy" RUSTC="$(rustc -V 2>/dev/null || echo none)" COMMIT="$(commit_id)" \
    "$py" - >>"$lines" <<'PY'
import datetime, json, os, platform
import torch
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
e = os.environ
meta = json.load(open(os.path.join(e["DATA"], "dataset.json")))
print(json.dumps({"meta": {
    "workload": "W3 Caltech101 accuracy, caltech-s", "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "commit": e["COMMIT"], "cpu": cpu, "cores": os.cpu_count(), "load1_at_start": e["LOAD1"],
    "cpu_busy_percent_at_start": e["BUSY"], "python": platform.python_version(), "torch": torch.__version__,
    "rustc": e["RUSTC"], "epochs": int(e["EPOCHS"]), "size": int(e["SIZE"]), "threads": int(e["THREADS"]),
    "seed": int(e["SEED"]), "only": e["ONLY"], "data": e["DATA"], "image_size": meta.get("image_size"),
    "split_counts": meta.get("split_counts"), "split_options": meta.get("split_options"),
    "omp_wait_policy": e.get("OMP_WAIT_POLICY")}}))
PY
if [[ "$busy" =~ ^[0-9]+$ ]] && ((busy > 15)); then
    say "warning: the CPU was ${busy}% busy just before starting (load average $load1):"
    say "         something else is running, and the times will suffer"
fi

status=0
run() { # tool, command...
    local tool="$1" line before_load before_busy
    shift
    before_load="$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo "?")"
    before_busy="$(cpu_busy_percent 2>/dev/null || echo "?")"
    say "$tool: $*"
    if line="$("$py" -c "$runner" "$tool" "$epochs" "$before_load" "$before_busy" "$@")"; then
        echo "$line" | tee -a "$lines" >&2
    else
        say "$tool failed"
        status=1
    fi
}
if [[ -n "$ours" ]]; then
    model_dir="out/accuracy_caltech101/$(date -u +%Y%m%dT%H%M%SZ)-caltech-s"
    mkdir -p "$(dirname "$model_dir")"
    run kfp-rs "$ours" --data "$data" --arch caltech-s --epochs "$epochs" --size "$size" \
        --threads "$threads" --seed "$seed" --out "$model_dir"
fi
if [[ "$only" != kfp-rs ]]; then
    run pytorch "$py" bench/accuracy_pytorch.py --data "$data" --epochs "$epochs" --size "$size" \
        --threads "$threads" --seed "$seed"
fi

cat "$lines" >"$out"
say "raw results: $out"
"$py" - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
meta = rows[0]["meta"]
# Accuracies may come as fractions (PyTorch's script) or percentages: shown as percentages.
pct = lambda v: "—" if v is None else f"{(100 * v if v <= 1 else v):.1f}%"
secs = lambda v: "—" if v is None else f"{v:,.1f} s"
split = meta.get("split_counts") or {}
print(f"W3, caltech-s, {meta['epochs']} epochs at {meta['size']}×{meta['size']}, {meta['threads']} threads, "
      f"{split.get('train', '?')} training / {split.get('test', '?')} test images; "
      f"OMP_WAIT_POLICY={meta.get('omp_wait_policy') or 'unset'}, CPU busy at start: {meta['cpu_busy_percent_at_start']}%\n")
print("| tool | top-1 | mean per-class | top-5 | training s/epoch | wall time | peak memory |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for r in rows[1:]:
    per_epoch = r.get("seconds_per_epoch")
    shown = secs(per_epoch) if per_epoch is not None else f"≤ {secs(r['wall_seconds'] / r['epochs'])} (wall / epochs)"
    name = "kfp-rs" if r["tool"] == "kfp-rs" else f"PyTorch {r.get('torch', '')} (channels_last)"
    print(f"| {name} | {pct(r.get('top1'))} | {pct(r.get('mean_per_class'))} | {pct(r.get('top5'))} | {shown} "
          f"| {secs(r['wall_seconds'])} | {r['peak_rss_mb']:,.0f} MB |")
PY
exit "$status"
