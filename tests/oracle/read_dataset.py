#!/usr/bin/env python3
"""Read a kfp-rs Caltech101 Dataset artifact with numpy only, check it, print a JSON summary.

usage: read_dataset.py ARTIFACT_DIR [--dump-pixels FILE]

The artifact (kfp_components::caltech101::artifact) is:
  images.npy  uint8 (N, S, S, 3)   labels.npy  int64 (N,)   split.npy  uint8 (N,) 0/1/2
  dataset.json (classes, files, split, mean/std of the training split, ...)
  splits/{train,val,test}.txt (one class/file per line, artifact order)

Checks that everything agrees (shapes, dtypes, labels in range, split names vs codes, the file
lists, per-class counts, and mean/std recomputed from the pixels), then prints one JSON object
with what it read. --dump-pixels writes the pixels as raw bytes (C order) so that a caller can
compare them byte for byte. Exit status 1 with the reasons on stderr when a check fails.
"""
import argparse
import json
import pathlib
import sys

import numpy as np

SPLIT_NAMES = ["train", "val", "test"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("artifact", type=pathlib.Path)
    parser.add_argument("--dump-pixels", type=pathlib.Path)
    args = parser.parse_args()
    root = args.artifact
    meta = json.loads((root / "dataset.json").read_text())
    images = np.load(root / meta["arrays"]["images"], mmap_mode="r")
    labels = np.load(root / meta["arrays"]["labels"])
    split = np.load(root / meta["arrays"]["split"])
    n, s = meta["num_images"], meta["image_size"]
    errors = []

    def check(ok, message):
        if not ok:
            errors.append(message)

    check(meta["format"] == "kfp-rs.caltech101/1", f"format {meta['format']!r}")
    check(images.dtype == np.uint8 and images.shape == (n, s, s, 3), f"images {images.dtype} {images.shape}")
    check(labels.dtype == np.int64 and labels.shape == (n,), f"labels {labels.dtype} {labels.shape}")
    check(split.dtype == np.uint8 and split.shape == (n,), f"split {split.dtype} {split.shape}")
    classes = meta["classes"]
    check(n == 0 or (labels.min() >= 0 and labels.max() < len(classes)), "a label is out of range")
    check(bool(np.all(np.diff(labels) >= 0)), "images are not ordered by label")
    check(len(meta["files"]) == n, "files and images differ in number")
    for i, (file, label) in enumerate(zip(meta["files"], labels.tolist())):
        if file.split("/")[0] != classes[label]:
            check(False, f"image {i}: file {file} has label {label} ({classes[label]})")
            break
    names = [SPLIT_NAMES[c] for c in split.tolist()]
    check(names == meta["split"], "split.npy and dataset.json's split differ")
    counts = np.bincount(labels, minlength=len(classes)).tolist()
    check(counts == meta["class_counts"], f"class counts {counts} != {meta['class_counts']}")
    for code, name in enumerate(SPLIT_NAMES):
        listed = (root / "splits" / f"{name}.txt").read_text().split()
        expected = [f for f, c in zip(meta["files"], split.tolist()) if c == code]
        check(listed == expected, f"splits/{name}.txt does not list the {name} images in order")
        check(meta["split_counts"][name] == len(expected), f"split_counts[{name}]")
    check(len(set(meta["files"])) == n, "a file appears twice")

    train = split == 0
    mean = std = None
    if train.any():
        pixels = np.asarray(images[train], dtype=np.float64).reshape(-1, 3) / 255.0
        mean = pixels.mean(axis=0).tolist()
        std = pixels.std(axis=0).tolist()
        for key, ours in (("mean", mean), ("std", std)):
            theirs = meta[key]
            check(theirs is not None and np.allclose(ours, theirs, rtol=0, atol=1e-9), f"{key} {theirs} != recomputed {ours}")

    if args.dump_pixels:
        np.ascontiguousarray(images).tofile(args.dump_pixels)
    if errors:
        for e in errors:
            print(f"read_dataset.py: {root}: {e}", file=sys.stderr)
        return 1
    print(json.dumps({
        "num_images": n,
        "shape": list(images.shape),
        "dtype": str(images.dtype),
        "classes": classes,
        "labels": labels.tolist(),
        "split": names,
        "files": meta["files"],
        "mean": mean,
        "std": std,
        "pixel_sum": int(np.asarray(images, dtype=np.uint64).sum()) if n else 0,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
