"""Frame registration against body motion (numpy / scikit-image).

Every frame is registered to one reference frame by a 2D transform estimated on one channel
(the nuclei) and applied to every channel, so the channels stay aligned with each other. The
transform estimators (intensity or feature based, rigid/affine/projective) and the matrix
conventions live in :mod:`deepz_fiji.data.registration`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from deepz_fiji.data.registration import (
    METHODS,
    MODELS,
    estimate_transform,
    ncc,
    registered_ncc,
    rigid_transform,
    standardise,
    warp_plane,
)
from deepz_fiji.errors import DeepZError

log = logging.getLogger(__name__)

__all__ = ["METHODS", "MODELS", "Registration", "apply_transforms", "estimate_transform", "ncc",
           "register_frames", "rigid_transform", "warp_plane"]

Progress = Callable[[int, int], None]


@dataclass
class Registration:
    """Per-frame transforms (T, 3, 3) onto ``reference_index`` and the NCC after registration."""

    transforms: np.ndarray
    scores: np.ndarray
    reference_index: int
    shape: tuple[int, int] | None = None  # frame (Y, X), to measure shifts at the frame's centre

    def summary(self) -> dict:
        """Largest shift of the frame centre (px), rotation (°), and the lowest NCC, for reports."""
        centre = np.zeros(2) if self.shape is None else (np.array(self.shape[::-1], dtype=float) - 1) / 2
        moved = self.transforms[:, :2, :2] @ centre + self.transforms[:, :2, 2]
        shifts = np.linalg.norm(moved - centre, axis=1)
        angles = np.degrees(np.arctan2(self.transforms[:, 1, 0], self.transforms[:, 0, 0]))
        return {"reference_frame": self.reference_index, "max_shift_px": float(shifts.max()),
                "max_rotation_deg": float(np.abs(angles).max()), "min_ncc": float(self.scores.min())}


def register_frames(
    frames: np.ndarray,
    *,
    reference_index: int | None = None,
    progress: Progress | None = None,
    **kw,
) -> Registration:
    """Register every frame of ``frames`` (T, Y, X) to one reference frame (default: the middle).

    Keywords go to :func:`estimate_transform`. Returns the transforms and each frame's NCC with
    the reference after registration.
    """
    frames = np.asarray(frames, dtype=np.float32)
    if frames.ndim != 3:
        raise DeepZError(f"frames to register must be (T, Y, X), got shape {frames.shape}")
    n = len(frames)
    ref_i = n // 2 if reference_index is None else int(reference_index)
    if not 0 <= ref_i < n:
        raise DeepZError(f"reference frame {ref_i} is outside the video's {n} frames")
    reference = frames[ref_i]
    ref_std = standardise(reference)
    transforms, scores = np.tile(np.eye(3), (n, 1, 1)), np.ones(n)
    for t in range(n):
        if t != ref_i:
            transforms[t] = estimate_transform(reference, frames[t], **kw)
            scores[t] = registered_ncc(ref_std, standardise(frames[t]), transforms[t])
        if progress is not None:
            progress(t + 1, n)
    log.info("registered %d frames to frame %d (lowest NCC %.3f)", n, ref_i, scores.min())
    return Registration(transforms, scores, ref_i, tuple(frames.shape[-2:]))


def apply_transforms(frames: np.ndarray, transforms: np.ndarray) -> np.ndarray:
    """Warp every frame (T, ..., Y, X) with its transform (T, 3, 3); all channels alike."""
    frames = np.asarray(frames, dtype=np.float32)
    if len(frames) != len(transforms):
        raise DeepZError(f"{len(frames)} frames but {len(transforms)} transforms")
    out = np.empty_like(frames)
    for t, matrix in enumerate(transforms):
        for idx in np.ndindex(frames.shape[1:-2]):
            out[(t, *idx)] = warp_plane(frames[(t, *idx)], matrix)
    return out
