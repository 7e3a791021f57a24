"""prepare_dataset / read_dataset / augment: the dataset folder contract (contract B)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_data_synthetic import blob_stack

from deepz_fiji.data import (
    AUGMENTATION_FACTOR,
    PythonPreprocessor,
    augment,
    estimate_normalization,
    normalize,
    prepare_dataset,
    read_dataset,
)
from deepz_fiji.errors import DeepZError
from deepz_fiji.io import read_image, write_image

SETTINGS = dict(patch=32, planes=4, targets_per_input=3, shard_size=50)


def write_stacks(folder, n=4, *, z_step=0.5, pixel=0.325, shape=(13, 64, 64)):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        stack = blob_stack(shape, n_blobs=8, seed=10 + i, focus=5 + i % 3)
        write_image(folder / f"fov{i}.tif", stack, "ZYX", pixel_um=pixel, z_step_um=z_step)
    return folder


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    stacks = write_stacks(root / "stacks")
    manifest = prepare_dataset(stacks, root / "dataset", seed=3, **SETTINGS)
    return stacks, read_dataset(root / "dataset"), manifest


def test_every_pair_is_two_planes_of_one_region_with_dz_step_times_offset(dataset):
    stacks, ds, _ = dataset
    fovs = ds.manifest["fovs"]
    patch = ds.manifest["patch"]
    pre = PythonPreprocessor()
    for split in ("train", "val"):
        pairs = ds.load_split(split)
        assert len(pairs["dz_um"]) == ds.count(split) > 0
        np.testing.assert_allclose(pairs["dz_um"], 0.5 * (pairs["target_plane"] - pairs["input_plane"]), atol=1e-6)
        assert np.abs(pairs["dz_um"]).max() <= 2 * ds.manifest["planes"] * 0.5
        for fov in np.unique(pairs["fov"]):
            raw = read_image(fovs[fov]["source"]).data
            aligned, _ = pre.register(raw)
            params = estimate_normalization(pre.edf(aligned)[0])
            assert params.to_dict() == pytest.approx(fovs[fov]["normalization"])
            stack = normalize(aligned, params)
            for n in np.nonzero(pairs["fov"] == fov)[0][::7]:
                y, x, middle, first, last, _ = fovs[fov]["regions"][pairs["region"][n]]
                assert first <= pairs["input_plane"][n] <= last and first <= pairs["target_plane"][n] <= last
                assert first == max(0, middle - 4) and last == min(raw.shape[0] - 1, middle + 4)
                crop = stack[:, y : y + patch, x : x + patch]
                np.testing.assert_allclose(pairs["inputs"][n], crop[pairs["input_plane"][n]], atol=1e-5)
                np.testing.assert_allclose(pairs["targets"][n], crop[pairs["target_plane"][n]], atol=1e-5)


def test_no_field_of_view_is_in_both_splits(dataset):
    _, ds, manifest = dataset
    train, val = ds.load_split("train"), ds.load_split("val")
    assert set(np.unique(train["fov"])).isdisjoint(np.unique(val["fov"]))
    names = {s: set(manifest["splits"][s]["fovs"]) for s in ("train", "val")}
    assert names["train"].isdisjoint(names["val"])
    assert names["train"] | names["val"] == {f"fov{i}" for i in range(4)}
    assert len(names["val"]) == 1  # 15 % of 4 stacks, at least one
    for split in ("train", "val"):
        assert {manifest["fovs"][i]["name"] for i in np.unique(ds.load_split(split)["fov"])} <= names[split]


def test_augmentation_is_for_training_only_and_not_pre_applied(dataset):
    _, ds, manifest = dataset
    assert ds.augmentation_factor("train") == AUGMENTATION_FACTOR == 5
    assert ds.augmentation_factor("val") == 1
    assert manifest["augmentation"]["pre_applied"] is False
    for split in ("train", "val"):  # shards hold each pair once: the count is the regions' pairs
        regions = [r for f in manifest["fovs"] if f["split"] == split for r in f["regions"]]
        assert ds.count(split) == sum(r[-1] for r in regions) == len(ds.load_split(split)["dz_um"])


def test_reading_pairs_augments_training_five_fold_and_validation_never(dataset):
    _, ds, _ = dataset
    train = list(ds.iter_pairs("train"))
    val = list(ds.iter_pairs("val"))
    assert len(train) == 5 * ds.count("train") and len(val) == ds.count("val")
    first = ds.load_split("train")
    for k in range(5):
        np.testing.assert_array_equal(train[k][0], augment(first["inputs"][0], k))
        np.testing.assert_array_equal(train[k][1], augment(first["targets"][0], k))
        assert train[k][2] == first["dz_um"][0]
    plain = ds.load_split("val")
    for n, (inp, tgt, dz) in enumerate(val):
        np.testing.assert_array_equal(inp, plain["inputs"][n])
        np.testing.assert_array_equal(tgt, plain["targets"][n])
        assert dz == plain["dz_um"][n]
    shuffled = list(ds.iter_pairs("val", shuffle=True, seed=1))
    assert sorted(p[2] for p in shuffled) == sorted(p[2] for p in val)
    assert [p[2] for p in shuffled] != [p[2] for p in val]


def test_manifest_records_what_a_trainer_needs(dataset):
    stacks, ds, manifest = dataset
    assert json.loads((ds.path / "manifest.json").read_text()) == manifest
    assert manifest["patch"] == 32 and manifest["planes"] == 4 and manifest["targets_per_input"] == 3
    assert manifest["z_step_um"] == pytest.approx(0.5) and manifest["pixel_um"] == pytest.approx(0.325)
    assert manifest["counts"] == {s: ds.count(s) for s in ("train", "val")}
    for split in ("train", "val"):
        assert sum(manifest["dz_histogram"][split]) == ds.count(split)
        assert len(manifest["dz_histogram"][split]) == len(manifest["dz_histogram"]["bin_edges_um"]) - 1
        assert all(p.exists() for p in ds.shards(split))
    assert sorted(manifest["normalization"]["per_fov"]) == [f"fov{i}" for i in range(4)]
    assert manifest["source_files"] == [str((stacks / f"fov{i}.tif").resolve()) for i in range(4)]
    assert manifest["preprocessing"]["register"] == "python:pystackreg"
    assert manifest["preprocessing"]["edf"].startswith("python:")
    assert max(len(np.load(p)["dz_um"]) for p in ds.shards("train")) == 50  # shard size respected
    assert not list(ds.path.glob(".*"))  # no staging leftovers


def test_same_seed_gives_the_same_dataset(dataset, tmp_path):
    stacks, ds, _ = dataset
    prepare_dataset(stacks, tmp_path / "again", seed=3, **SETTINGS)
    again = read_dataset(tmp_path / "again")
    np.testing.assert_array_equal(again.load_split("train")["dz_um"], ds.load_split("train")["dz_um"])
    other = prepare_dataset(stacks, tmp_path / "other", seed=4, **SETTINGS)
    assert other["dz_histogram"] != ds.manifest["dz_histogram"]


def test_augment_gives_the_eight_symmetries_of_the_square_the_papers_five_first():
    from deepz_fiji.refocus.symmetry import SYMMETRIES, apply

    image = np.arange(12.0).reshape(3, 4)
    outs = [augment(image, k) for k in range(8)]
    np.testing.assert_array_equal(outs[0], image)
    np.testing.assert_array_equal(outs[4], image[:, ::-1])  # the paper's one flip
    flat = {o.tobytes() + bytes(o.shape) for o in outs}
    assert len(flat) == 8
    # the same group test-time augmentation averages over
    assert flat == {apply(image[None], t, m)[0].tobytes() + bytes(apply(image[None], t, m)[0].shape)
                    for t, m in SYMMETRIES}
    batch = np.stack([image, image + 1])
    np.testing.assert_array_equal(augment(batch, 1)[1], augment(image + 1, 1))  # last two axes of a batch
    np.testing.assert_array_equal(augment(batch, 6)[0], augment(image, 6))
    with pytest.raises(DeepZError):
        augment(image, 8)


def test_fewer_than_two_stacks_is_an_error(tmp_path):
    stacks = write_stacks(tmp_path / "one", n=1)
    with pytest.raises(DeepZError, match="at least 2"):
        prepare_dataset(stacks, tmp_path / "ds", **SETTINGS)


def test_missing_calibration_needs_the_z_step_option(tmp_path):
    folder = tmp_path / "raw"
    folder.mkdir()
    for i in range(2):
        write_image(folder / f"s{i}.tif", blob_stack((9, 48, 48), seed=i, focus=4), "ZYX")
    with pytest.raises(DeepZError, match="--z-step"):
        prepare_dataset(folder, tmp_path / "ds", **SETTINGS)
    assert not (tmp_path / "ds" / "manifest.json").exists()
    manifest = prepare_dataset(folder, tmp_path / "ds", z_step_um=0.25, pixel_um=0.5, **SETTINGS)
    assert manifest["z_step_um"] == 0.25
    pairs = read_dataset(tmp_path / "ds").load_split("train")
    np.testing.assert_allclose(pairs["dz_um"], 0.25 * (pairs["target_plane"] - pairs["input_plane"]))


def test_a_failure_leaves_no_half_dataset_and_existing_datasets_are_kept(tmp_path):
    stacks = write_stacks(tmp_path / "stacks", n=2)
    write_image(stacks / "fov9.tif", blob_stack((13, 64, 64), seed=9), "ZYX", pixel_um=0.325, z_step_um=1.0)
    out = tmp_path / "ds"
    with pytest.raises(DeepZError, match="z_step_um"):
        prepare_dataset(stacks, out, **SETTINGS)
    assert not out.exists()
    (stacks / "fov9.tif").unlink()
    prepare_dataset(stacks, out, **SETTINGS)
    with pytest.raises(DeepZError, match="--overwrite"):
        prepare_dataset(stacks, out, **SETTINGS)
    manifest = prepare_dataset(stacks, out, overwrite=True, **{**SETTINGS, "shard_size": 1000})
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["manifest.json", *manifest["splits"]["train"]["shards"], *manifest["splits"]["val"]["shards"]]
    )


def test_read_dataset_names_what_is_wrong(tmp_path):
    with pytest.raises(DeepZError, match="deepz prepare"):
        read_dataset(tmp_path)
    (tmp_path / "manifest.json").write_text("{}")
    with pytest.raises(DeepZError, match="not a deepz-fiji dataset"):
        read_dataset(tmp_path)


def test_max_dz_limits_pairs_and_is_recorded(tmp_path):
    from deepz_fiji.data import prepare_dataset, read_dataset
    from deepz_fiji.io import write_image

    for i in range(3):
        stack = blob_stack(seed=i)
        write_image(tmp_path / f"s{i}.tif", stack, "ZYX", pixel_um=0.325, z_step_um=0.5)
    manifest = prepare_dataset(sorted(tmp_path.glob("s*.tif")), tmp_path / "ds", patch=32, planes=6,
                               targets_per_input=4, max_dz_um=1.0, seed=0)
    assert manifest["max_dz_um"] == 1.0
    pairs = read_dataset(tmp_path / "ds").load_split("train")
    assert np.abs(pairs["dz_um"]).max() <= 1.0
    assert len(np.unique(pairs["dz_um"])) == 5  # -1, -0.5, 0, 0.5, 1 µm all occur


def test_align_planes_false_skips_stackreg_and_says_so(tmp_path):
    from deepz_fiji.data import prepare_dataset
    from deepz_fiji.io import write_image

    for i in range(2):
        write_image(tmp_path / f"s{i}.tif", blob_stack(seed=i), "ZYX", pixel_um=0.325, z_step_um=0.5)
    manifest = prepare_dataset(sorted(tmp_path.glob("s*.tif")), tmp_path / "ds", patch=32, planes=4,
                               targets_per_input=2, align_planes=False, val_fraction=0.5)
    assert all(f["registration"]["implementation"].startswith("none") for f in manifest["fovs"])


def test_clean_targets_come_from_the_noiseless_stacks_normalised_like_the_input(tmp_path):
    from deepz_fiji.data import prepare_dataset, read_dataset
    from deepz_fiji.data.normalize import estimate_normalization, normalize
    from deepz_fiji.io import write_image

    rng = np.random.default_rng(0)
    for folder in ("noisy", "truth"):
        (tmp_path / folder).mkdir()
    for i in range(2):
        clean = blob_stack(seed=i).astype(np.float32)
        noisy = clean + rng.normal(0, 0.02 * clean.max(), clean.shape).astype(np.float32)
        write_image(tmp_path / "noisy" / f"s{i}.tif", noisy, "ZYX", pixel_um=0.325, z_step_um=0.5)
        write_image(tmp_path / "truth" / f"s{i}.tif", clean, "ZYX", pixel_um=0.325, z_step_um=0.5)
    with pytest.raises(DeepZError, match="no-stackreg"):
        prepare_dataset(tmp_path / "noisy", tmp_path / "x", patch=32, planes=4, clean_targets=tmp_path / "truth")
    manifest = prepare_dataset(tmp_path / "noisy", tmp_path / "ds", patch=32, planes=4, targets_per_input=2,
                               val_fraction=0.5, align_planes=False, clean_targets=tmp_path / "truth")
    assert manifest["targets"] == "noiseless stacks"
    pairs = read_dataset(tmp_path / "ds").load_split("train")
    fov = int(pairs["fov"][0])
    noisy = read_image_data(tmp_path / "noisy" / f"s{fov}.tif")
    clean = read_image_data(tmp_path / "truth" / f"s{fov}.tif")
    from deepz_fiji.data import extended_depth_of_field

    params = estimate_normalization(extended_depth_of_field(noisy)[0])
    k = 0
    t, i = int(pairs["target_plane"][k]), int(pairs["input_plane"][k])
    y, x = _region_origin(manifest, fov, int(pairs["region"][k]))
    np.testing.assert_allclose(pairs["targets"][k], normalize(clean, params)[t, y:y + 32, x:x + 32], atol=1e-5)
    np.testing.assert_allclose(pairs["inputs"][k], normalize(noisy, params)[i, y:y + 32, x:x + 32], atol=1e-5)


def test_norm_reference_input_normalises_each_pair_on_its_whole_input_plane(tmp_path):
    from deepz_fiji.data import prepare_dataset, read_dataset
    from deepz_fiji.data.normalize import estimate_normalization, normalize

    stacks = write_stacks(tmp_path / "stacks", n=2)
    with pytest.raises(DeepZError, match="unknown normalisation reference 'plane'; use one of edf, input"):
        prepare_dataset(stacks, tmp_path / "x", norm_reference="plane", **SETTINGS)
    kwargs = dict(SETTINGS, seed=2, val_fraction=0.5, align_planes=False)
    manifest = prepare_dataset(stacks, tmp_path / "ds", norm_reference="input", **kwargs)
    edf_manifest = prepare_dataset(stacks, tmp_path / "edf", **kwargs)
    assert manifest["normalization"]["reference"] == "input" and edf_manifest["normalization"]["reference"] == "edf"
    pairs = read_dataset(tmp_path / "ds").load_split("train")
    edf_pairs = read_dataset(tmp_path / "edf").load_split("train")
    np.testing.assert_array_equal(pairs["target_plane"], edf_pairs["target_plane"])  # same pairs, other constants
    fov = int(pairs["fov"][0])
    stack = read_image_data(stacks / f"fov{fov}.tif")
    entry = next(f for f in manifest["fovs"] if f["index"] == fov)
    assert len(entry["input_plane_normalization"]) == stack.shape[0]
    rescaled = 0
    for k in np.flatnonzero(pairs["fov"] == fov)[::7]:
        i, t = int(pairs["input_plane"][k]), int(pairs["target_plane"][k])
        params = estimate_normalization(stack[i])  # the whole plane, as a single image at inference
        y, x = _region_origin(manifest, fov, int(pairs["region"][k]))
        np.testing.assert_allclose(pairs["inputs"][k], normalize(stack[i], params)[y:y + 32, x:x + 32], atol=1e-5)
        np.testing.assert_allclose(pairs["targets"][k], normalize(stack[t], params)[y:y + 32, x:x + 32], atol=1e-5)
        rescaled += not np.allclose(pairs["inputs"][k], edf_pairs["inputs"][k], rtol=1e-3)
    assert rescaled > 0


def read_image_data(path):
    from deepz_fiji.io import read_image

    return read_image(path).data.astype(np.float32)


def _region_origin(manifest, fov, region):
    entry = next(f for f in manifest["fovs"] if f["index"] == fov)
    row = entry["regions"][region]
    columns = entry["region_columns"]
    return int(row[columns.index("y")]), int(row[columns.index("x")])


def test_val_fovs_choose_the_validation_stacks(tmp_path):
    from deepz_fiji.data import prepare_dataset, split_fovs
    from deepz_fiji.io import write_image

    names = ["beads-1", "beads-2", "nuclei-1", "nuclei-2"]
    assert split_fovs(4, 0.15, np.random.default_rng(0), names=names, val_fovs=["beads-2", "nuclei-1"]) == [
        "train", "val", "val", "train"]
    with pytest.raises(DeepZError, match="--val-fovs nuclei-9: no such field of view among beads-1, beads-2"):
        split_fovs(4, 0.15, np.random.default_rng(0), names=names, val_fovs=["nuclei-9"])
    with pytest.raises(DeepZError, match="leave at least one for training"):
        split_fovs(4, 0.15, np.random.default_rng(0), names=names, val_fovs=names)
    for i in range(3):
        write_image(tmp_path / f"s{i}.tif", blob_stack(seed=i), "ZYX", pixel_um=0.325, z_step_um=0.5)
    manifest = prepare_dataset(tmp_path, tmp_path / "ds", patch=32, planes=4, targets_per_input=2,
                               align_planes=False, val_fovs=["s0", "s2"])
    assert manifest["splits"]["val"]["fovs"] == ["s0", "s2"] and manifest["splits"]["train"]["fovs"] == ["s1"]
    assert manifest["val_fovs"] == ["s0", "s2"]
