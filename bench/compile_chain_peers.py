#!/usr/bin/env python3
"""W1 peer side: time kfp and Hera building and serialising the "chain" pipeline.

usage: compile_chain_peers.py --tool kfp|hera|kfp,hera --sizes 10,100,1000
                              [--repeat R] [--timeout-seconds S] [--repeat-budget-seconds B]
                              [--out-dir DIR]

The chain (docs: shared notes/benchmark-protocol.md, W1): a container component `source`
writing a Dataset artifact `data_out` and a float `y`; then n-1 tasks of one container
component `step(x: float, lr: float, data_in: Input[Dataset]) -> (data_out: Dataset, y: float)`,
each fed by the previous task's `y` and `data_out` and by the pipeline parameter `lr`.

- kfp: `@dsl.container_component` for both components, `@dsl.pipeline`, then
  `kfp.compiler.Compiler().compile(...)` to a temporary file (kfp's real path; IR YAML).
- hera: `Workflow` with one `Container` template per component kind and a `DAG` whose tasks
  take `arguments` from the previous task (`get_parameter("y")`, `get_artifact("data_out")`)
  and `{{workflow.parameters.lr}}`, with `depends` on the previous task; then `.to_yaml()`.

The timed region is everything from defining the components to having the YAML text (for
kfp, until `compile` has written its file; Hera's text is written after the clock stops),
in-process, after the imports. Each (tool, n) runs in a fresh child
process, which also times its imports (`import_seconds`, reported separately). The child runs
the build up to R times (gc.collect() between runs, gc left on) and reports the best; after
the first run it only repeats while the measured total stays within --repeat-budget-seconds
(so kfp at 2,000 runs once). `cpu_seconds` is the process CPU time of the best run: much
less than `seconds` means something else held the cores. Prints one JSON line per (tool, n):

  {"tool": "kfp", "n": 100, "seconds": 0.21, "bytes": 156000, "import_seconds": 0.85, ...}

or {"tool": ..., "n": ..., "skipped": "reason"}: a size is skipped when the time predicted
from the sizes already measured (t = a*n + b*n^2 through the two largest) exceeds
--timeout-seconds, and a child that runs past the timeout is killed and reported as skipped.
--out-dir DIR keeps each YAML as DIR/<tool>-chain-<n>.yaml.
"""

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

IMAGE = "python:3.11-slim"  # the same image, command and paths in both tools


# ---------------------------------------------------------------- kfp ---------------------------


def import_kfp():
    global kfp, dsl, compiler, Dataset, Input, Output, OutputPath
    import kfp
    from kfp import compiler, dsl
    from kfp.dsl import Dataset, Input, Output, OutputPath


def build_kfp(n: int, path: str) -> bytes | None:
    @dsl.container_component
    def source(data_out: Output[Dataset], y: OutputPath(float)):
        return dsl.ContainerSpec(
            image=IMAGE,
            command=["chain-source"],
            args=["--data-out", data_out.path, "--y", y],
        )

    @dsl.container_component
    def step(x: float, lr: float, data_in: Input[Dataset], data_out: Output[Dataset], y: OutputPath(float)):
        return dsl.ContainerSpec(
            image=IMAGE,
            command=["chain-step"],
            args=["--x", x, "--lr", lr, "--data-in", data_in.path, "--data-out", data_out.path, "--y", y],
        )

    @dsl.pipeline(name="chain")
    def chain(lr: float = 0.1):
        task = source()
        for _ in range(n - 1):
            task = step(x=task.outputs["y"], lr=lr, data_in=task.outputs["data_out"])

    compiler.Compiler().compile(pipeline_func=chain, package_path=path)
    return None  # kfp wrote the file


# ---------------------------------------------------------------- hera --------------------------


def import_hera():
    global hera, Artifact, Container, DAG, Parameter, ValueFrom, Workflow
    import hera
    from hera.workflows import DAG, Artifact, Container, Parameter, Workflow
    from hera.workflows.models import ValueFrom


def build_hera(n: int, path: str) -> bytes | None:
    with Workflow(
        generate_name="chain-", entrypoint="chain", arguments=Parameter(name="lr", value="0.1")
    ) as w:
        source = Container(
            name="source",
            image=IMAGE,
            command=["chain-source"],
            args=["--data-out", "/tmp/outputs/data_out", "--y", "/tmp/outputs/y"],
            outputs=[
                Artifact(name="data_out", path="/tmp/outputs/data_out"),
                Parameter(name="y", value_from=ValueFrom(path="/tmp/outputs/y")),
            ],
        )
        step = Container(
            name="step",
            image=IMAGE,
            command=["chain-step"],
            args=[
                "--x",
                "{{inputs.parameters.x}}",
                "--lr",
                "{{inputs.parameters.lr}}",
                "--data-in",
                "/tmp/inputs/data_in",
                "--data-out",
                "/tmp/outputs/data_out",
                "--y",
                "/tmp/outputs/y",
            ],
            inputs=[
                Parameter(name="x"),
                Parameter(name="lr"),
                Artifact(name="data_in", path="/tmp/inputs/data_in"),
            ],
            outputs=[
                Artifact(name="data_out", path="/tmp/outputs/data_out"),
                Parameter(name="y", value_from=ValueFrom(path="/tmp/outputs/y")),
            ],
        )
        with DAG(name="chain"):
            prev = source(name="source")
            for i in range(1, n):
                task = step(
                    name=f"step-{i}",
                    arguments={
                        "x": prev.get_parameter("y"),
                        "lr": "{{workflow.parameters.lr}}",
                        "data_in": prev.get_artifact("data_out"),
                    },
                )
                prev >> task
                prev = task
    return w.to_yaml().encode()  # the child writes it to `path` after the clock stops


TOOLS = {
    "kfp": (import_kfp, build_kfp, lambda: kfp.__version__),
    "hera": (import_hera, build_hera, lambda: hera.__version__),
}


# ---------------------------------------------------------------- child -------------------------


def child(tool: str, n: int, repeat: int, budget: float, out_dir: str | None) -> None:
    do_import, build, version = TOOLS[tool]
    t0 = time.perf_counter()
    do_import()
    import_seconds = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, f"{tool}-chain-{n}.yaml")
        times, cpu = [], []
        while len(times) < repeat:
            gc.collect()
            t0, c0 = time.perf_counter(), time.process_time()
            data = build(n, path)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            if sum(times) + times[-1] > budget:
                break
        if data is not None:
            with open(path, "wb") as f:
                f.write(data)
        size = os.path.getsize(path)
        if out_dir:
            os.makedirs(out_dir, exist_ok=True)
            os.replace(path, os.path.join(out_dir, f"{tool}-chain-{n}.yaml"))
    print(
        json.dumps(
            {
                "tool": tool,
                "n": n,
                "seconds": round(min(times), 6),
                "bytes": size,
                # CPU time of the best run: well below "seconds" means the process waited for a core
                "cpu_seconds": round(cpu[times.index(min(times))], 6),
                "import_seconds": round(import_seconds, 4),
                "repeats": len(times),
                "median_seconds": round(sorted(times)[len(times) // 2], 6),
                "version": version(),
                "python": platform.python_version(),
            }
        ),
        flush=True,
    )


# ---------------------------------------------------------------- parent ------------------------


def predict(measured: dict[int, float], n: int) -> float | None:
    """Seconds predicted for n from t = a*n + b*n^2 (a, b >= 0) through the two largest sizes."""
    if not measured:
        return None
    sizes = sorted(measured)
    n2, t2 = sizes[-1], measured[sizes[-1]]
    if len(sizes) == 1:
        return t2 * n / n2  # optimistic; the hard timeout backs it up
    n1, t1 = sizes[-2], measured[sizes[-2]]
    # solve a*n1 + b*n1^2 = t1, a*n2 + b*n2^2 = t2
    b = (t2 / n2 - t1 / n1) / (n2 - n1)
    a = t2 / n2 - b * n2
    if b < 0:
        a, b = t2 / n2, 0.0
    elif a < 0:
        a, b = 0.0, t2 / n2**2
    return a * n + b * n * n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tool", help="kfp, hera or kfp,hera (required)")
    ap.add_argument("--sizes", default="10,100,1000")
    ap.add_argument("--repeat", type=int, default=5, help="most runs per size (best is reported)")
    ap.add_argument("--timeout-seconds", type=float, default=120.0)
    ap.add_argument(
        "--repeat-budget-seconds",
        type=float,
        default=30.0,
        help="repeat a size only while the runs so far total less than this",
    )
    ap.add_argument("--out-dir", help="keep the YAML files here")
    ap.add_argument("--child", nargs=2, metavar=("TOOL", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        child(
            args.child[0],
            int(args.child[1]),
            max(1, args.repeat),
            min(args.repeat_budget_seconds, args.timeout_seconds),
            args.out_dir,
        )
        return 0

    if not args.tool:
        ap.error("--tool is required (kfp, hera or kfp,hera)")
    tools = args.tool.split(",")
    unknown = [t for t in tools if t not in TOOLS]
    if unknown:
        ap.error(f"unknown tool(s) {unknown}; choose from {sorted(TOOLS)}")
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    if not sizes or min(sizes) < 1:
        ap.error("--sizes takes positive integers, e.g. 10,100,1000")
    status = 0
    for tool in tools:
        measured: dict[int, float] = {}
        for n in sizes:
            guess = predict(measured, n)
            if guess is not None and guess > args.timeout_seconds:
                print(
                    json.dumps(
                        {
                            "tool": tool,
                            "n": n,
                            "skipped": f"predicted {guess:.0f} s > timeout {args.timeout_seconds:g} s",
                        }
                    ),
                    flush=True,
                )
                continue
            cmd = [
                sys.executable,
                os.path.abspath(__file__),
                "--child",
                tool,
                str(n),
                "--repeat",
                str(args.repeat),
                "--timeout-seconds",
                str(args.timeout_seconds),
                "--repeat-budget-seconds",
                str(args.repeat_budget_seconds),
            ]
            if args.out_dir:
                cmd += ["--out-dir", args.out_dir]
            try:
                # the child repeats only within min(budget, timeout), so it takes at most
                # about max(one run, timeout); 30 s more for its imports and the last run's noise
                hard_limit = args.timeout_seconds + 30
                done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, timeout=hard_limit)
            except subprocess.TimeoutExpired:
                reason = f"killed after {hard_limit:g} s (timeout {args.timeout_seconds:g} s + 30 s)"
                print(json.dumps({"tool": tool, "n": n, "skipped": reason}), flush=True)
                measured[n] = float("inf")
                continue
            lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
            if done.returncode != 0 or not lines:
                print(
                    json.dumps(
                        {
                            "tool": tool,
                            "n": n,
                            "error": f"child exited with {done.returncode} (its stderr is above)",
                        }
                    ),
                    flush=True,
                )
                status = 1
                continue
            result = json.loads(lines[-1])
            measured[n] = result["seconds"]
            print(lines[-1], flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
