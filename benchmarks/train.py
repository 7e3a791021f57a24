"""Training throughput of the Deep-Z GAN on this machine (CPU unless TensorFlow sees a GPU).

For each preset: the real data pipeline (toy dataset shards, crops, flips, intensity factor)
feeding the compiled update steps. After one untimed iteration (graph tracing), times
``--iterations`` GAN iterations (``g_steps`` generator + ``d_steps`` discriminator updates, each
on its own batch) and as many MAE warm-up iterations (one generator update). Prints a table
with iterations/s, pairs/s and the generator's achieved GFLOP/s, and a float32 matmul GFLOP/s
of the same machine for scale.

    python benchmarks/train.py                     # tiny, small, paper with the default sizes
    python benchmarks/train.py --presets small --patch 256 --batch 20 --iterations 3
    python benchmarks/train.py --presets small --precision float32 bfloat16   # AVX512-BF16/AMX CPUs

With several ``--precision`` values every preset is timed at each (``deepz train --precision``), back
to back in one process, so their ratio is the figure to quote.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: preset -> (patch, batch) used unless given on the command line; the paper preset gets a
#: small patch and batch so that a few iterations finish on a CPU.
DEFAULT_SIZES = {"tiny": (64, 20), "small": (128, 8), "paper": (128, 2)}


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    import tensorflow as tf

    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    tf.linalg.matmul(a, b).numpy()
    t = time.perf_counter()
    for _ in range(repeats):
        tf.linalg.matmul(a, b).numpy()
    return 2 * n**3 * repeats / (time.perf_counter() - t) / 1e9


def bench_preset(preset: str, patch: int, batch: int, iterations: int, g_steps: int, d_steps: int,
                 data_dir: Path) -> dict:
    import keras

    from deepz_fiji.data import read_dataset
    from deepz_fiji.model.config import ModelConfig
    from deepz_fiji.model.discriminator import build_discriminator
    from deepz_fiji.model.generator import generator_for, macs_per_pixel
    from deepz_fiji.train import TrainConfig, write_toy_dataset
    from deepz_fiji.train.pipeline import training_stream
    from deepz_fiji.train.steps import GanSteps

    folder = data_dir / f"toy-{patch}"
    if not folder.exists():
        write_toy_dataset(folder, n_train=4 * batch, n_val=2, patch=patch, shard_size=2 * batch)
    data = read_dataset(folder)
    config = ModelConfig.from_preset(preset, preset)
    options = TrainConfig(batch=batch, g_steps=g_steps, d_steps=d_steps, shuffle_buffer=4 * batch)
    keras.utils.set_random_seed(0)
    gen, disc = generator_for(config), build_discriminator(config.width, intensity_gain=config.intensity_gain)
    steps = GanSteps(gen, disc, keras.optimizers.Adam(1e-4), keras.optimizers.Adam(3e-5),
                     alpha=options.alpha, dpm_scale_um=config.dpm_scale_um)
    batches = iter(training_stream(data, options, patch))

    def gan_iteration():
        for _ in range(d_steps):
            steps.discriminator_step(*next(batches))
        for _ in range(g_steps):
            out = steps.generator_step(*next(batches))
        out["g_loss"].numpy()

    def warmup_iteration():
        steps.warmup(*next(batches))["g_loss"].numpy()

    gan_iteration()  # trace
    warmup_iteration()
    t = time.perf_counter()
    for _ in range(iterations):
        gan_iteration()
    gan_s = (time.perf_counter() - t) / iterations
    t = time.perf_counter()
    for _ in range(iterations):
        warmup_iteration()
    warm_s = (time.perf_counter() - t) / iterations
    # generator forward + backward ≈ 3 × forward multiply-adds, 2 FLOP each
    g_flop = 3 * 2 * macs_per_pixel(config.width, config.depth) * patch * patch * batch
    return {
        "preset": preset, "G params": gen.count_params(), "D params": disc.count_params(), "patch": patch,
        "batch": batch, "s/it": gan_s, "it/s": 1 / gan_s, "pairs/s": (g_steps + d_steps) * batch / gan_s,
        "warm-up it/s": 1 / warm_s, "warm-up pairs/s": batch / warm_s, "G GFLOP/s (warm-up)": g_flop / warm_s / 1e9,
    }


def main(argv: list[str] | None = None) -> int:
    from deepz_fiji.refocus.precision import PRECISIONS, precision_scope

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", nargs="+", default=list(DEFAULT_SIZES), choices=list(DEFAULT_SIZES))
    parser.add_argument("--patch", type=int, default=None, help="crop side (default per preset)")
    parser.add_argument("--batch", type=int, default=None, help="batch size (default per preset)")
    parser.add_argument("--iterations", type=int, default=2, help="timed iterations per preset")
    parser.add_argument("--g-steps", type=int, default=6)
    parser.add_argument("--d-steps", type=int, default=3)
    parser.add_argument("--precision", nargs="+", default=["float32"], choices=PRECISIONS,
                        help="arithmetic precision(s) to time (bfloat16 needs AVX512-BF16 or AMX)")
    args = parser.parse_args(argv)
    import tensorflow as tf

    device = "GPU" if tf.config.list_physical_devices("GPU") else f"CPU ({os.cpu_count()} cores visible)"
    print(f"TensorFlow {tf.__version__} on {device}; {args.g_steps} G + {args.d_steps} D updates per GAN iteration")
    print(f"float32 matmul 2048²: {matmul_gflops():.1f} GFLOP/s")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for preset in args.presets:
            patch, batch = DEFAULT_SIZES[preset]
            for precision in args.precision:
                with precision_scope(precision):
                    row = bench_preset(preset, args.patch or patch, args.batch or batch, args.iterations,
                                       args.g_steps, args.d_steps, Path(tmp))
                rows.append({"precision": precision, **row})
                print(f"  done {preset} {precision}", flush=True)
    keys = list(rows[0])
    print(" | ".join(keys))
    print(" | ".join("---" for _ in keys))
    for row in rows:
        print(" | ".join(f"{row[k]:.3g}" if isinstance(row[k], float) else str(row[k]) for k in keys))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
