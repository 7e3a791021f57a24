"""Extended depth of field (EDF) in numpy, after Fiji's EDF plugin in "easy mode".

Like the BIG-EPFL plugin (Forster et al. 2004): a per-pixel focus measure on every plane
(local variance, or the energy of stationary-wavelet detail coefficients), the plane of best
focus per pixel as a height map, the height map regularised (median, then Gaussian — the
plugin's "topology" smoothing), and the EDF image read off the stack along the smoothed
height map (linear interpolation between the two nearest planes, so there are no seams).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from deepz_fiji.data._arrays import as_stack
from deepz_fiji.errors import DeepZError

log = logging.getLogger(__name__)

FOCUS_MEASURES = ("variance", "wavelet")
_B3 = np.array([1, 4, 6, 4, 1], dtype=np.float64) / 16.0


def focus_measure(plane: np.ndarray, method: str = "variance", radius: int = 2) -> np.ndarray:
    """Per-pixel sharpness of one YX plane in a (2·radius+1)² window (higher = sharper)."""
    if method not in FOCUS_MEASURES:
        raise DeepZError(f"unknown EDF focus measure {method!r}; use one of {', '.join(FOCUS_MEASURES)}")
    if radius < 1:
        raise DeepZError(f"the EDF window radius must be at least 1 pixel, got {radius}")
    x = np.asarray(plane, dtype=np.float64)
    size = 2 * int(radius) + 1
    if method == "variance":
        mean = ndi.uniform_filter(x, size, mode="reflect")
        return np.maximum(ndi.uniform_filter(x * x, size, mode="reflect") - mean * mean, 0.0)
    # stationary ("à trous") B3-spline wavelet: energy of the two finest detail bands
    energy = np.zeros_like(x)
    smooth = x
    for level in range(2):
        kernel = np.zeros(4 * 2**level + 1)
        kernel[:: 2**level] = _B3
        coarser = ndi.convolve1d(ndi.convolve1d(smooth, kernel, axis=0, mode="reflect"), kernel, axis=1, mode="reflect")
        energy += np.abs(smooth - coarser)
        smooth = coarser
    return ndi.uniform_filter(energy, size, mode="reflect")


def focus_height_map(
    stack: np.ndarray, *, method: str = "variance", radius: int = 2, smoothing: float = 2.0
) -> np.ndarray:
    """Regularised plane-of-best-focus map (float, in plane units) of a ZYX stack.

    Streams plane by plane: memory stays at a few YX images whatever the stack depth.
    """
    stack = as_stack(stack)
    best = np.full(stack.shape[1:], -np.inf)
    index = np.zeros(stack.shape[1:], dtype=np.float64)
    for z in range(stack.shape[0]):
        measure = focus_measure(stack[z], method, radius)
        better = measure > best
        best[better] = measure[better]
        index[better] = z
    if smoothing > 0:
        index = ndi.median_filter(index, size=2 * int(round(smoothing)) + 1, mode="reflect")
        index = ndi.gaussian_filter(index, smoothing, mode="reflect")
    return np.clip(index, 0, stack.shape[0] - 1)


def extended_depth_of_field(
    stack: np.ndarray, *, method: str = "variance", radius: int = 2, smoothing: float = 2.0
) -> tuple[np.ndarray, dict[str, Any]]:
    """All-in-focus YX image of a ZYX stack; returns (edf float32, info).

    ``method``: focus measure (``'variance'`` or ``'wavelet'``); ``radius``: its window
    half-width in pixels; ``smoothing``: height-map regularisation in pixels (0 = none).
    """
    stack = as_stack(stack)
    height = focus_height_map(stack, method=method, radius=radius, smoothing=smoothing)
    lower = np.floor(height).astype(np.intp)
    upper = np.minimum(lower + 1, stack.shape[0] - 1)
    weight = (height - lower).astype(np.float32)
    below = np.take_along_axis(stack, lower[None], axis=0)[0].astype(np.float32)
    above = np.take_along_axis(stack, upper[None], axis=0)[0].astype(np.float32)
    edf = (1.0 - weight) * below + weight * above
    info = {
        "implementation": f"python:numpy-edf-{method}",
        "focus_measure": method,
        "radius_px": int(radius),
        "smoothing_px": float(smoothing),
        "height_range": [float(height.min()), float(height.max())],
        "height_median": float(np.median(height)),
    }
    return edf.astype(np.float32, copy=False), info
