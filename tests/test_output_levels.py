"""Output levels of wide-field refocusing: the fast low-pass and ``local-flux``."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi
from test_refocus_api import FakeModel

from deepz_fiji.errors import DeepZError
from deepz_fiji.model import ModelConfig
from deepz_fiji.refocus import refocus_plane
from deepz_fiji.refocus.levels import (
    LOCAL_MIN_PX,
    FrameLevel,
    defocus_radius_px,
    local_sigma_px,
    lowpass,
)


@pytest.mark.parametrize("sigma", [2.0, 9.0, 30.0, 70.0])
def test_lowpass_matches_a_gaussian_filter(sigma):
    y, x = np.mgrid[:300, :310]
    rng = np.random.default_rng(1)
    image = (np.sin(2 * np.pi * x / (8 * sigma)) + np.cos(2 * np.pi * y / (6 * sigma))
             + rng.normal(0, 1, y.shape)).astype(np.float32)
    got = lowpass(image, sigma)
    want = ndi.gaussian_filter(image, sigma, mode="reflect")
    assert got.shape == image.shape and got.dtype == np.float32
    inner = (slice(40, -40), slice(40, -40))
    assert float(np.abs(got - want)[inner].max()) < 0.03 * float(want[inner].std())


def test_defocus_radius_grows_with_dz_and_na_and_takes_a_dpms_largest_dz():
    air = ModelConfig.from_preset("a", "tiny", na=0.75, pixel_um=0.325)
    low = ModelConfig.from_preset("b", "tiny", na=0.45, pixel_um=0.325)
    assert defocus_radius_px(5.0, air) == pytest.approx(5.0 * 0.75 / np.sqrt(1 - 0.75**2) / 0.325)
    assert defocus_radius_px(-5.0, air) == defocus_radius_px(5.0, air) == 0.5 * defocus_radius_px(10.0, air)
    assert defocus_radius_px(5.0, low) < defocus_radius_px(5.0, air)
    assert defocus_radius_px(np.array([[1.0, -8.0], [2.0, 3.0]]), air) == defocus_radius_px(8.0, air)


def _nuclei(seed=5, shape=(160, 160)):
    rng = np.random.default_rng(seed)
    blobs = ndi.gaussian_filter(rng.random(shape), 3)
    return (100 + 3000 * (blobs > np.percentile(blobs, 55))).astype(np.float32)


def test_local_flux_removes_a_smooth_error_that_the_global_mean_leaves():
    """A network that adds a slow ramp (mean zero): flux keeps it, local-flux takes it away."""
    image = _nuclei()
    ramp = lambda x: x[..., :1] + 0.2 * np.linspace(-1, 1, x.shape[2])[None, None, :, None]  # noqa: E731
    flux = refocus_plane(image, 2.0, FakeModel(ramp, output_level="flux"))
    local = refocus_plane(image, 2.0, FakeModel(ramp, output_level="local-flux"))
    err_flux = float(np.sqrt(np.mean((flux - image) ** 2)))
    err_local = float(np.sqrt(np.mean((local - image)[20:-20, 20:-20] ** 2)))
    assert err_local < 0.1 * err_flux


def test_local_flux_keeps_the_input_low_pass_and_the_networks_detail():
    image = _nuclei()
    config = FakeModel(lambda x: x).config
    blurring = lambda x: ndi.gaussian_filter(x[..., :1], (0, 3, 3, 0)) * 0.8  # noqa: E731  loses 20 % of the light
    out = refocus_plane(image, 5.0, FakeModel(blurring, output_level="local-flux"))
    sigma = local_sigma_px(5.0, config)
    inner = (slice(30, -30), slice(30, -30))
    lp_in, lp_out = ndi.gaussian_filter(image, sigma), ndi.gaussian_filter(out, sigma)
    assert float(np.abs(lp_out - lp_in)[inner].max()) < 0.02 * float(image.std())
    blurred = ndi.gaussian_filter(image, 3)
    assert float(np.abs(out - image).mean()) > 3 * float(np.abs(out - (blurred + lp_in - ndi.gaussian_filter(blurred, sigma))).mean())


@pytest.mark.parametrize("scale", [0.5, 2.0])
def test_frame_level_scales_the_low_pass_per_plane_by_the_configs_scale(scale):
    frame = _nuclei()
    config = ModelConfig.from_preset("a", "tiny", output_level="local-flux", output_level_scale=scale)
    level = FrameLevel(*_params(frame), "local-flux", config)
    level.plan(0, 0.0)
    level.plan(1, 10.0)
    assert level.sigmas[0] == LOCAL_MIN_PX
    assert level.sigmas[1] == pytest.approx(scale * defocus_radius_px(10.0, config))


@pytest.mark.parametrize("scale", [0.0, -1.0, float("nan")])
def test_a_non_positive_level_scale_is_refused(scale):
    with pytest.raises(DeepZError, match="output_level_scale"):
        ModelConfig.from_preset("a", "tiny", output_level_scale=scale)


def _params(frame):
    from deepz_fiji.data import estimate_normalization

    return estimate_normalization(frame), frame
