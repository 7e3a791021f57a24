"""Stack preprocessing: the :class:`Preprocessor` protocol and its Python implementation.

The paper prepares training stacks with three ImageJ plugins: StackReg (rigid axial
alignment), Extended Depth of Field and Grid/Collection stitching. :class:`PythonPreprocessor`
does the same jobs with the same algorithm families (pystackreg is the TurboReg/StackReg port;
EDF and stitching in numpy/scikit-image); the Fiji engineer's ``fiji_preprocessor`` calls the
plugins themselves through the same protocol. Every step returns an info dict whose
``"implementation"`` names what ran.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from deepz_fiji.data._arrays import as_stack
from deepz_fiji.data.edf import extended_depth_of_field
from deepz_fiji.data.stitch import stitch_grid
from deepz_fiji.errors import DeepZError

log = logging.getLogger(__name__)

_REFERENCES = ("focus", "previous", "first", "mean")
#: Largest plausible stage drift between neighbouring planes (px) for ``reference='focus'``.
MAX_STEP_PX = 3.0
#: ``reference='focus'`` registers planes whose contrast (std / mean) is at least this fraction
#: of the sharpest plane's.
MIN_CONTRAST = 0.25


@runtime_checkable
class Preprocessor(Protocol):
    """What :func:`deepz_fiji.data.prepare_dataset` needs from a preprocessing backend."""

    name: str

    def register(self, stack: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        """Rigidly align the planes of a ZYX stack; returns (aligned ZYX float32, info)."""
        ...

    def edf(self, stack: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        """Extended-depth-of-field image of a ZYX stack; returns (YX float32, info)."""
        ...

    def stitch(
        self, tiles: Sequence[np.ndarray], grid_shape: tuple[int, int], overlap_fraction: float
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Stitch a row-by-row grid of YX or ZYX tiles; returns (mosaic, info)."""
        ...


def stack_register(
    stack: np.ndarray, *, reference: str = "focus", max_step_px: float = MAX_STEP_PX
) -> tuple[np.ndarray, dict[str, Any]]:
    """Align the planes of a ZYX stack against stage drift (StackReg).

    ``reference``: ``'focus'`` (default): as Fiji's StackReg run from the sharpest plane, each
    plane is registered (translation) to its neighbour towards that plane, outwards in both
    directions, and the chained drift is then smoothed (see :func:`smooth_drift`). A step that
    moves more than ``max_step_px`` is taken as a failure on featureless, far-defocused planes
    (not stage drift) and replaced by no step (counted in ``info['rejected_steps']``); planes too
    blurred to register keep the drift of the nearest plane that could be (``info['registered_planes']``:
    the first and last plane registered). ``'previous'`` (each
    plane to its aligned predecessor, from the first), ``'first'`` or ``'mean'``: pystackreg's
    rigid-body registration as it is. Returns the aligned stack (float32, same shape) and an info
    dict with the per-plane drift ``drift_px`` ([dy, dx] that was removed) and ``rotation_deg``.
    """
    from pystackreg import StackReg

    stack = as_stack(stack)
    if reference not in _REFERENCES:
        raise DeepZError(f"unknown registration reference {reference!r}; use one of {', '.join(_REFERENCES)}")
    focus = reference == "focus"
    info: dict[str, Any] = {
        "implementation": "python:pystackreg",
        "transformation": "translation (smoothed)" if focus else "rigid_body",
        "reference": reference,
    }
    if stack.shape[0] < 2:
        info.update(drift_px=[[0.0, 0.0]], rotation_deg=[0.0], max_drift_px=0.0)
        return stack.astype(np.float32, copy=True), info
    data = stack.astype(np.float32, copy=False)  # pystackreg converts plane by plane
    if focus:
        reg = StackReg(StackReg.TRANSLATION)
        chained, trusted, rejected, anchor, contrast = _chain_from_focus(reg, data, max_step_px)
        drift = smooth_drift(chained, trusted, anchor, contrast)
        tmats = np.repeat(np.eye(3)[None], len(data), axis=0)
        tmats[:, 1, 2], tmats[:, 0, 2] = drift[:, 0], drift[:, 1]
        info.update(anchor_plane=anchor, rejected_steps=rejected, max_step_px=max_step_px,
                    registered_planes=[int(np.flatnonzero(trusted)[0]), int(np.flatnonzero(trusted)[-1])])
    else:
        reg = StackReg(StackReg.RIGID_BODY)
        tmats = reg.register_stack(data, reference=reference, axis=0, suppress_axis_warning=True)
    out = np.empty(stack.shape, dtype=np.float32)
    for z in range(stack.shape[0]):  # plane by plane: no float64 copy of the whole stack
        identity = np.allclose(tmats[z], np.eye(3), atol=1e-6)
        out[z] = data[z] if identity else reg.transform(data[z], tmat=tmats[z])
    drift_px = [[float(m[1, 2]), float(m[0, 2])] for m in tmats]
    rotation = [float(np.degrees(np.arctan2(m[1, 0], m[0, 0]))) for m in tmats]
    info.update(
        drift_px=drift_px,
        rotation_deg=rotation,
        max_drift_px=float(max(np.hypot(dy, dx) for dy, dx in drift_px)),
    )
    log.debug("stack_register: max drift %.2f px", info["max_drift_px"])
    return out, info


def plane_contrast(stack: np.ndarray) -> np.ndarray:
    """Per-plane contrast (std / |mean| after a σ = 1 px Gaussian against noise) of a ZYX stack.

    Its maximum is the plane registration starts from (``reference='focus'``, Fiji's StackReg).
    """
    from scipy import ndimage as ndi

    smooth = (ndi.gaussian_filter(np.asarray(plane, np.float32), 1.0) for plane in as_stack(stack))
    return np.array([p.std() / max(abs(float(p.mean())), 1e-12) for p in smooth])


def _chain_from_focus(reg: Any, data: np.ndarray, max_step_px: float
                      ) -> tuple[np.ndarray, np.ndarray, int, int, np.ndarray]:
    """Drift ([dy, dx] per plane) chained neighbour to neighbour outwards from the sharpest plane.

    The chain stops (``trusted`` False; further planes keep the last drift) where a plane's
    contrast falls below :data:`MIN_CONTRAST` of the sharpest plane's: on such blurred planes the
    step estimates are biased by a few tenths of a pixel each, and the bias adds up.
    Returns (drift, trusted, rejected steps, anchor, contrast).
    """
    n = data.shape[0]
    contrast = plane_contrast(data)
    anchor = int(np.argmax(contrast))
    drift = np.zeros((n, 2))
    trusted = np.zeros(n, dtype=bool)
    trusted[anchor] = True
    rejected = 0
    for direction in (1, -1):
        ok = True
        for z in range(anchor + direction, n if direction > 0 else -1, direction):
            neighbour = z - direction
            ok = ok and contrast[z] >= MIN_CONTRAST * contrast[anchor]
            step = np.zeros(2)
            if ok:
                m = reg.register(data[neighbour], data[z])
                step = np.array([m[1, 2], m[0, 2]])
                if np.hypot(*step) > max_step_px:
                    step, rejected = np.zeros(2), rejected + 1
            drift[z] = drift[neighbour] + step
            trusted[z] = ok
    return drift, trusted, rejected, anchor, contrast


def smooth_drift(drift: np.ndarray, trusted: np.ndarray, anchor: int, contrast: np.ndarray) -> np.ndarray:
    """A straight line through the trusted planes' chained drift, weighted by their contrast.

    Stage drift during a z-scan is slow and steady, while each neighbour-to-neighbour estimate
    carries a few tenths of a pixel of noise and defocus bias: the line keeps the first and
    averages out the second. It is zero at the anchor plane and held at its value at the last
    trusted plane on each side beyond it (clamped, not extrapolated). Fewer than four trusted
    planes: the chained drift as it is.
    """
    planes = np.flatnonzero(trusted)
    if len(planes) < 4:
        return drift - drift[anchor]
    z = np.arange(len(drift)) - anchor
    held = np.clip(z, z[planes].min(), z[planes].max())
    weights = contrast[planes] / contrast.max()
    line = np.stack([np.polyval(np.polyfit(z[planes], drift[planes, k], 1, w=weights), held) for k in (0, 1)], 1)
    return line - line[anchor]


class PythonPreprocessor:
    """The default preprocessor: pystackreg, numpy EDF and scikit-image stitching."""

    name = "python"

    def __init__(
        self,
        *,
        reference: str = "focus",
        edf_method: str = "variance",
        edf_radius: int = 2,
        edf_smoothing: float = 2.0,
    ) -> None:
        self.reference = reference
        self.edf_method = edf_method
        self.edf_radius = edf_radius
        self.edf_smoothing = edf_smoothing

    def register(self, stack: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        return stack_register(stack, reference=self.reference)

    def edf(self, stack: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        return extended_depth_of_field(
            stack, method=self.edf_method, radius=self.edf_radius, smoothing=self.edf_smoothing
        )

    def stitch(
        self, tiles: Sequence[np.ndarray], grid_shape: tuple[int, int], overlap_fraction: float
    ) -> tuple[np.ndarray, dict[str, Any]]:
        return stitch_grid(tiles, grid_shape, overlap_fraction)

    def __repr__(self) -> str:
        return f"PythonPreprocessor(reference={self.reference!r}, edf_method={self.edf_method!r})"

