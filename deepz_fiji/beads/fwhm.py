"""Lateral and axial FWHM of beads from 2D Gaussian fits (SPEC §5, paper eqs. 6–9).

- Lateral: 30×30 px crop at each bead centroid, fit (offset, amplitude, σx, σy, x0, y0);
  FWHM = 2√(2 ln 2) · (σx·Δx + σy·Δy) / 2 in µm.
- Axial: the x–z slice through the bead's row y_c of a (Z, Y, X) stack, 30 px wide and all
  planes deep; fit (offset, amplitude, σx, σz, x0, z0); FWHM = 2√(2 ln 2) · σz · Δz in µm.

Fits that fail (see :mod:`deepz_fiji.beads.gaussfit`) are dropped from the table and listed
in ``FwhmTable.failed`` with their reason, never kept silently.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepz_fiji.beads.detect import CROP_PX, BeadDetection, as_float_2d, crop_at, detect_beads
from deepz_fiji.beads.gaussfit import FWHM_PER_SIGMA, FitError, fit_gaussian_2d
from deepz_fiji.errors import DeepZError
from deepz_fiji.io import check_finite

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


@dataclass
class FwhmTable:
    """One row per successfully fitted bead, plus the beads whose fit failed and why.

    Lateral rows: ``y, x`` (fitted centre, px), ``fwhm_um``, ``fwhm_x_um``, ``fwhm_y_um``,
    ``sigma_x_px``, ``sigma_y_px``, ``amplitude``, ``offset``, ``r2`` (fit quality).
    Axial rows: ``y, x, z`` (z as a plane index), ``fwhm_um`` (axial), ``fwhm_x_um``,
    ``sigma_x_px``, ``sigma_z_planes``, ``amplitude``, ``offset``, ``r2``.
    ``failed`` rows: ``y, x, reason``.
    """

    kind: str
    rows: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    detection: BeadDetection | None = None

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def fwhm_um(self) -> np.ndarray:
        """FWHM of every fitted bead (µm)."""
        return np.array([r["fwhm_um"] for r in self.rows], dtype=float)

    @property
    def n_fitted(self) -> int:
        return len(self.rows)

    @property
    def n_failed(self) -> int:
        return len(self.failed)

    @property
    def median_um(self) -> float:
        """Median FWHM (µm); DeepZError when no bead was fitted."""
        return median_fwhm(self)


def _pixel_yx(pixel_um: float | Sequence[float]) -> tuple[float, float]:
    """(Δy, Δx) in µm from one value or a (Δy, Δx) pair."""
    if np.isscalar(pixel_um):
        dy = dx = float(pixel_um)  # type: ignore[arg-type]
    else:
        dy, dx = (float(p) for p in pixel_um)  # type: ignore[union-attr]
    if not (dy > 0 and dx > 0):
        raise DeepZError(f"pixel size must be positive µm, got {pixel_um!r}; give the calibrated pixel size")
    return dy, dx


def _centroids(image2d: np.ndarray, centroids: np.ndarray | None, crop_px: int,
               detect_kw: Mapping | None) -> tuple[np.ndarray, BeadDetection | None]:
    if centroids is not None:
        pts = np.asarray(centroids, dtype=float).reshape(-1, 2)
        return pts, None
    det = detect_beads(image2d, crop_px=crop_px, **dict(detect_kw or {}))
    return det.centroids, det


def lateral_fwhm(
    image: np.ndarray,
    pixel_um: float | Sequence[float],
    *,
    centroids: np.ndarray | None = None,
    crop_px: int = CROP_PX,
    min_r2: float = 0.5,
    detect_kw: Mapping | None = None,
    progress: Progress | None = None,
) -> FwhmTable:
    """Lateral FWHM (µm) of every bead in a 2D image.

    ``centroids`` (``(N, 2)`` y, x px) skips detection, e.g. to measure the same beads in a
    prediction and its ground truth; otherwise :func:`~deepz_fiji.beads.detect_beads` runs with
    ``detect_kw``. ``pixel_um`` is Δ (or a (Δy, Δx) pair) in µm.
    """
    image = as_float_2d(image, "bead image")
    dy, dx = _pixel_yx(pixel_um)
    pts, det = _centroids(image, centroids, crop_px, detect_kw)
    table = FwhmTable("lateral", detection=det)
    for i, (y, x) in enumerate(pts):
        try:
            crop, y0, x0 = crop_at(image, y, x, crop_px)
            fit = fit_gaussian_2d(crop, min_r2=min_r2)
        except (FitError, DeepZError) as exc:
            table.failed.append({"y": float(y), "x": float(x), "reason": str(exc)})
        else:
            fx, fy = FWHM_PER_SIGMA * fit.sigma_u * dx, FWHM_PER_SIGMA * fit.sigma_v * dy
            table.rows.append({
                "y": y0 + fit.v0, "x": x0 + fit.u0,
                "fwhm_um": (fx + fy) / 2, "fwhm_x_um": fx, "fwhm_y_um": fy,
                "sigma_x_px": fit.sigma_u, "sigma_y_px": fit.sigma_v,
                "amplitude": fit.amplitude, "offset": fit.offset, "r2": fit.r2,
            })
        if progress is not None:
            progress(i + 1, len(pts))
    _log_summary(table)
    return table


def axial_fwhm(
    stack: np.ndarray,
    pixel_um: float | Sequence[float],
    z_step_um: float,
    centroids: np.ndarray | None = None,
    *,
    crop_px: int = CROP_PX,
    min_r2: float = 0.5,
    detect_kw: Mapping | None = None,
    progress: Progress | None = None,
) -> FwhmTable:
    """Axial FWHM (µm) of beads in a (Z, Y, X) stack from x–z slices through each bead's row.

    Without ``centroids`` the beads are detected on the stack's maximum-intensity projection.
    A bead whose focus lies outside the stack cannot be fitted and is counted as failed.
    """
    stack = np.asarray(stack)
    if stack.ndim != 3:
        raise DeepZError(f"axial FWHM needs a (Z, Y, X) stack but got shape {stack.shape}; give a z-stack")
    if stack.shape[0] < 5:
        raise DeepZError(f"axial FWHM needs at least 5 planes, the stack has {stack.shape[0]}; give a deeper stack")
    check_finite(stack, "bead stack")
    if not z_step_um or z_step_um <= 0:
        raise DeepZError(f"z step must be positive µm, got {z_step_um!r}; give the stack's z spacing")
    _, dx = _pixel_yx(pixel_um)
    stack = stack.astype(np.float64, copy=False)
    pts, det = _centroids(stack.max(axis=0), centroids, crop_px, detect_kw)
    table = FwhmTable("axial", detection=det)
    for i, (y, x) in enumerate(pts):
        try:
            yi = int(round(y))
            if not 0 <= yi < stack.shape[1]:
                raise DeepZError("row outside the stack")
            xz, x0 = _xz_slice(stack, yi, x, crop_px)
            fit = fit_gaussian_2d(xz, min_r2=min_r2, centred_rows=False)
        except (FitError, DeepZError) as exc:
            table.failed.append({"y": float(y), "x": float(x), "reason": str(exc)})
        else:
            table.rows.append({
                "y": float(yi), "x": x0 + fit.u0, "z": fit.v0,
                "fwhm_um": FWHM_PER_SIGMA * fit.sigma_v * z_step_um,
                "fwhm_x_um": FWHM_PER_SIGMA * fit.sigma_u * dx,
                "sigma_x_px": fit.sigma_u, "sigma_z_planes": fit.sigma_v,
                "amplitude": fit.amplitude, "offset": fit.offset, "r2": fit.r2,
            })
        if progress is not None:
            progress(i + 1, len(pts))
    _log_summary(table)
    return table


def _xz_slice(stack: np.ndarray, yi: int, x: float, crop_px: int) -> tuple[np.ndarray, int]:
    """The (Z, crop_px) slice of row ``yi`` centred on column ``x``, and its first column."""
    half = crop_px // 2
    x0 = int(round(x)) - half
    if x0 < 0 or x0 + crop_px > stack.shape[2]:
        raise DeepZError(f"the {crop_px} px wide x–z slice around x={x:.1f} leaves the image")
    return stack[:, yi, x0 : x0 + crop_px], x0


def median_fwhm(values: FwhmTable | Sequence[float] | np.ndarray) -> float:
    """Median FWHM (µm) of a table or of plain values; DeepZError if there is none."""
    arr = values.fwhm_um if isinstance(values, FwhmTable) else np.asarray(values, dtype=float).ravel()
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        raise DeepZError("no bead FWHM to take the median of: no bead was detected and fitted; "
                         "check the threshold, the crop size and that the image shows isolated beads")
    return float(np.median(arr))


def fwhm_histogram(
    tables: Mapping[str, FwhmTable | Sequence[float] | np.ndarray],
    path: str | os.PathLike,
    *,
    bins: int | Sequence[float] | None = None,
    title: str = "",
) -> Path:
    """Overlaid FWHM histograms (e.g. ``{"Deep-Z": t1, "scanned": t2}``) written as a PNG."""
    from deepz_fiji.plots import histogram_plot

    values = {k: (t.fwhm_um if isinstance(t, FwhmTable) else np.asarray(t, dtype=float)) for k, t in tables.items()}
    kinds = {t.kind for t in tables.values() if isinstance(t, FwhmTable)}
    xlabel = f"{kinds.pop()} FWHM (µm)" if len(kinds) == 1 else "FWHM (µm)"
    return histogram_plot(path, values, bins=bins, xlabel=xlabel, title=title)


def _log_summary(table: FwhmTable) -> None:
    if table.failed:
        reasons: dict[str, int] = {}
        for f in table.failed:
            reasons[f["reason"]] = reasons.get(f["reason"], 0) + 1
        log.info("%s FWHM: %d fitted, %d failed %s", table.kind, table.n_fitted, table.n_failed, reasons)
    else:
        log.info("%s FWHM: %d fitted", table.kind, table.n_fitted)
