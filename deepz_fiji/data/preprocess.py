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

_REFERENCES = ("previous", "first", "mean")


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
    stack: np.ndarray, *, reference: str = "previous"
) -> tuple[np.ndarray, dict[str, Any]]:
    """Rigid-body (translation + rotation) alignment of the planes of a ZYX stack (StackReg).

    ``reference``: ``'previous'`` (each plane to its aligned predecessor, as Fiji's StackReg),
    ``'first'`` or ``'mean'``. Returns the aligned stack (float32, same shape) and an info dict
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


class PythonPreprocessor:
    """The default preprocessor: pystackreg, numpy EDF and scikit-image stitching."""

    name = "python"

    def __init__(
        self,
        *,
        reference: str = "previous",
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

