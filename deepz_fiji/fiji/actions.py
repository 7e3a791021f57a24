"""What the Deep-Z scripts call: ImagePlus in, refocused ImagePlus out.

Each helper converts the ImagePlus (bulk array transfer), runs the shared job from
:mod:`deepz_fiji.fiji.jobs` (which calls the contract-C refocus API), converts back with the
calibration, titles the result with its Δz and reports progress in ImageJ's status bar
(``IJ.showStatus`` / ``IJ.showProgress``). Parameters may be Python or Java values (a Fiji
script receives ``java.lang.Float``, ``java.io.File`` …).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from deepz_fiji.errors import DeepZError
from deepz_fiji.fiji import convert, jobs

log = logging.getLogger(__name__)


def _status(message: str) -> None:
    import scyjava

    scyjava.jimport("ij.IJ").showStatus(message)


def imagej_progress(what: str) -> jobs.Progress:
    """A ``progress(done, total)`` callback drawing ImageJ's progress bar and status line."""
    import scyjava

    IJ = scyjava.jimport("ij.IJ")

    def progress(done: int, total: int) -> None:
        IJ.showStatus(f"Deep-Z {what}: {done}/{total}")
        IJ.showProgress(int(done), int(max(total, 1)))

    return progress


def _to_imageplus(result: jobs.RefocusResult, source: Any) -> Any:
    base = str(source.getShortTitle()) if source is not None else "image"
    imp = convert.numpy_to_imageplus(result.data, result.axes, title=f"{base} {result.title}",
                                      calibration=result.calibration, slice_labels=result.slice_labels)
    for key, value in result.metadata.items():
        imp.setProp(key, value)
    return imp


def _run(what: str, imp: Any, job: Any, *args: Any, **kw: Any) -> Any:
    import scyjava

    IJ = scyjava.jimport("ij.IJ")
    _status(f"Deep-Z {what}: loading the model…")
    try:
        result = job(*args, progress=imagej_progress(what), **kw)
    finally:
        IJ.showProgress(1.0)
    out = _to_imageplus(result, imp)
    _status(f"Deep-Z {what}: done ({out.getTitle()})")
    log.info("%s -> %s", what, out.getTitle())
    return out


def _plane_of(imp: Any) -> np.ndarray:
    if imp is None:
        raise DeepZError("no image given; open an image in ImageJ first")
    if int(imp.getStackSize()) > 1:
        log.info("%s has %d planes; refocusing the one shown (%d)", imp.getTitle(), imp.getStackSize(),
                 imp.getCurrentSlice())
    return convert.current_plane_to_numpy(imp)


def refocus_plane_imp(imp: Any, dz_um: float, model: Any = None, *, allow_extrapolation: bool = False,
                      tta: bool = False) -> Any:
    """Refocus the plane shown in ``imp`` by ``dz_um`` µm; returns a new calibrated ImagePlus."""
    cal = convert.calibration_from_imageplus(imp)
    return _run("refocus", imp, jobs.plane_job, _plane_of(imp), cal, float(dz_um), model,
                allow_extrapolation=bool(allow_extrapolation), tta=bool(tta))


def virtual_stack_imp(imp: Any, start_um: float, stop_um: float, step_um: float, model: Any = None, *,
                      allow_extrapolation: bool = False, tta: bool = False) -> Any:
    """A virtual z-stack (``start_um … stop_um`` every ``step_um``) from the plane shown in ``imp``."""
    cal = convert.calibration_from_imageplus(imp)
    return _run("virtual stack", imp, jobs.stack_job, _plane_of(imp), cal, float(start_um), float(stop_um),
                float(step_um), model, allow_extrapolation=bool(allow_extrapolation), tta=bool(tta))


def refocus_surface_imp(imp: Any, surface: str = "tilt", model: Any = None, *, tilt_x_deg: float = 0.0,
                        tilt_y_deg: float = 0.0, offset_um: float = 0.0, radius_um: float = 100.0,
                        axis: str = "x", side: str = "convex", height_map: Any = None,
                        allow_extrapolation: bool = False, tta: bool = False) -> Any:
    """Refocus the plane shown in ``imp`` onto a tilted plane, a cylinder or a height map (µm)."""
    cal = convert.calibration_from_imageplus(imp)
    return _run("surface", imp, jobs.surface_job, _plane_of(imp), cal, str(surface), model,
                allow_extrapolation=bool(allow_extrapolation), tta=bool(tta), tilt_x_deg=float(tilt_x_deg),
                tilt_y_deg=float(tilt_y_deg), offset_um=float(offset_um), radius_um=float(radius_um),
                axis=str(axis), side=str(side), height_map=height_map)


def refocus_video_imp(imp: Any, mode: str = "plane", dz_um: float = 0.0, start_um: float = -2.0,
                      stop_um: float = 2.0, step_um: float = 0.5, model: Any = None, *,
                      allow_extrapolation: bool = False, tta: bool = False) -> Any:
    """Refocus every frame of a time-lapse: to one Δz (``mode='plane'``) or to a stack each (``'stack'``).

    Frames are the T axis; a stack with slices but no frames (a time-lapse opened without
    metadata) is read as frames.
    """
    image = convert.imageplus_to_numpy(imp)
    if "C" in image.axes:
        raise DeepZError(f"'{imp.getTitle()}' has {imp.getNChannels()} channels; keep one "
                         "(Image > Duplicate... with one channel) and run again")
    if "T" in image.axes and "Z" in image.axes:
        raise DeepZError(f"'{imp.getTitle()}' has both slices and frames; a video must be frames of single planes")
    frames = image.data
    kind = str(mode).strip().lower()
    if kind not in ("plane", "stack"):
        raise DeepZError(f"unknown video mode {mode!r}; choose 'plane' (one Δz) or 'stack' (a z-range per frame)")
    kw: dict[str, Any] = {"dz_um": float(dz_um)} if kind == "plane" else {
        "stack": (float(start_um), float(stop_um), float(step_um))}
    return _run("video", imp, jobs.frames_job, frames, image.calibration, model=model,
                allow_extrapolation=bool(allow_extrapolation), tta=bool(tta), **kw)
