"""The refocusing loop: normalise, tile, batch through the network, blend, denormalise.

Work is a list of *jobs*: for every 2D frame of the input, the Δz values (scalars or 2D DPMs)
of the planes to compute. Every (frame, plane, tile) triple is one network sample; samples
are grouped into batches of at most ``batch_px`` pixels (several planes of the same image in
one ``predict`` call), all of one fixed tile shape per image so the network is not retraced.
The generator :func:`run_jobs` yields a :class:`RefocusEvent` after every batch, carrying the
planes completed by it.
"""

from __future__ import annotations

import inspect
import logging
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from deepz_fiji.data import NormParams, estimate_normalization
from deepz_fiji.dpm import check_range
from deepz_fiji.errors import DeepZError
from deepz_fiji.evaluate.baselines import blur_channel, physics_channels
from deepz_fiji.refocus.levels import FrameLevel
from deepz_fiji.refocus.precision import check_precision, precision_scope
from deepz_fiji.refocus.symmetry import averaged
from deepz_fiji.refocus.tiling import MAX_TILE, TileLayout, pad_to, plan_tiles

log = logging.getLogger(__name__)

#: Memory (MB) the network's activations may take in one call; sets the default tile and batch.
DEFAULT_MEMORY_MB = 1536

Dz = float | np.ndarray
#: Normalisation constants for :func:`run_jobs`: None (each frame on itself), one, or one per frame.
Normalization = NormParams | Sequence[NormParams | None] | None


@dataclass(frozen=True)
class RefocusEvent:
    """Progress of a refocusing run: ``done`` of ``total`` tile predictions finished.

    When a plane is complete, ``index`` = (frame, plane) and ``plane`` holds it (Y, X float32,
    in the input's intensity units); otherwise both are ``None``.
    """

    done: int
    total: int
    index: tuple[int, int] | None = None
    plane: np.ndarray | None = None


def check_dz_range(jobs: Sequence[Sequence[Dz]], config, allow_extrapolation: bool) -> None:
    """Refuse Δz outside the model's trained range unless extrapolation is allowed (then warn)."""
    values = [np.min(d) for job in jobs for d in job] + [np.max(d) for job in jobs for d in job]
    if not values:
        return
    lo, hi = float(min(values)), float(max(values))
    zmin, zmax = config.dz_min_um, config.dz_max_um
    if not allow_extrapolation:
        check_range(np.array([lo, hi]), zmin, zmax)
    elif lo < zmin - 1e-6 or hi > zmax + 1e-6:
        log.warning(
            "Δz %g … %g µm reaches outside model %r's trained range %g … %g µm; extrapolated planes "
            "are unreliable", lo, hi, config.name, zmin, zmax,
        )


def bytes_per_pixel(config) -> float:
    """Rough peak memory of one network call per input pixel, in bytes.

    Dominated by the full-resolution float32 tensors of the first and last U-Net levels; fitted
    to peak RSS measured on CPU (small preset ≈ 650 B/px, paper preset ≈ 2.4 kB/px).
    """
    widths = config.widths
    return 64.0 + 16.0 * (widths["k3"][0] + 2 * widths["k2"][0])


def default_batch_px(config) -> int:
    """Pixels per network call that fit :data:`DEFAULT_MEMORY_MB` for this architecture."""
    return int(DEFAULT_MEMORY_MB * 2**20 / bytes_per_pixel(config))


def default_tile(config) -> int:
    """Largest tile side (≤ :data:`MAX_TILE`) whose activations fit the memory budget."""
    side = int(math.sqrt(default_batch_px(config))) // config.size_multiple * config.size_multiple
    return max(config.size_multiple, min(MAX_TILE, side))


def _batch_size(layout: TileLayout, batch_px: int) -> int:
    th, tw = layout.tile_shape
    return max(1, int(batch_px) // (th * tw))


def run_jobs(
    frames: np.ndarray,
    jobs: Sequence[Sequence[Dz]],
    model,
    *,
    allow_extrapolation: bool = False,
    tile: int | tuple[int, int] | None = None,
    batch_px: int | None = None,
    precision: str | None = None,
    normalization: Normalization = None,
    tta: bool = False,
) -> Iterator[RefocusEvent]:
    """Refocus ``frames`` (F, Y, X) to ``jobs[f]`` (Δz values or DPMs) for each frame ``f``.

    Inputs are assumed checked (see :mod:`deepz_fiji.refocus.inputs`). Each frame is normalised
    with constants estimated on itself, or with ``normalization`` (one :class:`NormParams` for
    every frame, or one per frame, ``None`` entries estimated on the frame); outputs are
    denormalised with the same constants.
    ``tile=None`` and ``batch_px=None`` fit :data:`DEFAULT_MEMORY_MB`; ``precision`` is
    'float32' or 'bfloat16' (see :mod:`deepz_fiji.refocus.precision`); ``tta`` averages every
    tile over its 8 rotations/mirrors (see :mod:`deepz_fiji.refocus.symmetry`).
    """
    config = model.config
    check_dz_range(jobs, config, allow_extrapolation)
    norms = frame_normalizations(normalization, len(frames))
    check_precision(precision)
    _, height, width = frames.shape
    tile = default_tile(config) if tile is None else tile
    layout = plan_tiles((height, width), config.size_multiple, int(model.receptive_field_px), tile)
    th, tw = layout.tile_shape
    total = sum(len(job) for job in jobs) * layout.n_tiles
    batch = min(max(total, 1), _batch_size(layout, batch_px or default_batch_px(config)))
    log.info(
        "refocusing %d plane(s) of %dx%d with model %r: %d tile(s) of %dx%d, batch %d%s",
        total // layout.n_tiles, height, width, config.name, layout.n_tiles, th, tw, batch,
        ", averaged over 8 rotations/mirrors" if tta else "",
    )
    buffer = np.empty((batch, th, tw, config.input_channels), np.float32)
    with precision_scope(precision):
        yield from _run(frames, jobs, model, layout, buffer, total, norms, tta)


def frame_normalizations(normalization: Normalization, n_frames: int) -> list[NormParams | None]:
    """``normalization`` as one entry per frame (``None``: estimate it on the frame)."""
    if normalization is None or isinstance(normalization, NormParams):
        return [normalization] * n_frames
    norms = list(normalization)
    if len(norms) != n_frames or not all(n is None or isinstance(n, NormParams) for n in norms):
        raise DeepZError(f"normalization must be one NormParams or one per frame ({n_frames}), got "
                         f"{len(norms)} entries")
    return norms


def _run(frames, jobs, model, layout, buffer, total, norms, tta) -> Iterator[RefocusEvent]:
    batch, height, width = buffer.shape[0], *frames.shape[1:]

    def predict(x: np.ndarray) -> np.ndarray:
        return averaged(lambda b: _predict(model, b), x) if tta else _predict(model, x)

    blender = _Blender(layout, (height, width), model.config.physics_blend)
    pending: list[tuple] = []  # (frame, plane, norm params, tile) of the samples in the buffer
    done, t0 = 0, time.perf_counter()
    for key, t, image, dpm, physics, mix in _samples(frames, jobs, layout, model.config, norms):
        if mix is not None:
            blender.blur[key[:2]] = mix
        rows, cols = layout.slices(t)
        buffer[len(pending), :, :, 0] = image[rows, cols]
        buffer[len(pending), :, :, 1] = dpm if dpm.ndim == 0 else dpm[rows, cols]
        for c, channel in enumerate(physics, start=2):
            buffer[len(pending), :, :, c] = channel[rows, cols]
        pending.append((*key, t))
        if len(pending) == batch:
            done += len(pending)
            yield from _events(blender.add(predict(buffer), pending), done, total)
            pending.clear()
    if pending:
        done += len(pending)
        yield from _events(blender.add(predict(buffer[: len(pending)]), pending), done, total)
    log.info("refocused %d tile(s) in %.2f s", done, time.perf_counter() - t0)


def _samples(frames, jobs, layout, config, norms):
    """Yield ((frame, plane, norm params), tile, normalised padded image, scaled padded DPM,
    padded physics input channels, the plane's physics blur to blend in (first tile only, else None))."""
    for f, frame in enumerate(frames):
        if not jobs[f]:
            continue
        given = norms[f] if norms[f] is not None else estimate_normalization(frame)
        params = FrameLevel(given, frame, config.output_level if config.modality == "widefield" else "none", config)
        normalised = params.normalised
        image = pad_to(normalised, layout.padded_shape)
        for p, dz in enumerate(jobs[f]):
            params.plan(p, dz)
            dpm = np.asarray(dz, np.float32) / np.float32(config.dpm_scale_um)
            dpm = dpm if dpm.ndim == 0 else pad_to(dpm, layout.padded_shape)
            channels = physics_channels(normalised, dz, config)
            physics = [pad_to(channel, layout.padded_shape) for channel in channels]
            mix = None
            if config.physics_blend:
                named = dict(zip(config.physics_inputs, channels, strict=True))
                mix = named["blur"] if "blur" in named else blur_channel(normalised, dz, config)
            for t in range(layout.n_tiles):
                yield (f, p, params), t, image, dpm, physics, mix if t == 0 else None


def _events(finished, done: int, total: int) -> Iterator[RefocusEvent]:
    if not finished:
        yield RefocusEvent(done, total)
    for key, plane in finished:
        yield RefocusEvent(done, total, key, plane)


def _predict(model, batch: np.ndarray) -> np.ndarray:
    """``model.predict`` on the whole batch (DeepZModel splits batches unless told their size)."""
    takes_batch_size = "batch_size" in inspect.signature(model.predict).parameters
    out = np.asarray(model.predict(batch, batch_size=len(batch)) if takes_batch_size else model.predict(batch))
    if out.shape != (*batch.shape[:3], 1):
        raise DeepZError(
            f"the model returned shape {out.shape} for input {batch.shape}; the model folder is "
            "broken or not a Deep-Z generator"
        )
    return out[..., 0]


class _Blender:
    """Accumulates weighted tile predictions per plane; hands back planes once complete."""

    def __init__(self, layout: TileLayout, shape: tuple[int, int], blend: float = 0.0):
        self.layout, self.shape, self.blend = layout, shape, float(blend)
        self.sums: dict[tuple[int, int], np.ndarray] = {}
        self.counts: dict[tuple[int, int], int] = {}
        self.blur: dict[tuple[int, int], np.ndarray] = {}  # per plane, with a physics blend

    def add(self, preds: np.ndarray, samples) -> list[tuple[tuple[int, int], np.ndarray]]:
        finished = []
        for (f, p, params, t), pred in zip(samples, preds, strict=True):
            key = (f, p)
            if key not in self.sums:
                self.sums[key] = np.zeros(self.layout.padded_shape, np.float32)
                self.counts[key] = 0
            rows, cols = self.layout.slices(t)
            self.sums[key][rows, cols] += pred * self.layout.weight(t)
            self.counts[key] += 1
            if self.counts[key] == self.layout.n_tiles:
                del self.counts[key]
                plane = self.sums.pop(key)[: self.shape[0], : self.shape[1]]
                if key in self.blur:
                    plane = (1 - self.blend) * plane + self.blend * self.blur.pop(key)
                finished.append((key, params.restore(plane, p)))
        return finished
