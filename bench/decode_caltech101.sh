#!/usr/bin/env bash
# W4 side by side: decode and resize all 8,677 Caltech101 category images straight from the
# .tar.gz, with kfp-rs and with Pillow (2 worker processes, plain and JPEG draft mode), in one run.
#
# usage: bench/decode_caltech101.sh [--source PATH] [--sizes 64,128] [--repeat N]
#
#  1. creates/updates the peer venv ${KFP_RS_BENCH_VENV:-$HOME/.cache/kfp-rs/bench-venv}
#     from bench/requirements.txt (through scripts/python-env.sh; outside the repo);
#  2. builds ours: cargo build --release --example bench_decode;
#  3. for each size, REPEAT rounds, each round running (in a fresh process each, in this order)
#     kfp-rs, Pillow plain, Pillow draft: so that a slow spell of the machine hits all three;
#  4. saves every JSON line to bench/results/decode_caltech101-<date>.jsonl (first line:
#     {"meta": ...}) and prints the Markdown table (best of the rounds) on stdout.
# Defaults: --source $KFP_SHARED_DIR/caltech101/101_ObjectCategories.tar.gz (../shared),
#           --sizes 64,128, --repeat 3.
# Run it on an otherwise idle machine: the CPU use just before starting is recorded and a busy
# machine is warned of.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# shellcheck source=bench/common.sh
source bench/common.sh

shared="${KFP_SHARED_DIR:-$repo/../shared}"
source_path="$shared/caltech101/101_ObjectCategories.tar.gz"
sizes="64,128"
repeat=3
while (($#)); do
    case "$1" in
        --source) source_path="$2"; shift ;;
        --sizes) sizes="$2"; shift ;;
        --repeat) repeat="$2"; shift ;;
        -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "decode_caltech101.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
say() { echo "decode_caltech101: $*" >&2; }
[[ -f "$source_path" ]] || { say "no archive at $source_path (use --source or KFP_SHARED_DIR)"; exit 1; }

venv="${KFP_RS_BENCH_VENV:-$HOME/.cache/kfp-rs/bench-venv}"
say "peer venv $venv (bench/requirements.txt)"
py="$(scripts/python-env.sh --venv "$venv" --requirements bench/requirements.txt --print-python)"

scripts/build-deps.sh
say "building: cargo build --release --example bench_decode"
cargo build --release --quiet --example bench_decode
ours="${CARGO_TARGET_DIR:-$repo/target}/release/examples/bench_decode"

out="$(results_file decode_caltech101)"
lines="$(mktemp)"
trap 'rm -f "$lines"' EXIT

load1="$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo "?")"
busy="$(cpu_busy_percent 2>/dev/null || echo "?")"
SOURCE="$source_path" SIZES="$sizes" REPEAT="$repeat" LOAD1="$load1" BUSY="$busy" \
    RUSTC="$(rustc -V 2>/dev/null || echo none)" \
    COMMIT="$(commit_id)" \
    "$py" - >>"$lines" <<'PY'
import datetime, json, os, platform
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(json.dumps({"meta": {
    "workload": "W4 decode Caltech101", "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "commit": os.environ["COMMIT"], "cpu": cpu, "cores": os.cpu_count(), "load1_at_start": os.environ["LOAD1"],
    "cpu_busy_percent_at_start": os.environ["BUSY"], "python": platform.python_version(), "rustc": os.environ["RUSTC"],
    "source": os.environ["SOURCE"], "sizes": os.environ["SIZES"], "repeat": int(os.environ["REPEAT"])}}))
PY
if [[ "$busy" =~ ^[0-9]+$ ]] && ((busy > 15)); then
    say "warning: the CPU was ${busy}% busy just before starting (load average $load1):"
    say "         something else is running, and the figures will suffer"
fi

status=0
run() { # label, command...
    local label="$1" line
    shift
    if line="$("$@" | grep '^{')"; then
        echo "$line" | tee -a "$lines" >&2
    else
        say "$label failed"
        status=1
    fi
}
IFS=, read -ra size_list <<<"$sizes"
for size in "${size_list[@]}"; do
    for ((round = 1; round <= repeat; round++)); do
        say "size $size, round $round/$repeat"
        run "kfp-rs $size" "$ours" --source "$source_path" --size "$size"
        run "pillow plain $size" "$py" bench/decode_caltech101_pillow.py --source "$source_path" --size "$size"
        run "pillow draft $size" "$py" bench/decode_caltech101_pillow.py --source "$source_path" --size "$size" --draft
    done
done

cat "$lines" >"$out"
say "raw results: $out"
"$py" - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
runs = [r for r in rows if "tool" in r]
best = {}
for r in runs:
    key = (r["size"], r["tool"], r["variant"])
    if key not in best or r["images_per_s"] > best[key]["images_per_s"]:
        best[key] = r
print("| size | kfp-rs images/s | Pillow plain images/s | Pillow draft images/s | kfp-rs / plain | kfp-rs / draft | kfp-rs peak memory | Pillow plain peak memory | Pillow draft peak memory | output |")
print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for size in sorted({k[0] for k in best}):
    ours = best.get((size, "kfp-rs", "dct scaling"))
    plain = best.get((size, "pillow", "plain"))
    draft = best.get((size, "pillow", "draft"))
    rate = lambda r: f"{r['images_per_s']:,.0f}" if r else "—"
    ratio = lambda a, b: f"{a['images_per_s'] / b['images_per_s']:.2f}×" if a and b else "—"
    mem = lambda r: f"{r['peak_rss_mb']:,.0f} MB" if r and r.get("peak_rss_mb") else "—"
    output = ours or plain or draft
    print(f"| {size}×{size} | {rate(ours)} | {rate(plain)} | {rate(draft)} | {ratio(ours, plain)} | {ratio(ours, draft)} "
          f"| {mem(ours)} | {mem(plain)} | {mem(draft)} | {output['output_mb']:,.0f} MB |")
PY
exit "$status"
