"""Neuron segmentation in 3D: median projection over time, local maxima, 3D watershed.

SPEC §6 step 3: the nuclei virtual stacks of all frames are median-projected over time; local
maxima of that volume are the neuron centroids and a 3D watershed grown from them gives every
neuron a voxel mask (a label volume). Distances are in µm; voxels may be anisotropic
(``pixel_um`` laterally, ``z_step_um`` axially).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from deepz_fiji.errors import DeepZError

log = logging.getLogger(__name__)


@dataclass
class Segmentation:
    """A label volume (Z, Y, X; 0 = background, neuron i has label i) and its seeds."""

    labels: np.ndarray
    seeds: np.ndarray  # (N, 3) voxel indices (z, y, x) of the local maxima, label i at row i-1
    threshold: float  # intensity above which maxima count as neurons

    @property
    def n_neurons(self) -> int:
        return len(self.seeds)

    def centroids(self) -> np.ndarray:
        """(N, 3) centre of mass (z, y, x) of each mask, in voxels."""
        if self.n_neurons == 0:
            return np.zeros((0, 3))
        index = np.arange(1, self.n_neurons + 1)
        return np.array(ndi.center_of_mass(np.ones_like(self.labels, dtype=np.float32), self.labels, index))

    def sizes(self) -> np.ndarray:
        """Number of voxels of each neuron's mask."""
        return np.bincount(self.labels.ravel(), minlength=self.n_neurons + 1)[1:]


def median_projection(stacks: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """Median over time of (T, Z, Y, X) stacks (an array or a list of (Z, Y, X), e.g. memmaps).

    Works one plane at a time, so only T planes are in memory at once.
    """
    if len(stacks) == 0:
        raise DeepZError("no frames to project; the video is empty")
    first = np.asarray(stacks[0])
    if first.ndim != 3:
        raise DeepZError(f"each virtual stack must be (Z, Y, X), got shape {first.shape}")
    out = np.empty(first.shape, np.float32)
    for z in range(first.shape[0]):
        out[z] = np.median(np.stack([np.asarray(s[z], dtype=np.float32) for s in stacks]), axis=0)
    return out


def _ellipsoid(radii: Sequence[float]) -> np.ndarray:
    half = [int(np.floor(r)) for r in radii]
    grids = np.ogrid[tuple(slice(-h, h + 1) for h in half)]
    return sum((g / max(r, 1e-9)) ** 2 for g, r in zip(grids, radii, strict=True)) <= 1.0


def _enforce_spacing(coords: np.ndarray, values: np.ndarray, spacing: np.ndarray, min_um: float) -> np.ndarray:
    """Keep the brightest of any maxima closer than ``min_um`` (physical distance)."""
    from scipy.spatial import cKDTree

    order = np.argsort(-values, kind="stable")
    coords = coords[order]
    tree = cKDTree(coords * spacing)
    keep = np.ones(len(coords), bool)
    for i in range(len(coords)):
        if keep[i]:
            for j in tree.query_ball_point(coords[i] * spacing, r=min_um - 1e-9):
                if j > i:
                    keep[j] = False
    return coords[keep]


def find_neurons(
    volume: np.ndarray,
    *,
    pixel_um: float,
    z_step_um: float,
    min_distance_um: float = 2.0,
    smooth_um: float = 0.5,
    threshold: float | None = None,
) -> tuple[np.ndarray, float, np.ndarray]:
    """Local maxima of ``volume`` (Z, Y, X) at least ``min_distance_um`` apart.

    The volume is smoothed with a Gaussian of ``smooth_um`` (µm, per axis in voxels); maxima
    below ``threshold`` (default: Otsu's threshold of the smoothed volume) are dropped.
    Returns (seeds (N, 3) voxel indices, brightest first; the threshold; the smoothed volume).
    """
    from skimage.feature import peak_local_max
    from skimage.filters import threshold_otsu

    volume = np.asarray(volume, dtype=np.float32)
    if volume.ndim != 3:
        raise DeepZError(f"the nuclei volume must be (Z, Y, X), got shape {volume.shape}")
    if not (pixel_um > 0 and z_step_um > 0 and min_distance_um > 0):
        raise DeepZError("pixel size, z step and minimum neuron distance must be positive numbers of µm")
    spacing = np.array([z_step_um, pixel_um, pixel_um], dtype=float)
    smoothed = ndi.gaussian_filter(volume, smooth_um / spacing) if smooth_um > 0 else volume
    if threshold is None:
        threshold = float(threshold_otsu(smoothed)) if np.ptp(smoothed) > 0 else float(smoothed.max())
    footprint = _ellipsoid(min_distance_um / spacing)
    coords = peak_local_max(smoothed, footprint=footprint, threshold_abs=threshold, exclude_border=False)
    coords = coords[smoothed[tuple(coords.T)] > threshold]
    if len(coords):
        coords = _enforce_spacing(coords, smoothed[tuple(coords.T)], spacing, min_distance_um)
    log.info("found %d maxima above %.4g (min distance %.3g µm)", len(coords), threshold, min_distance_um)
    return coords.astype(np.intp).reshape(-1, 3), float(threshold), smoothed


def segment_neurons(
    volume: np.ndarray,
    *,
    pixel_um: float,
    z_step_um: float,
    min_distance_um: float = 2.0,
    smooth_um: float = 0.5,
    threshold: float | None = None,
    mask_threshold: float | None = None,
    max_radius_um: float | None = None,
) -> Segmentation:
    """Seeds from :func:`find_neurons`, then a 3D watershed on the smoothed volume.

    The watershed floods ``-smoothed`` from the seeds inside ``smoothed > mask_threshold``
    (default: the seed threshold). ``max_radius_um`` optionally trims each mask to a ball
    around its seed. Labels are 1..N in seed order (brightest first).
    """
    from skimage.segmentation import watershed

    seeds, thr, smoothed = find_neurons(volume, pixel_um=pixel_um, z_step_um=z_step_um,
                                        min_distance_um=min_distance_um, smooth_um=smooth_um,
                                        threshold=threshold)
    dtype = np.uint16 if len(seeds) < 65535 else np.int32
    if len(seeds) == 0:
        return Segmentation(np.zeros(smoothed.shape, dtype), seeds, thr)
    markers = np.zeros(smoothed.shape, np.int32)
    markers[tuple(seeds.T)] = np.arange(1, len(seeds) + 1)
    mask = smoothed > (thr if mask_threshold is None else mask_threshold)
    mask[tuple(seeds.T)] = True
    labels = watershed(-smoothed, markers, mask=mask)
    if max_radius_um is not None:
        spacing = np.array([z_step_um, pixel_um, pixel_um], dtype=float)
        where = np.nonzero(labels)
        offset = (np.stack(where, axis=1) - seeds[labels[where] - 1]) * spacing
        far = (offset**2).sum(axis=1) > max_radius_um**2
        labels[tuple(w[far] for w in where)] = 0
    return Segmentation(labels.astype(dtype), seeds, thr)
