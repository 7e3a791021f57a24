"""Bead detection and Gaussian FWHM on synthetic beads of known width, with Poisson noise."""

import numpy as np
import pytest

from deepz_fiji.beads import (
    FWHM_PER_SIGMA,
    axial_fwhm,
    compare_beads,
    detect_beads,
    fwhm_histogram,
    lateral_fwhm,
    lateral_fwhm_at_focus,
    median_fwhm,
)
from deepz_fiji.errors import DeepZError

PIXEL_UM = 0.325
Z_STEP_UM = 0.5


def bead_image(shape, beads, *, sigma=(1.5, 1.5), amplitude=1000.0, background=100.0, seed=0):
    """Poisson-noisy image of Gaussian spots; ``beads`` are (y, x) or (z, y, x) centres in px.

    ``sigma`` is (σy, σx) or (σz, σy, σx) in pixels/planes.
    """
    grids = np.indices(shape, dtype=float)
    clean = np.full(shape, background)
    for centre in beads:
        arg = sum((g - c) ** 2 / (2 * s**2) for g, c, s in zip(grids, centre, sigma, strict=True))
        clean += amplitude * np.exp(-arg)
    return np.random.default_rng(seed).poisson(clean).astype(np.float32)


def grid_beads(n_side, spacing=40, margin=25, jitter=3.0, seed=1):
    rng = np.random.default_rng(seed)
    return [(margin + i * spacing + rng.uniform(-jitter, jitter), margin + j * spacing + rng.uniform(-jitter, jitter))
            for i in range(n_side) for j in range(n_side)]


@pytest.mark.parametrize("sigma", [(1.5, 1.5), (2.5, 2.5), (1.6, 2.4)])
def test_lateral_fwhm_recovers_known_width_within_3_percent(sigma):
    beads = grid_beads(4)
    image = bead_image((170, 170), beads, sigma=sigma)
    table = lateral_fwhm(image, PIXEL_UM)
    assert table.n_fitted == len(beads) and table.n_failed == 0
    sy, sx = sigma
    expected = FWHM_PER_SIGMA * (sx + sy) / 2 * PIXEL_UM
    np.testing.assert_allclose(table.fwhm_um, expected, rtol=0.03)
    np.testing.assert_allclose([r["fwhm_x_um"] for r in table.rows], FWHM_PER_SIGMA * sx * PIXEL_UM, rtol=0.03)
    np.testing.assert_allclose([r["fwhm_y_um"] for r in table.rows], FWHM_PER_SIGMA * sy * PIXEL_UM, rtol=0.03)
    assert table.median_um == pytest.approx(expected, rel=0.03)
    # fitted centres land on the true bead positions (sub-pixel)
    found = np.array([(r["y"], r["x"]) for r in table.rows])
    for y, x in beads:
        assert np.min(np.hypot(found[:, 0] - y, found[:, 1] - x)) < 0.3


def test_axial_fwhm_recovers_known_width_within_3_percent():
    beads = [(18.3, 22.0, 24.6), (22.0, 22.5, 67.2), (15.6, 66.8, 23.9), (20.0, 67.0, 66.5)]
    sigma = (3.0, 1.5, 1.5)  # σz in planes, σy, σx in px
    stack = bead_image((41, 90, 90), beads, sigma=sigma, amplitude=800.0)
    table = axial_fwhm(stack, PIXEL_UM, Z_STEP_UM)
    assert table.n_fitted == 4 and table.n_failed == 0
    np.testing.assert_allclose(table.fwhm_um, FWHM_PER_SIGMA * 3.0 * Z_STEP_UM, rtol=0.03)
    np.testing.assert_allclose(sorted(r["z"] for r in table.rows), sorted(b[0] for b in beads), atol=0.3)


def test_detection_finds_isolated_beads_and_skips_touching_and_edge_ones():
    isolated = [(40.0, 40.0), (40.0, 150.0), (150.0, 40.0), (100.0, 200.0)]
    touching = [(150.0, 140.0), (150.0, 146.0), (100.0, 95.0), (103.0, 100.0)]  # two pairs
    near_edge = [(5.0, 100.0), (200.0, 232.0)]
    image = bead_image((240, 240), isolated + touching + near_edge)
    det = detect_beads(image)
    assert len(det) == len(isolated)
    for y, x in isolated:
        assert np.min(np.hypot(det.centroids[:, 0] - y, det.centroids[:, 1] - x)) < 0.5
    assert det.rejected["edge"] == 2
    assert det.rejected["merged"] + det.rejected["close"] >= 2


def test_beads_whose_crops_overlap_are_both_rejected():
    image = bead_image((120, 160), [(60.0, 40.0), (72.0, 52.0), (60.0, 110.0)])  # 17 px apart
    det = detect_beads(image)
    assert len(det) == 1 and det.rejected["close"] == 2
    assert det.centroids[0] == pytest.approx([60.0, 110.0], abs=0.5)


def test_failed_fits_are_dropped_and_counted_not_kept():
    image = bead_image((100, 100), [(50.0, 30.0)])
    table = lateral_fwhm(image, PIXEL_UM, centroids=[(50.0, 30.0), (50.0, 75.0), (3.0, 3.0)])
    assert table.n_fitted == 1
    assert table.n_failed == 2  # empty background, and a crop that leaves the image
    assert {f["x"] for f in table.failed} == {75.0, 3.0}
    assert all(f["reason"] for f in table.failed)
    assert table.fwhm_um.size == 1


def test_median_of_nothing_is_a_clear_error():
    with pytest.raises(DeepZError, match="no bead"):
        median_fwhm([])
    assert median_fwhm([1.0, 3.0, 2.0]) == 2.0


def test_lateral_at_focus_uses_each_beads_own_plane():
    beads = [(5.0, 25.0, 25.0), (14.0, 25.0, 75.0)]
    stack = bead_image((20, 50, 100), beads, sigma=(2.0, 1.5, 1.5))
    table = lateral_fwhm_at_focus(stack, PIXEL_UM)
    assert sorted(r["z"] for r in table.rows) == [5, 14]
    np.testing.assert_allclose(table.fwhm_um, FWHM_PER_SIGMA * 1.5 * PIXEL_UM, rtol=0.03)


def test_compare_beads_measures_the_same_beads_in_both_and_sees_blur(tmp_path):
    beads = grid_beads(3, spacing=45)
    sharp = bead_image((140, 140), beads, sigma=(1.5, 1.5), seed=2)
    blurred = bead_image((140, 140), beads, sigma=(3.0, 3.0), amplitude=250.0, seed=3)
    out = compare_beads(blurred, sharp, PIXEL_UM)
    assert set(out) == {"lateral_pred", "lateral_truth"}
    assert out["lateral_truth"].n_fitted == out["lateral_pred"].n_fitted == len(beads)
    ratio = out["lateral_pred"].median_um / out["lateral_truth"].median_um
    assert ratio == pytest.approx(2.0, rel=0.05)
    png = fwhm_histogram({"blurred": out["lateral_pred"], "sharp": out["lateral_truth"]}, tmp_path / "h.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_non_2d_input_and_bad_pixel_size_are_refused():
    with pytest.raises(DeepZError, match="2D"):
        lateral_fwhm(np.zeros((3, 40, 40)), PIXEL_UM)
    with pytest.raises(DeepZError, match="pixel size"):
        lateral_fwhm(np.zeros((40, 40)), 0.0, centroids=[(20, 20)])


def test_a_defocused_ring_shaped_bead_counts_as_one_bead():
    y, x = np.indices((80, 80), dtype=float)
    r = np.hypot(y - 40.2, x - 39.7)
    clean = 100 + 600 * np.exp(-((r - 6.0) ** 2) / (2 * 1.5**2))  # wide-field bead far out of focus
    image = np.random.default_rng(4).poisson(clean).astype(float)
    det = detect_beads(image)
    assert len(det) == 1 and det.rejected["merged"] == 0
    assert det.centroids[0] == pytest.approx([40.2, 39.7], abs=0.5)
