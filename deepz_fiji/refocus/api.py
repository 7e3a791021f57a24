"""Refocus any image with a trained Deep-Z model: planes, virtual stacks, surfaces, frames.

Every function takes a 2D image (Y, X) or frames (..., Y, X) (leading T and/or C axes: each
2D frame is refocused on its own) of uint8/uint16/float pixels, and returns float32 in the
input's intensity units. Intensities are normalised with the one shared recipe
(:func:`deepz_fiji.data.estimate_normalization`, estimated on each input frame itself) and
the normalisation is undone on the output.

Common keyword arguments:

- ``model``: a loaded model, a model name, a model folder, or ``None`` (the shipped default).
- ``allow_extrapolation``: Δz outside the model's trained range raises
  :class:`~deepz_fiji.errors.DeepZError` unless this is True (then a warning is logged).
- ``tile``: largest tile side in pixels (0 = no tiling). The default is the largest tile whose
  activations fit ``engine.DEFAULT_MEMORY_MB`` (1472 px for the small preset, 752 for the
  paper's width), at most ``MAX_TILE``; lower it to use less memory.
- ``batch_px``: pixels per network call — several planes or tiles per call (default: what
  fits the same memory budget).
- ``precision``: 'float32' (default, or ``$DEEPZ_PRECISION``) or 'bfloat16' (about twice as
  fast on CPUs with AVX512-BF16/AMX, outputs differ by a fraction of a percent).
- ``progress``: ``progress(done, total)`` called as tiles finish.
- ``normalization``: the constants to normalise with instead of each frame's own: one
  :class:`~deepz_fiji.data.NormParams` for every frame or one per frame (see
  :func:`virtual_edf_normalization`).
- ``tta``: average the network's output over the 8 rotations/mirrors of each tile (8× the
  work; lower RMSE, see :mod:`deepz_fiji.refocus.symmetry`).
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deepz_fiji.data import NormParams, estimate_normalization, extended_depth_of_field
from deepz_fiji.errors import DeepZError
from deepz_fiji.model import load_model
from deepz_fiji.refocus.engine import Dz, Normalization, RefocusEvent, run_jobs
from deepz_fiji.refocus.inputs import as_dpm, as_image, frame_dpms, z_planes

Progress = Callable[[int, int], None]
ModelLike = Any  # DeepZModel | str | os.PathLike | None


def resolve_model(model: ModelLike):
    """Return ``model`` if it is already a loaded model, otherwise load it by name or path."""
    if model is None or isinstance(model, (str, Path, os.PathLike)):
        return load_model(model)
    if not all(hasattr(model, attr) for attr in ("config", "predict", "receptive_field_px")):
        raise DeepZError(
            f"model must be a loaded Deep-Z model (deepz_fiji.model.load_model), a model name or a "
            f"model folder, got {type(model).__name__}"
        )
    return model


def network_only(model: ModelLike):
    """``model`` with its physics blend switched off and a ``local-flux`` level made ``flux``: the
    network's planes alone (what focus finding scores; the blur, or the input's low-pass, would
    flatten the sharpness curve)."""
    loaded = resolve_model(model)
    level = getattr(loaded.config, "output_level", "flux")
    if not getattr(loaded.config, "physics_blend", 0.0) and level != "local-flux":
        return loaded
    view = copy.copy(loaded)
    view.config = dataclasses.replace(loaded.config, physics_blend=0.0,
                                      output_level="flux" if level == "local-flux" else level)
    return view


def iter_refocus(
    image: np.ndarray,
    dz_um: Iterable[Dz],
    model: ModelLike = None,
    *,
    allow_extrapolation: bool = False,
    tile: int | tuple[int, int] | None = None,
    batch_px: int | None = None,
    precision: str | None = None,
    normalization: Normalization = None,
    tta: bool = False,
) -> Iterator[RefocusEvent]:
    """Refocus ``image`` to every Δz (scalar or (Y, X) DPM) in ``dz_um``, yielding progress.

    Yields a :class:`RefocusEvent` per batch of tiles; events that complete a plane carry
    ``index = (frame, plane)`` and the plane (Y, X float32, input units). Frames of a
    (..., Y, X) input are numbered in C order. Use it to drive a progress bar or status line;
    the plain functions below collect the planes for you.
    """
    data = as_image(image)
    frames = data.reshape((-1, *data.shape[-2:]))
    planes = [as_dpm(dz, frames.shape[-2:]) for dz in dz_um]
    yield from run_jobs(frames, [planes] * len(frames), resolve_model(model), allow_extrapolation=allow_extrapolation,
                        tile=tile, batch_px=batch_px, precision=precision, normalization=normalization,
                        tta=tta)


def _refocus_jobs(
    data: np.ndarray,
    jobs: list[list[Dz]],
    model: ModelLike = None,
    *,
    allow_extrapolation: bool = False,
    tile: int | tuple[int, int] | None = None,
    batch_px: int | None = None,
    precision: str | None = None,
    progress: Progress | None = None,
    normalization: Normalization = None,
    tta: bool = False,
) -> np.ndarray:
    """Run ``jobs[f]`` for each 2D frame of ``data``; returns (frames, planes, Y, X)."""
    frames = data.reshape((-1, *data.shape[-2:]))
    out = np.empty((len(frames), max(len(j) for j in jobs), *frames.shape[-2:]), np.float32)
    events = run_jobs(frames, jobs, resolve_model(model), allow_extrapolation=allow_extrapolation,
                      tile=tile, batch_px=batch_px, precision=precision, normalization=normalization,
                      tta=tta)
    for event in events:
        if event.plane is not None:
            out[event.index] = event.plane
        if progress is not None:
            progress(event.done, event.total)
    return out


def refocus(
    image: np.ndarray,
    dpm_um: Dz,
    model: ModelLike = None,
    *,
    allow_extrapolation: bool = False,
    tile: int | tuple[int, int] | None = None,
    batch_px: int | None = None,
    precision: str | None = None,
    progress: Progress | None = None,
    normalization: Normalization = None,
    tta: bool = False,
) -> np.ndarray:
    """Refocus ``image`` onto the surface ``dpm_um``: a Δz in µm or a (Y, X) DPM in µm.

    Returns float32 of the input's shape, in the input's intensity units; a (..., Y, X)
    input has every frame refocused with the same Δz / DPM. Keyword arguments: see the
    module documentation (the other functions take the same ones).
    """
    data = as_image(image)
    dz = as_dpm(dpm_um, data.shape[-2:])
    n_frames = int(np.prod(data.shape[:-2]))
    out = _refocus_jobs(data, [[dz]] * n_frames, model, allow_extrapolation=allow_extrapolation,
                        tile=tile, batch_px=batch_px, precision=precision, progress=progress,
                        normalization=normalization, tta=tta)
    return out.reshape(data.shape)


def refocus_plane(image: np.ndarray, dz_um: float, model: ModelLike = None, **kw: Any) -> np.ndarray:
    """Refocus ``image`` to the plane ``dz_um`` µm away (Δz > 0: farther from the objective)."""
    return refocus(image, float(dz_um), model, **kw)


def refocus_surface(image: np.ndarray, dpm_um: np.ndarray, model: ModelLike = None, **kw: Any) -> np.ndarray:
    """Refocus ``image`` onto a 3D surface given as a (Y, X) DPM in µm (see :mod:`deepz_fiji.dpm`).

    The network was trained with uniform DPMs; surfaces that vary slowly (lateral period above
    ~100 px) refocus well, faster ones give background artefacts.
    """
    data = as_image(image)
    return refocus(data, as_dpm(np.asarray(dpm_um), data.shape[-2:], "DPM"), model, **kw)


def virtual_stack(image: np.ndarray, start_um: float, stop_um: float, step_um: float,
                  model: ModelLike = None, **kw: Any) -> np.ndarray:
    """A virtual z-stack: planes ``start_um, start_um + step_um, …`` up to ``stop_um``.

    ``stop_um`` is included when it falls on the grid (within 1e-6 step), so ``(-10, 10, 0.5)``
    gives 41 planes; see :func:`stack_positions`. Returns (Z, Y, X) float32 (plane index grows
    with z), or (..., Z, Y, X) for frames. Planes are batched through the network.
    """
    data = as_image(image)
    zs = [float(z) for z in z_planes(start_um, stop_um, step_um)]
    n_frames = int(np.prod(data.shape[:-2]))
    out = _refocus_jobs(data, [zs] * n_frames, model, **kw)
    return out.reshape((*data.shape[:-2], len(zs), *data.shape[-2:]))


def virtual_edf_normalization(stack: np.ndarray) -> NormParams:
    """Normalisation constants taken from the EDF of a virtual stack (Z, Y, X, input units).

    Training normalises every plane with its stack's EDF constants; a single image normalised
    on itself is brighter than that whenever its sample is out of focus (sparse beads 5 µm out:
    ~50× in normalised units). The EDF of a first virtual stack of the image stands in for the
    stack's EDF: refocusing again with these constants puts the input back on the training's scale.
    """
    return estimate_normalization(extended_depth_of_field(np.asarray(stack, np.float32))[0])


def stack_positions(start_um: float, stop_um: float, step_um: float) -> np.ndarray:
    """The Δz (µm) of each plane :func:`virtual_stack` computes for these arguments."""
    return z_planes(start_um, stop_um, step_um)


def refocus_frames(frames: np.ndarray, dz_um: Dz | Sequence[float], model: ModelLike = None,
                   **kw: Any) -> np.ndarray:
    """Refocus every frame of ``frames`` (..., Y, X), e.g. a time-lapse (T, Y, X).

    ``dz_um`` is a Δz for all frames, a (Y, X) DPM for all frames, one Δz per frame (shape
    ``frames.shape[:-2]``, e.g. to follow a focus drift) or one DPM per frame (``frames.shape``).
    Each frame is normalised on its own. Returns float32 of ``frames.shape``.
    """
    data = as_image(frames, "frames")
    out = _refocus_jobs(data, [[d] for d in frame_dpms(dz_um, data.shape)], model, **kw)
    return out.reshape(data.shape)
