"""PSFs of the simulator: resolution, asymmetry from index mismatch, centring, confocal sectioning."""

from __future__ import annotations

import numpy as np
import pytest

from deepz_fiji.errors import DeepZError
from deepz_fiji.simulate import Optics, axial_asymmetry, confocal_psf, psf_fwhm, widefield_psf

PAPER = Optics()


def fine_psf(optics: Optics, nz: int = 41, nxy: int = 61, **kw) -> tuple[np.ndarray, float, float]:
    pixel = optics.lateral_resolution_um / 8
    step = optics.axial_scale_um / 8
    return widefield_psf(optics, nz=nz, nxy=nxy, pixel_um=pixel, z_step_um=step, **kw), pixel, step


@pytest.mark.parametrize("optics", [PAPER, PAPER.matched()], ids=["paper", "matched"])
def test_lateral_fwhm_at_focus_is_the_diffraction_limit(optics):
    psf, pixel, step = fine_psf(optics)
    lateral, axial = psf_fwhm(psf, pixel, step)
    expected = 0.51 * 0.584 / 0.75
    assert lateral == pytest.approx(expected, rel=0.10)
    assert 2 * lateral < axial < 10 * lateral  # an elongated wide-field focus


def test_default_optics_are_the_papers():
    assert (PAPER.na, PAPER.pixel_um, PAPER.z_step_um, PAPER.emission_um) == (0.75, 0.325, 0.5, 0.584)
    assert PAPER.planes == 81 and PAPER.z_um[0] == -20 and PAPER.z_um[-1] == 20
    oil = Optics.preset("oil-63x-1.4")
    assert (oil.na, oil.z_step_um) == (1.4, 0.2) and oil.pixel_um == pytest.approx(0.1)


def test_index_mismatch_makes_the_psf_axially_asymmetric():
    mismatched = axial_asymmetry(PAPER, 2.0)
    matched = axial_asymmetry(PAPER.matched(), 2.0)
    assert mismatched.relative_difference >= 0.20
    assert matched.relative_difference < 0.05
    assert matched.centre_ratio == pytest.approx(1.0, abs=0.05)
    # the asymmetry comes from the specimen depth: at the coverslip surface it vanishes too
    assert axial_asymmetry(PAPER.replace(depth_um=0.0)).relative_difference < 0.05


def test_psf_is_centred_on_its_intensity_maximum():
    psf, _, _ = fine_psf(PAPER, nz=41)
    centre = psf.shape[1] // 2
    assert np.unravel_index(np.argmax(psf), psf.shape) == (20, centre, centre)


def test_every_widefield_plane_carries_the_full_photon_count():
    psf = widefield_psf(PAPER, nz=21)  # default window holds the most defocused plane
    np.testing.assert_allclose(psf.sum(axis=(1, 2)), 1.0, rtol=1e-3)
    cropped = widefield_psf(PAPER, nz=21, nxy=15)
    assert cropped.shape == (21, 15, 15)
    assert cropped[10].sum() < 1.0  # cropping keeps values (it does not renormalise)


def test_confocal_psf_is_narrower_and_sections_optically():
    oil = Optics.preset("oil-63x-1.4")
    pixel, step, nz = 0.04, 0.2, 21
    wf = widefield_psf(oil, nz=nz, nxy=51, pixel_um=pixel, z_step_um=step, integrate_pixels=False)
    cf = confocal_psf(oil, 1.0, nz=nz, nxy=51, pixel_um=pixel, z_step_um=step)
    wf_lat, wf_ax = psf_fwhm(wf, pixel, step)
    cf_lat, cf_ax = psf_fwhm(cf, pixel, step)
    assert cf_lat < 0.95 * wf_lat
    assert cf_ax < wf_ax
    sums = cf.sum(axis=(1, 2))
    assert sums[nz // 2] == pytest.approx(1.0, rel=0.02)
    assert sums[0] < 0.5 and sums[-1] < 0.5  # ±2 µm: most light rejected by the pinhole
    wide_pinhole = confocal_psf(oil, 4.0, nz=nz, nxy=51, pixel_um=pixel, z_step_um=step)
    assert psf_fwhm(wide_pinhole, pixel, step)[0] > cf_lat


def test_psf_fwhm_measures_a_known_gaussian():
    z, y, x = np.meshgrid(np.arange(31) - 15, np.arange(41) - 20, np.arange(41) - 20, indexing="ij")
    sigma_xy, sigma_z = 3.0, 5.0  # samples
    g = np.exp(-(x**2 + y**2) / (2 * sigma_xy**2) - z**2 / (2 * sigma_z**2))
    lateral, axial = psf_fwhm(g, 0.1, 0.2)
    k = 2 * np.sqrt(2 * np.log(2))
    assert lateral == pytest.approx(k * sigma_xy * 0.1, rel=0.01)
    assert axial == pytest.approx(k * sigma_z * 0.2, rel=0.01)


def test_bad_optics_and_psf_arguments_raise():
    with pytest.raises(DeepZError, match="immersion"):
        Optics(na=1.2)  # air objective cannot exceed NA 1
    with pytest.raises(DeepZError, match="unknown optics preset"):
        Optics.preset("nope")
    with pytest.raises(DeepZError, match="whole number"):
        Optics(z_step_um=0.3)
    with pytest.raises(DeepZError, match="unknown optics field"):
        PAPER.replace(focal_length=3)
    with pytest.raises(DeepZError):
        Optics(emission_um=float("nan"))
    with pytest.raises(DeepZError, match="odd"):
        widefield_psf(PAPER, nz=4)
    with pytest.raises(DeepZError, match="Airy"):
        confocal_psf(PAPER, pinhole_au=0)
    with pytest.raises(DeepZError, match="half maximum"):
        psf_fwhm(np.ones((3, 5, 5)), 0.1, 0.1)


def _radius90(plane: np.ndarray, pixel: float) -> float:
    c = plane.shape[0] // 2
    yy, xx = np.mgrid[-c : c + 1, -c : c + 1] * pixel
    r = np.hypot(yy, xx).ravel()
    order = np.argsort(r)
    energy = np.cumsum(plane.ravel()[order])
    return float(r[order][np.searchsorted(energy, 0.9 * energy[-1])])


@pytest.mark.parametrize("optics, broader", [(PAPER, "below"), (Optics.preset("oil-63x-1.4"), "above")],
                         ids=["air-into-water", "oil-into-mounting-medium"])
def test_asymmetry_points_the_way_geometric_optics_says(optics, broader):
    """Sign convention check (Δz > 0 = focus deeper, farther from the objective).

    Air into water (n_sample > n_immersion): marginal rays focus deeper than paraxial ones, so
    with the focus 2 µm too shallow the bead sits near the marginal focus (compact spot) and
    2 µm too deep it sits before every focus (wide disk). Oil into a lower index: the reverse.
    """
    psf = widefield_psf(optics, nz=9, nxy=101, pixel_um=0.1, z_step_um=0.5)
    above, below = _radius90(psf[0], 0.1), _radius90(psf[-1], 0.1)
    assert (below > 1.15 * above) if broader == "below" else (above > 1.15 * below)
