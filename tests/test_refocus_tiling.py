"""Tiling and blending for refocusing large images (numpy only, no TensorFlow)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import uniform_filter

from deepz_fiji.errors import DeepZError
from deepz_fiji.refocus.tiling import pad_to, plan_tiles


def blend(layout, predict, image):
    """Run ``predict`` per tile of the padded ``image`` and blend like the engine does."""
    padded = pad_to(image, layout.padded_shape)
    out = np.zeros(layout.padded_shape, np.float32)
    for i in range(layout.n_tiles):
        rows, cols = layout.slices(i)
        out[rows, cols] += predict(padded[rows, cols]) * layout.weight(i)
    return out[: image.shape[0], : image.shape[1]]


@pytest.mark.parametrize("shape,tile", [((517, 300), 192), ((4096, 4096), 1024), ((1000, 2050), 512)])
def test_weights_sum_to_one_and_tiles_sit_on_the_pooling_grid(shape, tile):
    layout = plan_tiles(shape, 16, receptive_field_px=55, tile=tile)
    assert layout.n_tiles > 1
    total = np.zeros(layout.padded_shape)
    for i in range(layout.n_tiles):
        rows, cols = layout.slices(i)
        total[rows, cols] += layout.weight(i)
        assert rows.start % 16 == 0 and cols.start % 16 == 0
        assert rows.stop <= layout.padded_shape[0] and cols.stop <= layout.padded_shape[1]
    np.testing.assert_allclose(total, 1.0, atol=1e-6)
    assert all(s % 16 == 0 for s in layout.padded_shape)
    assert max(layout.tile_shape) <= tile
    # as few tiles as the maximal tile size allows, each shrunk to compute little extra overlap
    overlap = 2 * layout.margin + layout.blend
    starts = (sorted({y for y, _ in layout.starts}), sorted({x for _, x in layout.starts}))
    for length, side, axis_starts in zip(layout.padded_shape, layout.tile_shape, starts, strict=True):
        count = 1 if length <= tile else -(-(length - overlap) // (tile - overlap))
        assert len(axis_starts) == count
        assert side <= -(-(length + (count - 1) * overlap) // (count * 16)) * 16


def test_neighbouring_tiles_overlap_by_more_than_the_receptive_field():
    rf = 101
    layout = plan_tiles((3000, 3000), 16, receptive_field_px=rf, tile=512)
    ys = sorted({y for y, _ in layout.starts})
    overlaps = [a + layout.tile_shape[0] - b for a, b in zip(ys, ys[1:], strict=False)]
    assert min(overlaps) >= rf
    assert layout.margin >= (rf - 1) // 2
    # pixels within the receptive-field radius of an interior tile edge get no weight
    middle = [i for i, (y, x) in enumerate(layout.starts) if y > 0 and x > 0][0]
    w = layout.weight(middle)
    assert np.all(w[: (rf - 1) // 2, :] == 0) and np.all(w[:, : (rf - 1) // 2] == 0)


def test_tiled_equals_untiled_for_an_operator_with_a_finite_footprint():
    rng = np.random.default_rng(1)
    image = rng.random((700, 530)).astype(np.float32)
    size = 41  # footprint 41 px: radius 20

    def predict(tile):
        return uniform_filter(tile, size=size, mode="nearest") ** 2

    untiled = blend(plan_tiles(image.shape, 16, size, tile=0), predict, image)
    tiled_layout = plan_tiles(image.shape, 16, size, tile=192)
    assert tiled_layout.n_tiles > 4
    tiled = blend(tiled_layout, predict, image)
    assert np.abs(tiled - untiled).max() < 1e-5 * np.ptp(untiled)


def test_too_small_tiles_are_refused_with_the_needed_size():
    with pytest.raises(DeepZError, match="too small.*at least"):
        plan_tiles((2000, 2000), 16, receptive_field_px=183, tile=128)


def test_zero_tile_means_one_tile_and_small_images_are_one_tile():
    assert plan_tiles((5000, 300), 16, 55, tile=0).n_tiles == 1
    layout = plan_tiles((100, 90), 16, 55)
    assert layout.n_tiles == 1 and layout.padded_shape == (112, 96)
    np.testing.assert_array_equal(layout.weight(0), 1.0)


def test_padding_replicates_the_edges():
    image = np.arange(12, dtype=np.float32).reshape(3, 4)
    padded = pad_to(image, (5, 6))
    assert padded.shape == (5, 6)
    np.testing.assert_array_equal(padded[:3, :4], image)
    np.testing.assert_array_equal(padded[4, :4], image[2])
    np.testing.assert_array_equal(padded[:3, 5], image[:, 3])
