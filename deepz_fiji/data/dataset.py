"""Dataset folders: shard writing, reading, and the training-only 5× augmentation.

A dataset folder holds ``manifest.json`` and shards ``train-00000.npz``, ``val-00000.npz`` …
Each shard has ``inputs`` and ``targets`` (N, P, P) float32 (normalised), ``dz_um`` (N,)
float32 (target z − input z), ``fov`` (N,) int32 (index into ``manifest["fovs"]``) and, for
checks, ``input_plane``, ``target_plane`` and ``region`` (N,) int32. Shards are not
augmented; training applies :func:`augment` with k = 0…4, validation never does.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepz_fiji.errors import DeepZError
from deepz_fiji.io import atomic_path

log = logging.getLogger(__name__)

DATASET_FORMAT = "deepz-fiji-dataset"
DATASET_FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
SPLITS = ("train", "val")
SHARD_KEYS = ("inputs", "targets", "dz_um", "fov", "input_plane", "target_plane", "region")
_DTYPES = {"inputs": np.float32, "targets": np.float32, "dz_um": np.float32, "fov": np.int32,
           "input_plane": np.int32, "target_plane": np.int32, "region": np.int32}
#: The fixed flip/rotation transforms of :func:`augment`, in order of ``k``: the paper's five
#: (the dataset's ``augmentation_factor``), then the three other symmetries of the square.
AUGMENTATIONS = ("identity", "rot90", "rot180", "rot270", "flip_lr")
AUGMENTATION_FACTOR = len(AUGMENTATIONS)
#: All 8 symmetries of the square (the dihedral group D4): the paper's five plus the mirrors of
#: the three rotations (``k`` 5–7: left–right flip after k − 4 quarter turns).
SYMMETRIES_OF_THE_SQUARE = 8


def augment(array: np.ndarray, k: int, axes: tuple[int, int] = (-2, -1)) -> np.ndarray:
    """Apply transform ``k`` (0 identity, 1–3 rotation by k·90°, 4 left-right flip, 5–7 left-right
    flip after rotation by (k − 4)·90°) to ``axes``.

    Apply the same ``k`` to an input and its target; a uniform DPM is unchanged by all eight.
    """
    if k not in range(SYMMETRIES_OF_THE_SQUARE):
        raise DeepZError(f"augmentation index must be 0..{SYMMETRIES_OF_THE_SQUARE - 1}, got {k}")
    array = np.asarray(array)
    if k == 0:
        return array
    turns, mirror = (k, False) if k < 4 else (k - 4, True)
    out = np.rot90(array, turns, axes=axes) if turns else array
    return np.ascontiguousarray(np.flip(out, axis=axes[1]) if mirror else out)


def shard_name(split: str, index: int) -> str:
    """File name of shard ``index`` of ``split``: ``train-00000.npz``."""
    return f"{split}-{index:05d}.npz"


class ShardWriter:
    """Buffers pairs of one split and writes them as fixed-size shards (atomically)."""

    def __init__(self, folder: Path, split: str, shard_size: int) -> None:
        if shard_size < 1:
            raise DeepZError(f"the shard size must be at least 1 pair, got {shard_size}")
        self.folder = Path(folder)
        self.split = split
        self.shard_size = int(shard_size)
        self.paths: list[Path] = []
        self.count = 0
        self.offsets: dict[int, int] = {}
        self._buffer: dict[str, np.ndarray] = {}
        self._filled = 0

    def add(self, **arrays: np.ndarray) -> None:
        """Append pairs (every key of :data:`SHARD_KEYS`, equal lengths); writes full shards."""
        if set(arrays) != set(SHARD_KEYS):
            raise ValueError(f"ShardWriter.add needs exactly {SHARD_KEYS}, got {sorted(arrays)}")
        n = len(arrays["dz_um"])
        if not self._buffer:
            self._buffer = {key: np.empty((self.shard_size, *np.shape(arrays[key])[1:]), dtype=_DTYPES[key])
                            for key in SHARD_KEYS}
        offsets, counts = np.unique(arrays["target_plane"] - arrays["input_plane"], return_counts=True)
        for offset, count in zip(offsets.tolist(), counts.tolist(), strict=True):
            self.offsets[offset] = self.offsets.get(offset, 0) + count
        self.count += n
        start = 0
        while start < n:
            take = min(n - start, self.shard_size - self._filled)
            for key in SHARD_KEYS:
                self._buffer[key][self._filled : self._filled + take] = arrays[key][start : start + take]
            self._filled += take
            start += take
            if self._filled == self.shard_size:
                self._write()

    def close(self) -> list[Path]:
        """Write what is left; returns the shard paths in order."""
        if self._filled:
            self._write()
        return self.paths

    def _write(self) -> None:
        path = self.folder / shard_name(self.split, len(self.paths))
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **{key: value[: self._filled] for key, value in self._buffer.items()})
        log.debug("wrote %s (%d pairs)", path, self._filled)
        self.paths.append(path)
        self._filled = 0


@dataclass
class Dataset:
    """A prepared dataset folder: its manifest and its shards."""

    path: Path
    manifest: dict[str, Any]

    def shards(self, split: str) -> list[Path]:
        """Shard paths of ``split`` ('train' or 'val'), in order."""
        return [self.path / name for name in self._split(split)["shards"]]

    def count(self, split: str) -> int:
        """Number of (un-augmented) pairs in ``split``."""
        return int(self._split(split)["pairs"])

    def augmentation_factor(self, split: str) -> int:
        """5 for 'train' (apply :func:`augment` k = 0…4), 1 for 'val'."""
        return int(self._split(split)["augmentation_factor"])

    def load_split(self, split: str) -> dict[str, np.ndarray]:
        """All pairs of ``split`` in memory (for small datasets): arrays named as in the shards."""
        parts: dict[str, list[np.ndarray]] = {key: [] for key in SHARD_KEYS}
        for path in self.shards(split):
            with np.load(path) as shard:
                missing = [key for key in SHARD_KEYS if key not in shard.files]
                if missing:
                    raise DeepZError(f"shard {path.name} lacks {', '.join(missing)}; re-run deepz prepare")
                for key in SHARD_KEYS:
                    parts[key].append(shard[key])
        if not parts["dz_um"]:
            patch = int(self.manifest["patch"])
            empty = {key: np.zeros(0, dtype=np.int32) for key in SHARD_KEYS}
            empty.update(inputs=np.zeros((0, patch, patch), np.float32),
                         targets=np.zeros((0, patch, patch), np.float32), dz_um=np.zeros(0, np.float32))
            return empty
        return {key: np.concatenate(value) for key, value in parts.items()}

    def iter_pairs(
        self, split: str, *, shuffle: bool = False, seed: int = 0
    ) -> Iterator[tuple[np.ndarray, np.ndarray, float]]:
        """Stream ``(input, target, dz_um)`` shard by shard (memory: one shard).

        Training pairs come out under all five :func:`augment` transforms (the 5× of the
        paper), validation pairs once, untouched. ``shuffle`` permutes shards and pairs.
        """
        rng = np.random.default_rng(seed)
        factor = self.augmentation_factor(split)
        paths = self.shards(split)
        for s in rng.permutation(len(paths)) if shuffle else range(len(paths)):
            with np.load(paths[s]) as shard:
                inputs, targets, dz = shard["inputs"], shard["targets"], shard["dz_um"]
            items = [(n, k) for n in range(len(dz)) for k in range(factor)]
            for i in rng.permutation(len(items)) if shuffle else range(len(items)):
                n, k = items[i]
                yield augment(inputs[n], k), augment(targets[n], k), float(dz[n])

    def _split(self, split: str) -> dict[str, Any]:
        if split not in SPLITS:
            raise DeepZError(f"unknown split {split!r}; a dataset has {', '.join(SPLITS)}")
        return self.manifest["splits"][split]


def read_dataset(path: str | Path) -> Dataset:
    """Open a dataset folder written by ``deepz prepare`` (the folder or its manifest.json)."""
    path = Path(path)
    folder = path.parent if path.name == MANIFEST_NAME else path
    manifest_path = folder / MANIFEST_NAME
    if not manifest_path.is_file():
        raise DeepZError(
            f"{folder} has no {MANIFEST_NAME}: it is not a (complete) dataset; create it with deepz prepare"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DeepZError(f"cannot read {manifest_path} ({exc}); re-run deepz prepare") from exc
    if manifest.get("format") != DATASET_FORMAT or "splits" not in manifest:
        raise DeepZError(f"{manifest_path} is not a deepz-fiji dataset manifest; re-run deepz prepare")
    dataset = Dataset(path=folder, manifest=manifest)
    missing = [p.name for split in SPLITS for p in dataset.shards(split) if not p.is_file()]
    if missing:
        raise DeepZError(f"dataset {folder} is missing shard(s) {', '.join(missing[:3])}; re-run deepz prepare")
    return dataset
