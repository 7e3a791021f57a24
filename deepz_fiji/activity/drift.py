"""File-level autofocus and drift correction: what ``deepz autofocus`` and ``deepz refocus-video`` run.

Refocusing goes through :mod:`deepz_fiji.refocus` (TensorFlow), imported inside the functions.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from deepz_fiji import __version__
from deepz_fiji.activity.autofocus import FocusResult, analyse_focus, track_focus
from deepz_fiji.activity.stacks import refocus_stack_fn
from deepz_fiji.errors import DeepZError
from deepz_fiji.io import read_image, write_csv, write_image

log = logging.getLogger(__name__)

PathLike = str | os.PathLike
Progress = Callable[[int, int], None]


def autofocus_file(
    input_path: PathLike,
    *,
    regions: tuple[int, int] | None = None,
    model: Any = None,
    range_um: tuple[float, float] = (-10.0, 10.0),
    step_um: float = 0.5,
    method: str = "normvar",
    output: PathLike | None = None,
    pixel_um: float | None = None,
    renormalize: bool = True,
    **refocus_kw: Any,
) -> FocusResult:
    """In-focus Δz of a single-plane image file (per region with ``regions``).

    With ``output``, the (Y, X) height map in µm (a DPM) is written as a calibrated TIFF.
    ``renormalize``: see :func:`~deepz_fiji.activity.stacks.refocus_stack_fn`.
    """
    from deepz_fiji.refocus.files import check_output, resolve_pixel_um

    if output is not None:
        check_output(output)
    image = read_image(input_path)
    if image.data.ndim != 2:
        raise DeepZError(
            f"{Path(input_path).name} has axes {image.axes}; autofocus takes one 2D plane: give a single "
            "image, or use 'deepz refocus-video --track-focus' for a video"
        )
    stack_fn = refocus_stack_fn(model, *range_um, step_um, renormalize=renormalize, network_alone=True, **refocus_kw)
    result = analyse_focus(image.data, range_um=range_um, step_um=step_um, regions=regions or (1, 1),
                           method=method, stack_fn=stack_fn)
    if output is not None:
        pixel = resolve_pixel_um(image, stack_fn.model, pixel_um)  # type: ignore[attr-defined]
        write_image(output, result.height_map(), "YX", pixel_um=pixel, metadata={
            "deepz_description": f"in-focus height map (um), {result.dz_um.shape[0]}x{result.dz_um.shape[1]} "
                                 f"regions, sharpness {method}",
            "deepz_source": str(image.path), "deepz_version": __version__,
        })
    return result


def _frames_axes(axes: str, name: str) -> None:
    if "T" not in axes or "Z" in axes:
        raise DeepZError(
            f"{name} has axes {axes}; refocus-video needs a time series of single planes (T(C)YX): "
            "re-label the slices as frames in Fiji (Image > Hyperstacks > Re-order Hyperstack)"
        )


def read_video(input_path: PathLike) -> tuple[Any, np.ndarray, str]:
    """A video file as (image, frames with T first, their axes): checks it is T(C)YX."""
    image = read_image(input_path)
    _frames_axes(image.axes, Path(input_path).name)
    data = np.moveaxis(image.data, image.axes.index("T"), 0)  # T first, then C (if any), Y, X
    return image, data, "T" + image.axes.replace("T", "")


def refocus_video_frames(
    data: np.ndarray,
    axes: str,
    stack_fn: Any,
    *,
    dz_um: float | None = None,
    focus_channel: int = 0,
    method: str = "normvar",
    progress: Progress | None = None,
    name: str = "the video",
    **refocus_kw: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Frames (T first) refocused by ``dz_um``, or each to its in-focus plane (``dz_um=None``).

    Every frame is handled on its own, so a video may be split into chunks of frames. Returns
    (Δz per frame (T,), the refocused frames).
    """
    from deepz_fiji.refocus import refocus_frames

    if dz_um is None:
        if "C" in axes and not 0 <= focus_channel < data.shape[1]:
            raise DeepZError(f"focus channel {focus_channel} does not exist; {name} has {data.shape[1]} channels")
        focus_frames = data[:, focus_channel] if "C" in axes else data
        dz = track_focus(focus_frames, range_um=stack_fn.range_um, step_um=stack_fn.step_um, method=method,
                         stack_fn=stack_fn, progress=progress)
    else:
        dz = np.full(data.shape[0], float(dz_um))
    per_plane = np.broadcast_to(dz.reshape((-1,) + (1,) * (data.ndim - 3)), data.shape[:-2])
    return dz, refocus_frames(data, np.ascontiguousarray(per_plane), stack_fn.model, **refocus_kw)


def write_video(output: PathLike, out: np.ndarray, axes: str, image: Any, model: Any, dz: np.ndarray, *,
                track: bool, pixel_um: float | None = None, focus_csv: PathLike | None = None) -> None:
    """Write a refocused video (calibrated, the Δz per frame in its metadata) and the optional CSV."""
    from deepz_fiji.refocus.files import resolve_pixel_um

    pixel = resolve_pixel_um(image, model, pixel_um)
    how = "tracked focus" if track else f"dz = {float(dz[0]):+g} um"
    write_image(output, out, axes, pixel_um=pixel, frame_interval_s=image.calibration.frame_interval_s,
                metadata={"deepz_description": f"Deep-Z refocused video ({how}) with model {model.config.name}",
                          "deepz_dz_um_per_frame": " ".join(f"{v:.3f}" for v in dz),
                          "deepz_source": str(image.path), "deepz_version": __version__})
    if focus_csv is not None:
        interval = image.calibration.frame_interval_s
        write_csv(focus_csv, [{"frame": t, **({"time_s": t * interval} if interval else {}), "dz_um": float(v)}
                              for t, v in enumerate(dz)])


def refocus_video_file(
    input_path: PathLike,
    output: PathLike,
    *,
    dz_um: float | None = None,
    track: bool = False,
    model: Any = None,
    range_um: tuple[float, float] = (-10.0, 10.0),
    step_um: float = 0.5,
    focus_channel: int = 0,
    method: str = "normvar",
    focus_csv: PathLike | None = None,
    pixel_um: float | None = None,
    progress: Progress | None = None,
    renormalize: bool = True,
    **refocus_kw: Any,
) -> np.ndarray:
    """Refocus every frame of a video by ``dz_um``, or (``track``) each to its own in-focus plane.

    With ``track``, each frame's in-focus Δz is found on channel ``focus_channel`` (with
    ``renormalize`` as in :func:`autofocus_file`) and applied to all its channels. Writes a
    calibrated TIFF with the input's axes (and the per-frame Δz as CSV with ``focus_csv``).
    Returns the Δz per frame (T,). :mod:`deepz_fiji.dask_cluster` runs the same in frame chunks.
    """
    from deepz_fiji.refocus.files import check_output

    check_video_request(dz_um, track)
    check_output(output)
    image, data, axes = read_video(input_path)
    stack_fn = refocus_stack_fn(model, *range_um, step_um, renormalize=renormalize, network_alone=True, **refocus_kw)
    dz, out = refocus_video_frames(data, axes, stack_fn, dz_um=None if track else dz_um, focus_channel=focus_channel,
                                   method=method, progress=progress, name=Path(input_path).name, **refocus_kw)
    write_video(output, out, axes, image, stack_fn.model, dz, track=track, pixel_um=pixel_um, focus_csv=focus_csv)
    return dz


def check_video_request(dz_um: float | None, track: bool) -> None:
    if (dz_um is None) == (not track):
        raise DeepZError("give either a refocusing distance (--dz) or --track-focus, not both or neither")
