"""Input/target plane pairs per training region (SPEC §4.5)."""

from __future__ import annotations

import numpy as np

from deepz_fiji.errors import DeepZError


def middle_plane(crop: np.ndarray) -> int:
    """Index of the plane with the highest standard deviation of a ZYX crop (the focal plane)."""
    crop = np.asarray(crop)
    if crop.ndim != 3:
        raise DeepZError(f"middle_plane needs a ZYX crop, got shape {crop.shape}")
    return int(np.argmax(crop.reshape(crop.shape[0], -1).std(axis=1)))


def kept_planes(middle: int, n_planes: int, planes: int) -> np.ndarray:
    """Plane indices within ±``planes`` of ``middle`` that exist in a stack of ``n_planes``."""
    if planes < 1:
        raise DeepZError(f"the number of planes kept on each side must be at least 1, got {planes}")
    return np.arange(max(0, middle - planes), min(n_planes, middle + planes + 1))


def sample_pairs(
    kept: np.ndarray, targets_per_input: int, rng: np.random.Generator, *, max_offset: int | None = None,
    focus: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Every kept plane as input, each with ``targets_per_input`` distinct random kept targets.

    Returns (input plane indices, target plane indices), both int32 of equal length, grouped by
    input plane; a target may equal its input (Δz = 0). ``max_offset`` limits targets to at most
    that many planes from their input. Where fewer candidates exist, all of them are used.
    ``focus``: a plane (the region's focal plane) that every input within reach is paired with too,
    unless drawn already (among random targets only ~1 pair in 2·planes refocuses into focus).
    """
    if targets_per_input < 1:
        raise DeepZError(f"the number of targets per input must be at least 1, got {targets_per_input}")
    kept = np.asarray(kept)
    inputs, targets = [], []
    for plane in kept:
        candidates = kept if max_offset is None else kept[np.abs(kept - plane) <= max_offset]
        k = min(int(targets_per_input), len(candidates))
        drawn = rng.choice(candidates, size=k, replace=False)
        if focus is not None and focus in candidates and focus not in drawn:
            drawn = np.append(drawn, focus)
        inputs.append(np.full(len(drawn), plane))
        targets.append(drawn)
    if not inputs:
        return kept.astype(np.int32), kept.astype(np.int32)
    return np.concatenate(inputs).astype(np.int32), np.concatenate(targets).astype(np.int32)
