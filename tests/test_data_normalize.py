"""The EDF/triangle normalisation shared by training, refocus and Fiji."""

from __future__ import annotations

import numpy as np
import pytest
from test_data_synthetic import blob_stack

from deepz_fiji.data import NormParams, denormalize, estimate_normalization, normalize
from deepz_fiji.data.normalize import triangle_threshold
from deepz_fiji.errors import DeepZError


@pytest.fixture
def image():
    return blob_stack((1, 96, 96), n_blobs=25, focus=0, seed=3)[0]


def test_background_mean_is_zero_and_one_percent_of_foreground_exceeds_one(image):
    params = estimate_normalization(image)
    out = normalize(image, params)
    foreground = image > triangle_threshold(image)
    assert 0 < foreground.mean() < 0.5  # the threshold really splits blobs from background
    assert abs(out[~foreground].mean()) < 1e-4
    above = np.mean(out[foreground] > 1.0)
    assert above == pytest.approx(0.01, abs=1.0 / foreground.sum() + 1e-3)


def test_same_constants_for_every_plane_and_exact_inverse(image):
    params = estimate_normalization(image)
    stack = np.stack([image, 2 * image])
    out = normalize(stack, params)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[1], (2 * image - params.offset) * params.scale, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(denormalize(out, params), stack, rtol=1e-5, atol=1e-2)


def test_integer_input_gives_the_same_result_as_float(image):
    as_uint16 = np.round(image).astype(np.uint16)
    params = estimate_normalization(as_uint16)
    assert params == estimate_normalization(as_uint16.astype(np.float32))
    assert normalize(as_uint16, params).dtype == np.float32


@pytest.mark.parametrize("bad", [np.full((32, 32), 7.0), np.zeros((4, 32, 32))])
def test_unusable_reference_raises(bad):
    with pytest.raises(DeepZError):
        estimate_normalization(bad)


def test_nan_reference_raises(image):
    image[3, 3] = np.nan
    with pytest.raises(DeepZError, match="NaN"):
        estimate_normalization(image)


def test_params_round_trip_through_a_dict_and_reject_bad_values():
    params = NormParams(offset=100.5, scale=0.002)
    assert NormParams.from_dict(params.to_dict()) == params
    with pytest.raises(DeepZError):
        NormParams.from_dict({"offset": 1.0})
    with pytest.raises(DeepZError):
        NormParams.from_dict({"offset": 1.0, "scale": 0.0})
