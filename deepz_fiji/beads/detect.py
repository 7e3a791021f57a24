"""Find isolated fluorescent beads: threshold, connected components, centroids, rejections.

The paper's recipe (Methods, "Measurement of the lateral and axial FWHM"): threshold the image,
take the connected components, crop 30×30 px around each centroid. Here the threshold is taken
on a lightly smoothed copy (Gaussian, ``smooth_sigma_px``) so noise does not split or sprinkle
components, and beads that would bias a Gaussian fit are rejected and counted, never kept:

- ``small``: fewer than ``min_area_px`` pixels (a noise speck, not a bead);
- ``edge``: the crop around the centroid would leave the image;
- ``merged``: one component holding two or more beads: two separate maxima with a dip between
  them in an elongated outline, or a very elongated outline (minor/major axis ratio below
  ``min_axis_ratio``). A round outline with several maxima is a defocused bead (a ring, whose
  hole is filled) and is kept;
- ``close``: another component's centroid nearer than ``min_distance_px`` (default half the
  crop's diagonal, crop_px/√2 ≈ 21 px), so no other bead's centre lies inside the crop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from deepz_fiji.errors import DeepZError
from deepz_fiji.io import check_finite

log = logging.getLogger(__name__)

#: Side of the square crop fitted around each bead (paper: 30×30 px).
CROP_PX = 30
REJECTION_REASONS = ("small", "edge", "merged", "close")
#: Outlines rounder than this (minor/major axis) are one bead even with several maxima (a ring).
ROUND_AXIS_RATIO = 0.8


@dataclass
class BeadDetection:
    """Accepted bead centroids (``(N, 2)`` array of y, x in pixels) and what was rejected."""

    centroids: np.ndarray
    threshold: float
    n_components: int
    rejected: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REJECTION_REASONS, 0))

    def __len__(self) -> int:
        return len(self.centroids)

    @property
    def n_rejected(self) -> int:
        return int(sum(self.rejected.values()))


def detect_beads(
    image: np.ndarray,
    *,
    threshold: str | float = "triangle",
    smooth_sigma_px: float = 1.0,
    crop_px: int = CROP_PX,
    min_distance_px: float | None = None,
    min_area_px: int = 3,
    min_axis_ratio: float = 0.5,
) -> BeadDetection:
    """Detect isolated beads in a 2D image.

    ``threshold`` is ``"triangle"`` (default; suits sparse bright spots on a dark background),
    ``"otsu"``, or an absolute intensity applied to the smoothed image. Centroids are
    intensity-weighted (smoothed image above the threshold). See the module docstring for the
    rejection rules; ``min_distance_px`` defaults to ``crop_px / √2``.
    """
    from scipy import ndimage
    from scipy.spatial import cKDTree
    from skimage import measure

    image = as_float_2d(image, "bead image")
    if min(image.shape) < crop_px:
        raise DeepZError(
            f"image {image.shape} is smaller than the {crop_px}×{crop_px} px bead crop; give a larger image"
        )
    smoothed = ndimage.gaussian_filter(image, smooth_sigma_px) if smooth_sigma_px > 0 else image
    thr = _threshold(smoothed, threshold)
    labels, n = ndimage.label(ndimage.binary_fill_holes(smoothed > thr))  # a defocused ring is one bead
    rejected = dict.fromkeys(REJECTION_REASONS, 0)
    if n == 0:
        log.info("no bead above threshold %.4g", thr)
        return BeadDetection(np.empty((0, 2)), thr, 0, rejected)

    weights = np.clip(smoothed - thr, 0, None)
    props = measure.regionprops(labels, intensity_image=weights)
    merged_labels = _multi_peak_labels(smoothed, labels, thr)
    half = crop_px / 2
    min_dist = crop_px / np.sqrt(2) if min_distance_px is None else float(min_distance_px)
    h, w = image.shape

    candidates: list[tuple[float, float, str | None]] = []
    for p in props:
        y, x = p.centroid_weighted
        if p.area < min_area_px:
            rejected["small"] += 1
            continue  # noise: neither a bead nor a neighbour worth avoiding
        reason = None
        yi, xi = int(round(y)), int(round(x))
        if yi - half < 0 or xi - half < 0 or yi + half > h or xi + half > w:
            reason = "edge"
        elif _is_merged(p, p.label in merged_labels, min_axis_ratio):
            reason = "merged"
        candidates.append((y, x, reason))

    if not candidates:
        return BeadDetection(np.empty((0, 2)), thr, n, rejected)
    pts = np.array([(y, x) for y, x, _ in candidates])
    if len(pts) > 1:
        nearest, _ = cKDTree(pts).query(pts, k=2)
        crowded = nearest[:, 1] < min_dist
    else:
        crowded = np.zeros(1, dtype=bool)
    keep = []
    for i, (y, x, reason) in enumerate(candidates):
        if reason is None and crowded[i]:
            reason = "close"
        if reason is None:
            keep.append((y, x))
        else:
            rejected[reason] += 1
    centroids = np.array(keep, dtype=float).reshape(-1, 2)
    log.info("beads: %d components, %d kept, rejected %s (threshold %.4g)", n, len(centroids), rejected, thr)
    return BeadDetection(centroids, thr, n, rejected)


def crop_at(image: np.ndarray, y: float, x: float, crop_px: int = CROP_PX) -> tuple[np.ndarray, int, int]:
    """The ``crop_px``² window centred on (y, x) and its top-left corner (y0, x0) in the image."""
    half = crop_px // 2
    y0, x0 = int(round(y)) - half, int(round(x)) - half
    if y0 < 0 or x0 < 0 or y0 + crop_px > image.shape[-2] or x0 + crop_px > image.shape[-1]:
        raise DeepZError(
            f"the {crop_px}×{crop_px} px crop around ({y:.1f}, {x:.1f}) leaves the image; "
            "give centroids at least half a crop from the border"
        )
    return image[..., y0 : y0 + crop_px, x0 : x0 + crop_px], y0, x0


def _is_merged(region, multi_peak: bool, min_axis_ratio: float) -> bool:
    """Two beads in one component: two maxima and an elongated outline, or a very elongated one.

    A round outline with several maxima is a defocused bead (a ring), not a pair.
    """
    if region.area < 12 or region.axis_major_length == 0:
        return multi_peak
    ratio = region.axis_minor_length / region.axis_major_length
    return ratio < min_axis_ratio or (multi_peak and ratio < ROUND_AXIS_RATIO)


def as_float_2d(image: np.ndarray, what: str) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 2:
        raise DeepZError(f"{what} must be 2D (Y, X) but has shape {image.shape}; pick one plane first")
    check_finite(image, what)
    return image.astype(np.float64, copy=False)


def _threshold(smoothed: np.ndarray, method: str | float) -> float:
    from skimage import filters

    if isinstance(method, str):
        funcs = {"triangle": filters.threshold_triangle, "otsu": filters.threshold_otsu}
        if method not in funcs:
            raise DeepZError(f"unknown threshold method {method!r}; use 'triangle', 'otsu' or a number")
        if np.ptp(smoothed) == 0:
            raise DeepZError("the bead image is constant; there is nothing to detect")
        return float(funcs[method](smoothed))
    return float(method)


def _multi_peak_labels(smoothed: np.ndarray, labels: np.ndarray, thr: float) -> set[int]:
    """Labels of components with two maxima separated by a real dip (two touching beads).

    A secondary maximum counts if it rises at least a quarter as high above the threshold as
    the component's brightest one and the profile between them dips by more than 10 % of the
    secondary's height above the threshold (noise on a flat top does not).
    """
    from scipy import ndimage
    from skimage.feature import peak_local_max

    peaks = peak_local_max(smoothed, min_distance=2, threshold_abs=thr, labels=labels, exclude_border=False)
    by_label: dict[int, list[tuple[int, int]]] = {}
    for r, c in peaks:
        by_label.setdefault(int(labels[r, c]), []).append((int(r), int(c)))
    merged = set()
    for lab, pts in by_label.items():
        if len(pts) < 2:
            continue
        pts.sort(key=lambda p: -smoothed[p])
        top = pts[0]
        h0 = smoothed[top] - thr
        for p in pts[1:]:
            hk = smoothed[p] - thr
            if hk < 0.25 * h0:
                continue
            n = int(np.ceil(np.hypot(p[0] - top[0], p[1] - top[1]) * 2)) + 1
            line = ndimage.map_coordinates(
                smoothed, [np.linspace(top[0], p[0], n), np.linspace(top[1], p[1], n)], order=1
            )
            if line.min() - thr < 0.9 * hk:
                merged.add(lab)
                break
    return merged
