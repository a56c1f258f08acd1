#!/usr/bin/env python3
"""W2 peer: training and inference speed of the reference CNN "caltech-s" in PyTorch, random data.

usage: train_pytorch.py [--size 64] [--batch 32] [--threads 2] [--layout channels_last|nchw]
                        [--warmup 3] [--steps 20] [--seed 0]

The model of ../shared/notes/benchmark-protocol.md (W2): input SxSx3; four blocks conv3x3 (32,
64, 128, 256 filters, stride 1, padding 1 (= TF SAME for 3x3), no bias) + BatchNorm + ReLU, a
2x2 max-pool after each of the first three; global average pool; dropout 0.3; dense 101.

Training: model.train(), SGD (lr 0.01, momentum 0.9), cross-entropy; one step is zero_grad +
forward + loss + backward + update on one batch of random normal pixels and random labels
(the same batch every step: the data pipeline is not measured). WARMUP steps are run first
and not timed; then STEPS steps are timed together: train_img_per_s = STEPS * BATCH / seconds.
Inference: model.eval() under torch.inference_mode(), forward only, the same warm-up and
number of batches. The model and the input are converted to LAYOUT (channels_last is
PyTorch's faster layout on this CPU; nchw is its default). Intra-op and inter-op threads are
both set to THREADS before anything runs.

Prints ONE JSON line: train_img_per_s, infer_img_per_s, peak_rss_mb (this process's
ru_maxrss; the harness also measures it from outside with /usr/bin/time), the torch version,
threads, layout, size, batch and the step counts.
"""
import argparse
import json
import os
import platform
import resource
import sys
import time

import torch
from torch import nn

FILTERS = (32, 64, 128, 256)
CLASSES = 101


def caltech_s(classes: int = CLASSES, dropout: float = 0.3) -> nn.Sequential:
    """The reference CNN of benchmark protocol W2 (NCHW parameters, as PyTorch keeps them)."""
    layers: list[nn.Module] = []
    channels = 3
    for i, filters in enumerate(FILTERS):
        layers += [
            nn.Conv2d(channels, filters, kernel_size=3, stride=1, padding=1, bias=False),
            nn.BatchNorm2d(filters),
            nn.ReLU(inplace=True),
        ]
        if i < len(FILTERS) - 1:
            layers.append(nn.MaxPool2d(2))
        channels = filters
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels, classes)]
    return nn.Sequential(*layers)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64, help="input side S (SxSx3)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="intra-op and inter-op threads")
    parser.add_argument("--layout", choices=("channels_last", "nchw"), default="channels_last")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps before each measurement")
    parser.add_argument("--steps", type=int, default=20, help="timed steps (batches) per measurement")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.size < 8 or args.size % 8:
        parser.error("--size must be a multiple of 8 (three 2x2 max-pools), at least 8")
    if args.batch < 1 or args.threads < 1 or args.warmup < 0 or args.steps < 1:
        parser.error("--batch, --threads and --steps must be at least 1, --warmup at least 0")

    # Both pools before any parallel work: set_num_interop_threads fails once one has run.
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(args.threads)
    torch.manual_seed(args.seed)
    memory_format = torch.channels_last if args.layout == "channels_last" else torch.contiguous_format

    model = caltech_s().to(memory_format=memory_format)
    x = torch.randn(args.batch, 3, args.size, args.size).contiguous(memory_format=memory_format)
    y = torch.randint(0, CLASSES, (args.batch,))
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def train_step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()

    model.train()
    for _ in range(args.warmup):
        train_step()
    started = time.perf_counter()
    for _ in range(args.steps):
        train_step()
    train_seconds = time.perf_counter() - started

    model.eval()
    with torch.inference_mode():
        for _ in range(args.warmup):
            model(x)
        started = time.perf_counter()
        for _ in range(args.steps):
            model(x)
        infer_seconds = time.perf_counter() - started

    images = args.steps * args.batch
    print(json.dumps({
        "tool": "pytorch",
        "layout": args.layout,
        "size": args.size,
        "batch": args.batch,
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "warmup": args.warmup,
        "steps": args.steps,
        "train_img_per_s": images / train_seconds,
        "infer_img_per_s": images / infer_seconds,
        "train_seconds": train_seconds,
        "infer_seconds": infer_seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "torch": torch.__version__,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "python": platform.python_version(),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
