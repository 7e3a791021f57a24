"""``deepz refocus | stack | surface`` through a subprocess: outputs, calibration, error cases."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import tifffile

from deepz_fiji.io import read_image, write_image
from deepz_fiji.refocus import refocus_plane


@pytest.fixture(scope="module")
def model_dir(make_tiny_model):
    """A real (random-weight) 3-level tiny generator saved as a model folder."""
    return make_tiny_model("tiny-cli")


def spots(shape, seed=0):
    rng = np.random.default_rng(seed)
    img = rng.normal(100, 5, shape).clip(0)
    img[rng.random(shape) > 0.97] += 2000
    return img.astype(np.uint16)


def info(path) -> str:
    with tifffile.TiffFile(path) as tif:
        return tif.imagej_metadata.get("Info", "")


@pytest.mark.slow
def test_refocus_writes_a_calibrated_float_image_in_input_units(run_cli, tmp_path, model_dir):
    write_image(tmp_path / "in.tif", spots((90, 70)), "YX", pixel_um=0.3)
    proc = run_cli("refocus", "in.tif", "--dz", "2.5", "-o", "out.tif", "--model", model_dir)
    assert proc.returncode == 0, proc.stderr
    out = read_image(tmp_path / "out.tif")
    assert out.axes == "YX" and out.data.shape == (90, 70) and out.data.dtype == np.float32
    assert out.pixel_um == pytest.approx(0.3)
    # the library's result: normalised, refocused and returned in the input's units
    expected = refocus_plane(spots((90, 70)), 2.5, str(model_dir))
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-3)
    assert "deepz_dz_um = 2.5" in info(tmp_path / "out.tif") and "tiny-cli" in info(tmp_path / "out.tif")

    proc = run_cli("refocus", "in.tif", "--dz", "-1", "-o", "px.tif", "--model", model_dir, "--pixel-um", "0.325")
    assert proc.returncode == 0, proc.stderr
    assert read_image(tmp_path / "px.tif").pixel_um == pytest.approx(0.325)


def test_tta_option_averages_over_the_symmetries_and_says_so_in_the_file(run_cli, tmp_path, model_dir):
    write_image(tmp_path / "in.tif", spots((40, 56)), "YX", pixel_um=0.3)
    proc = run_cli("refocus", "in.tif", "--dz", "-2", "-o", "out.tif", "--model", model_dir, "--tta")
    assert proc.returncode == 0, proc.stderr
    expected = refocus_plane(spots((40, 56)), -2.0, str(model_dir), tta=True)
    np.testing.assert_allclose(read_image(tmp_path / "out.tif").data, expected, rtol=1e-5, atol=1e-3)
    assert "deepz_tta = mean over 8 rotations/mirrors" in info(tmp_path / "out.tif")
    assert "deepz_tta" not in info_of_plain_run(run_cli, tmp_path, model_dir)


def info_of_plain_run(run_cli, tmp_path, model_dir) -> str:
    proc = run_cli("refocus", "in.tif", "--dz", "-2", "-o", "plain.tif", "--model", model_dir)
    assert proc.returncode == 0, proc.stderr
    return info(tmp_path / "plain.tif")


@pytest.mark.slow
def test_stack_writes_41_calibrated_planes(run_cli, tmp_path, model_dir):
    write_image(tmp_path / "in.tif", spots((48, 64)), "YX")  # no calibration: the model's pixel size
    proc = run_cli("stack", "in.tif", "--range", "-10", "10", "--step", "0.5", "-o", "stack.tif",
                   "--model", model_dir)
    assert proc.returncode == 0, proc.stderr
    stack = read_image(tmp_path / "stack.tif")
    assert stack.axes == "ZYX" and stack.data.shape == (41, 48, 64)
    assert stack.z_step_um == pytest.approx(0.5) and stack.pixel_um == pytest.approx(0.325)
    assert "deepz_planes = 41" in info(tmp_path / "stack.tif")


@pytest.mark.slow
def test_stack_of_a_time_lapse_is_tzyx(run_cli, tmp_path, model_dir):
    frames = np.stack([spots((40, 40), seed=s) for s in range(3)])
    write_image(tmp_path / "t.tif", frames, "TYX", pixel_um=0.325, frame_interval_s=0.5)
    proc = run_cli("stack", "t.tif", "--range", "-1", "1", "--step", "1", "-o", "t_stack.tif", "--model", model_dir)
    assert proc.returncode == 0, proc.stderr
    out = read_image(tmp_path / "t_stack.tif")
    assert out.axes == "TZYX" and out.data.shape == (3, 3, 40, 40)
    assert out.calibration.frame_interval_s == pytest.approx(0.5)


@pytest.mark.slow
def test_surface_tilt_and_height_map(run_cli, tmp_path, model_dir):
    write_image(tmp_path / "in.tif", spots((64, 80)), "YX", pixel_um=0.325)
    proc = run_cli("surface", "in.tif", "--tilt-x-deg", "3", "-o", "tilt.tif", "--model", model_dir,
                   "--save-dpm", "dpm.tif")
    assert proc.returncode == 0, proc.stderr
    dpm = read_image(tmp_path / "dpm.tif").data
    assert dpm[-1, 0] > 0 > dpm[0, 0]  # Δz grows with y for a positive tilt about x
    write_image(tmp_path / "h.tif", np.full((64, 80), 1.5, np.float32), "YX")
    proc = run_cli("surface", "in.tif", "--height-map", "h.tif", "-o", "h_out.tif", "--model", model_dir)
    assert proc.returncode == 0, proc.stderr
    assert read_image(tmp_path / "h_out.tif").data.shape == (64, 80)


def _text_tif(d):
    (d / "bad.tif").write_text("not an image")
    return "bad.tif"


def _rgb(d):
    tifffile.imwrite(d / "rgb.tif", np.zeros((32, 32, 3), np.uint8), photometric="rgb")
    return "rgb.tif"


def _nan(d):
    img = spots((32, 32)).astype(np.float32)
    img[4, 4] = np.nan
    tifffile.imwrite(d / "nan.tif", img)
    return "nan.tif"


@pytest.mark.parametrize("make_input,extra,message", [
    (lambda d: "missing.tif", [], "does not exist"),
    (_text_tif, [], "cannot read"),
    (_rgb, [], "RGB"),
    (_nan, [], "NaN"),
    (lambda d: "in.tif", ["--dz", "50"], "trained range"),
    (lambda d: "in.tif", ["--dz", "1", "--tile", "16"], "too small"),
])
def test_user_errors_give_one_line_exit_2_and_no_output(run_cli, tmp_path, model_dir, make_input, extra, message):
    write_image(tmp_path / "in.tif", spots((600, 40)), "YX")
    name = make_input(tmp_path)
    before = set(tmp_path.iterdir())
    args = ["refocus", name, "-o", "out.tif", "--model", model_dir, *(extra or ["--dz", "1"])]
    proc = run_cli(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, lines  # no TensorFlow start-up lines before it
    assert lines[0].startswith("deepz: error:") and message in lines[0]
    assert set(tmp_path.iterdir()) == before  # no output, no temp file


def test_broken_model_config_is_one_line_error_without_output(run_cli, tmp_path, model_dir):
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    config = json.loads((broken / "config.json").read_text())
    config["colour"] = "blue"
    (broken / "config.json").write_text(json.dumps(config))
    write_image(tmp_path / "in.tif", spots((32, 32)), "YX")
    for command in (["refocus", "in.tif", "--dz", "1"], ["stack", "in.tif", "--range", "0", "1", "--step", "1"]):
        proc = run_cli(*command, "-o", "out.tif", "--model", broken)
        assert proc.returncode == 2 and "colour" in proc.stderr.strip().splitlines()[-1]
        assert not (tmp_path / "out.tif").exists()


def test_surface_needs_exactly_one_surface(run_cli, tmp_path, model_dir):
    write_image(tmp_path / "in.tif", spots((32, 32)), "YX")
    proc = run_cli("surface", "in.tif", "-o", "out.tif", "--model", model_dir)
    assert proc.returncode == 2 and "exactly one surface" in proc.stderr
    proc = run_cli("surface", "in.tif", "-o", "out.tif", "--tilt-x-deg", "1", "--cylinder-radius-um", "100")
    assert proc.returncode == 2 and "exactly one surface" in proc.stderr
    assert not (tmp_path / "out.tif").exists()
