"""Neuron segmentation (maxima + 3D watershed) and activity traces on synthetic volumes with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from deepz_fiji.activity.segment import find_neurons, median_projection, segment_neurons
from deepz_fiji.activity.synthetic import synthetic_activity
from deepz_fiji.activity.traces import (
    brightest_mean,
    delta_f,
    extract_traces,
    otsu_split,
    select_active,
)
from deepz_fiji.errors import DeepZError

SPACING = np.array([1.0, 0.5, 0.5])  # z step, pixel (µm) of synthetic_activity's defaults


@pytest.fixture(scope="module")
def worm():
    return synthetic_activity(n_frames=60, amplitude=1.5, seed=5)


def match(seeds, truth, tol_um=1.0):
    """Recall and precision of detected seeds against true positions (µm distance ≤ tol)."""
    d = cdist(seeds * SPACING, truth * SPACING)
    hits = d <= tol_um
    return hits.any(axis=0).mean(), hits.any(axis=1).mean(), d.argmin(axis=1)


def test_segmentation_finds_every_neuron_once(worm):
    volume = median_projection(worm.activity)  # as the pipeline does, on per-frame stacks
    seg = segment_neurons(volume, pixel_um=0.5, z_step_um=1.0, min_distance_um=2.0)
    recall, precision, _ = match(seg.seeds, worm.positions)
    assert recall == 1.0 and precision == 1.0 and seg.n_neurons == len(worm.positions)
    # each seed lies in its own mask; masks are compact blobs of tens of voxels
    assert np.array_equal(seg.labels[tuple(seg.seeds.T)], np.arange(1, seg.n_neurons + 1))
    assert seg.sizes().min() > 20 and seg.labels.dtype == np.uint16
    centroids_um = seg.centroids() * SPACING
    assert np.abs(centroids_um - worm.positions[match(seg.seeds, worm.positions)[2]] * SPACING).max() < 1.0


def test_min_distance_merges_closer_maxima():
    vol = np.zeros((9, 40, 40), np.float32)
    zz, yy, xx = np.indices(vol.shape)
    for x in (15, 21):  # two blobs 3 µm apart laterally (0.5 µm pixels)
        vol += np.exp(-((zz - 4) ** 2 / 2 + ((yy - 20) ** 2 + (xx - x) ** 2) / (2 * 1.5**2)))
    close, _, _ = find_neurons(vol, pixel_um=0.5, z_step_um=1.0, min_distance_um=2.0)
    far, _, _ = find_neurons(vol, pixel_um=0.5, z_step_um=1.0, min_distance_um=4.0)
    assert len(close) == 2 and len(far) == 1


def test_max_radius_trims_masks():
    vol = np.zeros((9, 40, 40), np.float32)
    zz, yy, xx = np.indices(vol.shape)
    vol += np.exp(-((zz - 4) ** 2 / 8 + ((yy - 20) ** 2 + (xx - 20) ** 2) / (2 * 4.0**2)))
    full = segment_neurons(vol, pixel_um=0.5, z_step_um=1.0, threshold=0.05)
    ball = segment_neurons(vol, pixel_um=0.5, z_step_um=1.0, threshold=0.05, max_radius_um=1.0)
    assert full.sizes()[0] > 3 * ball.sizes()[0] > 0


def test_empty_volume_gives_no_neurons():
    seg = segment_neurons(np.zeros((5, 20, 20)), pixel_um=0.5, z_step_um=1.0)
    assert seg.n_neurons == 0 and not seg.labels.any()
    with pytest.raises(DeepZError, match="must be positive"):
        segment_neurons(np.zeros((5, 20, 20)), pixel_um=0.0, z_step_um=1.0)


def test_median_projection_matches_numpy():
    stacks = np.random.default_rng(0).random((7, 3, 5, 6)).astype(np.float32)
    np.testing.assert_allclose(median_projection(list(stacks)), np.median(stacks, axis=0), rtol=1e-6)


def test_brightest_mean_uses_the_brightest_voxels_of_each_mask():
    stack = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    idx = [np.arange(0, 30), np.arange(40, 43), np.array([], int)]
    out = brightest_mean(stack, idx, n=10)
    assert out[0] == pytest.approx(np.mean(np.arange(20, 30)))
    assert out[1] == pytest.approx(41.0)  # fewer voxels than n: all of them
    assert np.isnan(out[2])


def test_traces_follow_the_true_activity(worm):
    seg = segment_neurons(worm.nuclei, pixel_um=0.5, z_step_um=1.0)
    f = extract_traces(worm.activity, seg.labels)
    _, _, nearest = match(seg.seeds, worm.positions)
    truth = worm.traces[nearest]
    active = worm.groups[nearest] >= 0
    corr = [np.corrcoef(a, b)[0, 1] for a, b in zip(f[active], truth[active], strict=True)]
    assert min(corr) > 0.99
    d = delta_f(f)
    np.testing.assert_allclose(d.df.mean(axis=1), 0, atol=1e-9)
    np.testing.assert_allclose(d.dff, d.df / d.f0[:, None])


def test_active_neurons_are_selected_by_the_std_of_delta_f(worm):
    seg = segment_neurons(worm.nuclei, pixel_um=0.5, z_step_um=1.0)
    d = delta_f(extract_traces(worm.activity, seg.labels))
    _, _, nearest = match(seg.seeds, worm.positions)
    truly_active = worm.groups[nearest] >= 0
    mask, thr = select_active(d.df)  # Otsu split of the std values
    assert np.array_equal(mask, truly_active) and thr > 0
    top3, _ = select_active(d.df, n_active=3)
    assert top3.sum() == 3 and set(np.flatnonzero(top3)) <= set(np.flatnonzero(truly_active))
    none, _ = select_active(d.df, min_std=1e9)
    assert not none.any()
    with pytest.raises(DeepZError, match="not both"):
        select_active(d.df, min_std=1.0, n_active=2)


def test_otsu_split_falls_between_two_groups():
    thr = otsu_split([0.0081, 0.0078, 0.0084, 0.1, 0.12, 0.11])
    assert 0.0084 < thr < 0.1
