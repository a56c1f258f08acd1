#!/usr/bin/env python3
"""Independent evaluation of a trained model: numpy + onnxruntime only, no kfp-rs code.

usage: eval_onnx.py DATASET_DIR MODEL_ONNX

Reads the Caltech101 Dataset artifact with numpy (images.npy uint8 NHWC, labels.npy, split.npy,
dataset.json's training-split mean/std), takes the centre crop of every test image at the
model's input size (torchvision's CenterCrop offset: round((stored - size) / 2)), scales to
[0, 1] and normalises, runs MODEL_ONNX with onnxruntime, and prints one JSON line:
{"n", "top1", "top5", "mean_per_class", "predictions", "logits"} where mean_per_class is the
mean over the classes present in the test split of each class's recall, and logits are the
model's outputs for the test images in index order.
"""
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort


def main() -> None:
    data, model = Path(sys.argv[1]), sys.argv[2]
    manifest = json.loads((data / "dataset.json").read_text())
    images = np.load(data / "images.npy")
    labels = np.load(data / "labels.npy")
    split = np.load(data / "split.npy")
    mean = np.asarray(manifest["mean"], dtype=np.float32)
    std = np.asarray(manifest["std"], dtype=np.float32)

    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    inp = session.get_inputs()[0]
    size = inp.shape[1]
    stored = images.shape[1]
    offset = int(round((stored - size) / 2.0))
    test = np.flatnonzero(split == 2)
    crops = images[test, offset:offset + size, offset:offset + size, :].astype(np.float32) / 255.0
    x = ((crops - mean) / std).astype(np.float32)
    logits = session.run(None, {inp.name: x})[0]
    y = labels[test]

    predictions = logits.argmax(axis=1)
    top1 = float((predictions == y).mean())
    top5_sets = np.argsort(-logits, axis=1, kind="stable")[:, :5]
    top5 = float((top5_sets == y[:, None]).any(axis=1).mean())
    recalls = [float((predictions[y == c] == c).mean()) for c in np.unique(y)]
    print(json.dumps({
        "n": int(len(test)),
        "top1": top1,
        "top5": top5,
        "mean_per_class": float(np.mean(recalls)),
        "predictions": predictions.tolist(),
        "logits": logits.tolist(),
    }))


if __name__ == "__main__":
    main()
