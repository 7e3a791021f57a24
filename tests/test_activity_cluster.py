"""Spectral clustering of activity (SPEC §6): similarity, eigengap k, clusters, ARI."""

from __future__ import annotations

import numpy as np
import pytest

from deepz_fiji.activity import ActivityOptions, analyse_traces
from deepz_fiji.activity.cluster import (
    adjusted_rand_index,
    eigengap_k,
    similarity_matrix,
    spectral_clustering,
    spectrum,
)
from deepz_fiji.errors import DeepZError


def block_similarity(sizes, inside=0.9, between=0.05, seed=0):
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(len(sizes)), sizes)
    s = np.where(truth[:, None] == truth[None, :], inside, between)
    s = s + rng.uniform(-0.03, 0.03, s.shape)
    s = (s + s.T) / 2
    np.fill_diagonal(s, 1.0)
    perm = rng.permutation(len(truth))  # shuffled, so the order of the input does not give it away
    return s[np.ix_(perm, perm)], truth[perm]


@pytest.mark.parametrize("sizes", [(6, 5, 7), (4, 4, 4, 4, 4), (8, 3)])
def test_eigengap_finds_the_number_of_blocks_and_kmeans_the_blocks(sizes):
    s, truth = block_similarity(sizes)
    result = spectral_clustering(s)
    assert result.k == len(sizes)
    assert adjusted_rand_index(result.labels, truth) == pytest.approx(1.0)
    assert result.sizes() == sorted(sizes, reverse=True)  # clusters numbered largest first
    assert np.all(np.diff(result.labels[result.order()]) >= 0)


def test_one_uniform_group_gives_one_cluster_and_k_can_be_forced():
    s, _ = block_similarity((10,), inside=0.8)
    assert spectral_clustering(s).k == 1
    assert spectral_clustering(s, k=2).k == 2
    with pytest.raises(DeepZError, match="between 1 and"):
        spectral_clustering(s, k=11)


def test_generalised_eigenproblem_is_solved():
    s, _ = block_similarity((5, 5))
    values, vectors = spectrum(s)
    w = s.copy()
    np.fill_diagonal(w, 0)
    d = np.diag(w.sum(axis=1))
    for i in range(3):
        np.testing.assert_allclose((d - w) @ vectors[:, i], values[i] * d @ vectors[:, i], atol=1e-9)
    assert values[0] == pytest.approx(0.0, abs=1e-9) and np.all(np.diff(values) >= -1e-12)
    assert eigengap_k([0, 0.01, 0.02, 0.9, 1.0]) == 3
    assert eigengap_k([0, 0.01, 0.3, 0.9, 1.0]) == 3
    assert eigengap_k([0, 0.01, 0.3, 0.9, 1.0], max_k=2) == 2  # gaps beyond max_k are not looked at


def test_similarity_is_the_spec_gaussian_of_the_trace_distance():
    x = np.random.default_rng(0).normal(0, 0.3, (4, 25))
    s = similarity_matrix(x)  # σ = 1.5
    for i in range(4):
        for j in range(4):
            assert s[i, j] == pytest.approx(np.exp(-np.sum((x[i] - x[j]) ** 2) / 1.5**2))
    np.testing.assert_allclose(similarity_matrix(x, normalize_time=True),
                               np.exp(-((x[:, None] - x[None]) ** 2).mean(axis=2) / 1.5**2))
    with pytest.raises(DeepZError, match="NaN"):
        similarity_matrix(np.array([[0.0, np.nan], [1.0, 2.0]]))


def test_adjusted_rand_index():
    assert adjusted_rand_index([0, 0, 1, 1, 2], [5, 5, 3, 3, 9]) == pytest.approx(1.0)  # relabelled
    assert adjusted_rand_index([0, 0, 1, 1], [0, 0, 1, 2]) == pytest.approx(4 / 7)  # hand-computed
    rng = np.random.default_rng(0)
    assert abs(adjusted_rand_index(rng.integers(0, 3, 3000), rng.integers(0, 3, 3000))) < 0.01


def test_co_active_groups_are_recovered_from_traces():
    rng = np.random.default_rng(3)
    t = 100
    patterns = np.zeros((3, t))
    for p in patterns:  # a few calcium transients each
        for start in rng.choice(t - 10, 4, replace=False):
            p[start:] += np.exp(-np.arange(t - start) / 6)
    groups = np.repeat([0, 1, 2, -1], [6, 5, 4, 5])
    traces = 100 * (1 + 0.02 * rng.standard_normal((len(groups), t)))
    for i, g in enumerate(groups):
        if g >= 0:
            traces[i] += 100 * rng.uniform(0.45, 0.55) * patterns[g]
    out = analyse_traces(traces, ActivityOptions())
    assert np.array_equal(out["active"], groups >= 0)
    assert out["clustering"].k == 3
    assert adjusted_rand_index(out["clustering"].labels, groups[groups >= 0]) > 0.95
