"""Generator/discriminator architecture and the LS-GAN losses, checked against the paper."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from deepz_fiji.model.discriminator import build_discriminator  # noqa: E402
from deepz_fiji.model.generator import build_generator, macs_per_pixel  # noqa: E402
from deepz_fiji.model.layers import ChannelZeroPad, EdgePad2D  # noqa: E402
from deepz_fiji.model.losses import discriminator_loss, generator_loss  # noqa: E402
from deepz_fiji.model.receptive import measure_receptive_field, theoretical_radius  # noqa: E402

#: Exact parameter count of the paper preset (the paper quotes ≈ 25.6 M).
PAPER_PARAMETERS = 25_574_636


@pytest.fixture(scope="module")
def paper_generator():
    return build_generator(1.0, 5)


def test_paper_generator_has_the_published_size(paper_generator):
    gen = paper_generator
    assert gen.count_params() == PAPER_PARAMETERS
    assert abs(gen.count_params() / 25.6e6 - 1) < 0.005
    assert abs(macs_per_pixel(1.0, 5) / 686e3 - 1) < 0.005  # paper: ≈ 686 k multiply-adds per pixel


def test_generator_layers_follow_the_spec(paper_generator):
    layer = {lay.name: lay for lay in paper_generator.layers}
    assert layer["down1_conv1"].kernel.shape == (3, 3, 2, 25)
    assert layer["down5_conv2"].kernel.shape == (3, 3, 576, 768)
    assert layer["up4_upconv"].kernel.shape == (3, 3, 768, 768)  # transposed conv keeps channels
    assert layer["up4_conv1"].kernel.shape == (3, 3, 384 + 768, 576)  # CAT(x5, up(x6))
    assert layer["up1_conv2"].kernel.shape == (3, 3, 72, 48)
    assert layer["output"].kernel.shape == (3, 3, 48, 1)
    assert layer["output"].activation.__name__ == "linear"
    np.testing.assert_allclose(layer["down3_conv1"].bias.numpy(), 0.1)


def test_tiny_generator_keeps_any_multiple_of_its_size():
    gen = build_generator(1 / 16, 3)
    x = np.random.default_rng(0).random((2, 24, 40, 2), dtype=np.float32)
    y = gen(x).numpy()
    assert y.shape == (2, 24, 40, 1) and y.dtype == np.float32 and np.isfinite(y).all()


def test_intensity_gain_is_a_weightless_rescaling_of_image_in_and_output_out():
    """G_g(x, dpm) = G_1(g·x, dpm) / g with the same weights; the DPM channel is not scaled."""
    gain = 20.0
    plain, gained = build_generator(1 / 16, 3), build_generator(1 / 16, 3, intensity_gain=gain)
    assert gained.count_params() == plain.count_params()
    gained.set_weights(plain.get_weights())
    x = np.random.default_rng(1).random((2, 16, 24, 2), dtype=np.float32) * [0.05, 1.0]
    scaled = x * np.array([gain, 1.0], np.float32)
    np.testing.assert_allclose(gained(x).numpy(), plain(scaled).numpy() / gain, rtol=1e-5, atol=1e-7)
    d_plain, d_gained = build_discriminator(1 / 16), build_discriminator(1 / 16, intensity_gain=gain)
    d_gained.set_weights(d_plain.get_weights())
    z = x[..., :1]
    np.testing.assert_allclose(d_gained(z).numpy(), d_plain(z * gain).numpy(), rtol=1e-5)


def test_padding_replicates_edges_and_residual_pads_zeros():
    x = np.arange(12, dtype=np.float32).reshape(1, 3, 4, 1)
    padded = EdgePad2D()(x).numpy()[0, ..., 0]
    np.testing.assert_array_equal(padded, np.pad(x[0, ..., 0], 1, mode="edge"))
    res = ChannelZeroPad(3)(x).numpy()
    np.testing.assert_array_equal(res[..., 0], x[..., 0])
    assert not res[..., 1:].any()


def test_discriminator_scores_in_unit_interval_and_downsamples_six_times():
    disc = build_discriminator(1 / 16)
    names = [lay.name for lay in disc.layers]
    assert sum(n.endswith("_conv2") for n in names) == 6
    score = disc(np.random.default_rng(0).random((3, 64, 64, 1), dtype=np.float32)).numpy()
    assert score.shape == (3, 1) and np.all((score > 0) & (score < 1))
    assert disc.get_layer("block6_conv2").kernel.shape == (3, 3, 96, 192)  # 1536/16, 3072/16
    assert disc.get_layer("block6_conv2").strides == (2, 2)
    assert disc.get_layer("fc1").kernel.shape == (192, 192)
    assert disc.get_layer("score").activation.__name__ == "sigmoid"


def test_losses_match_hand_computation():
    d_fake = tf.constant([[0.2], [0.6]])
    d_real = tf.constant([[0.9], [0.5]])
    # L_D = 1/(2N) Σ D(G(x))² + 1/(2N) Σ [D(z) − 1]² = (0.04+0.36)/4 + (0.01+0.25)/4
    assert float(discriminator_loss(d_fake, d_real)) == pytest.approx(0.165, abs=1e-6)
    pred = tf.concat([tf.zeros((1, 2, 2, 1)), tf.reshape(tf.constant([1.0, 2, 3, 4]), (1, 2, 2, 1))], 0)
    target = tf.ones((2, 2, 2, 1))
    # per-image MAE: 1 and (0+1+2+3)/4 = 1.5; adversarial = ((0.2-1)² + (0.6-1)²)/4 = 0.2
    loss, adversarial, mae = generator_loss(d_fake, pred, target, alpha=0.02)
    assert float(adversarial) == pytest.approx(0.2, abs=1e-6)
    assert float(mae) == pytest.approx(1.25, abs=1e-6)
    assert float(loss) == pytest.approx(0.2 + 0.02 * (1 + 1.5) / 4, abs=1e-6)


def test_receptive_field_bounded_by_geometry_and_enough_for_tiling():
    gen = build_generator(1 / 16, 3)
    rf = measure_receptive_field(lambda x: gen(x).numpy(), 3)
    radius = (rf - 1) // 2
    assert theoretical_radius(3) * 0.7 < radius <= theoretical_radius(3)
    # a pixel's output only depends on inputs within the radius: a crop with that margin agrees
    x = np.random.default_rng(1).random((1, 128, 128, 2), dtype=np.float32)
    whole = gen(x).numpy()
    m = -(-radius // 4) * 4
    crop = gen(x[:, 32 - m:64 + m, 32 - m:64 + m]).numpy()
    np.testing.assert_allclose(crop[:, m:m + 32, m:m + 32], whole[:, 32:64, 32:64], atol=1e-5)


def test_widening_keeps_the_output_and_refuses_to_narrow():
    from deepz_fiji.errors import DeepZError
    from deepz_fiji.model.widen import widen_generator

    source = build_generator(1 / 16, 4, intensity_gain=20.0)
    rng = np.random.default_rng(3)
    source.set_weights([w + rng.normal(0, 0.1, w.shape).astype(np.float32) for w in source.get_weights()])
    wide = build_generator(1 / 8, 4, intensity_gain=20.0)
    x = np.stack([rng.random((2, 40, 24)), np.full((2, 40, 24), -0.4)], -1).astype(np.float32)
    before = source(x).numpy()

    def change() -> float:  # mean output change, relative to the source's mean output
        return float(np.abs(wide(x).numpy() - before).mean() / np.abs(before).mean())

    unrelated = change()  # the wide network's own random weights: ~1
    widen_generator(source, wide, 4)
    assert wide.count_params() > 3 * source.count_params()
    np.testing.assert_allclose(wide(x).numpy(), before, atol=1e-5 * float(np.abs(before).max()))
    widen_generator(source, wide, 4, noise=0.01, seed=1)  # perturbed: close, not equal (~0.05)
    assert 1e-5 < change() < 0.15 * unrelated
    with pytest.raises(DeepZError, match="must not be smaller"):
        widen_generator(wide, source, 4)
