"""``track_activity``: 3D neuron activity from a single-plane two-channel video (SPEC §6).

register frames → virtual stack of every frame and channel (cached, resumable) → median of
the nuclei stacks over time → local maxima + 3D watershed → F_i(t) from the 100 brightest
activity voxels → ΔF, ΔF/F0 → active neurons (std of ΔF) → spectral clustering → outputs
(label TIFF, CSV tables, PNG figures, JSON summary; see :mod:`deepz_fiji.activity.outputs`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from deepz_fiji.activity.cache import StackCache, video_fingerprint
from deepz_fiji.activity.cluster import (
    SIGMA,
    Clustering,
    similarity_matrix,
    spectral_clustering,
)
from deepz_fiji.activity.outputs import summary, write_outputs
from deepz_fiji.activity.register import Registration, apply_transforms, register_frames
from deepz_fiji.activity.result import ActivityResult
from deepz_fiji.activity.segment import median_projection, segment_neurons
from deepz_fiji.activity.stacks import (
    StackFn,
    checked_stack,
    model_name,
    model_pixel_um,
    refocus_stack_fn,
    z_positions,
)
from deepz_fiji.activity.traces import delta_f, extract_traces, select_active
from deepz_fiji.errors import DeepZError
from deepz_fiji.trust import check_calibration

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


@dataclass
class ActivityOptions:
    """Analysis settings of :func:`track_activity` (defaults follow SPEC §6)."""

    register: bool = True
    registration_method: str = "intensity"  # or "features" (ORB + RANSAC)
    registration_model: str = "rigid"  # "affine"; "projective" with features
    min_distance_um: float = 2.0  # between neuron centroids
    smooth_um: float = 0.5  # Gaussian smoothing before maxima / watershed
    threshold: float | None = None  # nuclei intensity for neurons; None = Otsu
    max_radius_um: float | None = None  # trim masks to a ball around the seed
    n_brightest: int = 100
    select_on: str = "df"  # "df" (SPEC: std of ΔF) or "dff" (std of ΔF/F0)
    min_std: float | None = None  # None with n_active None = Otsu of the std values
    n_active: int | None = None
    sigma: float = SIGMA
    normalize_time: bool = False
    k: int | None = None  # None = eigengap
    max_k: int = 10
    min_k: int = 1  # 2 = never settle for a single cluster
    seed: int = 0


#: ``stack_many(frames) -> iterator of (index, stack)``: many frames refocused at once, in any order.
StackMany = Callable[[list[np.ndarray]], Iterator[tuple[int, np.ndarray]]]


def as_video(video: Any, axes: str | None = None) -> tuple[np.ndarray, Any]:
    """(T, C, Y, X) float32 from an array with ``axes`` ('TCYX', 'CTYX', 'TYX') or an io.Image.

    Returns the array and the calibration (None for a plain array).
    """
    data = np.asarray(getattr(video, "data", video))
    axes = (axes or getattr(video, "axes", None) or {4: "TCYX", 3: "TYX"}.get(data.ndim, "")).upper()
    if "Z" in axes:
        raise DeepZError(
            f"the video has a Z axis ({axes}); activity tracking starts from single-plane frames: if the "
            "slices are time points, re-label them as frames in Fiji (Image > Hyperstacks > Re-order Hyperstack)"
        )
    if "T" not in axes or sorted(axes) != sorted(set(axes)) or len(axes) != data.ndim or not axes.endswith("YX") \
            or set(axes) - set("TCYX"):
        raise DeepZError(
            f"cannot use a video with axes {axes!r} and shape {data.shape}; give frames as T(C)YX, e.g. an "
            "ImageJ hyperstack with time frames and channels"
        )
    if "C" not in axes:
        data, axes = data[:, None], "TCYX"
    data = np.transpose(data, [axes.index(a) for a in "TCYX"]).astype(np.float32)
    if data.shape[0] < 2:
        raise DeepZError(f"the video has {data.shape[0]} frame; activity needs at least 2 time points")
    return data, getattr(video, "calibration", None)


def _check_channel(channel: int, n: int, what: str) -> int:
    if not 0 <= int(channel) < n:
        raise DeepZError(f"{what} channel {channel} does not exist; the video has channels 0 … {n - 1}")
    return int(channel)


def _resolve_pixel_um(pixel_um: float | None, calibration: Any, stack_fn: StackFn) -> float:
    """The given pixel size, else the video's calibration, else the model's; warn on a mismatch."""
    trained = model_pixel_um(stack_fn)
    for value in (pixel_um, getattr(calibration, "pixel_um", None), trained):
        if value is not None:
            if not value > 0:
                raise DeepZError(f"pixel size must be a positive number of µm, got {value}")
            config = getattr(getattr(stack_fn, "model", None), "config", None)
            if config is not None:
                check_calibration(config, float(value))
            return float(value)
    raise DeepZError("the video has no pixel size calibration; give it (e.g. --pixel-um 0.325)")


def track_activity(
    video: Any,
    nuclei_channel: int,
    activity_channel: int,
    out_dir: str | os.PathLike,
    *,
    stack_fn: StackFn | None = None,
    model: Any = None,
    z_range: tuple[float, float, float] = (-10.0, 10.0, 0.5),
    axes: str | None = None,
    pixel_um: float | None = None,
    frame_interval_s: float | None = None,
    options: ActivityOptions | None = None,
    progress: Progress | None = None,
    resume: bool = False,
    write: bool = True,
    stack_many: StackMany | None = None,
) -> ActivityResult:
    """Analyse neuron activity in 3D from a single-plane video; write the outputs to ``out_dir``.

    ``video``: (T, C, Y, X) / (C, T, Y, X) array with ``axes``, or a :class:`deepz_fiji.io.Image`.
    ``stack_fn(image) -> (Z, Y, X)`` refocuses one frame to the planes of ``z_range``
    (start, stop, step µm); by default Deep-Z with ``model``'s network alone (no physics blend:
    it selects more of the truly active neurons, ``benchmarks/results/activity/worm.md``). Stacks are cached in
    ``out_dir/cache``; ``resume=True`` reuses them after an interruption. ``progress(done,
    total)`` counts frames through registration, refocusing and trace extraction.
    ``stack_many(frames)`` (optional, e.g. :func:`deepz_fiji.dask_cluster.cluster_stack_many`)
    refocuses many frames at once, yielding ``(index, stack)`` in any order; the stacks not yet
    cached are made with it, then everything goes on as without it.
    """
    started = time.time()
    opts = options or ActivityOptions()
    frames, calibration = as_video(video, axes)
    n_t, n_c = frames.shape[:2]
    nuc = _check_channel(nuclei_channel, n_c, "nuclei")
    act = _check_channel(activity_channel, n_c, "activity")
    z_um = z_positions(*z_range)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DeepZError(f"output {out} is a file; give a folder for the results")
    out.mkdir(parents=True, exist_ok=True)
    if stack_fn is None:
        stack_fn = refocus_stack_fn(model, *z_range, network_alone=True)
    pixel = _resolve_pixel_um(pixel_um, calibration, stack_fn)
    interval = frame_interval_s if frame_interval_s is not None else getattr(calibration, "frame_interval_s", None)

    channels = sorted({nuc, act})
    settings = {"video": video_fingerprint(frames), "channels": channels, "z_um": z_um.tolist(),
                "refocusing": model_name(stack_fn), "register": opts.register,
                "registration_method": opts.registration_method, "registration_model": opts.registration_model}
    cache = StackCache(out / "cache", settings, resume=resume)
    total = n_t * (1 + len(channels) + 1)
    done = [0]

    def step(n: int = 1) -> None:
        done[0] += n
        if progress is not None:
            progress(done[0], total)

    registration = None
    if opts.register:
        registration = _registration(frames[:, nuc], cache, opts, lambda d, t: step())
        frames = apply_transforms(frames, registration.transforms)
    else:
        step(n_t)

    shape = (len(z_um), *frames.shape[-2:])
    stacks: dict[int, list[np.ndarray]] = {c: [] for c in channels}

    def compute(t: int, c: int) -> np.ndarray:
        return checked_stack(stack_fn(frames[t, c]), len(z_um), frames.shape[-2:])

    missing = [(t, c) for t in range(n_t) for c in channels if cache.load(cache.name(c, t), shape) is None]
    if stack_many is not None and missing:
        for index, stack in stack_many([frames[t, c] for t, c in missing]):
            t, c = missing[index]
            cache.save(cache.name(c, t), checked_stack(stack, len(z_um), frames.shape[-2:]))
    for t in range(n_t):
        for c in channels:
            stacks[c].append(cache.stack(c, t, shape, partial(compute, t, c)))
            step()
    result = analyse_stacks(stacks[nuc], stacks[act], z_um, pixel, options=opts, frame_interval_s=interval,
                            progress=lambda d, t: step())
    result.registration = registration
    result.run_info = {
        **result.run_info,
        "frames": n_t, "channels": {"nuclei": nuc, "activity": act}, "refocusing": model_name(stack_fn),
        "stacks_resumed_from_cache": cache.loaded,
        "elapsed_s": round(time.time() - started, 2),
    }
    if write:
        result.files = write_outputs(result, out)
    result.summary = summary(result, result.files)
    return result


def analyse_stacks(
    nuclei_stacks: Sequence[np.ndarray],
    activity_stacks: Sequence[np.ndarray],
    z_um: np.ndarray,
    pixel_um: float,
    *,
    options: ActivityOptions | None = None,
    frame_interval_s: float | None = None,
    progress: Progress | None = None,
) -> ActivityResult:
    """Segment, measure, select and cluster from per-frame stacks (Z, Y, X) of both channels.

    The analysis half of :func:`track_activity`, for stacks from anywhere (Deep-Z virtual
    stacks, or mechanically scanned ones for comparison); planes at ``z_um`` (µm, evenly
    spaced). Nothing is written: see :func:`deepz_fiji.activity.outputs.write_outputs`.
    """
    opts = options or ActivityOptions()
    z_um = np.asarray(z_um, dtype=np.float64)
    z_step = float(z_um[1] - z_um[0]) if len(z_um) > 1 else 1.0
    nuclei_median = median_projection(nuclei_stacks)
    seg = segment_neurons(nuclei_median, pixel_um=pixel_um, z_step_um=z_step,
                          min_distance_um=opts.min_distance_um, smooth_um=opts.smooth_um,
                          threshold=opts.threshold, max_radius_um=opts.max_radius_um)
    traces = extract_traces(activity_stacks, seg.labels, n_brightest=opts.n_brightest, progress=progress)
    result = ActivityResult(z_um=z_um, pixel_um=float(pixel_um), frame_interval_s=frame_interval_s,
                            registration=None, nuclei_median=nuclei_median, segmentation=seg,
                            **analyse_traces(traces, opts))
    result.run_info = {"frames": len(activity_stacks), "options": asdict(opts)}
    return result


def _registration(frames: np.ndarray, cache: StackCache, opts: ActivityOptions, progress: Progress) -> Registration:
    """Register to the middle frame, or read the transforms back from the cache."""
    n = len(frames)
    transforms, scores = cache.load("transforms.npy", (n, 3, 3)), cache.load("scores.npy", (n,))
    if transforms is not None and scores is not None:
        progress(n, n)
        return Registration(np.array(transforms), np.array(scores), n // 2, tuple(frames.shape[-2:]))
    reg = register_frames(frames, reference_index=n // 2, method=opts.registration_method,
                          model=opts.registration_model, progress=progress)
    cache.save("scores.npy", reg.scores)
    cache.save("transforms.npy", reg.transforms)
    return reg


def analyse_traces(traces: np.ndarray, opts: ActivityOptions) -> dict[str, Any]:
    """ΔF, the active neurons and their spectral clustering from raw traces F (N, T)."""
    if opts.select_on not in ("df", "dff"):
        raise DeepZError(f"select_on must be 'df' (std of ΔF) or 'dff' (std of ΔF/F0), got {opts.select_on!r}")
    delta = delta_f(traces)
    values = delta.df if opts.select_on == "df" else delta.dff
    active, thr = select_active(values, min_std=opts.min_std, n_active=opts.n_active)
    active &= np.all(np.isfinite(delta.dff), axis=1)
    x = delta.dff[active]
    similarity = similarity_matrix(x, opts.sigma, normalize_time=opts.normalize_time)
    if len(x) >= 2:
        k = None if opts.k is None else min(opts.k, len(x))
        clustering = spectral_clustering(similarity, k=k, max_k=opts.max_k, min_k=opts.min_k, seed=opts.seed)
    else:
        clustering = Clustering(np.zeros(len(x), np.int64), len(x), np.zeros(len(x)), np.eye(len(x)))
    return {"traces": np.asarray(traces), "delta": delta, "active": active, "active_threshold": thr,
            "similarity": similarity, "clustering": clustering}
