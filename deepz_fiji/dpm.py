"""Digital propagation matrices (DPMs): per-pixel refocusing distances in micrometres.

A DPM has the image's (H, W) shape; each pixel holds the axial distance Δz (µm) from the
input's focal plane to the surface the network should refocus onto. Δz > 0 is a plane
farther from the objective (deeper into the sample). Coordinates: x runs along columns, y
along rows, both measured from the image centre unless ``center`` (y, x in pixels) is given.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from deepz_fiji.errors import DeepZError

Shape = Sequence[int]


def _shape(shape: Shape) -> tuple[int, int]:
    shape = tuple(int(s) for s in shape)
    if len(shape) != 2 or min(shape) < 1:
        raise DeepZError(f"a DPM needs a 2D shape (height, width) of positive sizes, got {shape}")
    return shape  # type: ignore[return-value]


def _coords(shape: Shape, center: tuple[float, float] | None) -> tuple[np.ndarray, np.ndarray]:
    """Row (y) and column (x) offsets from the centre, in pixels, as broadcastable arrays."""
    ny, nx = _shape(shape)
    cy, cx = ((ny - 1) / 2, (nx - 1) / 2) if center is None else center
    y = (np.arange(ny, dtype=np.float64) - cy)[:, None]
    x = (np.arange(nx, dtype=np.float64) - cx)[None, :]
    return y, x


def _positive(value: float, name: str) -> float:
    if not (math.isfinite(value) and value > 0):
        raise DeepZError(f"{name} must be a positive number, got {value}")
    return float(value)


def uniform_dpm(shape: Shape, dz_um: float) -> np.ndarray:
    """A constant DPM: refocus the whole image by ``dz_um``."""
    if not math.isfinite(dz_um):
        raise DeepZError(f"Δz must be a finite number of micrometres, got {dz_um}")
    return np.full(_shape(shape), dz_um, dtype=np.float32)


def plane_dpm(
    shape: Shape,
    pixel_um: float,
    tilt_x_deg: float = 0.0,
    tilt_y_deg: float = 0.0,
    offset_um: float = 0.0,
    *,
    gradient_um_per_px: tuple[float, float] | None = None,
    center: tuple[float, float] | None = None,
) -> np.ndarray:
    """A tilted plane through ``offset_um`` at the centre.

    ``tilt_x_deg`` rotates the plane about the x axis (Δz changes along y); ``tilt_y_deg`` about
    the y axis (Δz changes along x). A positive tilt makes Δz grow with y (resp. x).
    Alternatively give ``gradient_um_per_px=(dz/dy, dz/dx)`` directly.
    """
    y, x = _coords(shape, center)
    if gradient_um_per_px is None:
        pixel_um = _positive(pixel_um, "pixel size (µm)")
        for name, angle in (("tilt_x_deg", tilt_x_deg), ("tilt_y_deg", tilt_y_deg)):
            if not (math.isfinite(angle) and abs(angle) < 89):
                raise DeepZError(f"{name} must be an angle between -89 and 89 degrees, got {angle}")
        gy = math.tan(math.radians(tilt_x_deg)) * pixel_um
        gx = math.tan(math.radians(tilt_y_deg)) * pixel_um
    else:
        gy, gx = (float(g) for g in gradient_um_per_px)
    return (offset_um + gy * y + gx * x).astype(np.float32)


def cylinder_dpm(
    shape: Shape,
    pixel_um: float,
    radius_um: float,
    axis: str = "x",
    offset_um: float = 0.0,
    side: str = "convex",
    *,
    center: tuple[float, float] | None = None,
) -> np.ndarray:
    """The surface of a cylinder of ``radius_um`` whose axis runs along ``axis`` ('x' or 'y').

    At the cylinder's apex (the centre line) Δz = ``offset_um``. ``side='convex'``: the surface
    bends away from the objective towards the edges (Δz grows with distance from the axis), as
    the near side of a tube seen through the coverslip; ``'concave'`` bends towards it.
    """
    pixel_um = _positive(pixel_um, "pixel size (µm)")
    radius_um = _positive(radius_um, "cylinder radius (µm)")
    if axis not in ("x", "y"):
        raise DeepZError(f"cylinder axis must be 'x' or 'y', got {axis!r}")
    if side not in ("convex", "concave"):
        raise DeepZError(f"cylinder side must be 'convex' or 'concave', got {side!r}")
    y, x = _coords(shape, center)
    distance = np.abs(y if axis == "x" else x) * pixel_um
    if distance.max() >= radius_um:
        raise DeepZError(
            f"the image extends {distance.max():.1f} µm from the cylinder axis, beyond its radius "
            f"{radius_um} µm; give a larger radius or a smaller image"
        )
    sag = radius_um - np.sqrt(radius_um**2 - distance**2)
    sign = 1.0 if side == "convex" else -1.0
    dpm = offset_um + sign * sag
    return np.broadcast_to(dpm, _shape(shape)).astype(np.float32)


def sinusoid_dpm(
    shape: Shape,
    period_px: float,
    min_um: float,
    max_um: float,
    direction: str | float = "x",
    phase_rad: float = 0.0,
) -> np.ndarray:
    """A sinusoidal surface between ``min_um`` and ``max_um`` with ``period_px`` pixels.

    ``direction`` is 'x', 'y' or an angle in degrees from the x axis. Surfaces with a lateral
    period under ~100 px are refocused with background artefacts (SPEC §1).
    """
    period_px = _positive(period_px, "sinusoid period (px)")
    if not (math.isfinite(min_um) and math.isfinite(max_um)) or max_um < min_um:
        raise DeepZError(f"sinusoid needs finite min_um <= max_um, got {min_um} and {max_um}")
    angle = {"x": 0.0, "y": 90.0}.get(direction, direction) if isinstance(direction, str) else direction
    if isinstance(angle, str):
        raise DeepZError(f"sinusoid direction must be 'x', 'y' or an angle in degrees, got {direction!r}")
    y, x = _coords(shape, (0.0, 0.0))
    s = x * math.cos(math.radians(angle)) + y * math.sin(math.radians(angle))
    mid, amp = (max_um + min_um) / 2, (max_um - min_um) / 2
    return (mid + amp * np.sin(2 * np.pi * s / period_px + phase_rad)).astype(np.float32)


def height_map_dpm(height_um: np.ndarray, offset_um: float = 0.0) -> np.ndarray:
    """A DPM from a user's height map (µm), plus a constant offset."""
    height = np.asarray(height_um)
    if height.ndim != 2:
        raise DeepZError(f"a height map must be a 2D image, got shape {height.shape}")
    if not np.all(np.isfinite(height)):
        raise DeepZError("the height map contains NaN or infinite values; fill them before refocusing")
    return (height.astype(np.float64) + offset_um).astype(np.float32)


def check_range(dpm: np.ndarray | float, zmin: float, zmax: float, *, tolerance: float = 1e-6) -> None:
    """Raise :class:`DeepZError` if any Δz of ``dpm`` falls outside the trained range [zmin, zmax]."""
    values = np.asarray(dpm, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise DeepZError("the Δz map contains NaN or infinite values")
    lo, hi = float(values.min()), float(values.max())
    if lo < zmin - tolerance or hi > zmax + tolerance:
        shown = f"{_um(lo)} µm" if _um(lo) == _um(hi) else f"{_um(lo)} … {_um(hi)} µm"
        raise DeepZError(
            f"Δz {shown} is outside the model's trained range {_um(zmin)} … {_um(zmax)} µm; choose Δz inside it "
            "or allow extrapolation (results outside the trained range are unreliable)"
        )


def _um(value: float) -> str:
    """A distance for messages: at most two decimals, no trailing zeros (``-0`` shown as ``0``)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
