# shellcheck shell=bash
# Shared by the benchmark scripts in bench/ (sourced, not run).

# A results file for workload NAME that no earlier run of today holds:
# bench/results/NAME-DATE.jsonl, else NAME-DATE-2.jsonl, ...
results_file() {
    local name="$1" day out i=2
    day="$(date -u +%Y-%m-%d)"
    out="bench/results/$name-$day.jsonl"
    while [[ -e "$out" ]]; do out="bench/results/$name-$day-$i.jsonl"; i=$((i + 1)); done
    mkdir -p bench/results
    echo "$out"
}

# The share of all cores' time spent busy during one second, by anything.
cpu_busy_percent() {
    local a b busy total
    read -ra a </proc/stat
    sleep 1
    read -ra b </proc/stat
    # cpu user nice system idle iowait irq softirq steal
    busy=$(((b[1] + b[2] + b[3] + b[6] + b[7] + b[8]) - (a[1] + a[2] + a[3] + a[6] + a[7] + a[8])))
    total=$((busy + (b[4] + b[5]) - (a[4] + a[5])))
    echo $((total > 0 ? 100 * busy / total : 0))
}

# The commit measured, with "+dirty" when the tree has changes.
commit_id() {
    echo "$(git rev-parse --short HEAD 2>/dev/null || echo none)$(git diff --quiet HEAD 2>/dev/null || echo +dirty)"
}
