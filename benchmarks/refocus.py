"""Refocusing speed and memory, printed as one table.

    python benchmarks/refocus.py                          # every row (~10 min on 2 CPU cores)
    python benchmarks/refocus.py --rows speed --models given --sizes 512 1024
    python benchmarks/refocus.py --model path/to/model --precisions float32

Rows:
- ``speed``: one plane of 512², 1024², 2048² (``--sizes``) through the full refocus path
  (normalisation, tiling, SavedModel, blending) for the given model (default: the shipped
  one) and the ``paper`` preset (random weights: speed does not depend on them). Mpx·planes/s
  counts image pixels; GFLOP/s counts the network's multiply-adds (analytic, 2 FLOP per MAC)
  on the pixels actually computed (tiles overlap), divided by the GFLOP/s of a 4096² float32
  matmul measured in the same run (at the start and at the end; the faster one is used). For bfloat16 the error column is |bf16 − fp32| (max and
  mean over pixels) divided by the fp32 output's range (same image, same model).
- ``memory``: peak RSS (TensorFlow, model and all) of refocusing one plane of 2048² and
  4096² (``--memory-sizes``), each in a fresh subprocess so peaks don't mix.
- ``stack``: a 41-plane virtual stack (−10 … 10 µm, 0.5 µm) of 1024² (``--stack-size``).

Timings are wall-clock, best of ``--repeat`` runs after a warm-up on one tile of the same
shape. Compare numbers from one run only: the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from deepz_fiji.errors import DeepZError  # noqa: E402

COLUMNS = ["row", "model", "precision", "size", "planes", "tiles", "computed/image", "seconds",
           "Mpx*planes/s", "GFLOP/s", "% of matmul", "peak RSS GB", "bf16 error"]


def synthetic_image(size: int, seed: int = 0) -> np.ndarray:
    """A 16-bit fluorescence-like image: blurred random spots on a noisy background."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    spots = (rng.random((size, size)) > 0.999).astype(np.float32) * 40000
    image = gaussian_filter(spots, 2.0) + rng.normal(200, 10, (size, size))
    return image.clip(0, 65535).astype(np.uint16)


def matmul_gflops(n: int = 4096, repeat: int = 5, dtype: str = "float32") -> float:
    """Best GFLOP/s of an n×n matmul in TensorFlow."""
    import tensorflow as tf

    a = tf.cast(tf.random.normal((n, n)), dtype)
    b = tf.cast(tf.random.normal((n, n)), dtype)
    tf.matmul(a, b).numpy()
    best = min(_timed(lambda: tf.matmul(a, b).numpy()) for _ in range(repeat))
    return 2 * n**3 / best / 1e9


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def peak_rss_gb() -> float:
    """Peak resident memory of this process (VmHWM: reset by exec, unlike ru_maxrss)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


# --------------------------------------------------------------------------- models
def build_random_model(preset: str, folder: Path):
    """A random-weight model of ``preset`` saved and loaded through the model package."""
    from deepz_fiji.model import ModelConfig, load_model, save_model_folder
    from deepz_fiji.model.generator import generator_for

    config = ModelConfig.from_preset(f"{preset}-random", preset)
    save_model_folder(folder / config.name, generator_for(config), config)
    return load_model(folder / config.name)


def given_model(name_or_path: str | None, folder: Path):
    """The requested model, or (none given and none shipped) a random-weight small preset."""
    from deepz_fiji.model import load_model

    try:
        return load_model(name_or_path)
    except DeepZError as exc:
        if name_or_path is not None:
            raise
        print(f"note: no shipped model ({exc}); using a random-weight 'small' preset", file=sys.stderr)
        return build_random_model("small", folder)


# --------------------------------------------------------------------------- rows
def _refocus_once(image, model, precision, tile=None):
    """(output, seconds) of refocusing ``image`` by 1 µm."""
    from deepz_fiji.refocus import refocus_plane

    t0 = time.perf_counter()
    out = refocus_plane(image, 1.0, model, precision=precision, tile=tile)
    return out, time.perf_counter() - t0


def layout_for(model, shape, tile=None):
    from deepz_fiji.refocus.engine import default_tile
    from deepz_fiji.refocus.tiling import plan_tiles

    tile = default_tile(model.config) if tile is None else tile
    return plan_tiles(shape, model.config.size_multiple, model.receptive_field_px, tile)


def speed_rows(model, label, sizes, precisions, repeat, matmul, tile=None):
    from deepz_fiji.model.generator import macs_per_pixel

    macs = macs_per_pixel(model.config.width, model.config.depth)
    for size in sizes:
        image = synthetic_image(size)
        layout = layout_for(model, image.shape, tile)
        th, tw = layout.tile_shape
        computed = layout.n_tiles * th * tw
        reference = None
        for precision in precisions:
            _refocus_once(image[:th, :tw], model, precision, tile)  # warm-up: same tile shape
            runs = [_refocus_once(image, model, precision, tile) for _ in range(repeat)]
            out, seconds = min(runs, key=lambda r: r[1])
            error = ""
            if precision == "float32":
                reference = out
            elif reference is not None:
                diff = np.abs(out - reference) / np.ptp(reference)
                error = f"max {diff.max():.1e}, mean {diff.mean():.1e}"
            gflops = 2 * macs * computed / seconds / 1e9
            yield {"row": "speed", "model": label, "precision": precision, "size": f"{size}²", "planes": 1,
                   "tiles": f"{layout.n_tiles}×{th}²" if th == tw else f"{layout.n_tiles}×{th}×{tw}",
                   "computed/image": f"{computed / size**2:.2f}", "seconds": f"{seconds:.2f}",
                   "Mpx*planes/s": f"{size**2 / 1e6 / seconds:.3f}", "GFLOP/s": f"{gflops:.1f}",
                   "% of matmul": f"{100 * gflops / matmul:.0f}", "bf16 error": error}


def stack_rows(model, label, size, precisions, tile=None):
    from deepz_fiji.refocus import virtual_stack

    image = synthetic_image(size, seed=1)
    layout = layout_for(model, image.shape, tile)
    th, tw = layout.tile_shape
    for precision in precisions:
        _refocus_once(image[:th, :tw], model, precision, tile)
        t0 = time.perf_counter()
        planes = virtual_stack(image, -10, 10, 0.5, model, precision=precision, tile=tile).shape[0]
        seconds = time.perf_counter() - t0
        yield {"row": "stack", "model": label, "precision": precision, "size": f"{size}²", "planes": planes,
               "tiles": f"{layout.n_tiles}×{th}²", "seconds": f"{seconds:.1f}",
               "Mpx*planes/s": f"{planes * size**2 / 1e6 / seconds:.3f}"}


def memory_rows(model, label, sizes, precision, tile=None):
    for size in sizes:
        cmd = [sys.executable, __file__, "--child-memory", str(size), "--model", str(model.path),
               "--precisions", precision]
        if tile is not None:
            cmd += ["--tile", str(tile)]
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"memory child for {size}² failed:\n{proc.stderr[-2000:]}")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        yield {"row": "memory", "model": label, "precision": precision, "size": f"{size}²", "planes": 1,
               "tiles": result["tiles"], "seconds": f"{result['seconds']:.1f}",
               "Mpx*planes/s": f"{size**2 / 1e6 / result['seconds']:.3f}",
               "peak RSS GB": f"{result['peak_rss_gb']:.2f} (model loaded: {result['loaded_rss_gb']:.2f})"}


def child_memory(size: int, model_path: str, precision: str, tile: int | None) -> None:
    """Subprocess body: refocus one plane of ``size``² and print peak RSS as JSON."""
    from deepz_fiji.model import load_model

    model = load_model(model_path)
    loaded = peak_rss_gb()
    image = synthetic_image(size)
    layout = layout_for(model, image.shape, tile)
    _, seconds = _refocus_once(image, model, precision, tile)
    print(json.dumps({"peak_rss_gb": peak_rss_gb(), "loaded_rss_gb": loaded, "seconds": seconds,
                      "tiles": f"{layout.n_tiles}×{layout.tile_shape[0]}²"}))


# --------------------------------------------------------------------------- main
def print_table(rows: list[dict]) -> None:
    cols = [c for c in COLUMNS if any(row.get(c, "") != "" for row in rows)]
    widths = {c: max(len(c), *(len(str(row.get(c, ""))) for row in rows)) for c in cols}
    print(" | ".join(c.ljust(widths[c]) for c in cols))
    print("-|-".join("-" * widths[c] for c in cols))
    for row in rows:
        print(" | ".join(str(row.get(c, "")).ljust(widths[c]) for c in cols))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="model name or folder (default: the shipped one)")
    parser.add_argument("--rows", nargs="+", choices=("speed", "memory", "stack"),
                        default=["speed", "memory", "stack"])
    parser.add_argument("--models", nargs="+", choices=("given", "paper"), default=["given", "paper"],
                        help="which models the speed rows use")
    parser.add_argument("--sizes", nargs="+", type=int, default=[512, 1024, 2048])
    parser.add_argument("--memory-sizes", nargs="+", type=int, default=[2048, 4096])
    parser.add_argument("--stack-size", type=int, default=1024)
    parser.add_argument("--precisions", nargs="+", choices=("float32", "bfloat16"), default=None,
                        help="default: float32, plus bfloat16 where the CPU supports it")
    parser.add_argument("--tile", type=int, default=None, help="tile side (default: the library's)")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per speed row (best is shown)")
    parser.add_argument("--threads", type=int, default=None, help="TensorFlow intra-op threads")
    parser.add_argument("--csv", type=Path, default=None, help="also write the rows as CSV")
    parser.add_argument("--child-memory", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    from deepz_fiji.refocus import cpu_supports_bfloat16

    precisions = args.precisions or (["float32", "bfloat16"] if cpu_supports_bfloat16() else ["float32"])
    if args.child_memory:
        child_memory(args.child_memory, args.model, precisions[0], args.tile)
        return 0

    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    matmul = matmul_gflops()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPU(s), TensorFlow {tf.__version__}, "
          f"intra-op threads {tf.config.threading.get_intra_op_parallelism_threads() or 'default'}, "
          f"bf16 CPU support {cpu_supports_bfloat16()}")
    bf16 = f", bfloat16 matmul {matmul_gflops(dtype='bfloat16'):.1f}" if "bfloat16" in precisions else ""
    print(f"# float32 matmul 4096²: {matmul:.1f} GFLOP/s (the '% of matmul' reference){bf16}")
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="deepz-bench-") as tmp:
        model = given_model(args.model, Path(tmp))
        label = model.config.name
        models = []
        if "given" in args.models:
            models.append((model, label))
        if "paper" in args.models and "speed" in args.rows:
            models.append((build_random_model("paper", Path(tmp)), "paper-random"))
        for row_kind in args.rows:
            if row_kind == "speed":
                for m, lab in models:
                    for row in speed_rows(m, lab, args.sizes, precisions, args.repeat, matmul, args.tile):
                        rows.append(row)
                        print("  ", row, flush=True)
            elif row_kind == "memory":
                for row in memory_rows(model, label, args.memory_sizes, precisions[0], args.tile):
                    rows.append(row)
                    print("  ", row, flush=True)
            else:
                for row in stack_rows(model, label, args.stack_size, precisions, args.tile):
                    rows.append(row)
                    print("  ", row, flush=True)
    # the machine may be shared: measure the reference again and keep the faster (conservative) one
    matmul_end = matmul_gflops()
    print()
    print(f"# float32 matmul 4096² at the end: {matmul_end:.1f} GFLOP/s", end="")
    if matmul_end > matmul:
        print(" (faster than at the start: '% of matmul' recomputed against it)", end="")
        for row in rows:
            if row.get("GFLOP/s"):
                row["% of matmul"] = f"{100 * float(row['GFLOP/s']) / matmul_end:.0f}"
    print()
    print_table(rows)
    if args.csv:
        from deepz_fiji.io import write_csv

        write_csv(args.csv, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
