"""The axial zero point of a z-stack: SSIM-versus-EDF focus curve and a parabola on its top.

As in the paper's Deep-Z+ data preparation: every plane of a stack is compared with the
stack's extended-depth-of-field image by SSIM, giving a focus curve over the planes; a second
order polynomial fitted to the four points of highest SSIM has its peak at the stack's
reference zero point (a fractional plane index). The heights of a wide-field and a confocal
stack of one region, each centred on its own zero point, are then on one axial scale.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from deepz_fiji.data._arrays import as_stack
from deepz_fiji.data.edf import extended_depth_of_field
from deepz_fiji.errors import DeepZError
from deepz_fiji.metrics import ssim

log = logging.getLogger(__name__)

#: Points of highest SSIM the parabola is fitted to (the paper's four).
PEAK_POINTS = 4


@dataclass
class ZeroPoint:
    """A stack's axial zero point ``plane`` (fractional index), its focus curve and how it was found.

    ``fit`` is ``'parabola'`` (the peak of the fit), or ``'argmax'`` when the top points do
    not form a downward parabola whose peak lies among them (then the best plane is used).
    """

    plane: float
    curve: np.ndarray
    fit: str
    coefficients: tuple[float, float, float] | None = None

    def heights_um(self, n_planes: int, z_step_um: float) -> np.ndarray:
        """Centred height of each of ``n_planes`` planes: (index − zero plane) × z-step, µm."""
        return ((np.arange(n_planes) - self.plane) * z_step_um).astype(np.float64)

    def to_dict(self) -> dict:
        return {"plane": round(float(self.plane), 4), "fit": self.fit,
                "curve": [round(float(v), 4) for v in self.curve]}


def focus_curve(stack: np.ndarray, edf: np.ndarray | None = None) -> np.ndarray:
    """SSIM of every plane of a ZYX stack against its EDF (default: computed here), (Z,) float64."""
    stack = as_stack(stack)
    if edf is None:
        edf, _ = extended_depth_of_field(stack)
    edf = np.asarray(edf, dtype=np.float64)
    if edf.shape != stack.shape[1:]:
        raise DeepZError(f"the EDF image {edf.shape} does not match the stack's planes {stack.shape[1:]}")
    return np.array([ssim(plane, edf) for plane in stack], dtype=np.float64)


def parabola_peak(curve: np.ndarray, points: int = PEAK_POINTS) -> ZeroPoint:
    """Peak of a parabola fitted to the ``points`` highest values of ``curve`` (by plane index).

    Falls back to the highest point when the fit opens upwards or peaks outside the span of the
    fitted points (a flat or noisy curve), and for curves shorter than ``points``.
    """
    curve = np.asarray(curve, dtype=np.float64)
    if curve.ndim != 1 or curve.size == 0 or not np.all(np.isfinite(curve)):
        raise DeepZError("a focus curve must be a non-empty 1D array of finite values")
    best = int(np.argmax(curve))
    if points < 3:
        raise DeepZError(f"a parabola needs at least 3 points, got {points}")
    if curve.size < points:
        return ZeroPoint(float(best), curve, "argmax")
    top = np.sort(np.argsort(curve)[-points:])
    a, b, c = np.polyfit(top.astype(np.float64), curve[top], 2)
    if a < 0:
        peak = -b / (2 * a)
        if top[0] <= peak <= top[-1]:
            return ZeroPoint(float(peak), curve, "parabola", (float(a), float(b), float(c)))
    log.debug("focus curve without a parabolic peak among its top points %s; using plane %d", top.tolist(), best)
    return ZeroPoint(float(best), curve, "argmax", (float(a), float(b), float(c)))


def axial_zero_point(stack: np.ndarray, edf: np.ndarray | None = None, *, points: int = PEAK_POINTS) -> ZeroPoint:
    """The reference zero point of a ZYX stack: :func:`parabola_peak` of its :func:`focus_curve`."""
    return parabola_peak(focus_curve(stack, edf), points)
