"""Signal mask, greedy region cover and the choice of input/target planes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage as ndi

from deepz_fiji.data import cover_mask, kept_planes, middle_plane, sample_pairs, signal_mask
from deepz_fiji.errors import DeepZError


def _covered(shape, regions, patch):
    covered = np.zeros(shape, dtype=bool)
    for y, x in regions:
        assert 0 <= y <= shape[0] - patch and 0 <= x <= shape[1] - patch  # inside the image
        covered[y : y + patch, x : x + patch] = True
    return covered


@pytest.mark.parametrize("seed", range(4))
def test_greedy_cover_covers_every_mask_pixel(seed):
    rng = np.random.default_rng(seed)
    shape = (150 + 13 * seed, 170)
    mask = ndi.gaussian_filter(rng.random(shape), 4) > 0.53
    mask[:3, -3:] = True  # signal in a corner
    regions = cover_mask(mask, 32)
    assert mask.any() and regions
    assert np.all(_covered(shape, regions, 32)[mask])


def test_cover_of_scattered_objects_takes_one_region_each():
    mask = np.zeros((256, 256), dtype=bool)
    for y, x in [(20, 20), (20, 200), (200, 100)]:
        mask[y : y + 5, x : x + 5] = True
    regions = cover_mask(mask, 64)
    assert len(regions) == 3
    assert np.all(_covered(mask.shape, regions, 64)[mask])


def test_cover_of_a_full_field_is_a_lattice_with_five_percent_overlap():
    patch, size = 64, 248
    regions = cover_mask(np.ones((size, size), dtype=bool), patch)
    step = round(0.95 * patch)
    assert math.ceil(size / patch) ** 2 <= len(regions) <= (math.ceil((size - patch) / step) + 1) ** 2
    starts = sorted({y for y, _ in regions})
    assert sorted({x for _, x in regions}) == starts and len(regions) == len(starts) ** 2
    steps = np.diff(starts)
    assert steps.min() == step and steps.max() <= patch  # neighbours share 5 % (less at the edge)
    assert cover_mask(np.zeros((size, size), dtype=bool), patch) == []


def test_cover_refuses_a_patch_larger_than_the_field():
    with pytest.raises(DeepZError, match="--patch"):
        cover_mask(np.ones((40, 100), dtype=bool), 64)


def test_signal_mask_keeps_dim_signal_connected_to_bright_signal_only():
    edf = np.zeros((40, 40), dtype=np.float32)
    edf[5:15, 5:15] = 0.1  # dim halo ...
    edf[8:12, 8:12] = 1.0  # ... around a bright object
    edf[25:35, 25:35] = 0.1  # dim patch with no bright seed: background structure
    mask = signal_mask(edf)
    assert mask[5:15, 5:15].all()
    assert not mask[25:35, 25:35].any()
    assert mask.sum() == 100


def test_middle_plane_is_the_plane_of_highest_standard_deviation():
    rng = np.random.default_rng(0)
    crop = rng.normal(size=(9, 16, 16)) * np.array([1, 1, 2, 3, 5, 3, 2, 1, 1])[:, None, None]
    assert middle_plane(crop) == 4


def test_kept_planes_stay_inside_the_stack():
    assert list(kept_planes(10, 41, 3)) == [7, 8, 9, 10, 11, 12, 13]
    assert list(kept_planes(1, 41, 3)) == [0, 1, 2, 3, 4]
    assert list(kept_planes(39, 41, 3)) == [36, 37, 38, 39, 40]


def test_every_kept_plane_is_an_input_with_distinct_random_targets():
    kept = np.arange(5, 16)
    inputs, targets = sample_pairs(kept, 6, np.random.default_rng(1))
    assert len(inputs) == len(targets) == 11 * 6
    assert sorted(set(inputs.tolist())) == kept.tolist()
    for plane in kept:
        chosen = targets[inputs == plane]
        assert len(set(chosen.tolist())) == 6 and set(chosen.tolist()) <= set(kept.tolist())
    again = sample_pairs(kept, 6, np.random.default_rng(1))[1]
    np.testing.assert_array_equal(targets, again)  # seeded
    assert not np.array_equal(targets, sample_pairs(kept, 6, np.random.default_rng(2))[1])
    assert len(sample_pairs(np.arange(3), 8, np.random.default_rng(0))[0]) == 9  # K capped by planes


def test_focus_target_pairs_every_input_in_reach_with_the_focal_plane_once():
    kept = np.arange(0, 21)
    inputs, targets = sample_pairs(kept, 3, np.random.default_rng(3), max_offset=6, focus=10)
    for plane in kept:
        chosen = targets[inputs == plane].tolist()
        assert len(set(chosen)) == len(chosen)  # distinct, the focus not added twice
        assert (10 in chosen) == (abs(plane - 10) <= 6)  # only where |Δz| stays within reach
        assert len(chosen) in (3, 4)
    plain = sample_pairs(kept, 3, np.random.default_rng(3), max_offset=6)
    assert np.mean(plain[1] == 10) < np.mean(targets == 10)
