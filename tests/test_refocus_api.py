"""Refocusing API: any size, tiles, dtypes, intensity units, Δz range, frames, stacks, surfaces."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from deepz_fiji.data import denormalize, estimate_normalization
from deepz_fiji.dpm import plane_dpm
from deepz_fiji.errors import DeepZError
from deepz_fiji.model import ModelConfig
from deepz_fiji.refocus import (
    cpu_supports_bfloat16,
    iter_refocus,
    refocus,
    refocus_frames,
    refocus_plane,
    refocus_surface,
    stack_positions,
    virtual_stack,
)


class FakeModel:
    """Stand-in with the DeepZModel interface whose output is a function of its input."""

    def __init__(self, fn, receptive_field_px: int = 1, modality: str = "widefield", output_level: str = "flux"):
        self.config = ModelConfig.from_preset("fake", "tiny", depth=3, modality=modality, output_level=output_level)
        self.receptive_field_px = receptive_field_px
        self.fn = fn
        self.batches: list[tuple[int, ...]] = []

    def predict(self, x: np.ndarray) -> np.ndarray:
        self.batches.append(x.shape)
        return self.fn(x).astype(np.float32)


def identity():
    """Returns the (normalised) image channel: refocusing must give the input back."""
    return FakeModel(lambda x: x[..., :1])


def dpm_echo():
    """Returns the network's DPM channel (Δz / dpm_scale_um), in normalised units.

    A cross-modality model, so the output background is not pinned to the input's."""
    return FakeModel(lambda x: x[..., 1:2], modality="widefield→confocal")


def sample(shape=(96, 80), seed=0, dtype=np.float32, peak=1000.0):
    """Sparse bright spots on a dim background, like a fluorescence image."""
    rng = np.random.default_rng(seed)
    img = rng.normal(100, 5, shape).clip(0)
    spots = rng.random(shape) > 0.97
    img[spots] += peak * rng.random(int(spots.sum()))
    return img.astype(dtype)


@pytest.fixture(scope="module")
def tiny_model(make_tiny_model):
    """A real (random-weight) 3-level tiny generator, loaded from its model folder."""
    from deepz_fiji.model import load_model

    return load_model(make_tiny_model("tiny-test"))


def test_tiled_equals_untiled_with_a_real_network(tiny_model):
    image = sample((517, 300))
    untiled = refocus_plane(image, 3.0, tiny_model, tile=0)
    events = list(iter_refocus(image, [3.0], tiny_model, tile=192))
    assert events[-1].total > 4  # really tiled
    tiled = events[-1].plane
    assert tiled.shape == untiled.shape == (517, 300) and tiled.dtype == np.float32
    assert np.abs(tiled - untiled).max() < 1e-3 * np.ptp(untiled)  # the requirement
    # overlap >= receptive field makes tiles exact up to float round-off (a margin that is too
    # small still passes the line above thanks to the taper, but not this one)
    assert np.abs(tiled - untiled).max() < 1e-5 * np.ptp(untiled)


def test_virtual_stack_planes_match_single_plane_refocusing(tiny_model):
    image = sample((70, 90), seed=3)
    stack = virtual_stack(image, -2, 2, 1.0, tiny_model)
    assert stack.shape == (5, 70, 90)
    for k, z in enumerate(stack_positions(-2, 2, 1.0)):
        np.testing.assert_allclose(stack[k], refocus_plane(image, z, tiny_model), rtol=1e-4, atol=1e-3)
    assert not np.allclose(stack[0], stack[-1])  # Δz reaches the network


def test_model_given_by_folder_path(tiny_model):
    image = sample((40, 40))
    by_path = refocus_plane(image, 1.0, str(tiny_model.path))
    np.testing.assert_allclose(by_path, refocus_plane(image, 1.0, tiny_model), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
def test_identity_model_returns_the_input_in_its_own_units(dtype):
    peak = 150 if dtype == np.uint8 else 30000
    image = sample((517, 300), dtype=dtype, peak=peak)
    out = refocus_plane(image, 0.0, identity(), tile=192)
    assert out.shape == image.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, image.astype(np.float32), rtol=1e-5, atol=1e-3 * float(image.max()) / 1000)


@pytest.mark.parametrize("level", ["flux", "local-flux", "background"])
def test_widefield_output_level_removes_a_uniform_offset(level):
    """A network that leaves a Δz-dependent offset in normalised units: the wide-field output's
    level is set back (mean or background median); a cross-modality model's is left alone."""
    image = sample()
    shifted = lambda x: x[..., :1] + 0.02 * x[..., 1:2]  # noqa: E731
    set_back = refocus_plane(image, 5.0, FakeModel(shifted, output_level=level))
    np.testing.assert_allclose(set_back, image, rtol=1e-5, atol=1e-2)
    free = refocus_plane(image, 5.0, FakeModel(shifted, output_level="none"))
    offset = 0.02 * 0.5 / estimate_normalization(image).scale
    np.testing.assert_allclose(free - image, offset, rtol=1e-4)
    cross = refocus_plane(image, 5.0, FakeModel(shifted, modality="widefield→confocal"))
    np.testing.assert_allclose(cross, free, rtol=1e-6)


def test_flux_level_conserves_the_mean_of_a_dense_sample_where_the_background_pin_does_not():
    """Defocus moves light into the gaps of a dense sample: the mean is conserved, the background is not."""
    from scipy import ndimage as ndi

    rng = np.random.default_rng(5)
    blobs = ndi.gaussian_filter(rng.random((96, 96)), 3)
    image = (100 + 3000 * (blobs > np.percentile(blobs, 55))).astype(np.float32)  # nuclei with dark gaps
    blurring = lambda x: ndi.gaussian_filter(x[..., :1], (0, 4, 4, 0)) + 0.03  # noqa: E731
    flux = refocus_plane(image, 5.0, FakeModel(blurring, output_level="flux"))
    pinned = refocus_plane(image, 5.0, FakeModel(blurring, output_level="background"))
    assert float(flux.mean()) == pytest.approx(float(image.mean()), rel=1e-5)
    assert abs(float(pinned.mean()) - float(image.mean())) > 0.02 * float(image.mean())


@pytest.mark.parametrize("dtype, floor", [(np.uint16, 0.0), (np.float32, -20.0)])
def test_outputs_never_go_below_the_inputs_zero_level(dtype, floor):
    image = sample((64, 64)).astype(np.float32)
    image[0, 0] = floor
    image = image.astype(dtype)
    sinking = lambda x: x[..., :1] - 50.0 * (x[..., :1] < 0.05)  # noqa: E731
    out = refocus_plane(image, 2.0, FakeModel(sinking, output_level="none"))
    assert float(out.min()) == pytest.approx(min(floor, 0.0))
    assert (out == np.float32(min(floor, 0.0))).sum() > 100, "the network really went below it"


def test_uniform_dpm_reaches_the_network_scaled_and_denormalised():
    image = sample()
    out = refocus_plane(image, 4.0, dpm_echo())
    expected = denormalize(np.full(image.shape, 4.0 / 10.0), estimate_normalization(image))
    np.testing.assert_allclose(out, expected, rtol=1e-5)


def test_surface_dpm_lands_on_the_right_pixels_with_tiles():
    image = sample((400, 333))
    dpm = plane_dpm(image.shape, 0.325, tilt_x_deg=1.0, tilt_y_deg=-0.5, offset_um=1.0)
    out = refocus_surface(image, dpm, dpm_echo(), tile=192)
    expected = denormalize(dpm / 10.0, estimate_normalization(image))
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-3)


def test_tta_maps_every_rotated_and_mirrored_output_back_onto_its_pixels():
    """The DPM travels with the image through the 8 symmetries and each output is mapped back:
    a network that echoes its (tilted, so asymmetric) DPM gives the same surface with and
    without test-time augmentation, also on non-square tiles."""
    image = sample((400, 333))
    dpm = plane_dpm(image.shape, 0.325, tilt_x_deg=1.0, tilt_y_deg=-0.5, offset_um=1.0)
    model = dpm_echo()
    plain = refocus_surface(image, dpm, model, tile=192)
    calls = len(model.batches)
    averaged = refocus_surface(image, dpm, model, tile=192, tta=True)
    assert len(model.batches) - calls == 8 * calls  # 8 network calls per batch
    (th, tw), = {shape[1:3] for shape in model.batches[:calls]}
    assert th != tw and {shape[1:3] for shape in model.batches[calls:]} == {(th, tw), (tw, th)}  # turned
    np.testing.assert_allclose(averaged, plain, rtol=1e-5, atol=1e-3)


def test_tta_averages_a_direction_dependent_network_over_the_symmetries():
    """A network with a preferred direction (the input shifted one pixel along x) gets averaged
    into a symmetric one: the output becomes the mean of the 4 one-pixel shifts."""
    image = sample((64, 64))
    shift_x = FakeModel(lambda x: np.roll(x[..., :1], 1, axis=2), modality="widefield→confocal")
    plain = refocus_plane(image, 0.0, shift_x, tile=0)
    np.testing.assert_allclose(plain, np.roll(image, 1, axis=1), rtol=1e-5, atol=1e-2)
    averaged = refocus_plane(image, 0.0, shift_x, tile=0, tta=True)
    four = np.mean([np.roll(image, s, axis=a) for s in (1, -1) for a in (0, 1)], axis=0)
    np.testing.assert_allclose(averaged, four, rtol=1e-5, atol=1e-2)


def test_tta_equals_refocusing_the_8_turned_and_mirrored_images_and_undoing_each(tiny_model):
    """With a real network (a random one is far from symmetric): the same as doing it by hand."""
    image = sample((64, 96))  # a multiple of the network's size: no padding, which would not turn along
    by_hand = []
    for turns in range(4):
        for mirror in (False, True):
            moved = np.rot90(image, turns)[:, ::-1] if mirror else np.rot90(image, turns)
            out = refocus_plane(np.ascontiguousarray(moved), 2.0, tiny_model)
            by_hand.append(np.rot90(out[:, ::-1] if mirror else out, -turns))
    averaged = refocus_plane(image, 2.0, tiny_model, tta=True)
    plain = refocus_plane(image, 2.0, tiny_model)
    assert averaged.shape == image.shape and averaged.dtype == np.float32
    # equal up to one offset: the wide-field level is set once, on the mean, not on each; compared
    # where no single output reached the zero floor (clipped once after averaging, not 8 times)
    free = np.min(by_hand, axis=0) > 0
    assert free.mean() > 0.5
    difference = (averaged - np.mean(by_hand, axis=0))[free]
    assert np.ptp(difference) < 1e-4 * np.ptp(plain) and abs(float(difference.mean())) < 0.02 * np.ptp(plain)
    assert np.abs(averaged - plain).max() > 0.05 * np.ptp(plain)  # so the line above can tell


def test_dpm_of_the_wrong_shape_is_refused():
    with pytest.raises(DeepZError, match="shape"):
        refocus_surface(sample((64, 64)), np.zeros((32, 32)), identity())


def test_dz_outside_the_trained_range_is_refused_naming_range_and_value():
    with pytest.raises(DeepZError) as err:
        refocus_plane(sample(), 50.0, identity())
    assert "50" in str(err.value) and "-10" in str(err.value) and "10" in str(err.value)
    with pytest.raises(DeepZError, match="-12"):
        virtual_stack(sample(), -12, 0, 1, identity())
    dpm = np.zeros((96, 80))
    dpm[5, 5] = 10.5
    with pytest.raises(DeepZError, match="10.5"):
        refocus_surface(sample(), dpm, identity())


def test_allow_extrapolation_refocuses_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="deepz_fiji"):
        out = refocus_plane(sample(), 12.0, dpm_echo(), allow_extrapolation=True)
    assert np.isfinite(out).all()
    assert any("trained range" in r.getMessage() for r in caplog.records)


def test_invalid_inputs_are_refused_with_a_clear_error():
    rgb = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(DeepZError, match="RGB.*split"):
        refocus_plane(rgb, 0.0, identity())
    nan = sample()
    nan[3, 4] = np.nan
    with pytest.raises(DeepZError, match="NaN"):
        refocus_plane(nan, 0.0, identity())
    with pytest.raises(DeepZError, match="pixels"):
        refocus_plane(sample().astype(bool), 0.0, identity())
    with pytest.raises(DeepZError, match="2D"):
        refocus_plane(np.zeros(100), 0.0, identity())
    with pytest.raises(DeepZError, match="finite"):
        refocus_plane(sample(), float("nan"), identity())
    with pytest.raises(DeepZError, match="model must be"):
        refocus_plane(sample(), 0.0, model=42)


def test_frames_are_refocused_one_by_one_with_their_own_normalisation():
    frames = np.stack([sample(seed=s) for s in range(3)])
    frames[1] *= 3  # brighter frame: its own normalisation keeps its units
    out = refocus(frames, 0.0, identity())
    assert out.shape == frames.shape
    np.testing.assert_allclose(out, frames, rtol=1e-5, atol=1e-2)
    tc = np.stack([frames, frames[::-1]], axis=1)  # (T, C, Y, X)
    assert refocus_frames(tc, 1.0, identity()).shape == tc.shape


def test_given_normalization_replaces_the_frames_own_and_is_undone_on_the_output():
    """The network sees the image scaled by the given constants; the output is back in input units."""
    from deepz_fiji.data import NormParams

    image = sample()
    own = estimate_normalization(image)
    dimmer = NormParams(own.offset, own.scale / 20)
    seen = []
    spy = FakeModel(lambda x: (seen.append(float(x[..., 0].max())), x[..., :1])[1])
    np.testing.assert_allclose(refocus_plane(image, 0.0, spy, normalization=dimmer), image, rtol=1e-5, atol=1e-2)
    refocus_plane(image, 0.0, spy)
    assert seen[0] == pytest.approx(seen[1] / 20, rel=1e-4)
    frames = np.stack([image, 2 * image])
    out = refocus(frames, 0.0, identity(), normalization=[dimmer, None])
    np.testing.assert_allclose(out, frames, rtol=1e-5, atol=1e-2)
    with pytest.raises(DeepZError, match="one per frame"):
        refocus(frames, 0.0, identity(), normalization=[dimmer])


def test_virtual_edf_normalization_takes_its_constants_from_the_stacks_edf():
    from deepz_fiji.data import extended_depth_of_field
    from deepz_fiji.refocus import virtual_edf_normalization

    stack = np.stack([sample(seed=s) for s in range(3)])
    assert virtual_edf_normalization(stack) == estimate_normalization(extended_depth_of_field(stack)[0])


def test_refocus_frames_takes_one_dz_per_frame():
    frames = np.stack([sample(seed=s) for s in range(3)])
    dz = [-1.0, 0.0, 2.5]
    out = refocus_frames(frames, dz, dpm_echo())
    for t in range(3):
        expected = denormalize(np.full(frames.shape[1:], dz[t] / 10), estimate_normalization(frames[t]))
        np.testing.assert_allclose(out[t], expected, rtol=1e-5)
    with pytest.raises(DeepZError, match="does not fit"):
        refocus_frames(frames, [1.0, 2.0], identity())


def test_virtual_stack_grid_includes_stop_when_on_grid():
    assert len(stack_positions(-10, 10, 0.5)) == 41
    np.testing.assert_allclose(stack_positions(0, 1, 0.3), [0, 0.3, 0.6, 0.9])
    np.testing.assert_allclose(stack_positions(-0.3, 0.3, 0.1), np.round(np.arange(-3, 4) * 0.1, 9))
    assert len(stack_positions(2, 2, 1)) == 1
    with pytest.raises(DeepZError, match="low to high"):
        stack_positions(1, -1, 0.5)
    with pytest.raises(DeepZError, match="step"):
        stack_positions(-1, 1, 0)


def test_many_planes_are_batched_within_the_pixel_budget():
    model = identity()
    image = sample((64, 64))
    stack = virtual_stack(image, -5, 5, 1, model, batch_px=64 * 64 * 4)
    assert stack.shape == (11, 64, 64)
    assert [n for n, *_ in model.batches] == [4, 4, 3]
    assert all(shape[1:] == (64, 64, 2) for shape in model.batches)  # one fixed tile shape


def test_progress_reports_every_tile_and_iter_refocus_yields_planes():
    calls = []
    virtual_stack(sample((400, 333)), -1, 1, 1, identity(), tile=192, batch_px=1, progress=lambda d, t: calls.append((d, t)))
    total = calls[-1][1]
    assert calls[-1][0] == total and total == 3 * 6 and [d for d, _ in calls] == sorted(d for d, _ in calls)
    planes = [e for e in iter_refocus(sample(), [0.0, 1.0], identity()) if e.plane is not None]
    assert [e.index for e in planes] == [(0, 0), (0, 1)]


@pytest.mark.skipif(not cpu_supports_bfloat16(), reason="CPU without AVX512-BF16/AMX")
def test_bfloat16_precision_stays_close_to_float32_and_is_switched_off_afterwards(tiny_model):
    import tensorflow as tf

    image = sample((128, 128))
    full = refocus_plane(image, 2.0, tiny_model, precision="float32")
    half = refocus_plane(image, 2.0, tiny_model, precision="bfloat16")
    error = np.abs(half - full).max() / np.ptp(full)
    assert 0 < error < 0.02  # bfloat16 really ran, and stays within 2 % of the output range
    assert not tf.config.optimizer.get_experimental_options().get("auto_mixed_precision_onednn_bfloat16", False)
    np.testing.assert_array_equal(refocus_plane(image, 2.0, tiny_model), full)


def test_unknown_precision_is_refused():
    with pytest.raises(DeepZError, match="precision"):
        refocus_plane(sample(), 0.0, identity(), precision="int8")


def test_physics_blend_mixes_the_network_with_the_nominal_blur_on_planes_and_surfaces():
    from deepz_fiji.evaluate.baselines import blur_channel

    image = sample()
    model = identity()
    model.config = ModelConfig.from_preset("fake", "tiny", depth=3, physics_blend=0.4)
    expected = 0.6 * image + 0.4 * blur_channel(image, 4.0, model.config)
    np.testing.assert_allclose(refocus_plane(image, 4.0, model), expected, rtol=1e-4, atol=0.05)
    dpm = np.broadcast_to(np.linspace(-3, 3, image.shape[1], dtype=np.float32), image.shape)
    expected = 0.6 * image + 0.4 * blur_channel(image, dpm, model.config)
    np.testing.assert_allclose(refocus_surface(image, dpm, model), expected, rtol=1e-4, atol=0.05)
    assert not np.allclose(refocus_plane(image, 4.0, identity()), expected, atol=1.0)  # no blend by default
    with pytest.raises(DeepZError, match="physics_blend"):
        ModelConfig.from_preset("fake", "tiny", physics_blend=1.0)
    with pytest.raises(DeepZError, match="physics_blend"):
        ModelConfig.from_preset("fake", "tiny", physics_blend=0.4, modality="widefield→confocal")
