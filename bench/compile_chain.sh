#!/usr/bin/env bash
# W1 side by side: compile the "chain" pipeline with kfp-rs, Hera and kfp in one run.
#
# usage: bench/compile_chain.sh [--peers-only] [--keep-yaml DIR]
#
#  1. creates/updates the peer venv ${KFP_RS_BENCH_VENV:-$HOME/.cache/kfp-rs/bench-venv}
#     from bench/requirements.txt (through scripts/python-env.sh; outside the repo);
#  2. runs ours: cargo run --release --example bench_compile -- --sizes $KFP_RS_SIZES --repeat $REPEAT
#     (skipped with a message while that example does not exist, or with --peers-only);
#  3. runs the peers: kfp on $KFP_SIZES, Hera on $HERA_SIZES (bench/compile_chain_peers.py);
#  4. saves every JSON line to bench/results/compile_chain-<date>.jsonl (first line: {"meta": ...})
#     and prints the Markdown table (bench/compile_chain_table.py) on stdout.
# Progress and the raw lines go to stderr. --keep-yaml DIR keeps the peers' YAML files.
# Defaults: KFP_RS_SIZES=10,100,1000,10000 KFP_SIZES=10,100,1000,2000 HERA_SIZES=10,100,1000,10000
#           REPEAT=5 TIMEOUT=120 (seconds; a peer size predicted to take longer is skipped).
# Run it on an otherwise idle machine: the load average is recorded and a high one is warned of.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# shellcheck source=bench/common.sh
source bench/common.sh

peers_only=0
keep_yaml=""
while (($#)); do
    case "$1" in
        --peers-only) peers_only=1 ;;
        --keep-yaml) keep_yaml="$2"; shift ;;
        -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "compile_chain.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

KFP_RS_SIZES="${KFP_RS_SIZES:-10,100,1000,10000}"
KFP_SIZES="${KFP_SIZES:-10,100,1000,2000}"
HERA_SIZES="${HERA_SIZES:-10,100,1000,10000}"
REPEAT="${REPEAT:-5}"
TIMEOUT="${TIMEOUT:-120}"
venv="${KFP_RS_BENCH_VENV:-$HOME/.cache/kfp-rs/bench-venv}"

say() { echo "compile_chain: $*" >&2; }

# 1. the peers' venv
say "peer venv $venv (bench/requirements.txt)"
py="$(scripts/python-env.sh --venv "$venv" --requirements bench/requirements.txt --print-python)"

out="$(results_file compile_chain)"
lines="$(mktemp)"
trap 'rm -f "$lines"' EXIT

# the conditions of this run, first line of the results file
load1="$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo "?")"
busy="$(cpu_busy_percent 2>/dev/null || echo "?")"
KFP_RS_SIZES="$KFP_RS_SIZES" KFP_SIZES="$KFP_SIZES" HERA_SIZES="$HERA_SIZES" REPEAT="$REPEAT" \
    LOAD1="$load1" BUSY="$busy" PEERS_ONLY="$peers_only" RUSTC="$(rustc -V 2>/dev/null || echo none)" \
    COMMIT="$(commit_id)" \
    "$py" - >>"$lines" <<'EOF'
import json, os, platform, datetime
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(json.dumps({"meta": {
    "workload": "W1 compile chain", "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "commit": os.environ["COMMIT"], "cpu": cpu, "cores": os.cpu_count(), "load1_at_start": os.environ["LOAD1"],
    "cpu_busy_percent_at_start": os.environ["BUSY"],
    "python": platform.python_version(), "rustc": os.environ["RUSTC"],
    "sizes": {"kfp-rs": os.environ["KFP_RS_SIZES"], "kfp": os.environ["KFP_SIZES"], "hera": os.environ["HERA_SIZES"]},
    "repeat": int(os.environ["REPEAT"]), "peers_only": os.environ["PEERS_ONLY"] == "1"}}))
EOF
if [[ "$busy" =~ ^[0-9]+$ ]] && ((busy > 15)); then
    say "warning: the CPU was ${busy}% busy just before starting (load average $load1):"
    say "         something else is running, and the times will suffer"
fi

status=0
keep=()
if [[ -n "$keep_yaml" ]]; then keep=(--out-dir "$keep_yaml"); fi

# 2. ours
if ((peers_only)); then
    say "kfp-rs: skipped (--peers-only)"
elif ! command -v cargo >/dev/null 2>&1; then
    say "kfp-rs: skipped: no cargo on PATH"
    status=1
elif ! cargo metadata --no-deps --format-version 1 2>/dev/null |
    "$py" -c 'import json, sys; m = json.load(sys.stdin); sys.exit(not any(t["name"] == "bench_compile" and "example" in t["kind"] for p in m["packages"] for t in p["targets"]))'; then
    say "kfp-rs: skipped: this workspace has no example 'bench_compile' yet (examples/bench_compile.rs);"
    say "        its columns stay empty. The peers still run."
    status=1
else
    say "kfp-rs: cargo run --release --example bench_compile -- --sizes $KFP_RS_SIZES --repeat $REPEAT"
    ours="$(mktemp)"
    if cargo run --release --example bench_compile -- --sizes "$KFP_RS_SIZES" --repeat "$REPEAT" >"$ours"; then
        grep '^{' "$ours" | tee -a "$lines" >&2 || say "kfp-rs: bench_compile printed no JSON line"
    else
        say "kfp-rs: bench_compile failed (exit $?); its output:"
        cat "$ours" >&2
        status=1
    fi
    rm -f "$ours"
fi

# 3. the peers, one tool at a time, each (tool, n) in a fresh process
for spec in "kfp:$KFP_SIZES" "hera:$HERA_SIZES"; do
    tool="${spec%%:*}" sizes="${spec#*:}"
    say "$tool: sizes $sizes, repeat up to $REPEAT, timeout ${TIMEOUT}s"
    if ! "$py" bench/compile_chain_peers.py --tool "$tool" --sizes "$sizes" --repeat "$REPEAT" \
        --timeout-seconds "$TIMEOUT" "${keep[@]}" | tee -a "$lines" >&2; then
        say "$tool: some size failed (see above)"
        status=1
    fi
done

# 4. results and table
cat "$lines" >"$out" # not cp: mktemp made $lines private (0600)
say "raw results: $out"
"$py" bench/compile_chain_table.py "$out"
exit "$status"
