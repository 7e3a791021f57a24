"""Tiles with overlap and tapered blending weights, so large images refocus without seams.

A fully convolutional U-Net gives the same output for a pixel whether it sees the whole image
or a tile, as long as (a) the tile reaches at least one receptive-field radius beyond the
pixel on every side that is not an image border, and (b) the tile starts on the network's
pooling grid (multiples of ``2 ** (depth - 1)``), so tiles are placed on that grid.

Each tile's weight is zero in a ``margin`` (≥ the receptive-field radius) along its interior
edges, then rises with a raised-cosine (Hann) ramp over ``blend`` pixels to one. Neighbouring
tiles overlap by at least ``2 * margin + blend``, so every pixel is covered by the inside of
some tile and transitions are smooth even where the network's effective footprint is larger
than assumed. The weights of all tiles are normalised to sum to one at every pixel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from deepz_fiji.errors import DeepZError

#: Largest default tile side in pixels; the default is usually set lower by the memory budget
#: (see :func:`deepz_fiji.refocus.engine.default_tile`).
MAX_TILE = 2048
#: Width of the cosine ramp between tiles, in pixels (rounded up to the network's multiple).
DEFAULT_BLEND = 32


def round_up(value: int, multiple: int) -> int:
    """Smallest multiple of ``multiple`` that is >= ``value``."""
    return int(math.ceil(value / multiple) * multiple)


@dataclass(frozen=True)
class TileLayout:
    """Tiles covering a padded image of ``padded_shape``; each tile has ``tile_shape``.

    ``starts`` holds the (y, x) corner of every tile; :meth:`weight` gives its normalised
    blending weights (tile-shaped, float32): summing ``weight(i) * prediction_i`` over all
    tiles gives the full image.
    """

    padded_shape: tuple[int, int]
    tile_shape: tuple[int, int]
    starts: tuple[tuple[int, int], ...]
    weights: tuple[tuple[np.ndarray, np.ndarray], ...]  # separable (row, column) factors
    margin: int
    blend: int

    @property
    def n_tiles(self) -> int:
        return len(self.starts)

    def weight(self, index: int) -> np.ndarray:
        """Normalised blending weights of tile ``index`` (tile-shaped float32)."""
        wy, wx = self.weights[index]
        return np.outer(wy, wx)

    def slices(self, index: int) -> tuple[slice, slice]:
        """Row and column slices of tile ``index`` in the padded image."""
        (y, x), (th, tw) = self.starts[index], self.tile_shape
        return slice(y, y + th), slice(x, x + tw)


def _starts_1d(length: int, tile: int, overlap: int, multiple: int) -> list[int]:
    """Tile starts on the ``multiple`` grid covering [0, length) with at least ``overlap`` overlap."""
    if length <= tile:
        return [0]
    count = math.ceil((length - overlap) / (tile - overlap))
    units = (length - tile) // multiple  # last start, in grid units
    # spread `units` over count-1 steps as evenly as possible: each step <= (tile-overlap)/multiple
    return [(i * units // (count - 1)) * multiple for i in range(count)]


def _balanced(length: int, tile: int, overlap: int, multiple: int) -> int:
    """The smallest tile (multiple of ``multiple``, <= ``tile``) needing no more tiles than ``tile``."""
    if length <= tile:
        return length
    count = math.ceil((length - overlap) / (tile - overlap))
    return min(tile, round_up(math.ceil((length + (count - 1) * overlap) / count), multiple))


def _ramp_1d(size: int, start_edge: bool, end_edge: bool, margin: int, blend: int) -> np.ndarray:
    """1D weight: 0 over ``margin`` at interior ends, Hann ramp over ``blend``, 1 inside."""
    pos = np.arange(size, dtype=np.float64) + 0.5
    w = np.ones(size)
    for interior, dist in ((not start_edge, pos), (not end_edge, size - pos)):
        if interior:
            t = np.clip((dist - margin) / blend, 0.0, 1.0)
            w *= np.sin(0.5 * np.pi * t) ** 2
    return w


def plan_tiles(
    shape: tuple[int, int],
    multiple: int,
    receptive_field_px: int,
    tile: int | tuple[int, int] = MAX_TILE,
    blend: int = DEFAULT_BLEND,
) -> TileLayout:
    """Tile an image of ``shape`` (H, W) for a network needing sizes divisible by ``multiple``.

    ``tile`` is the largest tile side (int or (h, w)) in pixels, rounded up to ``multiple``;
    ``0`` means one tile (no tiling). Tiles are then shrunk
    as far as possible without needing more of them (less overlap to compute); all tiles of an
    image have the same shape. The padded image (edge
    replicated, bottom/right) has each side rounded up to ``multiple``. Raises
    :class:`DeepZError` if the tile is too small for the receptive field.
    """
    h, w = (int(s) for s in shape)
    padded = (round_up(h, multiple), round_up(w, multiple))
    margin = round_up(max(1, math.ceil(receptive_field_px / 2)), multiple)
    blend = round_up(max(1, blend), multiple)
    overlap = 2 * margin + blend
    req = (tile, tile) if np.isscalar(tile) else tuple(tile)
    if len(req) != 2 or any(int(t) < 0 for t in req):
        raise DeepZError(f"tile size must be a non-negative number of pixels, got {tile!r}")
    tile_shape = []
    for length, t in zip(padded, req, strict=True):
        t = length if int(t) == 0 else min(round_up(int(t), multiple), length)
        if t < length and t < 2 * overlap:
            raise DeepZError(
                f"tile size {t} px is too small for this model (receptive field {receptive_field_px} px "
                f"needs tiles of at least {round_up(2 * overlap, multiple)} px); use a larger tile"
            )
        tile_shape.append(_balanced(length, t, overlap, multiple))
    th, tw = tile_shape
    ys = _starts_1d(padded[0], th, overlap, multiple)
    xs = _starts_1d(padded[1], tw, overlap, multiple)
    # the tiles form a grid, so the normalised 2D weights are outer products of 1D ones
    wy = _normalised_weights(ys, th, padded[0], margin, blend)
    wx = _normalised_weights(xs, tw, padded[1], margin, blend)
    starts = tuple((y, x) for y in ys for x in xs)
    weights = tuple((a, b) for a in wy for b in wx)
    return TileLayout(padded, (th, tw), starts, weights, margin, blend)


def _normalised_weights(starts: list[int], tile: int, length: int, margin: int, blend: int) -> list[np.ndarray]:
    raw = [_ramp_1d(tile, s == 0, s + tile == length, margin, blend) for s in starts]
    total = np.zeros(length)
    for s, w in zip(starts, raw, strict=True):
        total[s : s + tile] += w
    if total.min() <= 0:  # cannot happen with overlap >= 2*margin + blend; guards the invariant
        raise AssertionError("tile weights leave pixels uncovered")
    return [(w / total[s : s + tile]).astype(np.float32) for s, w in zip(starts, raw, strict=True)]


def pad_to(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Edge-replicate the last two axes of ``image`` at the bottom/right up to ``shape``."""
    extra = [(0, 0)] * (image.ndim - 2) + [(0, shape[0] - image.shape[-2]), (0, shape[1] - image.shape[-1])]
    if all(e == (0, 0) for e in extra):
        return image
    return np.pad(image, extra, mode="edge")
