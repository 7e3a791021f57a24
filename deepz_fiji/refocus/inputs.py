"""Checks on what users hand to refocusing: images, frames and Δz maps."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from deepz_fiji.errors import DeepZError
from deepz_fiji.io import check_finite

#: Smallest image side refocusing accepts (smaller inputs are almost surely a mistake).
MIN_SIDE = 8


def as_image(image: object, what: str = "image") -> np.ndarray:
    """Return ``image`` as a numpy array of shape (..., Y, X) after checking it.

    Accepts numpy arrays (or a :class:`deepz_fiji.io.Image`, whose ``.data`` is used) of
    unsigned/signed integer or float pixels, 2D or with leading frame axes (T and/or C).
    Raises :class:`DeepZError` for RGB pictures, NaN/Inf, complex/bool/object pixels and
    images too small to be a micrograph.
    """
    data = getattr(image, "data", image)
    axes = getattr(image, "axes", None)
    data = np.asarray(data)
    if data.dtype == bool or data.dtype.kind not in "uif":
        raise DeepZError(
            f"{what} has {data.dtype} pixels; give an 8-bit, 16-bit or 32-bit float image"
        )
    if data.ndim < 2:
        raise DeepZError(f"{what} must be 2D (Y, X), got shape {data.shape}")
    if _looks_rgb(data, axes):
        raise DeepZError(
            f"{what} of shape {data.shape} looks like an RGB colour image; Deep-Z works on single-channel "
            "images: split the channels (Image > Color > Split Channels in Fiji) and refocus each one"
        )
    if min(data.shape[-2:]) < MIN_SIDE:
        raise DeepZError(
            f"{what} is {data.shape[-2]}×{data.shape[-1]} pixels; refocusing needs at least "
            f"{MIN_SIDE}×{MIN_SIDE} (is the axis order (..., Y, X)?)"
        )
    if data.size == 0:
        raise DeepZError(f"{what} is empty")
    check_finite(data, what)
    return data


def _looks_rgb(data: np.ndarray, axes: str | None) -> bool:
    """RGB(A) samples: an 'S' axis, or a trailing axis of 3 or 4 after a real 2D plane."""
    if axes is not None:
        return "S" in axes.upper()
    return data.ndim == 3 and data.shape[-1] in (3, 4) and min(data.shape[:2]) > 4


def as_dpm(dpm_um: object, shape: tuple[int, int], what: str = "Δz map") -> float | np.ndarray:
    """A scalar Δz (float) or a 2D DPM of ``shape`` (float32), checked finite."""
    if np.isscalar(dpm_um) or np.ndim(dpm_um) == 0:
        try:
            value = float(dpm_um)  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            raise DeepZError(f"Δz must be a number of micrometres, got {dpm_um!r}") from exc
        if not math.isfinite(value):
            raise DeepZError(f"Δz must be a finite number of micrometres, got {value}")
        return value
    dpm = np.asarray(dpm_um)
    if dpm.dtype.kind not in "uif" or dpm.dtype == bool:
        raise DeepZError(f"{what} must hold numbers (µm), got {dpm.dtype}")
    if dpm.shape != tuple(shape):
        raise DeepZError(
            f"{what} has shape {dpm.shape} but the image is {tuple(shape)}; build it for the image's size"
        )
    check_finite(dpm, what)
    return dpm.astype(np.float32, copy=False)


def z_planes(start_um: float, stop_um: float, step_um: float, max_planes: int = 10000) -> np.ndarray:
    """Plane positions ``start, start+step, …`` up to ``stop`` inclusive when it falls on the grid.

    Like ``numpy.arange`` but with a tolerance of 1e-6 steps on the last plane, so
    ``z_planes(-10, 10, 0.5)`` has 41 planes. Positions are rounded to 1e-9 µm.
    """
    values = [float(v) for v in (start_um, stop_um, step_um)]
    if not all(math.isfinite(v) for v in values):
        raise DeepZError(f"stack range and step must be finite numbers, got {values}")
    start, stop, step = values
    if step <= 0:
        raise DeepZError(f"the z step must be > 0 µm, got {step}")
    if stop < start:
        raise DeepZError(f"the stack must run from low to high z (start {start} > stop {stop}); swap them")
    count = int(math.floor((stop - start) / step + 1e-6)) + 1
    if count > max_planes:
        raise DeepZError(f"{count} planes requested (from {start} to {stop} µm in steps of {step}); "
                         f"at most {max_planes}: use a larger step")
    return np.round(start + step * np.arange(count), 9)


def frame_dpms(dpm_um: object, frames_shape: Sequence[int]) -> list[float | np.ndarray]:
    """Per-frame Δz values for frames of shape (..., Y, X), one entry per frame (C order).

    ``dpm_um`` may be a scalar (all frames), a (Y, X) DPM (all frames), an array of shape
    ``frames_shape[:-2]`` (one Δz per frame) or of ``frames_shape`` (one DPM per frame).
    """
    frames_shape = tuple(frames_shape)
    lead, plane = frames_shape[:-2], frames_shape[-2:]
    n = int(np.prod(lead)) if lead else 1
    if np.ndim(dpm_um) == 0:
        return [as_dpm(dpm_um, plane)] * n
    arr = np.asarray(dpm_um)
    if arr.shape == frames_shape:
        return [as_dpm(d, plane) for d in arr.reshape((n, *plane))]
    if arr.shape == plane:
        return [as_dpm(arr, plane)] * n
    if arr.shape == lead:
        return [as_dpm(v, plane) for v in arr.ravel()]
    raise DeepZError(
        f"Δz of shape {arr.shape} does not fit frames of shape {frames_shape}: give a number, a "
        f"{plane} map, one Δz per frame {lead} or one map per frame {frames_shape}"
    )
