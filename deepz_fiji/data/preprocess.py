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
    """Rigid-body (translation + rotation) alignment of the planes of a ZYX stack (StackReg).

    ``reference``: ``'focus'`` (default: as Fiji's StackReg run from the sharpest plane, each
    plane goes to its aligned neighbour towards that plane, outwards in both directions),
    ``'previous'`` (each plane to its aligned predecessor, from the first), ``'first'`` or
    ``'mean'``. With ``'focus'``, a neighbour-to-neighbour step that moves more than
    ``max_step_px`` or turns more than 1° is taken as a failure on featureless, far-defocused
    planes (not stage drift) and replaced by no step; such steps are counted in
    ``info['rejected_steps']``. Returns the aligned stack (float32, same shape) and an info dict
    with the per-plane drift ``drift_px`` ([dy, dx] that was removed) and ``rotation_deg``.
    """
    from pystackreg import StackReg

    stack = as_stack(stack)
    if reference not in _REFERENCES:
        raise DeepZError(f"unknown registration reference {reference!r}; use one of {', '.join(_REFERENCES)}")
    info: dict[str, Any] = {
        "implementation": "python:pystackreg",
        "transformation": "rigid_body",
        "reference": reference,
    }
    if stack.shape[0] < 2:
        info.update(drift_px=[[0.0, 0.0]], rotation_deg=[0.0], max_drift_px=0.0)
        return stack.astype(np.float32, copy=True), info
    reg = StackReg(StackReg.RIGID_BODY)
    data = stack.astype(np.float32, copy=False)  # pystackreg converts plane by plane
    if reference == "focus":
        tmats, rejected, anchor = _register_from_focus(reg, data, max_step_px)
        info.update(anchor_plane=anchor, rejected_steps=rejected, max_step_px=max_step_px)
    else:
        tmats = reg.register_stack(data, reference=reference, axis=0, suppress_axis_warning=True)
    out = np.empty(stack.shape, dtype=np.float32)
    for z in range(stack.shape[0]):  # plane by plane: no float64 copy of the whole stack
        identity = np.allclose(tmats[z], np.eye(3), atol=1e-6)
        out[z] = data[z] if identity else reg.transform(data[z], tmat=tmats[z])
    drift = [[float(m[1, 2]), float(m[0, 2])] for m in tmats]
    rotation = [float(np.degrees(np.arctan2(m[1, 0], m[0, 0]))) for m in tmats]
    info.update(
        drift_px=drift,
        rotation_deg=rotation,
        max_drift_px=float(max(np.hypot(dy, dx) for dy, dx in drift)),
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


def _register_from_focus(reg: Any, data: np.ndarray, max_step_px: float) -> tuple[np.ndarray, int, int]:
    """Transforms of every plane, chained neighbour to neighbour outwards from the sharpest one.

    The chain stops (further planes keep the last transform) where a plane's contrast falls
    below :data:`MIN_CONTRAST` of the sharpest plane's: on such blurred planes the step
    estimates are biased by a few tenths of a pixel each, and the bias adds up.
    """
    n = data.shape[0]
    contrast = plane_contrast(data)
    anchor = int(np.argmax(contrast))
    tmats = np.repeat(np.eye(3)[None], n, axis=0)
    rejected = 0
    for direction in (1, -1):
        trusted = True
        for z in range(anchor + direction, n if direction > 0 else -1, direction):
            neighbour = z - direction
            trusted = trusted and contrast[z] >= MIN_CONTRAST * contrast[anchor]
            step = reg.register(data[neighbour], data[z]) if trusted else np.eye(3)
            turn = abs(np.degrees(np.arctan2(step[1, 0], step[0, 0])))
            if np.hypot(step[0, 2], step[1, 2]) > max_step_px or turn > 1.0:
                step, rejected = np.eye(3), rejected + 1
            tmats[z] = step @ tmats[neighbour]  # pystackreg's composition for 'previous'
    return tmats, rejected, anchor


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

