"""Physics input channels of a generator: the blur channel, the config field, zero-weight transfer."""

from __future__ import annotations

import numpy as np
import pytest

from deepz_fiji.errors import DeepZError
from deepz_fiji.evaluate.baselines import (
    blur_channel,
    nominal_psf_plane,
    physics_blur,
    physics_channels,
)
from deepz_fiji.model.config import ModelConfig


@pytest.fixture(scope="module")
def config():
    return ModelConfig(name="physics", width=1 / 16, depth=3, physics_inputs=["blur"], z_step_um=0.5)


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(3)
    x = np.zeros((64, 80), np.float32)
    x[rng.integers(0, 64, 12), rng.integers(0, 80, 12)] = 1.0
    return x


def test_blur_channel_of_a_number_is_the_physics_blur(config, image):
    expected = physics_blur(image, nominal_psf_plane(config, 2.5))
    np.testing.assert_array_equal(blur_channel(image, 2.5, config), expected)
    np.testing.assert_allclose(blur_channel(image, np.full(image.shape, 2.5), config), expected, atol=1e-7)
    assert blur_channel(image, 2.5, config).sum() == pytest.approx(image.sum(), rel=1e-3)  # flux kept


def test_blur_channel_of_a_dpm_interpolates_between_grid_planes(config, image):
    at_1, at_15 = blur_channel(image, 1.0, config), blur_channel(image, 1.5, config)
    dpm = np.full(image.shape, 1.0)
    dpm[:, 40:] = 1.25  # halfway between two grid planes (z-step 0.5 µm)
    out = blur_channel(image, dpm, config)
    np.testing.assert_allclose(out[:, :40], at_1[:, :40], atol=1e-6)
    np.testing.assert_allclose(out[:, 40:], 0.5 * (at_1 + at_15)[:, 40:], atol=1e-6)
    with pytest.raises(DeepZError, match="one Δz per pixel"):
        blur_channel(image, np.zeros((3, 3)), config)


def test_physics_channels_follow_the_config(config, image):
    assert len(physics_channels(image, 0.0, config)) == 1
    assert physics_channels(image, 0.0, ModelConfig(name="plain", width=1, depth=5)) == []
    assert config.input_channels == 3 and ModelConfig(name="plain", width=1, depth=5).input_channels == 2
    assert not config.same_architecture(ModelConfig(name="plain", width=1 / 16, depth=3))
    for bad in (["wiener"], ["blur", "blur"], "blur"):
        with pytest.raises(DeepZError, match="physics_inputs"):
            ModelConfig(name="bad", width=1, depth=5, physics_inputs=bad)


def test_zero_weights_on_new_inputs_keep_the_source_function(config, image):
    pytest.importorskip("tensorflow")
    from deepz_fiji.model.generator import build_generator
    from deepz_fiji.train.loop import _copy_adding_inputs

    source = build_generator(config.width, config.depth, intensity_gain=8.0)
    target = build_generator(config.width, config.depth, intensity_gain=8.0, physics_channels=1)
    _copy_adding_inputs(source, target)
    x = np.stack([image[:, :64], np.full((64, 64), 0.3, np.float32)], -1)[None]
    blur = blur_channel(image[:, :64], 3.0, config)[None, ..., None]
    np.testing.assert_allclose(target(np.concatenate([x, blur], -1)).numpy(), source(x).numpy(), atol=1e-5)
    target.get_layer("down1_conv1").set_weights(
        [w + 0.1 for w in target.get_layer("down1_conv1").get_weights()])  # now the channel is read
    assert not np.allclose(target(np.concatenate([x, blur], -1)).numpy(),
                           target(np.concatenate([x, 0 * blur], -1)).numpy(), atol=1e-4)


def test_a_shared_start_reads_the_new_channel_and_agrees_where_it_equals_the_image(config, image):
    pytest.importorskip("tensorflow")
    from deepz_fiji.model.generator import build_generator
    from deepz_fiji.train.loop import _copy_adding_inputs

    source = build_generator(config.width, config.depth, intensity_gain=8.0)
    target = build_generator(config.width, config.depth, intensity_gain=8.0, physics_channels=1)
    _copy_adding_inputs(source, target, share=0.5)
    x = np.stack([image[:, :64], np.full((64, 64), -0.2, np.float32)], -1)[None]
    same = np.concatenate([x, x[..., :1]], -1)
    np.testing.assert_allclose(target(same).numpy(), source(x).numpy(), atol=1e-5)
    blur = blur_channel(image[:, :64], 3.0, config)[None, ..., None]
    assert not np.allclose(target(np.concatenate([x, blur], -1)).numpy(), source(x).numpy(), atol=1e-3)
