"""Tiny synthetic z-stacks for the data-pipeline tests (and a check that they behave).

``blob_stack`` draws Gaussian blobs whose width grows with the distance from their focal
plane while their total intensity stays constant, like defocused fluorescent beads.
"""

from __future__ import annotations

import numpy as np


def blob_stack(
    shape: tuple[int, int, int] = (16, 64, 64),
    *,
    n_blobs: int = 12,
    focus=None,
    sigma0: float = 1.2,
    growth: float = 0.6,
    background: float = 100.0,
    amplitude: float = 1000.0,
    noise: float = 2.0,
    seed: int = 0,
    margin: int = 4,
) -> np.ndarray:
    """A float32 ZYX stack; ``focus`` is a plane index, or a function (y, x) -> plane index."""
    rng = np.random.default_rng(seed)
    nz, ny, nx = shape
    ys = rng.uniform(margin, ny - margin, n_blobs)
    xs = rng.uniform(margin, nx - margin, n_blobs)
    amps = amplitude * rng.uniform(0.5, 1.0, n_blobs)
    if focus is None:
        focus = (nz - 1) / 2
    zf = np.array([focus(y, x) for y, x in zip(ys, xs, strict=True)]) if callable(focus) else np.full(n_blobs, focus)
    yy, xx = np.mgrid[0:ny, 0:nx]
    stack = np.full(shape, background, dtype=np.float64)
    for z in range(nz):
        for y, x, a, f in zip(ys, xs, amps, zf, strict=True):
            sigma2 = sigma0**2 + (growth * (z - f)) ** 2
            stack[z] += a * sigma0**2 / sigma2 * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * sigma2))
    stack += noise * rng.standard_normal(shape)
    return stack.astype(np.float32)


def test_blob_stack_is_sharpest_at_its_focal_plane():
    stack = blob_stack((11, 48, 48), focus=3, noise=0.0)
    std = stack.reshape(11, -1).std(axis=1)
    assert int(np.argmax(std)) == 3
    # total intensity is (nearly) conserved through focus, as for defocused fluorescence
    sums = stack.reshape(11, -1).sum(axis=1)
    assert sums.max() / sums.min() < 1.05
