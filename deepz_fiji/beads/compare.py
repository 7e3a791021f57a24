"""Bead FWHM of a prediction against its ground truth, on the same beads (SPEC §5, Fig. 1b,c).

Beads are detected once, on the ground truth (its maximum-intensity projection for a stack),
and the same centroids are measured in both images, so the two FWHM distributions describe the
same beads. For a stack the lateral FWHM of each bead is taken at that bead's own in-focus
plane (its brightest plane in the image being measured), and the axial FWHM from the x–z slice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np

from deepz_fiji.beads.detect import CROP_PX, detect_beads
from deepz_fiji.beads.fwhm import FwhmTable, axial_fwhm, lateral_fwhm
from deepz_fiji.errors import DeepZError

log = logging.getLogger(__name__)


def focus_planes(stack: np.ndarray, centroids: np.ndarray, *, smooth_sigma_px: float = 1.0) -> np.ndarray:
    """Index of the brightest plane of each bead (smoothed laterally) in a (Z, Y, X) stack."""
    from scipy import ndimage

    stack = np.asarray(stack, dtype=np.float64)
    pts = np.asarray(centroids, dtype=float).reshape(-1, 2)
    if len(pts) == 0:
        return np.empty(0, dtype=int)
    ys = np.clip(np.rint(pts[:, 0]).astype(int), 0, stack.shape[1] - 1)
    xs = np.clip(np.rint(pts[:, 1]).astype(int), 0, stack.shape[2] - 1)
    smoothed = ndimage.gaussian_filter(stack, (0, smooth_sigma_px, smooth_sigma_px))
    return np.argmax(smoothed[:, ys, xs], axis=0)


def lateral_fwhm_at_focus(
    stack: np.ndarray,
    pixel_um: float | Sequence[float],
    centroids: np.ndarray | None = None,
    *,
    crop_px: int = CROP_PX,
    min_r2: float = 0.5,
    detect_kw: Mapping | None = None,
) -> FwhmTable:
    """Lateral FWHM of each bead of a (Z, Y, X) stack in its own brightest plane.

    Rows are those of :func:`~deepz_fiji.beads.lateral_fwhm` plus ``z`` (the plane index).
    Without ``centroids`` beads are detected on the maximum-intensity projection.
    """
    stack = np.asarray(stack)
    if stack.ndim != 3:
        raise DeepZError(f"expected a (Z, Y, X) stack but got shape {stack.shape}; give a z-stack")
    det = None
    if centroids is None:
        det = detect_beads(stack.max(axis=0), crop_px=crop_px, **dict(detect_kw or {}))
        centroids = det.centroids
    pts = np.asarray(centroids, dtype=float).reshape(-1, 2)
    planes = focus_planes(stack, pts)
    table = FwhmTable("lateral", detection=det)
    for z in np.unique(planes):
        sub = lateral_fwhm(stack[z], pixel_um, centroids=pts[planes == z], crop_px=crop_px, min_r2=min_r2)
        table.rows.extend({**r, "z": int(z)} for r in sub.rows)
        table.failed.extend({**f, "z": int(z)} for f in sub.failed)
    return table


def compare_beads(
    pred: np.ndarray,
    truth: np.ndarray,
    pixel_um: float | Sequence[float],
    z_step_um: float | None = None,
    *,
    crop_px: int = CROP_PX,
    detect_kw: Mapping | None = None,
) -> dict[str, FwhmTable]:
    """FWHM tables of the same beads in ``pred`` and ``truth`` (2D images or (Z, Y, X) stacks).

    Returns ``{"lateral_pred", "lateral_truth"}`` and, for stacks of 5 or more planes with a
    known ``z_step_um``, ``{"axial_pred", "axial_truth"}``. The ground truth's detection is attached to its tables.
    """
    pred, truth = np.asarray(pred), np.asarray(truth)
    if pred.shape != truth.shape:
        raise DeepZError(f"prediction shape {pred.shape} does not match ground truth {truth.shape}; "
                         "compare images of the same size")
    if truth.ndim not in (2, 3):
        raise DeepZError(f"bead comparison needs 2D or (Z, Y, X) images, got shape {truth.shape}")
    reference = truth if truth.ndim == 2 else truth.max(axis=0)
    det = detect_beads(reference, crop_px=crop_px, **dict(detect_kw or {}))
    if len(det) == 0:
        raise DeepZError("no isolated bead was found in the ground truth; check that it shows separate "
                         "beads about a crop (30 px) apart and away from the border")
    out: dict[str, FwhmTable] = {}
    for name, img in (("pred", pred), ("truth", truth)):
        if img.ndim == 2:
            table = lateral_fwhm(img, pixel_um, centroids=det.centroids, crop_px=crop_px)
        else:
            table = lateral_fwhm_at_focus(img, pixel_um, det.centroids, crop_px=crop_px)
        out[f"lateral_{name}"] = table
        if img.ndim == 3 and z_step_um and img.shape[0] >= 5:
            out[f"axial_{name}"] = axial_fwhm(img, pixel_um, z_step_um, det.centroids, crop_px=crop_px)
    for key in ("lateral_truth", "axial_truth"):
        if key in out:
            out[key].detection = det
    return out
