"""The tf.data adapter over dataset shards: crops, augmentation, intensity factor, validation set."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from deepz_fiji.data import read_dataset  # noqa: E402
from deepz_fiji.errors import DeepZError  # noqa: E402
from deepz_fiji.train import TrainConfig, write_toy_dataset  # noqa: E402
from deepz_fiji.train.pipeline import (  # noqa: E402
    network_input,
    training_patch,
    training_stream,
    validation_arrays,
)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    folder = write_toy_dataset(tmp_path_factory.mktemp("toy") / "ds", n_train=24, n_val=6, patch=36,
                               shard_size=10, seed=1)
    return read_dataset(folder)


def _first_batch(ds, options, patch, start=0):
    image, target, dz, weight = next(iter(training_stream(ds, options, patch, start=start)))
    assert np.all(weight.numpy() == 1.0)  # unweighted unless asked
    return image.numpy(), target.numpy(), dz.numpy()


def test_stream_crops_scales_input_and_target_alike(toy):
    options = TrainConfig(batch=6, augment=False, intensity_scale=(0.5, 2.0), seed=4)
    train = toy.load_split("train")
    image, target, dz = _first_batch(toy, options, 36)
    assert image.shape == target.shape == (6, 36, 36) and dz.shape == (6,)
    factors = []
    for img, tgt, d in zip(image, target, dz, strict=True):
        # find the source pair: same Δz, and the image is a multiple of its input
        best = None
        for i in np.flatnonzero(np.isclose(train["dz_um"], d)):
            f = float(np.sum(img * train["inputs"][i]) / np.sum(train["inputs"][i] ** 2))
            if np.allclose(img, f * train["inputs"][i], atol=1e-5):
                best = (i, f)
        assert best is not None, "every streamed image is a scaled shard input"
        i, f = best
        np.testing.assert_allclose(tgt, f * train["targets"][i], atol=1e-5)  # same factor for the target
        factors.append(f)
    assert all(0.5 - 1e-6 <= f <= 2.0 + 1e-6 for f in factors) and np.ptp(factors) > 0.05


@pytest.mark.parametrize("group", [5, 8])
def test_stream_random_crops_and_flips_keep_pairs_aligned(toy, group):
    options = TrainConfig(batch=24, augment=True, augment_group=group, intensity_scale=None, seed=0)
    image, target, _ = _first_batch(toy, options, 16)
    assert image.shape == (24, 16, 16)
    train = toy.load_split("train")
    from deepz_fiji.data import augment

    drawn = set()
    for img, tgt in zip(image, target, strict=True):
        hits = [
            (i, k, y, x)
            for i in range(len(train["inputs"])) for k in range(8)
            for src in [augment(train["inputs"][i], k)]
            for y in range(21) for x in range(21)
            if np.array_equal(src[y:y + 16, x:x + 16], img)
        ]
        assert hits, "each streamed image is an augmented crop of a shard input"
        i, k, y, x = hits[0]
        np.testing.assert_array_equal(augment(train["targets"][i], k)[y:y + 16, x:x + 16], tgt)
        drawn.add(min(h[1] for h in hits))
    assert max(drawn) < group and (group == 5 or max(drawn) >= 5), sorted(drawn)


def test_stream_is_seeded(toy):
    options = TrainConfig(batch=4, seed=7)
    a = _first_batch(toy, options, 32)
    b = _first_batch(toy, options, 32)
    c = _first_batch(toy, options, 32, start=50)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])


def test_validation_is_unaugmented_and_cropped_to_the_size_multiple(toy):
    images, targets, dz = validation_arrays(toy, TrainConfig(), 16)
    val = toy.load_split("val")
    assert images.shape == (6, 32, 32)
    np.testing.assert_array_equal(images, val["inputs"][:, 2:34, 2:34])
    np.testing.assert_array_equal(targets, val["targets"][:, 2:34, 2:34])
    assert len(validation_arrays(toy, TrainConfig(val_samples=4), 16)[2]) == 4


def test_training_patch_rules(toy):
    assert training_patch(toy, TrainConfig(), 16) == 32
    assert training_patch(toy, TrainConfig(patch=20), 8) == 16
    with pytest.raises(DeepZError, match="larger than the dataset"):
        training_patch(toy, TrainConfig(patch=64), 16)


def test_network_input_holds_the_scaled_dpm():
    x = network_input(tf.ones((2, 4, 4)), tf.constant([5.0, -10.0]), 10.0).numpy()
    assert x.shape == (2, 4, 4, 2)
    np.testing.assert_allclose(x[0, ..., 1], 0.5)
    np.testing.assert_allclose(x[1, ..., 1], -1.0)


def test_bad_options_are_named():
    with pytest.raises(DeepZError, match="'batch'"):
        TrainConfig(batch=0)
    with pytest.raises(DeepZError, match="intensity_scale"):
        TrainConfig(intensity_scale=(2.0, 1.0))
    with pytest.raises(DeepZError, match="at least one iteration"):
        TrainConfig(iterations=0, warmup=0)
    with pytest.raises(DeepZError, match="augment_group"):
        TrainConfig(augment_group=6)


def test_pair_weights_favour_pairs_refocusing_towards_the_focal_plane():
    from deepz_fiji.train.pipeline import pair_weights

    focal = {(0, 0): 10, (0, 1): 4}
    w = pair_weights(np.array([0, 0, 0, 0]), np.array([0, 0, 1, 1]), np.array([6, 10, 4, 9]),
                     np.array([9, 13, 4, 5]), focal, 3.0)
    np.testing.assert_array_equal(w, [3.0, 1.0, 1.0, 3.0])  # 6→9 and 9→5 approach focus; away or staying do not


def test_stream_weights_sharpening_pairs_of_a_prepared_dataset(tmp_path):
    from deepz_fiji.data import prepare_dataset
    from deepz_fiji.io import write_image
    from deepz_fiji.simulate import simulate_stack
    from deepz_fiji.train.pipeline import focal_planes, pair_weights

    for i in range(2):
        sim = simulate_stack("beads", 64, seed=300 + i, z_range_um=(-3, 3))
        write_image(tmp_path / f"s{i}.tif", sim.stack, "ZYX", pixel_um=0.325, z_step_um=0.5)
    prepare_dataset(tmp_path, tmp_path / "ds", patch=32, planes=5, targets_per_input=3, val_fovs=["s1"],
                    align_planes=False)
    data = read_dataset(tmp_path / "ds")
    focal = focal_planes(data)
    shard = data.load_split("train")
    expected = pair_weights(shard["fov"], shard["region"], shard["input_plane"], shard["target_plane"], focal, 4.0)
    assert 0.2 < np.mean(expected == 4.0) < 0.8  # both kinds of pair are there
    options = TrainConfig(batch=16, sharpen_weight=4.0, augment=False, intensity_scale=None, seed=1)
    _, _, dz, weight = next(iter(training_stream(data, options, 32)))
    assert set(np.unique(weight.numpy())) <= {1.0, 4.0} and len(np.unique(weight.numpy())) == 2
    with pytest.raises(DeepZError, match="positive number"):
        TrainConfig(sharpen_weight=0)


def test_sharpen_weight_needs_focal_planes(toy):
    with pytest.raises(DeepZError, match="no regions with focal planes"):
        training_stream(toy, TrainConfig(batch=4, sharpen_weight=2.0), 32)
