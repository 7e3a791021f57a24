"""How a refocused wide-field plane's level is set after the network (the model's ``output_level``).

Defocus moves light without making or removing it, and it moves it no further than the
geometric defocus disc. So the part of an image coarser than that disc is the same at every
focus: ``local-flux`` keeps it (the output's low-pass, at a scale set by the disc of |Δz|,
equals the input's; at a scale below about twice the disc's radius it also keeps some of the
input's finer structure, which a model's ``output_level_scale`` may choose on measurements);
``flux`` keeps only the whole frame's mean; ``background`` pins the median over the input's
background pixels; ``none`` leaves the network's level.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import ndimage

from deepz_fiji.data import NormParams, background_mask, denormalize, normalize

#: The low-pass of ``local-flux``: a Gaussian of σ = the config's ``output_level_scale`` × the
#: defocus disc's radius at |Δz| (the largest |Δz| of a DPM), and at least LOCAL_MIN_PX pixels.
LOCAL_MIN_PX = 4.0


def defocus_radius_px(dz_um: Any, config: Any) -> float:
    """The geometric defocus disc's radius (pixels) at the largest |Δz| of ``dz_um`` (scalar or map)."""
    na = float(config.na)
    index = getattr(config, "immersion_index", None) or (1.0 if na < 1.0 else 1.515)
    tan = na / math.sqrt(max(index**2 - na**2, 1e-6))
    return float(np.max(np.abs(dz_um))) * tan / float(config.pixel_um)


def local_sigma_px(dz_um: Any, config: Any) -> float:
    """The σ (pixels) of ``local-flux``'s low-pass for a plane at ``dz_um``."""
    return max(LOCAL_MIN_PX, float(config.output_level_scale) * defocus_radius_px(dz_um, config))


def lowpass(image: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian low-pass of ``image`` (Y, X), edges mirrored; computed on a grid ~σ/3 coarser (fast)."""
    image = np.asarray(image, np.float32)
    step = max(1, int(sigma // 3))
    if step == 1:
        return ndimage.gaussian_filter(image, sigma, mode="reflect")
    h, w = image.shape
    margin = step * math.ceil(4 * sigma / step)  # mirrored margin: the coarse filter sees the same edges
    rows_pad, cols_pad = margin + (-(h + 2 * margin) % step), margin + (-(w + 2 * margin) % step)
    padded = np.pad(image, ((margin, rows_pad), (margin, cols_pad)), mode="symmetric")
    coarse = padded.reshape(padded.shape[0] // step, step, padded.shape[1] // step, step).mean(axis=(1, 3))
    coarse = ndimage.gaussian_filter(coarse, math.sqrt(max(sigma**2 - step**2 / 12.0, 1.0)) / step, mode="nearest")
    return _upsample(h, margin, step, coarse.shape[0]) @ coarse @ _upsample(w, margin, step, coarse.shape[1]).T


def _upsample(n: int, margin: int, step: int, n_coarse: int) -> np.ndarray:
    """(n, n_coarse) linear interpolation from the coarse grid back to the ``n`` fine pixels
    (coarse pixel k's centre sits at padded coordinate step × k + (step − 1) / 2)."""
    at = (np.arange(n, dtype=np.float64) + margin - (step - 1) / 2) / step
    low = np.clip(np.floor(at).astype(int), 0, n_coarse - 2)
    frac = np.clip(at - low, 0.0, 1.0)
    matrix = np.zeros((n, n_coarse), np.float32)
    matrix[np.arange(n), low] = 1 - frac
    matrix[np.arange(n), low + 1] += frac
    return matrix


class FrameLevel:
    """A frame's normalisation and output level, applied to each of its refocused planes.

    ``restore`` sets a plane's level as the mode says (module docstring) in normalised units,
    then denormalises; this also removes the small Δz-dependent offset a network leaves, which the
    denormalisation would otherwise amplify into a uniform error. No output goes below the
    input's zero level (``min(0, input minimum)``): a non-negative image stays so.
    """

    def __init__(self, params: NormParams, frame: np.ndarray, level: str, config: Any = None):
        self.params, self.config = params, config
        self.floor = np.float32(min(float(np.min(frame)), 0.0))
        self.mask = background_mask(frame) if level == "background" else None
        if self.mask is not None and self.mask.sum() < 0.05 * self.mask.size:
            level, self.mask = "none", None  # too little background to measure it reliably
        self.mode = level
        self.normalised = normalize(frame, params)
        self.level = self._level(self.normalised)
        self.sigmas: dict[int, float] = {}

    def _level(self, plane: np.ndarray) -> float:
        """The quantity a global mode keeps: the mean (flux) or the background median."""
        if self.mode == "flux":
            return float(np.mean(plane, dtype=np.float64))
        return float(np.median(plane[self.mask])) if self.mode == "background" else 0.0

    def plan(self, plane: int, dz_um: Any) -> None:
        """Record plane ``plane``'s Δz (``local-flux`` sets its low-pass scale from it)."""
        if self.mode == "local-flux":
            self.sigmas[plane] = local_sigma_px(dz_um, self.config)

    def restore(self, out: np.ndarray, plane: int = 0) -> np.ndarray:
        """Plane ``plane``'s network output (normalised units) with its level set, denormalised."""
        if self.mode == "local-flux":
            out = out + lowpass(self.normalised - out, self.sigmas.get(plane, LOCAL_MIN_PX))
        elif self.mode != "none":
            out = out + np.float32(self.level - self._level(out))
        result = denormalize(out, self.params)
        return np.maximum(result, self.floor, out=result)
