"""Image-quality metrics of a refocused image against its ground truth (SPEC §5, numpy only).

The five criteria of the paper (MSE, RMSE, MAE, Pearson correlation, SSIM) plus PSNR. Images are
compared in the units they come in (no normalisation): give both in the same intensity units.

Choices, stated once:

- **SSIM** is :func:`skimage.metrics.structural_similarity` with the settings of Wang et al.
  (2004), the paper's reference 55, and of MATLAB's ``ssim``: an 11×11 Gaussian window with
  σ = 1.5 px and population (not sample) covariances, so images need at least 11×11 pixels.
  ``data_range`` (which sets the constants C1, C2) is the **data range of the ground truth**
  (max − min), because a prediction with outliers must not change the scale it is judged on.
- **PSNR** uses the same data range: 10·log10(range² / MSE); ``inf`` for identical images.
- A constant ground truth has no range: the joint range of both images is used instead, and
  1.0 when both are the same constant. Pearson correlation of a constant image is undefined and
  returned as ``nan``.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from deepz_fiji.errors import DeepZError
from deepz_fiji.io import check_finite

log = logging.getLogger(__name__)

#: Metric names in the order :func:`compare` returns them.
METRICS = ("mse", "rmse", "mae", "pearson", "ssim", "psnr")

#: SSIM window of Wang et al. 2004: Gaussian, σ = 1.5 px, truncated at 3.5 σ -> 11×11.
SSIM_SIGMA = 1.5
SSIM_MIN_SIDE = 11


def _pair(pred: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both images as float64 after checking shapes and finiteness."""
    pred = np.asarray(pred)
    truth = np.asarray(truth)
    if pred.shape != truth.shape:
        raise DeepZError(
            f"prediction shape {pred.shape} does not match ground-truth shape {truth.shape}; "
            "compare images of the same size (crop or refocus to the same field and planes)"
        )
    if pred.size == 0:
        raise DeepZError("cannot compare empty images; give images with at least one pixel")
    check_finite(pred, "prediction")
    check_finite(truth, "ground truth")
    return pred.astype(np.float64, copy=False), truth.astype(np.float64, copy=False)


def truth_data_range(pred: np.ndarray, truth: np.ndarray) -> float:
    """Data range used by SSIM and PSNR: max − min of the ground truth (see module docstring)."""
    pred, truth = _pair(pred, truth)
    rng = float(truth.max() - truth.min())
    if rng == 0.0:
        rng = float(max(pred.max(), truth.max()) - min(pred.min(), truth.min()))
    return rng if rng > 0.0 else 1.0


def mse(pred: np.ndarray, truth: np.ndarray) -> float:
    """Mean squared error."""
    pred, truth = _pair(pred, truth)
    return float(np.mean((pred - truth) ** 2))


def rmse(pred: np.ndarray, truth: np.ndarray) -> float:
    """Root mean squared error (same units as the images)."""
    return math.sqrt(mse(pred, truth))


def mae(pred: np.ndarray, truth: np.ndarray) -> float:
    """Mean absolute error."""
    pred, truth = _pair(pred, truth)
    return float(np.mean(np.abs(pred - truth)))


def pearson(pred: np.ndarray, truth: np.ndarray) -> float:
    """Pearson correlation coefficient over all pixels; ``nan`` when either image is constant."""
    pred, truth = _pair(pred, truth)
    a = pred - pred.mean()
    b = truth - truth.mean()
    denom = math.sqrt(float(np.sum(a * a)) * float(np.sum(b * b)))
    if denom == 0.0:
        return float("nan")
    return float(np.clip(np.sum(a * b) / denom, -1.0, 1.0))


def ssim(pred: np.ndarray, truth: np.ndarray, *, data_range: float | None = None) -> float:
    """Mean SSIM (Gaussian 11×11 window, σ 1.5); ``data_range`` defaults to :func:`truth_data_range`.

    2D images give the usual SSIM; for a 3D array the window is 3D (use :func:`per_plane` for
    plane-by-plane values).
    """
    from skimage.metrics import structural_similarity

    pred, truth = _pair(pred, truth)
    if min(truth.shape) < SSIM_MIN_SIDE:
        raise DeepZError(
            f"SSIM needs images of at least {SSIM_MIN_SIDE}×{SSIM_MIN_SIDE} pixels (Gaussian window "
            f"σ={SSIM_SIGMA}) but got shape {truth.shape}; compare larger images"
        )
    rng = truth_data_range(pred, truth) if data_range is None else float(data_range)
    return float(
        structural_similarity(
            pred,
            truth,
            data_range=rng,
            gaussian_weights=True,
            sigma=SSIM_SIGMA,
            use_sample_covariance=False,
        )
    )


def psnr(pred: np.ndarray, truth: np.ndarray, *, data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio in dB against the ground truth's data range; ``inf`` if identical."""
    err = mse(pred, truth)
    rng = truth_data_range(pred, truth) if data_range is None else float(data_range)
    if err == 0.0:
        return float("inf")
    return float(10.0 * math.log10(rng * rng / err))


def compare(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """All metrics of ``pred`` against ``truth``: keys :data:`METRICS` in that order."""
    pred, truth = _pair(pred, truth)
    rng = truth_data_range(pred, truth)
    err = mse(pred, truth)
    return {
        "mse": err,
        "rmse": math.sqrt(err),
        "mae": mae(pred, truth),
        "pearson": pearson(pred, truth),
        "ssim": ssim(pred, truth, data_range=rng),
        "psnr": psnr(pred, truth, data_range=rng),
    }


def per_plane(
    pred_stack: np.ndarray,
    truth_stack: np.ndarray,
    *,
    z_um: Sequence[float] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, float]]:
    """:func:`compare` for every plane of two (Z, Y, X) stacks (a 2D pair counts as one plane).

    Each row is ``{"plane": i, ["z_um": z,] "mse": ..., ...}``; ``z_um`` (one value per plane)
    adds the plane's axial position. ``progress(done, total)`` is called after each plane.
    """
    pred_stack = np.asarray(pred_stack)
    truth_stack = np.asarray(truth_stack)
    _pair(pred_stack, truth_stack)  # shape + NaN check on the whole stacks, before any work
    if truth_stack.ndim == 2:
        pred_stack, truth_stack = pred_stack[None], truth_stack[None]
    elif truth_stack.ndim != 3:
        raise DeepZError(
            f"per-plane comparison needs 2D (Y, X) or 3D (Z, Y, X) arrays, got {truth_stack.ndim}D "
            f"shape {truth_stack.shape}; split other dimensions first"
        )
    n = truth_stack.shape[0]
    if z_um is not None and len(z_um) != n:
        raise DeepZError(f"z_um has {len(z_um)} values but the stacks have {n} planes; give one per plane")
    rows = []
    for i in range(n):
        row: dict[str, float] = {"plane": i}
        if z_um is not None:
            row["z_um"] = float(z_um[i])
        row.update(compare(pred_stack[i], truth_stack[i]))
        rows.append(row)
        if progress is not None:
            progress(i + 1, n)
    return rows


def plot_per_plane(rows: Sequence[Mapping[str, float]], path: str | os.PathLike, *, title: str = "") -> Path:
    """PNG of SSIM and RMSE against z (µm when the rows have ``z_um``, else the plane index)."""
    from deepz_fiji.plots import decorate, new_figure, save_png

    if not rows:
        raise DeepZError("no per-plane rows to plot; compare at least one plane first")
    use_z = all("z_um" in r for r in rows)
    x = np.array([r["z_um"] if use_z else r["plane"] for r in rows], dtype=float)
    fig, (ax_ssim, ax_rmse) = new_figure(2, 1, sharex=True)
    ax_ssim.plot(x, [r["ssim"] for r in rows], marker="o", markersize=3, color="C0")
    ax_rmse.plot(x, [r["rmse"] for r in rows], marker="o", markersize=3, color="C3")
    decorate(ax_ssim, ylabel="SSIM", title=title)
    decorate(ax_rmse, xlabel="z (µm)" if use_z else "plane", ylabel="RMSE")
    return save_png(fig, path)
