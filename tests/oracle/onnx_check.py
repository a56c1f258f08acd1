"""Oracle for kfp-rs's ONNX export: the ONNX checker and onnxruntime (no kfp-rs code).

usage: onnx_check.py MODEL.onnx [MODEL.onnx ...]

For each model:
  1. onnx.checker.check_model(model, full_check=True): the graph is well formed, every node
     matches its operator's schema at the declared opset, and strict shape inference succeeds;
  2. when MODEL.input.npy exists beside MODEL.onnx (the same path with `.onnx` replaced by
     `.input.npy`), onnxruntime (CPU) runs the model on it with all graph optimisations off
     and writes each output NAME to MODEL.NAME.npy (float32).
It prints one JSON line per model: opset, IR version, input and output names with their
declared shapes, the count of each operator type, and the outputs written. Exit status 1 (with
the checker's or onnxruntime's message on stderr) when a model fails.
"""

import collections
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort


def dims(value_info):
    shape = value_info.type.tensor_type.shape
    return [d.dim_param if d.HasField("dim_param") else d.dim_value for d in shape.dim]


def check(path):
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    graph = model.graph
    summary = {
        "model": path,
        "opset": {o.domain or "ai.onnx": o.version for o in model.opset_import},
        "ir_version": model.ir_version,
        "inputs": {i.name: dims(i) for i in graph.input},
        "outputs": {o.name: dims(o) for o in graph.output},
        "ops": dict(collections.Counter(n.op_type for n in graph.node)),
        "metadata": {p.key: p.value for p in model.metadata_props},
        "written": [],
    }
    stem = path[: -len(".onnx")] if path.endswith(".onnx") else path
    input_path = stem + ".input.npy"
    if os.path.exists(input_path):
        x = np.load(input_path)
        options = ort.SessionOptions()
        # Run the graph as written: no fusion (e.g. Conv+Add) may hide an exporter bug.
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        session = ort.InferenceSession(
            path, sess_options=options, providers=["CPUExecutionProvider"]
        )
        (feed,) = session.get_inputs()
        names = [o.name for o in session.get_outputs()]
        for name, value in zip(names, session.run(names, {feed.name: x})):
            out = f"{stem}.{name}.npy"
            np.save(out, np.asarray(value, dtype=np.float32))
            summary["written"].append(out)
    return summary


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__, file=sys.stderr)
        return 2
    failed = False
    for path in argv:
        try:
            print(json.dumps(check(path)), flush=True)
        except Exception as e:  # report every model, then fail
            print(f"{path}: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
