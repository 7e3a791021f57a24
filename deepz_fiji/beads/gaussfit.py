"""Least-squares fit of an axis-aligned 2D Gaussian with offset to a small crop.

Model (the paper's eq. 6/8 plus a constant background)::

    I(u, v) = offset + amplitude · exp(-(u - u0)² / (2 σu²) - (v - v0)² / (2 σv²))

with ``u`` the column (x) and ``v`` the row (y for a lateral crop, z for an x–z slice), fitted by
:func:`scipy.optimize.curve_fit` (trust-region reflective, bounded). A fit that does not
converge, sits on a bound, wanders away from the crop centre or explains too little of the
crop's variance raises :class:`FitError` with the reason, so callers can count it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: FWHM = FWHM_PER_SIGMA · σ for a Gaussian.
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


class FitError(Exception):
    """A Gaussian fit was rejected; ``str(exc)`` is the short reason."""


@dataclass(frozen=True)
class GaussianFit:
    """Fitted parameters in crop pixel units (u = column, v = row) and R² of the fit."""

    offset: float
    amplitude: float
    sigma_u: float
    sigma_v: float
    u0: float
    v0: float
    r2: float


def gaussian_2d(coords: tuple[np.ndarray, np.ndarray], offset: float, amplitude: float,
                sigma_u: float, sigma_v: float, u0: float, v0: float) -> np.ndarray:
    """The model evaluated at ``coords = (u, v)`` (arrays of equal shape); returns a flat array."""
    u, v = coords
    g = offset + amplitude * np.exp(-((u - u0) ** 2) / (2 * sigma_u**2) - ((v - v0) ** 2) / (2 * sigma_v**2))
    return np.ravel(g)


def fit_gaussian_2d(crop: np.ndarray, *, max_center_shift: float | None = None,
                    min_r2: float = 0.5, centred_rows: bool = True) -> GaussianFit:
    """Fit :func:`gaussian_2d` to a 2D ``crop`` (rows = v, columns = u).

    The start point comes from the crop: offset = median of its border, amplitude = peak above
    it, centre = brightest pixel near the middle, σ from the second moments. The centre must
    end within ``max_center_shift`` px of the crop centre (default a quarter of the crop) and
    σ below the crop size; R² below ``min_r2`` is a failure. With ``centred_rows=False`` (an
    x–z slice, where the bead may be in focus anywhere in the stack) the row centre is searched
    over all rows and only has to lie inside the crop.
    """
    from scipy.optimize import OptimizeWarning, curve_fit

    crop = np.asarray(crop, dtype=np.float64)
    nv, nu = crop.shape
    v, u = np.mgrid[0:nv, 0:nu].astype(np.float64)
    p0 = _start(crop, u, v, centred_rows)
    cu, cv = (nu - 1) / 2, (nv - 1) / 2
    span = float(np.ptp(crop)) or 1.0
    lower = [crop.min() - span, 0.0, 0.3, 0.3, -0.5, -0.5]
    upper = [crop.max() + span, 4 * span, float(nu), float(nv), nu - 0.5, nv - 0.5]
    p0 = np.clip(p0, np.array(lower) + 1e-9, np.array(upper) - 1e-9)
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", OptimizeWarning)
            popt, _ = curve_fit(gaussian_2d, (u, v), crop.ravel(), p0=p0, bounds=(lower, upper),
                                method="trf", max_nfev=2000)
    except (RuntimeError, ValueError, OptimizeWarning) as exc:
        raise FitError(f"no convergence ({exc.__class__.__name__})") from exc
    if not np.all(np.isfinite(popt)):
        raise FitError("non-finite parameters")
    offset, amp, su, sv, u0, v0 = (float(p) for p in popt)
    if amp <= 0:
        raise FitError("no peak above background")
    if su >= 0.99 * upper[2] or sv >= 0.99 * upper[3] or su <= 1.01 * lower[2] or sv <= 1.01 * lower[3]:
        raise FitError("sigma at its bound")
    shift = min(nu, nv) / 4 if max_center_shift is None else max_center_shift
    if abs(u0 - cu) > shift or (centred_rows and abs(v0 - cv) > shift):
        raise FitError("centre far from the crop centre")
    if not centred_rows and not 0 <= v0 <= nv - 1:
        raise FitError("peak outside the rows (focus outside the stack)")
    resid = crop.ravel() - gaussian_2d((u, v), *popt)
    ss_tot = float(np.sum((crop - crop.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else 0.0
    if r2 < min_r2:
        raise FitError(f"poor fit (R²={r2:.2f})")
    return GaussianFit(offset, amp, su, sv, u0, v0, r2)


def _start(crop: np.ndarray, u: np.ndarray, v: np.ndarray, centred_rows: bool) -> np.ndarray:
    border = np.concatenate([crop[0], crop[-1], crop[1:-1, 0], crop[1:-1, -1]])
    offset = float(np.median(border))
    nv, nu = crop.shape
    # brightest pixel in the central half (the bead the crop is centred on, not a neighbour)
    qv, qu = (nv // 4 if centred_rows else 0), nu // 4
    centre = crop[qv : nv - qv, qu : nu - qu]
    iv, iu = np.unravel_index(int(np.argmax(centre)), centre.shape)
    v0, u0 = float(iv + qv), float(iu + qu)
    amp = float(crop[int(v0), int(u0)] - offset)
    # σ from the half-maximum region: for a Gaussian it is an ellipse whose second moment is
    # σ² · ln2 / 2 along each axis (robust to background noise, unlike moments of the whole crop)
    mask = crop - offset > amp / 2
    if amp > 0 and mask.sum() >= 2:
        su = math.sqrt(max(float(np.mean((u[mask] - u0) ** 2)) / (math.log(2) / 2), 0.25))
        sv = math.sqrt(max(float(np.mean((v[mask] - v0) ** 2)) / (math.log(2) / 2), 0.25))
    else:
        su = sv = 1.5
    su, sv = min(su, nu / 4), min(sv, nv / 4)
    return np.array([offset, max(amp, 1e-6), su, sv, u0, v0])
