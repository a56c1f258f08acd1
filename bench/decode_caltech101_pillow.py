#!/usr/bin/env python3
"""W4 peer: decode and resize every Caltech101 category image with Pillow, two worker processes.

usage: decode_caltech101_pillow.py --source 101_ObjectCategories.tar.gz --size 64 [--draft] [--workers 2]

What a torchvision loader with two workers does per image (`Image.open(..).convert("RGB")`, then
`Resize((S, S))`, bilinear with antialiasing), fed straight from the .tar.gz: the main process
streams the archive (tarfile, gzip in C) and hands chunks of file bytes to a
multiprocessing.Pool of WORKERS processes, which decode and resize; the main process gathers
the pixels into one growing buffer, viewed as an (N, S, S, 3) uint8 numpy array. --draft adds `im.draft("RGB", (S, S))`
before decoding: libjpeg's DCT-domain downscaling by 1/2, 1/4 or 1/8 (Pillow's "draft mode").
BACKGROUND_Google and files not named *.jpg are left out, as torchvision does.

Prints one JSON line: images, seconds (from opening the archive to the finished array),
images_per_s, and peak resident memory of the main process and of the largest worker
(ru_maxrss), plus their sum counting every worker at the largest one's peak.
"""
import argparse
import io
import json
import multiprocessing
import resource
import sys
import tarfile
import time

import numpy as np
from PIL import Image

SIZE = 64
DRAFT = False


def init(size: int, draft: bool) -> None:
    global SIZE, DRAFT
    SIZE, DRAFT = size, draft


def decode(chunk: list) -> bytes:
    out = []
    for data in chunk:
        im = Image.open(io.BytesIO(data))
        if DRAFT:
            im.draft("RGB", (SIZE, SIZE))
        im = im.convert("RGB").resize((SIZE, SIZE), Image.Resampling.BILINEAR)
        out.append(im.tobytes())
    return b"".join(out)


def chunks(source: str, per_chunk: int):
    with tarfile.open(source, mode="r|gz") as archive:
        chunk = []
        for member in archive:
            if not member.isfile() or not member.name.endswith(".jpg"):
                continue
            parts = member.name.split("/")
            if len(parts) < 2 or parts[-2] == "BACKGROUND_Google":
                continue
            chunk.append(archive.extractfile(member).read())
            if len(chunk) == per_chunk:
                yield chunk
                chunk = []
        if chunk:
            yield chunk


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--draft", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=32, help="images per task sent to a worker")
    args = parser.parse_args()

    started = time.perf_counter()
    pixels = bytearray()  # grows in place; numpy then wraps it without a copy
    with multiprocessing.Pool(args.workers, initializer=init, initargs=(args.size, args.draft)) as pool:
        for part in pool.imap(decode, chunks(args.source, args.chunk)):
            pixels += part
        pool.close()
        pool.join()
    per_image = args.size * args.size * 3
    images = np.frombuffer(pixels, dtype=np.uint8).reshape(-1, args.size, args.size, 3)
    seconds = time.perf_counter() - started

    main_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({
        "tool": "pillow",
        "variant": "draft" if args.draft else "plain",
        "size": args.size,
        "images": int(images.shape[0]),
        "seconds": seconds,
        "images_per_s": images.shape[0] / seconds,
        "peak_rss_mb": main_mb + args.workers * worker_mb,
        "peak_rss_mb_main": main_mb,
        "peak_rss_mb_worker": worker_mb,
        "output_mb": images.shape[0] * per_image / 1e6,
        "workers": args.workers,
        "pillow": Image.__version__,
        "python": sys.version.split()[0],
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
