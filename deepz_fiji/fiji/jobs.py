"""The refocusing jobs behind the Deep-Z menu entries and ``deepz batch`` (numpy only, no Java).

Each job takes an image (2D, or T×Y×X frames) with its calibration, calls the contract-C
refocus API (:mod:`deepz_fiji.refocus`) and returns a :class:`RefocusResult`: the refocused
pixels with their axes, calibration, a title naming the Δz and per-plane labels. The Fiji
helpers (:mod:`deepz_fiji.fiji.actions`) and the batch runner share these, so the menu, the
scripts and the command line compute the same thing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deepz_fiji.errors import DeepZError
from deepz_fiji.io import Calibration, Image

Progress = Callable[[int, int], None]
SURFACES = ("tilt", "cylinder", "height map")


@dataclass
class RefocusResult:
    """Refocused pixels (float32, input intensity units) ready to show or save."""

    data: np.ndarray
    axes: str
    calibration: Calibration
    title: str
    slice_labels: list[str] | None = None
    metadata: dict[str, str] = field(default_factory=dict)


def dz_label(dz_um: float) -> str:
    """``'Δz=+1.50 µm'``: how planes and titles name their distance."""
    return f"\u0394z={float(dz_um):+.2f} \u00b5m"


def range_title(positions: Sequence[float]) -> str:
    """``'Δz -10.00…+10.00 µm'``: the title of a stack with planes at ``positions`` (µm)."""
    return f"\u0394z {float(positions[0]):+.2f}\u2026{float(positions[-1]):+.2f} \u00b5m"


def surface_title(surface: Any) -> str:
    """``'tilted plane (tilt x 5° …), offset +0 µm'``: the title of a refocused :class:`Surface`."""
    return surface.describe().replace(" deg", "\u00b0").replace(" um", " \u00b5m")


def model_argument(model: Any) -> Any:
    """Normalise a model parameter from a script: empty/None -> default model, File -> path string."""
    if model is None:
        return None
    if hasattr(model, "predict") and hasattr(model, "config"):
        return model
    text = str(model).strip()
    return None if text in ("", ".", "None", "null") else text


def _refocus_api() -> Any:
    from deepz_fiji import refocus

    return refocus


def _prepare(image: np.ndarray, calibration: Calibration, model: Any) -> tuple[Any, Calibration]:
    """Load the model once and settle the pixel size as ``deepz refocus`` does (input's, else the model's)."""
    from deepz_fiji.refocus.files import resolve_pixel_um

    loaded = _refocus_api().resolve_model(model_argument(model))
    pixel = resolve_pixel_um(Image(data=image, axes="YX", calibration=calibration), loaded)
    return loaded, dataclasses.replace(calibration, pixel_um=pixel)


def _kw(allow_extrapolation: bool, progress: Progress | None, tta: bool) -> dict[str, Any]:
    return {"allow_extrapolation": bool(allow_extrapolation), "progress": progress, "tta": bool(tta)}


def _meta(model: Any, tta: bool, calibration: Calibration, **extra: Any) -> dict[str, str]:
    from deepz_fiji.trust import calibration_note

    if tta:
        from deepz_fiji.refocus.symmetry import TTA_LABEL

        extra["deepz_tta"] = TTA_LABEL
    return {"deepz_model": str(model.config.name),
            "deepz_calibration": calibration_note(model.config, calibration.pixel_um),
            **{k: str(v) for k, v in extra.items()}}


def _plane(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 2:
        raise DeepZError(f"Deep-Z refocuses a single 2D image, got shape {image.shape}; pick one plane first")
    return image


def _planar(calibration: Calibration) -> Calibration:
    """Keep the lateral calibration; a single plane has no z-step or frame interval."""
    return dataclasses.replace(calibration, z_step_um=None, frame_interval_s=None)


def plane_job(image: np.ndarray, calibration: Calibration, dz_um: float, model: Any = None, *,
              allow_extrapolation: bool = False, progress: Progress | None = None,
              tta: bool = False) -> RefocusResult:
    """Refocus one 2D image to the plane ``dz_um`` µm away."""
    dz = float(dz_um)
    plane = _plane(image)
    model, cal = _prepare(plane, calibration, model)
    out = _refocus_api().refocus_plane(plane, dz, model, **_kw(allow_extrapolation, progress, tta))
    return RefocusResult(out, "YX", _planar(cal), dz_label(dz), metadata=_meta(model, tta, cal, deepz_dz_um=f"{dz:g}"))


def stack_job(image: np.ndarray, calibration: Calibration, start_um: float, stop_um: float, step_um: float,
              model: Any = None, *, allow_extrapolation: bool = False,
              progress: Progress | None = None, tta: bool = False) -> RefocusResult:
    """A virtual z-stack from one 2D image: planes ``start_um … stop_um`` every ``step_um``."""
    api = _refocus_api()
    positions = [float(z) for z in api.stack_positions(float(start_um), float(stop_um), float(step_um))]
    plane = _plane(image)
    model, cal = _prepare(plane, calibration, model)
    out = api.virtual_stack(plane, float(start_um), float(stop_um), float(step_um), model,
                            **_kw(allow_extrapolation, progress, tta))
    cal = dataclasses.replace(_planar(cal), z_step_um=float(step_um))
    title = range_title(positions)
    meta = _meta(model, tta, cal, deepz_dz_um=",".join(f"{z:g}" for z in positions))
    return RefocusResult(out, "ZYX", cal, title, [dz_label(z) for z in positions], meta)


def make_surface(surface: str = "tilt", *, tilt_x_deg: float = 0.0, tilt_y_deg: float = 0.0,
                 offset_um: float = 0.0, radius_um: float = 100.0, axis: str = "x", side: str = "convex",
                 height_map: Any = None) -> Any:
    """The :class:`deepz_fiji.refocus.files.Surface` (shared with ``deepz surface``) a menu choice names."""
    from deepz_fiji.refocus.files import Surface

    kind = str(surface).strip().lower().replace("_", " ").replace("-", " ")
    if kind == "tilt":
        return Surface(tilt_x_deg=float(tilt_x_deg), tilt_y_deg=float(tilt_y_deg), offset_um=float(offset_um))
    if kind == "cylinder":
        return Surface(cylinder_radius_um=float(radius_um), axis=str(axis), side=str(side), offset_um=float(offset_um))
    if kind == "height map":
        if height_map is None or str(height_map).strip() in ("", "."):
            raise DeepZError("the height-map surface needs a height-map image (a TIFF of heights in µm); choose one")
        return Surface(height_map=Path(str(height_map)), offset_um=float(offset_um))
    raise DeepZError(f"unknown surface {surface!r}; choose one of {', '.join(SURFACES)}")


def surface_job(image: np.ndarray, calibration: Calibration, surface: str = "tilt", model: Any = None, *,
                allow_extrapolation: bool = False, progress: Progress | None = None, tta: bool = False,
                **surface_kw: Any) -> RefocusResult:
    """Refocus one 2D image onto a tilted plane, a cylinder or a height map (see :func:`make_surface`)."""
    plane = _plane(image)
    shape = make_surface(surface, **surface_kw)
    model, cal = _prepare(plane, calibration, model)
    dpm = shape.dpm(plane.shape, cal.pixel_um)
    out = _refocus_api().refocus_surface(plane, dpm, model, **_kw(allow_extrapolation, progress, tta))
    description = surface_title(shape)
    meta = _meta(model, tta, cal, deepz_surface=shape.describe(), deepz_dz_range_um=f"{float(dpm.min()):g},{float(dpm.max()):g}")
    return RefocusResult(out, "YX", _planar(cal), description, metadata=meta)


def frames_job(frames: np.ndarray, calibration: Calibration, *, dz_um: float | None = None,
               stack: tuple[float, float, float] | None = None, model: Any = None,
               allow_extrapolation: bool = False, progress: Progress | None = None,
               tta: bool = False) -> RefocusResult:
    """Refocus every frame of a (T, Y, X) time-lapse to one Δz, or to a virtual stack each (T, Z, Y, X)."""
    frames = np.asarray(frames)
    if frames.ndim == 2:
        frames = frames[None]
    if frames.ndim != 3:
        raise DeepZError(f"a video must be frames (T, Y, X), got shape {frames.shape}; pick one channel first")
    if (dz_um is None) == (stack is None):
        raise DeepZError("give either one Δz for every frame or a stack range (start, stop, step), not both")
    api = _refocus_api()
    model, calibration = _prepare(frames[0], calibration, model)
    kw = _kw(allow_extrapolation, progress, tta)
    if dz_um is not None:
        out = api.refocus_frames(frames, float(dz_um), model, **kw)
        cal = dataclasses.replace(calibration, z_step_um=None)
        return RefocusResult(out, "TYX", cal, dz_label(dz_um), metadata=_meta(model, tta, cal, deepz_dz_um=f"{float(dz_um):g}"))
    start, stop, step = (float(v) for v in stack)
    positions = [float(z) for z in api.stack_positions(start, stop, step)]
    out = api.virtual_stack(frames, start, stop, step, model, **kw)  # (T, Z, Y, X)
    cal = dataclasses.replace(calibration, z_step_um=step)
    labels = [dz_label(z) for _ in range(frames.shape[0]) for z in positions]
    title = range_title(positions)
    meta = _meta(model, tta, cal, deepz_dz_um=",".join(f"{z:g}" for z in positions))
    return RefocusResult(out, "TZYX", cal, title, labels, meta)
