#!/usr/bin/env python3
"""W6 peer: kfp.local's overhead per task on no-op lightweight components.

usage: local_overhead_kfp.py [--chain N] [--fanout N]

Runs, with kfp.local's SubprocessRunner(use_venv=False) (the runner that needs no Docker),
a chain of N `inc(x: int) -> int` tasks (each fed by the one before) and a fan-out of N
independent `inc` tasks, and prints one JSON line per shape: wall seconds and ms per task.
kfp.local runs one task at a time, so both shapes are sequential.
"""
import argparse
import json
import sys
import tempfile
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chain", type=int, default=20)
    parser.add_argument("--fanout", type=int, default=20)
    args = parser.parse_args()

    import_start = time.perf_counter()
    import kfp
    from kfp import dsl, local

    import_seconds = time.perf_counter() - import_start

    @dsl.component
    def inc(x: int) -> int:
        return x + 1

    def chain(n: int):
        @dsl.pipeline(name="chain")
        def pipeline() -> int:
            task = inc(x=0)
            for _ in range(n - 1):
                task = inc(x=task.output)
            return task.output

        return pipeline

    def fanout(n: int):
        @dsl.pipeline(name="fanout")
        def pipeline():
            for _ in range(n):
                inc(x=0)

        return pipeline

    with tempfile.TemporaryDirectory() as root:
        local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=root)
        for shape, n, make in (("chain", args.chain, chain), ("fanout", args.fanout, fanout)):
            pipeline = make(n)
            start = time.perf_counter()
            result = pipeline()
            seconds = time.perf_counter() - start
            if shape == "chain" and result.output != n:
                print(f"unexpected chain output {result.output}", file=sys.stderr)
                return 1
            line = {
                "tool": "kfp.local",
                "shape": shape,
                "tasks": n,
                "seconds": round(seconds, 4),
                "ms_per_task": round(1000 * seconds / n, 2),
                "version": kfp.__version__,
                "import_seconds": round(import_seconds, 3),
            }
            print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
