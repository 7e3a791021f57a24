"""Deep-Z+ data: misregistered wide-field/confocal pairs, co-registration, axial zero points, labels."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage as ndi

from deepz_fiji.data import extended_depth_of_field, read_dataset
from deepz_fiji.data.coregister import (
    coregister,
    crop_matrix,
    fine_alignment,
    inner_rectangle,
    overlap_mask,
)
from deepz_fiji.data.crossmodal import (
    crossmodal_pairs,
    pair_stack_files,
    prepare_crossmodal_dataset,
)
from deepz_fiji.data.focus import axial_zero_point, focus_curve, parabola_peak
from deepz_fiji.data.registration import ncc, rigid_transform, warp_plane
from deepz_fiji.errors import DeepZError
from deepz_fiji.io import write_image as _write_image
from deepz_fiji.simulate.pairs import simulate_misregistered_pair

#: (shift (dx, dy) px, rotation °, axial offset µm) of the confocal against the wide-field stack.
MISREGISTRATIONS = [((8.0, -6.0), 1.2, 0.5), ((-5.5, 7.25), -0.8, -0.4), ((10.0, 3.0), 0.5, 0.3)]
SIZE, PLANES = 128, 15


@pytest.fixture(scope="module")
def pairs():
    """Three 128² px, 15-plane (±1.4 µm) 63×/1.4 NA filament pairs with known misregistrations."""
    return [simulate_misregistered_pair(size=SIZE, planes=PLANES, seed=seed, n_objects=20, shift_px=shift,
                                        rotation_deg=rot, axial_offset_um=offset)
            for seed, (shift, rot, offset) in enumerate(MISREGISTRATIONS)]


@pytest.fixture(scope="module")
def folders(pairs, tmp_path_factory):
    """The pairs as calibrated TIFFs: widefield/fov{i}.tif and confocal/fov{i}.tif."""
    root = tmp_path_factory.mktemp("pairs")
    for i, pair in enumerate(pairs):
        for kind, sim in (("widefield", pair.widefield), ("confocal", pair.confocal)):
            write_image(root / kind / f"fov{i}.tif", sim.stack, "ZYX", pixel_um=sim.pixel_um, z_step_um=sim.z_step_um)
    return root


@pytest.fixture(scope="module")
def dataset(folders, tmp_path_factory):
    out = tmp_path_factory.mktemp("ds") / "deepz-plus"
    manifest = prepare_crossmodal_dataset(folders / "widefield", folders / "confocal", out, patch=64,
                                          align_planes=False, val_fraction=0.34, seed=1)
    return out, manifest


def write_image(path, data, axes, **calibration):
    path.parent.mkdir(parents=True, exist_ok=True)
    return _write_image(path, data, axes, **calibration)


def corner_error_px(found: np.ndarray, truth: np.ndarray, shape: tuple[int, int]) -> float:
    """Largest distance (px) between where two transforms send the field's four corners."""
    ny, nx = shape
    corners = np.array([[0, 0, 1], [nx - 1, 0, 1], [0, ny - 1, 1], [nx - 1, ny - 1, 1]], dtype=float).T
    a, b = found @ corners, truth @ corners
    return float(np.abs(a[:2] / a[2] - b[:2] / b[2]).max())


# --------------------------------------------------------------------------- simulated pairs


def test_misregistered_pair_geometry_is_the_registration_convention(pairs):
    pair = pairs[0]
    shape = pair.widefield.stack.shape[-2:]
    assert np.allclose(pair.matrix, rigid_transform(shape, 1.2, (8.0, -6.0)))
    wide = pair.widefield.truth.max(axis=0)
    conf = pair.confocal.truth.max(axis=0)
    raw, aligned = ncc(wide, conf), ncc(wide, warp_plane(conf, pair.matrix))
    assert aligned > 0.8 and aligned > raw + 0.3, (raw, aligned)
    assert np.allclose(pair.confocal.z_um, pair.widefield.z_um + 0.5)
    assert pair.axial_offset_planes == pytest.approx(2.5)


def test_misregistered_pair_refuses_point_samples_and_huge_offsets():
    with pytest.raises(DeepZError, match="density sample"):
        simulate_misregistered_pair("beads", 32, planes=5)
    with pytest.raises(DeepZError, match="quarter"):
        simulate_misregistered_pair("filaments", 32, planes=5, axial_offset_um=0.5)


# --------------------------------------------------------------------------- axial zero point


def test_parabola_peak_uses_the_four_highest_points():
    planes = np.arange(15, dtype=float)
    curve = 0.9 - 0.01 * (planes - 6.3) ** 2
    curve[[0, 14]] = -1.0  # far, low outliers do not move the fit
    zero = parabola_peak(curve)
    assert zero.fit == "parabola"
    assert zero.plane == pytest.approx(6.3, abs=1e-9)
    assert np.allclose(zero.heights_um(3, 0.2), [-1.26, -1.06, -0.86])


def test_parabola_peak_falls_back_to_the_best_plane_without_a_peak():
    assert parabola_peak(np.linspace(0, 1, 9)).fit == "argmax"  # still rising at the last plane
    assert parabola_peak(np.linspace(0, 1, 9)).plane == 8
    assert parabola_peak(np.array([0.2, 0.5, 0.3])).plane == 1  # fewer points than the fit needs
    with pytest.raises(DeepZError, match="finite"):
        parabola_peak(np.array([0.1, np.nan, 0.3, 0.2]))


def test_structure_focus_curve_ignores_offsets_and_full_ssim_is_available(pairs):
    stack = pairs[0].widefield.stack[:, :48, :48].astype(np.float64)
    edf, _ = extended_depth_of_field(stack)
    curve = focus_curve(stack, edf)
    assert np.allclose(focus_curve(stack + 500.0, edf + 500.0), curve)
    assert curve.argmax() == focus_curve(stack, edf, measure="ssim").argmax()
    with pytest.raises(DeepZError, match="focus measure"):
        focus_curve(stack, edf, measure="variance")


def test_focus_curve_zero_points_recover_the_known_axial_offset(pairs):
    for pair in pairs[:2]:
        wide, conf = (s.stack.astype(np.float32) for s in (pair.widefield, pair.confocal))
        zero_w, zero_c = axial_zero_point(wide), axial_zero_point(conf)
        assert zero_w.fit == zero_c.fit == "parabola"
        found_um = (zero_w.plane - zero_c.plane) * pair.widefield.z_step_um
        assert found_um == pytest.approx(pair.axial_offset_um, abs=0.1), (found_um, pair.axial_offset_um)


# --------------------------------------------------------------------------- co-registration


def test_coregistration_recovers_the_known_shift_and_rotation(pairs):
    for pair in pairs:
        wide, _ = extended_depth_of_field(pair.widefield.stack)
        conf, _ = extended_depth_of_field(pair.confocal.stack)
        reg = coregister(wide, conf)
        assert corner_error_px(reg.matrix, pair.matrix, wide.shape) < 1.0, pair.truth()
        assert reg.to_dict()["rotation_deg"] == pytest.approx(pair.rotation_deg, abs=0.1)
        assert reg.ncc_after > 0.9 > reg.ncc_before


def test_overlap_rectangle_of_a_shifted_field():
    shift = np.array([[1.0, 0.0, 10.0], [0.0, 1.0, -5.0], [0.0, 0.0, 1.0]])  # confocal x = x + 10, y = y − 5
    mask = overlap_mask(shift, (50, 60))
    assert inner_rectangle(mask) == (5, 50, 0, 50)
    with pytest.raises(DeepZError, match="do not overlap"):
        inner_rectangle(np.zeros((8, 8), bool))


def test_fine_alignment_finds_a_subpixel_residual_and_refuses_large_ones(pairs):
    edf, _ = extended_depth_of_field(pairs[0].widefield.stack)
    edf = edf.astype(np.float64)
    moved = ndi.shift(edf, (1.5, -2.25), order=3, mode="nearest")  # content moved down 1.5 px, left 2.25 px
    window = (slice(32, 96), slice(32, 96))
    matrix, info = fine_alignment(edf[window], moved[window])
    assert info["accepted"]
    assert info["shift_px"] == pytest.approx([-2.25, 1.5], abs=0.1)  # where the crop's content went (dx, dy)
    # the crop's matrix, composed with its place in the field, resamples the moved field back onto the crop
    resampled = warp_plane(moved, crop_matrix(np.eye(3), 32, 32, matrix), order=3, output_shape=(64, 64))
    assert ncc(edf[window], resampled) > 0.995
    refused, info = fine_alignment(edf[window], ndi.shift(edf, (0, 12), order=1, mode="nearest")[window],
                                   max_shift_px=8)
    assert not info["accepted"] and np.array_equal(refused, np.eye(3))


# --------------------------------------------------------------------------- pairs and dataset


def test_crossmodal_pairs_keep_planes_near_focus_and_limit_dz():
    rng = np.random.default_rng(0)
    h_in = (np.arange(11) - 5.2) * 0.2
    h_t = (np.arange(13) - 6.7) * 0.2
    inputs, targets = crossmodal_pairs(h_in, h_t, 4, rng, max_abs_um=0.8, max_dz_um=0.5)
    assert set(inputs.tolist()) == {i for i in range(11) if abs(h_in[i]) <= 0.8}
    assert np.all(np.abs(h_t[targets]) <= 0.8)
    assert np.all(np.abs(h_t[targets] - h_in[inputs]) <= 0.5 + 1e-9)
    for i in np.unique(inputs):
        assert len(set(targets[inputs == i].tolist())) == (inputs == i).sum() <= 4


def test_crossmodal_focus_adds_the_zero_height_target_to_every_input_once():
    h_in = (np.arange(11) - 5.2) * 0.2
    h_t = (np.arange(13) - 6.7) * 0.2  # plane 7 is nearest height 0 (+0.06 µm)
    plain = crossmodal_pairs(h_in, h_t, 2, np.random.default_rng(3), max_dz_um=0.7)
    inputs, targets = crossmodal_pairs(h_in, h_t, 2, np.random.default_rng(3), max_dz_um=0.7, focus=True)
    for i in range(11):
        drawn = targets[inputs == i].tolist()
        reach = abs(h_t[7] - h_in[i]) <= 0.7 + 1e-6
        assert drawn.count(7) == (1 if reach else 0)
        assert drawn[:2] == plain[1][plain[0] == i].tolist()  # the random draw is unchanged
    assert len(inputs) > len(plain[0])


def test_dataset_manifest_says_widefield_to_confocal(dataset):
    out, manifest = dataset
    assert manifest["modality"] == "widefield->confocal"
    assert manifest["pairs"]["input"] == "widefield" and manifest["pairs"]["target"] == "confocal"
    assert json.loads((out / "manifest.json").read_text())["modality"] == "widefield->confocal"
    assert manifest["counts"]["train"] > 0 and manifest["counts"]["val"] > 0
    assert len(manifest["label_files"]) == len(manifest["source_files"]) == 3
    assert all(f["coregistration"]["ncc_after"] > 0.9 for f in manifest["fovs"])
    data = read_dataset(out)
    everything = np.concatenate([data.load_split(s)["dz_um"] for s in ("train", "val")])
    assert manifest["dz_range_um"] == pytest.approx([everything.min(), everything.max()], abs=1e-3)


def test_label_dpm_is_the_centred_height_difference(dataset, pairs):
    out, manifest = dataset
    data = read_dataset(out)
    errors = []
    for split in ("train", "val"):
        arrays = data.load_split(split)
        for fov in np.unique(arrays["fov"]):
            entry = manifest["fovs"][fov]
            columns = entry["region_columns"]
            pair = pairs[int(entry["source"].split("fov")[-1].split(".")[0])]
            step = pair.widefield.z_step_um
            for region in np.unique(arrays["region"][arrays["fov"] == fov]):
                record = dict(zip(columns, entry["regions"][region], strict=True))
                sel = (arrays["fov"] == fov) & (arrays["region"] == region)
                i, j = arrays["input_plane"][sel], arrays["target_plane"][sel]
                centred = (j - record["zero_plane_confocal"]) * step - (i - record["zero_plane_widefield"]) * step
                assert arrays["dz_um"][sel] == pytest.approx(centred, abs=3e-4)
                # the true depth difference: confocal plane j lies at z_j + offset, wide-field plane i at z_i
                z = pair.widefield.z_um
                errors.append(arrays["dz_um"][sel] - (z[j] + pair.axial_offset_um - z[i]))
    errors = np.abs(np.concatenate(errors))  # measured: median 0.023 µm, max 0.072 µm (z-step 0.2 µm)
    assert np.median(errors) < 0.05 and errors.max() < 0.15, (np.median(errors), errors.max())


def test_stack_files_pair_by_name_else_by_order(tmp_path):
    wide, conf = tmp_path / "w", tmp_path / "c"
    stack = np.zeros((2, 8, 8), np.uint16)
    for name in ("b.tif", "a.tif"):
        write_image(wide / name, stack, "ZYX")
        write_image(conf / name, stack, "ZYX")
    assert [(w.name, c.name) for w, c in pair_stack_files([wide / "b.tif", wide / "a.tif"], conf)] == [
        ("b.tif", "b.tif"), ("a.tif", "a.tif")]
    write_image(tmp_path / "c2" / "x.tif", stack, "ZYX")
    write_image(tmp_path / "c2" / "y.tif", stack, "ZYX")
    assert [(w.name, c.name) for w, c in pair_stack_files(wide, tmp_path / "c2")] == [
        ("a.tif", "x.tif"), ("b.tif", "y.tif")]
    with pytest.raises(DeepZError, match="2 wide-field stack.*1 confocal"):
        pair_stack_files(wide, conf / "a.tif")
    with pytest.raises(DeepZError, match="same files"):
        pair_stack_files(wide, wide)


def test_mismatched_fields_of_view_fail_in_one_line_and_write_nothing(tmp_path):
    for i in range(2):
        write_image(tmp_path / "w" / f"{i}.tif", np.ones((3, 64, 64), np.uint16), "ZYX", pixel_um=0.1, z_step_um=0.2)
        write_image(tmp_path / "c" / f"{i}.tif", np.ones((3, 64, 48), np.uint16), "ZYX", pixel_um=0.1, z_step_um=0.2)
    with pytest.raises(DeepZError, match=r"\(64, 48\) px") as info:
        prepare_crossmodal_dataset(tmp_path / "w", tmp_path / "c", tmp_path / "ds", patch=32)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "ds").exists()


def test_tiles_are_stitched_into_one_field_of_view(pairs, tmp_path):
    """Two pairs cut into 1×2 grids of overlapping tiles give two fields of view."""
    for i, pair in enumerate(pairs[:2]):
        for kind, sim in (("w", pair.widefield), ("c", pair.confocal)):
            for t, x0 in enumerate((0, 56)):
                write_image(tmp_path / kind / f"fov{i}-tile{t}.tif", sim.stack[:, :, x0 : x0 + 70], "ZYX",
                            pixel_um=sim.pixel_um, z_step_um=sim.z_step_um)
    manifest = prepare_crossmodal_dataset(tmp_path / "w", tmp_path / "c", tmp_path / "ds", patch=64,
                                          align_planes=False, grid=(1, 2), tile_overlap=0.2)
    assert [f["name"] for f in manifest["fovs"]] == ["fov0-tile0-grid1x2", "fov1-tile0-grid1x2"]
    assert all(f["shape"][-1] in (125, 126, 127) for f in manifest["fovs"])  # 70 + 56 px, ±1 from stitching
    assert "python:skimage-phase-correlation" in manifest["preprocessing"]["stitch"]
    assert all(f["coregistration"]["ncc_after"] > 0.9 for f in manifest["fovs"])
    with pytest.raises(DeepZError, match="2×2 = 4 tiles"):
        prepare_crossmodal_dataset(sorted((tmp_path / "w").iterdir())[:2], sorted((tmp_path / "c").iterdir())[:2],
                                   tmp_path / "ds2", grid=(2, 2))


# --------------------------------------------------------------------------- CLI


def test_cli_prepare_with_labels_writes_a_deepz_plus_dataset(run_cli, folders, tmp_path):
    proc = run_cli("prepare", folders / "widefield", "--labels", folders / "confocal", "--out", tmp_path / "ds",
                   "--patch", "64", "--no-stackreg", "--val-fraction", "0.34")
    assert proc.returncode == 0, proc.stderr
    assert "modality widefield->confocal: widefield inputs, confocal targets" in proc.stdout
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert manifest["modality"] == "widefield->confocal" and manifest["targets_per_input"] == 4
    assert manifest["focus_target"] is False
    proc = run_cli("prepare", folders / "widefield", "--labels", folders / "confocal", "--out", tmp_path / "focus",
                   "--patch", "64", "--no-stackreg", "--val-fraction", "0.34", "--focus-target")
    assert proc.returncode == 0, proc.stderr
    focus = json.loads((tmp_path / "focus" / "manifest.json").read_text())
    assert focus["focus_target"] is True and focus["counts"]["train"] > manifest["counts"]["train"]


def test_cli_bad_deepz_plus_input_is_a_one_line_error(run_cli, folders, tmp_path):
    proc = run_cli("prepare", folders / "widefield", "--labels", folders / "confocal" / "fov0.tif",
                   "--out", tmp_path / "ds")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "3 wide-field stack(s) but 1 confocal" in proc.stderr
    proc = run_cli("prepare", folders / "widefield", "--grid", "1", "2", "--out", tmp_path / "ds")
    assert proc.returncode == 2 and "--labels" in proc.stderr
    assert not (tmp_path / "ds").exists()
