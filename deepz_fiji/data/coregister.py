"""Co-registration of a confocal stack to its wide-field counterpart (Deep-Z+ data, SPEC §4).

Two steps, as in the paper: a global transform estimated between the two stacks' EDF images
(intensity- or feature-based, rigid/affine/projective; :mod:`deepz_fiji.data.registration`)
warps the confocal stack onto the wide-field pixel grid, and the non-overlapping border is
dropped; then every training crop gets a fine alignment (a sub-pixel translation or a small
rigid correction between the crops' EDFs) composed with the global transform, so each
confocal crop is resampled from the original stack exactly once.

All matrices map wide-field (x, y) pixel positions onto confocal ones (``warp(confocal, m)``
resamples the confocal image on the wide-field grid).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deepz_fiji.data.registration import (
    estimate_transform,
    registered_ncc,
    standardise,
    warp_plane,
)
from deepz_fiji.errors import DeepZError

log = logging.getLogger(__name__)

FINE_MODES = ("translation", "rigid", "none")
#: Largest fine correction accepted per crop (px); larger ones are refused as false matches.
MAX_FINE_SHIFT_PX = 8.0


@dataclass
class Coregistration:
    """A global wide-field → confocal transform and the EDF correlation before and after it."""

    matrix: np.ndarray
    method: str
    model: str
    ncc_before: float
    ncc_after: float
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        linear = self.matrix[:2, :2]
        return {"implementation": f"python:{self.method}-{self.model}", "matrix": self.matrix.round(6).tolist(),
                "rotation_deg": round(float(np.degrees(np.arctan2(linear[1, 0], linear[0, 0]))), 4),
                "ncc_before": round(self.ncc_before, 4), "ncc_after": round(self.ncc_after, 4), **self.info}


def coregister(
    wide_ref: np.ndarray, confocal_ref: np.ndarray, *, method: str = "intensity", model: str = "rigid",
    max_rotation_deg: float = 5.0,
) -> Coregistration:
    """Transform taking the wide-field reference image (an EDF) onto the confocal one.

    ``method``/``model`` as in :func:`~deepz_fiji.data.registration.estimate_transform`
    ('intensity' rigid/affine, 'features' rigid/affine/projective — the paper's choice).
    """
    wide_ref, confocal_ref = np.asarray(wide_ref, np.float32), np.asarray(confocal_ref, np.float32)
    if wide_ref.shape != confocal_ref.shape or wide_ref.ndim != 2:
        raise DeepZError(f"co-registration needs wide-field and confocal images of one 2D shape, got "
                         f"{wide_ref.shape} and {confocal_ref.shape}")
    matrix = estimate_transform(wide_ref, confocal_ref, method=method, model=model,
                                max_rotation_deg=max_rotation_deg, correlations=("phase", "plain"))
    a, b = standardise(wide_ref), standardise(confocal_ref)
    before, after = registered_ncc(a, b, np.eye(3)), registered_ncc(a, b, matrix)
    if after < before:
        log.warning("co-registration lowered the wide-field/confocal correlation (%.3f -> %.3f); check the pair",
                    before, after)
    return Coregistration(matrix, method, model, before, after)


def warp_stack(stack: np.ndarray, matrix: np.ndarray, *, output_shape: tuple[int, int] | None = None,
               order: int = 1) -> np.ndarray:
    """Every plane of a ZYX stack resampled through ``matrix`` (borders: the plane's median)."""
    return np.stack([warp_plane(plane, matrix, order=order, output_shape=output_shape) for plane in stack])


def overlap_mask(matrix: np.ndarray, shape: tuple[int, int], source_shape: tuple[int, int] | None = None,
                 *, margin_px: float = 0.0) -> np.ndarray:
    """Wide-field pixels of a ``shape`` field whose confocal position lies ``margin_px`` inside the
    confocal field (``source_shape``, default the same shape)."""
    ny, nx = shape
    sy, sx = shape if source_shape is None else source_shape
    y, x = np.mgrid[0:ny, 0:nx].astype(np.float64)
    moved = np.tensordot(matrix, np.stack([x, y, np.ones_like(x)]), axes=1)
    cx, cy = moved[0] / moved[2], moved[1] / moved[2]
    return (cx >= margin_px) & (cx <= sx - 1 - margin_px) & (cy >= margin_px) & (cy <= sy - 1 - margin_px)


def inner_rectangle(mask: np.ndarray) -> tuple[int, int, int, int]:
    """An axis-aligned rectangle ``(y0, y1, x0, x1)`` (ends exclusive) holding only ``True`` pixels.

    Trims the bounding box of the mask, one row or column at a time, from the side with the
    most ``False`` pixels: for the convex overlap of two fields it keeps nearly all of it.
    """
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        raise DeepZError("the confocal and wide-field fields of view do not overlap after co-registration")
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    while y1 > y0 and x1 > x0:
        box = ~mask[y0:y1, x0:x1]
        if not box.any():
            return y0, y1, x0, x1
        bad = {"top": box[0].sum(), "bottom": box[-1].sum(), "left": box[:, 0].sum(), "right": box[:, -1].sum()}
        side = max(bad, key=lambda s: bad[s] / (x1 - x0 if s in ("top", "bottom") else y1 - y0))
        if side == "top":
            y0 += 1
        elif side == "bottom":
            y1 -= 1
        elif side == "left":
            x0 += 1
        else:
            x1 -= 1
    raise DeepZError("the confocal and wide-field fields of view do not overlap after co-registration")


def fine_alignment(
    wide_crop: np.ndarray, confocal_crop: np.ndarray, *, mode: str = "translation",
    max_shift_px: float = MAX_FINE_SHIFT_PX,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Residual transform (crop (x, y) → globally warped confocal crop) between two crop EDFs.

    ``mode``: 'translation' (sub-pixel phase correlation), 'rigid' (intensity, within ±2°) or
    'none'. A correction that moves the crop centre more than ``max_shift_px`` or lowers the
    correlation is refused (identity returned). Info: ``shift_px`` (dx, dy) and ``accepted``.
    """
    from skimage.registration import phase_cross_correlation

    if mode not in FINE_MODES:
        raise DeepZError(f"unknown fine alignment {mode!r}; choose one of {', '.join(FINE_MODES)}")
    if mode == "none":
        return np.eye(3), {"shift_px": [0.0, 0.0], "accepted": False}
    a, b = standardise(wide_crop), standardise(confocal_crop)
    if mode == "translation":
        from scipy.optimize import minimize

        shift, _, _ = phase_cross_correlation(a, b, upsample_factor=4, normalization=None)
        # ref(p) = mov(p − s): start there, then maximise the NCC of the shared pixels (no wrap-around bias)
        found = minimize(lambda t: -registered_ncc(a, b, _shift_matrix(t)), -shift[::-1], method="Powell",
                         options={"xtol": 1e-3, "ftol": 1e-7, "maxfev": 400})
        matrix = _shift_matrix(found.x)
    else:
        matrix = estimate_transform(wide_crop, confocal_crop, method="intensity", model="rigid",
                                    max_rotation_deg=2.0, angle_step_deg=1.0, correlations=("phase", "plain"))
    centre = (np.array(a.shape[::-1], dtype=float) - 1) / 2
    moved = matrix[:2, :2] @ centre + matrix[:2, 2] - centre
    before, after = registered_ncc(a, b, np.eye(3)), registered_ncc(a, b, matrix)
    accepted = bool(np.hypot(*moved) <= max_shift_px and after >= before)
    info = {"shift_px": [round(float(v), 3) for v in moved], "accepted": accepted,
            "ncc_before": round(before, 4), "ncc_after": round(after, 4)}
    return (matrix if accepted else np.eye(3)), info


def _shift_matrix(shift_xy: np.ndarray) -> np.ndarray:
    return np.array([[1.0, 0.0, shift_xy[0]], [0.0, 1.0, shift_xy[1]], [0.0, 0.0, 1.0]])


def crop_matrix(matrix: np.ndarray, y0: int, x0: int, fine: np.ndarray | None = None) -> np.ndarray:
    """Map from a crop's pixels (top-left corner ``y0, x0`` on the wide-field grid) to the
    original confocal stack: the global ``matrix`` after the crop offset and the ``fine`` one."""
    offset = np.array([[1.0, 0.0, x0], [0.0, 1.0, y0], [0.0, 0.0, 1.0]])
    return matrix @ offset @ (np.eye(3) if fine is None else fine)
