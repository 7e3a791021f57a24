"""A tiny synthetic dataset folder (contract-B format) for tests, benchmarks and smoke runs.

Each pair shows the same random field of Gaussian spots, all in focus at z = 0, blurred as
seen from two planes: the spot width grows with defocus, faster above focus (z > 0) than
below, so the sign of the defocus is visible in the image. Input plane and target plane are
random among ``2·planes + 1`` planes ``z_step_um`` apart; ``dz_um`` = target z − input z.
This is no substitute for real stacks; it is a learnable toy with the real file layout.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

from deepz_fiji.data.dataset import (
    AUGMENTATION_FACTOR,
    AUGMENTATIONS,
    DATASET_FORMAT,
    DATASET_FORMAT_VERSION,
    MANIFEST_NAME,
    SPLITS,
    ShardWriter,
)
from deepz_fiji.io import write_json


def toy_blur_px(z_um: np.ndarray | float) -> np.ndarray:
    """Spot width (σ, px) at defocus ``z_um``: 1 px in focus, +0.8 px/µm above, +0.4 px/µm below."""
    z = np.asarray(z_um, dtype=np.float64)
    return 1.0 + 0.8 * np.maximum(z, 0) + 0.4 * np.maximum(-z, 0)


def _toy_plane(spots: np.ndarray, z_um: float) -> np.ndarray:
    sigma = float(toy_blur_px(z_um))
    blurred = gaussian_filter(spots, sigma, mode="constant")
    return (blurred * (2 * np.pi * sigma**2)).astype(np.float32)  # peak height ~ spot brightness


def write_toy_dataset(folder: str | Path, *, n_train: int = 64, n_val: int = 16, patch: int = 32,
                      planes: int = 4, z_step_um: float = 1.0, pixel_um: float = 0.325,
                      spots: int = 6, shard_size: int = 32, seed: int = 0) -> Path:
    """Write ``manifest.json`` and ``train-*.npz``/``val-*.npz`` shards into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    writers = {split: ShardWriter(folder, split, shard_size) for split in SPLITS}
    for split, count, fov in (("train", n_train, 0), ("val", n_val, 1)):
        for index in range(count):
            field = np.zeros((patch, patch), np.float64)
            ys, xs = rng.integers(2, patch - 2, size=(2, spots))
            field[ys, xs] = rng.uniform(0.3, 1.0, size=spots)
            p_in, p_out = rng.integers(0, 2 * planes + 1, size=2)
            z_in, z_out = (p_in - planes) * z_step_um, (p_out - planes) * z_step_um
            noise = rng.normal(0, 0.01, size=(2, patch, patch)).astype(np.float32)
            writers[split].add(
                inputs=(_toy_plane(field, z_in) + noise[0])[None], targets=(_toy_plane(field, z_out) + noise[1])[None],
                dz_um=np.array([z_out - z_in], np.float32), fov=np.array([fov], np.int32),
                input_plane=np.array([p_in], np.int32), target_plane=np.array([p_out], np.int32),
                region=np.array([index], np.int32))
    shards = {split: writer.close() for split, writer in writers.items()}
    offsets = sorted({o for w in writers.values() for o in w.offsets})
    manifest = {
        "format": DATASET_FORMAT,
        "format_version": DATASET_FORMAT_VERSION,
        "description": "toy dataset: Gaussian spots blurred by defocus (deepz_fiji.train.toy)",
        "patch": patch,
        "planes": planes,
        "z_step_um": z_step_um,
        "pixel_um": pixel_um,
        "counts": {split: writers[split].count for split in SPLITS},
        "splits": {
            split: {"fovs": [f"toy-{split}"], "pairs": writers[split].count, "regions": writers[split].count,
                    "shards": [p.name for p in shards[split]],
                    "augmentation_factor": AUGMENTATION_FACTOR if split == "train" else 1}
            for split in SPLITS
        },
        "augmentation": {"train": AUGMENTATION_FACTOR, "val": 1, "transforms": list(AUGMENTATIONS),
                         "pre_applied": False},
        "dz_range_um": [z_step_um * offsets[0], z_step_um * offsets[-1]] if offsets else [0.0, 0.0],
        "normalization": {"method": "toy (spots of brightness 0.3-1 on a zero background)"},
        "source_files": [],
    }
    write_json(folder / MANIFEST_NAME, manifest)
    return folder
