"""EDF-referenced intensity normalisation (SPEC §4.3) — the one normalisation every caller uses.

Training normalises a whole z-stack with constants estimated on its extended-depth-of-field
(EDF) image; refocus and the Fiji scripts estimate them on the single input image itself.
Both go through :func:`estimate_normalization`, :func:`normalize` and :func:`denormalize`.

Recipe (Wu et al. 2019, Methods): a triangle threshold splits background from foreground;
the mean background intensity is the offset; the scale is chosen so that 1 % of the
foreground pixels exceed 1 after ``(x - offset) * scale``.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np

from deepz_fiji.errors import DeepZError

log = logging.getLogger(__name__)

#: Name recorded in manifests and model configs for this normalisation.
NORMALIZATION_METHOD = "triangle-background-p99-foreground"
#: Fraction of foreground pixels that end up above 1 after normalisation.
SATURATED_FRACTION = 0.01


@dataclass(frozen=True)
class NormParams:
    """Affine intensity normalisation ``y = (x - offset) * scale``."""

    offset: float
    scale: float

    def to_dict(self) -> dict[str, float]:
        """JSON-ready ``{"offset": ..., "scale": ...}``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> NormParams:
        """Inverse of :meth:`to_dict`; raises :class:`DeepZError` for missing or invalid values."""
        try:
            params = cls(offset=float(values["offset"]), scale=float(values["scale"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise DeepZError(
                f"normalisation parameters {values!r} need numeric 'offset' and 'scale'; "
                "re-create them with estimate_normalization"
            ) from exc
        if not (np.isfinite(params.offset) and np.isfinite(params.scale) and params.scale > 0):
            raise DeepZError(f"normalisation scale must be a positive finite number, got {params.scale}")
        return params


def triangle_threshold(reference: np.ndarray) -> float:
    """Triangle threshold (Zack et al. 1977) of ``reference``, as ImageJ's 'Triangle' method."""
    from skimage.filters import threshold_triangle

    return float(threshold_triangle(np.asarray(reference, dtype=np.float64), nbins=256))


def estimate_normalization(reference: np.ndarray) -> NormParams:
    """Normalisation constants from a reference image (a stack's EDF, or a single input image).

    Raises :class:`DeepZError` if the reference is not a finite 2D image with some contrast.
    """
    ref = np.asarray(reference, dtype=np.float64)
    if ref.ndim != 2:
        raise DeepZError(f"the normalisation reference must be a 2D image, got shape {ref.shape}")
    if not np.all(np.isfinite(ref)):
        raise DeepZError("the normalisation reference contains NaN or infinite pixels; remove them first")
    if float(ref.max()) <= float(ref.min()):
        raise DeepZError("the normalisation reference is constant (no signal); check the image or stack")
    foreground = ~background_mask(ref)
    background = ref[~foreground]
    offset = float(background.mean()) if background.size else float(ref.min())
    above = ref[foreground] - offset
    if above.size == 0:
        above = ref.ravel() - offset
    top = float(np.percentile(above, 100.0 * (1.0 - SATURATED_FRACTION)))
    if top <= 0:
        raise DeepZError(
            "the normalisation reference has no foreground above its background; check the image "
            "contains fluorescence signal"
        )
    params = NormParams(offset=offset, scale=1.0 / top)
    log.debug("normalisation: offset %.4g, scale %.4g", offset, params.scale)
    return params


def input_plane_normalization(stack: np.ndarray, fallback: NormParams) -> list[NormParams]:
    """Each plane's own normalisation constants (as a single image's at inference).

    A plane without foreground above its background (e.g. empty, far from the sample) gets
    ``fallback``, the stack's EDF constants.
    """
    out: list[NormParams] = []
    for index, plane in enumerate(stack):
        try:
            out.append(estimate_normalization(plane))
        except DeepZError as exc:
            log.debug("plane %d normalised with the EDF constants: %s", index, exc)
            out.append(fallback)
    return out


def background_mask(image: np.ndarray) -> np.ndarray:
    """Pixels at or below the image's triangle threshold: the background of the normalisation."""
    image = np.asarray(image, dtype=np.float64)
    return image <= triangle_threshold(image)


#: Percentiles of :func:`background_fill`: the darkest pixels, the median and the brightest ones.
FILL_PERCENTILES = (1.0, 50.0, 99.5)


def background_fill(image: np.ndarray) -> float:
    """How far the gaps between structures are filled with light, 0 … 1: the image's median above its
    darkest 1 %, as a share of its range up to the 99.5th percentile (0 for a flat image).

    Near 0.05 for a sparse or thin sample on a dark background; 0.3–0.5 for dense, thick tissue,
    whose out-of-focus light from many depths leaves no dark background (benchmarks/autofocus_dense.py).
    """
    low, median, high = np.percentile(np.asarray(image, dtype=np.float64), FILL_PERCENTILES)
    return float(np.clip((median - low) / (high - low), 0.0, 1.0)) if high > low else 0.0


def normalize(x: np.ndarray, params: NormParams) -> np.ndarray:
    """``(x - offset) * scale`` as float32 (any input dtype, any shape)."""
    out = np.asarray(x, dtype=np.float32) - np.float32(params.offset)
    out *= np.float32(params.scale)
    return out


def denormalize(y: np.ndarray, params: NormParams) -> np.ndarray:
    """Inverse of :func:`normalize`: ``y / scale + offset`` as float32."""
    out = np.asarray(y, dtype=np.float32) / np.float32(params.scale)
    out += np.float32(params.offset)
    return out
