"""A small 8-bit preview of a stack: the x–y plane at focus over an x–z section at true aspect."""

from __future__ import annotations

import numpy as np

from deepz_fiji.errors import DeepZError


def _stretch(image: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(image, (0.5, 99.8))
    if hi <= lo:
        hi = lo + 1
    return np.clip((image - lo) / (hi - lo), 0, 1)


def preview(
    stack: np.ndarray,
    z_um: np.ndarray,
    pixel_um: float,
    z_step_um: float,
    *,
    row: int | None = None,
    max_width: int = 1024,
) -> tuple[np.ndarray, int, int]:
    """(uint8 image, plane shown, row of the x–z section).

    Top: the plane nearest z = 0; bottom: the x–z section through ``row`` (default: the row
    of the brightest voxel), z stretched to the lateral scale, z growing downwards; each panel
    contrast-stretched (0.5–99.8 percentiles), a white line between them.
    """
    stack = np.asarray(stack, dtype=np.float32)
    if stack.ndim != 3 or min(stack.shape) < 1:
        raise DeepZError(f"a preview needs a (Z, Y, X) stack, got shape {stack.shape}")
    from scipy.ndimage import zoom

    plane = int(np.argmin(np.abs(np.asarray(z_um) - 0.0)))
    if row is None:
        row = int(np.unravel_index(int(np.argmax(stack)), stack.shape)[1])
    xy = _stretch(stack[plane])
    xz = _stretch(stack[:, row, :])
    ratio = z_step_um / pixel_um
    if stack.shape[0] > 1 and abs(ratio - 1) > 1e-3:
        xz = np.clip(zoom(xz, (ratio, 1.0), order=1), 0, 1)
    gap = np.ones((2, xy.shape[1]), dtype=np.float32)
    image = np.concatenate([xy, gap, xz], axis=0)
    if image.shape[1] > max_width:
        step = int(np.ceil(image.shape[1] / max_width))
        image = image[::step, ::step]
    return (image * 255 + 0.5).astype(np.uint8), plane, row
