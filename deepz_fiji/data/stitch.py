"""Grid stitching in scikit-image, after Fiji's Grid/Collection stitching (row-by-row grid).

As the plugin does: nominal tile positions from the grid and overlap; a phase-correlation
shift for every pair of neighbouring tiles, computed on their overlap strips and checked by
the normalised cross-correlation of the overlapping pixels; a global least-squares fit of all
tile positions to the accepted pairwise shifts (pairs below ``min_correlation`` are dropped,
unconnected tiles keep their nominal place); linear blending of the overlaps.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from deepz_fiji.errors import DeepZError

log = logging.getLogger(__name__)


def stitch_grid(
    tiles: Sequence[np.ndarray],
    grid_shape: tuple[int, int],
    overlap_fraction: float,
    *,
    min_correlation: float = 0.3,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Stitch ``rows × cols`` tiles given row by row (left to right, top to bottom).

    Tiles are YX or ZYX arrays of one shape; ZYX tiles are registered on their maximum
    projection and every plane is placed the same way. Returns (mosaic float32, info) with
    ``positions_px`` ([y, x] of each tile's top-left corner in the mosaic) and the pairwise
    shifts found.
    """
    rows, cols = (int(v) for v in grid_shape)
    arrays = [np.asarray(t, dtype=np.float32) for t in tiles]
    _check_tiles(arrays, rows, cols, overlap_fraction)
    h, w = arrays[0].shape[-2:]
    step = np.array([h - round(h * overlap_fraction), w - round(w * overlap_fraction)], dtype=float)
    flat = [t if t.ndim == 2 else t.max(axis=0) for t in arrays]
    nominal = np.array([[r * step[0], c * step[1]] for r in range(rows) for c in range(cols)])
    pairs = []
    for r in range(rows):
        for c in range(cols):
            a = r * cols + c
            if c + 1 < cols:
                pairs.append(_pair_shift(flat, a, a + 1, nominal, axis=1, overlap_fraction=overlap_fraction))
            if r + 1 < rows:
                pairs.append(_pair_shift(flat, a, a + cols, nominal, axis=0, overlap_fraction=overlap_fraction))
    for pair in pairs:
        pair["used"] = bool(pair["correlation"] >= min_correlation)
    positions = _solve_positions(nominal, pairs)
    positions -= positions.min(axis=0)
    mosaic = _blend(arrays, np.round(positions).astype(int))
    info = {
        "implementation": "python:skimage-phase-correlation",
        "grid_shape": [rows, cols],
        "overlap_fraction": float(overlap_fraction),
        "order": "row-by-row",
        "positions_px": positions.round(3).tolist(),
        "pairs": pairs,
        "blending": "linear",
        "min_correlation": float(min_correlation),
    }
    return mosaic, info


def _check_tiles(arrays: list[np.ndarray], rows: int, cols: int, overlap: float) -> None:
    if rows < 1 or cols < 1 or len(arrays) != rows * cols:
        raise DeepZError(f"a {rows}×{cols} grid needs {rows * cols} tiles, got {len(arrays)}")
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1 or arrays[0].ndim not in (2, 3):
        raise DeepZError(f"all tiles must be YX or ZYX arrays of one shape, got shapes {sorted(shapes)}")
    if not 0 < overlap < 0.5:
        raise DeepZError(f"the tile overlap fraction must be between 0 and 0.5, got {overlap}")
    h, w = arrays[0].shape[-2:]
    if min(round(h * overlap), round(w * overlap)) < 4:
        raise DeepZError(f"the overlap ({overlap:.0%} of {h}×{w} px tiles) is under 4 px; too small to register")


def _pair_shift(
    flat: list[np.ndarray], a: int, b: int, nominal: np.ndarray, *, axis: int, overlap_fraction: float
) -> dict[str, Any]:
    """Offset of tile ``b`` relative to tile ``a`` from the phase correlation of their overlap.

    Like Fiji's "check peaks": the candidates (phase and plain cross-correlation peaks and
    their periodic aliases) are scored by the normalised cross-correlation of the pixels the
    two tiles share; the best one is refined by a local search on that score.
    """
    from skimage.registration import phase_cross_correlation

    size = flat[a].shape[axis]
    width = round(size * overlap_fraction)
    strip_a = np.take(flat[a], np.arange(size - width, size), axis=axis)
    strip_b = np.take(flat[b], np.arange(width), axis=axis)
    base = nominal[b] - nominal[a]
    period = np.array(strip_a.shape, dtype=float)
    candidates = []
    for normalization in ("phase", None):
        with warnings.catch_warnings():  # blank strips: skimage warns, the NCC check rejects them
            warnings.simplefilter("ignore", UserWarning)
            shift, _, _ = phase_cross_correlation(
                strip_a, strip_b, upsample_factor=10, normalization=normalization
            )
        candidates += [base + shift + period * (ky, kx) for ky in (-1, 0, 1) for kx in (-1, 0, 1)]
    score, offset = max(((_overlap_ncc(flat[a], flat[b], c), np.round(c)) for c in candidates),
                        key=lambda s: s[0])
    while True:  # hill-climb the overlap correlation to the nearest maximum
        around = [offset + (dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]
        best_score, best = max(((_overlap_ncc(flat[a], flat[b], c), c) for c in around),
                               key=lambda s: s[0])
        if best_score <= score + 1e-12:
            break
        score, offset = best_score, best
    return {
        "tiles": [a, b],
        "offset_px": [float(v) for v in offset],
        "shift_from_nominal_px": [float(v) for v in offset - base],
        "correlation": float(score),
    }


def _overlap_ncc(a: np.ndarray, b: np.ndarray, offset: np.ndarray, min_pixels: int = 64) -> float:
    """Normalised cross-correlation of the pixels two tiles share when ``b`` sits at ``offset``."""
    dy, dx = (int(round(v)) for v in offset)
    h, w = a.shape
    y0, y1 = max(0, dy), min(h, dy + h)
    x0, x1 = max(0, dx), min(w, dx + w)
    if (y1 - y0) * (x1 - x0) < min_pixels:
        return -1.0
    pa = a[y0:y1, x0:x1].astype(np.float64).ravel()
    pb = b[y0 - dy : y1 - dy, x0 - dx : x1 - dx].astype(np.float64).ravel()
    pa -= pa.mean()
    pb -= pb.mean()
    denom = np.sqrt((pa * pa).sum() * (pb * pb).sum())
    return float((pa * pb).sum() / denom) if denom > 0 else -1.0


def _solve_positions(nominal: np.ndarray, pairs: list[dict[str, Any]]) -> np.ndarray:
    """Least-squares tile positions from accepted pairwise offsets, weakly tied to the grid."""
    n = len(nominal)
    rows, rhs = [], []
    for pair in pairs:
        if not pair["used"]:
            continue
        a, b = pair["tiles"]
        row = np.zeros(n)
        row[a], row[b] = -1.0, 1.0
        rows.append(row)
        rhs.append(pair["offset_px"])
    prior = 1e-3  # keeps tiles without accepted neighbours at their nominal place
    for i in range(n):
        row = np.zeros(n)
        row[i] = prior
        rows.append(row)
        rhs.append(prior * nominal[i])
    solution, *_ = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)
    return solution


def _blend(arrays: list[np.ndarray], positions: np.ndarray) -> np.ndarray:
    """Linear blending: each tile weighted by its distance to its own border."""
    h, w = arrays[0].shape[-2:]
    lead = arrays[0].shape[:-2]
    size = positions.max(axis=0) + [h, w]
    total = np.zeros((*lead, *size), dtype=np.float64)
    weights = np.zeros(size, dtype=np.float64)
    ramp_y = np.minimum(np.arange(1, h + 1), np.arange(h, 0, -1)).astype(np.float64)
    ramp_x = np.minimum(np.arange(1, w + 1), np.arange(w, 0, -1)).astype(np.float64)
    weight = np.outer(ramp_y, ramp_x)
    for tile, (y, x) in zip(arrays, positions, strict=True):
        total[..., y : y + h, x : x + w] += tile * weight
        weights[y : y + h, x : x + w] += weight
    return (total / np.maximum(weights, 1e-12)).astype(np.float32)
