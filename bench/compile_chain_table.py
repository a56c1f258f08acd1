#!/usr/bin/env python3
"""Print the W1 (compile a chain pipeline) Markdown table from JSON lines.

usage: compile_chain_table.py RESULTS.jsonl      (or JSON lines on stdin)

Reads lines {"tool": "kfp-rs"|"hera"|"kfp", "n": N, "seconds": S, "bytes": B, ...} as printed
by `cargo run --release --example bench_compile` and bench/compile_chain_peers.py; lines
with "skipped" or "error" show as such; other lines (e.g. {"meta": ...}) are ignored.
Standard library only.
"""

import json
import sys

TOOLS = ("kfp-rs", "hera", "kfp")


def seconds(value: float) -> str:
    if value >= 10:
        return f"{value:.1f} s"
    if value >= 0.1:
        return f"{value:.2f} s"
    if value >= 0.001:
        return f"{value * 1e3:.2f} ms"
    return f"{value * 1e6:.1f} µs"


def size(value: int) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.2f} MB"
    if value >= 1e3:
        return f"{value / 1e3:.1f} KB"
    return f"{value} B"


def ratio(top, bottom) -> str:
    if not isinstance(top, (int, float)) or not isinstance(bottom, (int, float)) or bottom <= 0:
        return "—"
    value = top / bottom
    return f"{value:.1f}×" if value >= 10 else f"{value:.2f}×"


def main() -> int:
    lines = open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin
    rows: dict[int, dict[str, dict]] = {}
    for line in lines:
        line = line.strip()
        if not line.startswith("{"):
            continue
        rec = json.loads(line)
        if rec.get("tool") in TOOLS and "n" in rec:
            rows.setdefault(int(rec["n"]), {})[rec["tool"]] = rec

    def cells(rec):
        if rec is None:
            return ["—", "—"]
        if "seconds" in rec:
            return [seconds(rec["seconds"]), size(rec["bytes"])]
        note = "skipped" if "skipped" in rec else "error"
        return [note, "—"]

    def get(n, tool, key):
        return rows[n].get(tool, {}).get(key)

    print(
        "| n | kfp-rs time | kfp-rs YAML | Hera time | Hera YAML | kfp time | kfp YAML "
        "| Hera / kfp-rs time | kfp / kfp-rs time | kfp-rs / Hera bytes |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in sorted(rows):
        out = [f"{n:,}"]
        for tool in TOOLS:
            out += cells(rows[n].get(tool))
        ours = get(n, "kfp-rs", "seconds")
        out.append(ratio(get(n, "hera", "seconds"), ours))
        out.append(ratio(get(n, "kfp", "seconds"), ours))
        out.append(ratio(get(n, "kfp-rs", "bytes"), get(n, "hera", "bytes")))
        print("| " + " | ".join(out) + " |")

    notes = []
    for n in sorted(rows):
        for tool in TOOLS:
            rec = rows[n].get(tool)
            if rec and ("skipped" in rec or "error" in rec):
                notes.append(f"{tool} n={n:,}: {rec.get('skipped') or rec.get('error')}")
    imports = {}
    for n in sorted(rows):
        for tool in ("hera", "kfp"):
            rec = rows[n].get(tool) or {}
            if "import_seconds" in rec:
                imports.setdefault(tool, []).append(rec["import_seconds"])
    print()
    print("Times: best of the repeats, build + serialise, in-process, after imports.")
    if imports:
        parts = [f"{tool} {min(v):.2f}–{max(v):.2f} s" for tool, v in imports.items()]
        print("Python imports, not included above: " + ", ".join(parts) + ".")
    for note in notes:
        print(f"- {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
