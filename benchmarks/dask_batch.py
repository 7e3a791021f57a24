"""Images per second of ``deepz batch``: in process, and on a local Dask cluster of 1 and 2 workers, in one run.

    python benchmarks/dask_batch.py [--images 12] [--size 512] [--model NAME] [--planes 5]

Each run refocuses the same folder into a fresh output folder (a virtual stack of ``--planes``
planes over ±R/2 per image); the cluster's start-up is timed apart from the batch.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_images(folder: Path, n: int, size: int) -> None:
    from scipy import ndimage as ndi

    from deepz_fiji.io import write_image

    folder.mkdir()
    for i in range(n):
        rng = np.random.default_rng(i)
        image = ndi.gaussian_filter((rng.random((size, size)) > 0.997) * 40000.0, 1.5) + 100
        write_image(folder / f"img{i:03d}.tif", (image + rng.normal(0, 5, image.shape)).clip(0).astype(np.uint16),
                    "YX", pixel_um=0.325)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--planes", type=int, default=5)
    parser.add_argument("--model", default=None)
    args = parser.parse_args(argv)
    from deepz_fiji.dask_cluster import connect, dask_batch_refocus
    from deepz_fiji.fiji.batch import BatchRequest, batch_refocus
    from deepz_fiji.refocus import load_model

    r = min(abs(load_model(args.model).config.dz_min_um), load_model(args.model).config.dz_max_um) / 2
    request = BatchRequest(stack=(-r, r, 2 * r / (args.planes - 1)))
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in"
        make_images(src, args.images, args.size)
        results = {}
        start = time.perf_counter()
        batch_refocus(src, Path(tmp) / "local", request, model=args.model)
        results["in process"] = (time.perf_counter() - start, 0.0)
        for workers in (1, 2):
            start = time.perf_counter()
            with connect(workers=workers) as client:
                client.wait_for_workers(workers)
                up = time.perf_counter() - start
                start = time.perf_counter()
                rows = dask_batch_refocus(src, Path(tmp) / f"dask{workers}", request, client, model=args.model)
                results[f"{workers} worker{'s' if workers > 1 else ''}"] = (time.perf_counter() - start, up)
            assert all(row["status"] == "done" for row in rows)
    base = args.images / results["in process"][0]
    print(f"{args.images} images of {args.size}², {args.planes} planes each, {os.cpu_count()} cores:")
    print("| run | seconds | images/s | ÷ in process | cluster start-up (s) |")
    print("|---|---:|---:|---:|---:|")
    for name, (seconds, up) in results.items():
        rate = args.images / seconds
        print(f"| {name} | {seconds:.1f} | {rate:.2f} | {rate / base:.2f} | {up:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
