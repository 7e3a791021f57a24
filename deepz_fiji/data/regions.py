"""Signal mask and the greedy cover of it with square training regions (SPEC §4.4)."""

from __future__ import annotations

import logging

import numpy as np

from deepz_fiji.errors import DeepZError

log = logging.getLogger(__name__)

#: Fixed thresholds of the signal mask, in normalised EDF units (background 0, top 1 % of the
#: foreground above 1): seeds above ``HIGH``, grown geodesically inside pixels above ``LOW``.
MASK_LOW = 0.05
MASK_HIGH = 0.25


def signal_mask(edf_normalized: np.ndarray, *, low: float = MASK_LOW, high: float = MASK_HIGH) -> np.ndarray:
    """Boolean mask of the fluorescent sample in a normalised EDF image.

    Geodesic reconstruction by dilation (hysteresis): pixels above ``high`` seed the mask, which
    grows into connected pixels above ``low``; isolated noise above ``low`` is dropped.
    """
    from skimage.morphology import reconstruction

    if not low < high:
        raise DeepZError(f"the mask thresholds need low < high, got low={low}, high={high}")
    edf = np.asarray(edf_normalized, dtype=np.float32)
    if edf.ndim != 2:
        raise DeepZError(f"the signal mask needs a 2D EDF image, got shape {edf.shape}")
    allowed = (edf > low).astype(np.uint8)
    seeds = ((edf > high) & (allowed > 0)).astype(np.uint8)
    if not seeds.any():
        return np.zeros(edf.shape, dtype=bool)
    return reconstruction(seeds, allowed, method="dilation") > 0


def cover_mask(
    mask: np.ndarray, patch: int, *, overlap: float = 0.05, step: int | None = None
) -> list[tuple[int, int]]:
    """Top-left corners ``(y, x)`` of ``patch × patch`` regions that together cover ``mask``.

    Two greedy covers are built and the one with fewer regions is returned (the lattice one on
    a tie); regions always lie inside the image and every mask pixel is covered:

    - lattice: regions on a grid of stride ``patch·(1 − overlap)`` (neighbours share
      ``overlap`` of their width), the grid origin chosen to touch the fewest regions, then
      regions whose mask pixels are all covered by others dropped, smallest first;
    - free: repeatedly the region (corners every ``step`` px, default patch/16) covering the
      most uncovered mask pixels while sharing at most ``overlap`` of its area with each region
      already taken; the overlap limit is dropped for what cannot be covered otherwise.

    The lattice wins for extended samples, the free cover for scattered objects.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise DeepZError(f"the region cover needs a 2D mask, got shape {mask.shape}")
    patch = int(patch)
    h, w = mask.shape
    if patch < 1 or patch > h or patch > w:
        raise DeepZError(f"the patch size {patch} px does not fit the {h}×{w} px field of view; use a smaller --patch")
    if not 0 <= overlap < 1:
        raise DeepZError(f"the region overlap must be in [0, 1), got {overlap}")
    if not mask.any():
        return []
    integral = _integral(mask)
    lattice = _lattice_cover(mask, integral, patch, overlap)
    free = _free_cover(mask, patch, overlap, max(1, patch // 16) if step is None else int(step))
    chosen = free if len(free) < len(lattice) else lattice
    log.debug("covered %d mask pixels with %d regions of %d px (lattice %d, free %d)",
              int(mask.sum()), len(chosen), patch, len(lattice), len(free))
    return sorted(chosen)


def _lattice_starts(origin: int, size: int, patch: int, step: int) -> np.ndarray:
    """Region starts ``origin + k·step`` covering [0, size), shifted inside the image."""
    starts = np.arange(origin - step, size, step)
    return np.unique(np.clip(starts[starts + patch > 0], 0, size - patch))


def _lattice_cover(mask: np.ndarray, integral: np.ndarray, patch: int, overlap: float) -> list[tuple[int, int]]:
    h, w = mask.shape
    step = max(1, int(round(patch * (1 - overlap))))
    origins = np.unique(np.linspace(0, step, 16, endpoint=False).astype(int))
    best: tuple[int, np.ndarray, np.ndarray] | None = None
    for oy in origins:
        ys = _lattice_starts(int(oy), h, patch, step)
        for ox in origins:
            xs = _lattice_starts(int(ox), w, patch, step)
            touched = int(np.count_nonzero(_box_sums(integral, ys, xs, patch)))
            if best is None or touched < best[0]:
                best = (touched, ys, xs)
    assert best is not None
    _, ys, xs = best
    sums = _box_sums(integral, ys, xs, patch)
    cells = sorted((int(sums[i, j]), int(ys[i]), int(xs[j])) for i, j in zip(*np.nonzero(sums), strict=True))
    coverage = np.zeros(mask.shape, dtype=np.int32)
    for _, y, x in cells:
        coverage[y : y + patch, x : x + patch] += 1
    kept = []
    for _, y, x in cells:  # drop redundant regions, the emptiest first
        window = coverage[y : y + patch, x : x + patch]
        if np.all(window[mask[y : y + patch, x : x + patch]] >= 2):
            window -= 1
        else:
            kept.append((y, x))
    return kept


def _free_cover(mask: np.ndarray, patch: int, overlap: float, step: int) -> list[tuple[int, int]]:
    h, w = mask.shape
    ys = np.unique(np.r_[np.arange(0, h - patch + 1, step), h - patch])
    xs = np.unique(np.r_[np.arange(0, w - patch + 1, step), w - patch])
    uncovered = mask.copy()
    gain = _box_sums(_integral(uncovered), ys, xs, patch)  # uncovered mask pixels per candidate
    shared = np.zeros(gain.shape)  # largest area shared with a chosen region
    chosen: list[tuple[int, int]] = []
    limit = overlap * patch * patch
    while gain.max() > 0:
        allowed = np.where(shared <= limit + 1e-9, gain, 0)
        pick = allowed if allowed.max() > 0 else gain
        i, j = np.unravel_index(int(np.argmax(pick)), pick.shape)
        y, x = int(ys[i]), int(xs[j])
        chosen.append((y, x))
        # update only the candidates that intersect the new region
        near_y = np.nonzero(np.abs(ys - y) < patch)[0]
        near_x = np.nonzero(np.abs(xs - x) < patch)[0]
        y0, y1 = np.clip(ys[near_y] - y, 0, patch), np.clip(ys[near_y] + patch - y, 0, patch)
        x0, x1 = np.clip(xs[near_x] - x, 0, patch), np.clip(xs[near_x] + patch - x, 0, patch)
        newly = _integral(uncovered[y : y + patch, x : x + patch])
        cells = np.ix_(near_y, near_x)
        gain[cells] -= (newly[y1[:, None], x1[None, :]] - newly[y0[:, None], x1[None, :]]
                        - newly[y1[:, None], x0[None, :]] + newly[y0[:, None], x0[None, :]])
        shared[cells] = np.maximum(shared[cells], (y1 - y0)[:, None] * (x1 - x0)[None, :])
        uncovered[y : y + patch, x : x + patch] = False
    return chosen


def _integral(image: np.ndarray) -> np.ndarray:
    integral = np.zeros((image.shape[0] + 1, image.shape[1] + 1), dtype=np.int64)
    integral[1:, 1:] = np.cumsum(np.cumsum(image, axis=0, dtype=np.int64), axis=1)
    return integral


def _box_sums(integral: np.ndarray, ys: np.ndarray, xs: np.ndarray, size: int) -> np.ndarray:
    """Sums in the ``size × size`` boxes at every (ys[i], xs[j]), from an :func:`_integral` image."""
    y0, x0 = ys[:, None], xs[None, :]
    return integral[y0 + size, x0 + size] - integral[y0, x0 + size] - integral[y0 + size, x0] + integral[y0, x0]


def mean_overlap(regions: list[tuple[int, int]], patch: int) -> float:
    """Mean, over regions, of the largest fraction of a region's area shared with another one."""
    if len(regions) < 2:
        return 0.0
    ys = np.array([r[0] for r in regions])
    xs = np.array([r[1] for r in regions])
    over = np.clip(patch - np.abs(ys[:, None] - ys[None, :]), 0, None) * np.clip(
        patch - np.abs(xs[:, None] - xs[None, :]), 0, None
    )
    np.fill_diagonal(over, 0)
    return float(over.max(axis=1).mean() / patch**2)
