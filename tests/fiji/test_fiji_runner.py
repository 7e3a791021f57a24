"""The script runner on real ImageJ 1.x: the same #@ script files Fiji runs, run in-process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from deepz_fiji.errors import DeepZError
from deepz_fiji.io import Calibration, read_image, write_image

pytestmark = pytest.mark.imagej

TEST_SCRIPT = """\
#@ ImagePlus imp
#@ Float (value=2.0, label="Factor") factor
#@ String (choices={"add", "multiply"}, value="multiply") op
#@output ImagePlus result
#@output Float mean_in
from deepz_fiji.fiji.convert import imageplus_to_numpy, numpy_to_imageplus
image = imageplus_to_numpy(imp)
data = image.data.astype("float32")
mean_in = float(data.mean())
data = data * factor if op == "multiply" else data + factor
result = numpy_to_imageplus(data, image.axes, title=imp.getTitle() + " scaled", calibration=image.calibration)
"""


@pytest.fixture
def scale_script(tmp_path):
    path = tmp_path / "Scale_Test.py"
    path.write_text(TEST_SCRIPT, encoding="utf-8")
    return path


@pytest.fixture
def stack_file(tmp_path):
    data = (np.random.default_rng(5).random((3, 16, 20)) * 1000).astype(np.uint16)
    return data, write_image(tmp_path / "in.tif", data, "ZYX", pixel_um=0.4, z_step_um=1.5)


def test_runner_binds_strings_and_defaults(imagej_host, scale_script, stack_file):
    from deepz_fiji.fiji import convert
    from deepz_fiji.fiji.runner import run_script_file

    data, path = stack_file
    imp = convert.open_image(str(path))
    outputs = run_script_file(scale_script, image=imp, values={"op": "add", "factor": "5"})
    result = convert.imageplus_to_numpy(outputs["result"])
    np.testing.assert_allclose(result.data, data.astype(np.float32) + 5)
    assert outputs["mean_in"] == pytest.approx(data.mean())
    assert str(outputs["result"].getTitle()) == "in.tif scaled"
    defaults = run_script_file(scale_script, image=imp)  # factor=2, multiply
    np.testing.assert_allclose(convert.imageplus_to_numpy(defaults["result"]).data, data * 2.0)


def test_runner_uses_the_current_image(imagej_host, scale_script):
    from deepz_fiji.fiji import convert
    from deepz_fiji.fiji.runner import run_script_file

    imp = convert.numpy_to_imageplus(np.full((8, 9), 3, np.float32), title="shown")
    convert.set_current_image(imp)
    outputs = run_script_file(scale_script, values={"factor": "4"})
    assert str(outputs["result"].getTitle()) == "shown scaled"
    np.testing.assert_allclose(convert.imageplus_to_numpy(outputs["result"]).data, 12.0)


def test_run_to_file_keeps_calibration(imagej_host, scale_script, stack_file, tmp_path):
    from deepz_fiji.fiji.runner import run_script_to_file

    data, path = stack_file
    out, _ = run_script_to_file(scale_script, path, tmp_path / "out.tif", {"factor": "0.5"})
    written = read_image(out)
    assert written.axes == "ZYX" and written.data.dtype == np.float32
    np.testing.assert_allclose(written.data, data * 0.5)
    assert written.calibration.pixel_um == pytest.approx(0.4)
    assert written.calibration.z_step_um == pytest.approx(1.5)
    with pytest.raises(DeepZError, match="has no parameter facto"):
        run_script_to_file(scale_script, path, tmp_path / "o2.tif", {"facto": "1"})
    with pytest.raises(DeepZError, match="output folder"):
        run_script_to_file(scale_script, path, tmp_path / "no" / "o.tif", {})
    assert not (tmp_path / "o2.tif").exists()


def test_cli_run_script_in_a_fresh_process(scale_script, stack_file, tmp_path, fiji_test_env):
    data, path = stack_file
    out = tmp_path / "cli.tif"
    cmd = [sys.executable, "-m", "deepz_fiji", "fiji", "run-script", str(scale_script), "factor=3", "op=add",
           "--image", str(path), "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=fiji_test_env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "mean_in = " in proc.stdout and f"wrote {out}" in proc.stdout
    np.testing.assert_allclose(read_image(out).data, data + 3.0)
    bad = subprocess.run(cmd[:-4] + ["--image", str(tmp_path / "none.tif"), "-o", str(out)],
                         capture_output=True, text=True, env=fiji_test_env, timeout=120)
    assert bad.returncode == 2 and "none.tif does not exist" in bad.stderr


# --------------------------------------------------------------------------- the Deep-Z scripts


@pytest.fixture(scope="module")
def deepz(imagej_host, tiny_model_dir):
    """Everything the Deep-Z script checks need: runner, converters, refocus API, a tiny model."""
    from deepz_fiji import refocus
    from deepz_fiji.fiji import convert, runner

    return runner, convert, refocus, str(tiny_model_dir)


SCRIPT_DIR = Path(__file__).resolve().parents[2] / "fiji_scripts" / "Deep-Z"


def _run(deepz, name, imp, **values):
    runner, convert, _, model = deepz
    outputs = runner.run_script_file(SCRIPT_DIR / name, image=imp, values={"model": model, **values})
    return outputs["result"], convert.imageplus_to_numpy(outputs["result"])


def test_refocus_plane_script_equals_python_api(deepz, sample_image):
    _, convert, refocus, model = deepz
    image = sample_image((40, 48), seed=1)
    imp = convert.numpy_to_imageplus(image, title="cells.tif", calibration=Calibration(pixel_um=0.5))
    result, out = _run(deepz, "Refocus_Plane.py", imp, dz="1.5")
    expected = refocus.refocus_plane(image, 1.5, model)
    assert out.axes == "YX" and out.data.dtype == np.float32
    assert np.abs(out.data - expected).max() <= 1e-4
    assert expected.std() > 1, "the model output must not be constant"
    assert str(result.getTitle()) == "cells Δz=+1.50 µm"
    assert out.calibration.pixel_um == pytest.approx(0.5)
    assert str(result.getProp("deepz_model")) == "tiny-fiji-test"


def test_refocus_plane_script_with_tta_equals_python_api(deepz, sample_image):
    _, convert, refocus, model = deepz
    image = sample_image((40, 48), seed=1)
    imp = convert.numpy_to_imageplus(image, title="cells.tif", calibration=Calibration(pixel_um=0.5))
    result, out = _run(deepz, "Refocus_Plane.py", imp, dz="1.5", tta="true")
    expected = refocus.refocus_plane(image, 1.5, model, tta=True)
    assert np.abs(out.data - expected).max() <= 1e-4
    assert np.abs(expected - refocus.refocus_plane(image, 1.5, model)).max() > 1e-2  # the option reached it
    assert str(result.getProp("deepz_tta")) == "mean over 8 rotations/mirrors"


def test_virtual_stack_script_equals_python_api(deepz, sample_image):
    _, convert, refocus, model = deepz
    image = sample_image((32, 40), seed=2, dtype=np.uint8)
    imp = convert.numpy_to_imageplus(image, title="a", calibration=Calibration(pixel_um=0.5))
    result, out = _run(deepz, "Virtual_Stack.py", imp, start="-1", stop="1", step="0.5")
    expected = refocus.virtual_stack(image, -1, 1, 0.5, model)
    assert out.axes == "ZYX" and out.data.shape == (5, 32, 40)
    assert np.abs(out.data - expected).max() <= 1e-4
    assert out.calibration.z_step_um == pytest.approx(0.5)
    labels = [str(result.getStack().getSliceLabel(i + 1)) for i in range(5)]
    assert labels == ["Δz=-1.00 µm", "Δz=-0.50 µm", "Δz=+0.00 µm", "Δz=+0.50 µm", "Δz=+1.00 µm"]


@pytest.mark.parametrize("values", [
    {"surface": "tilt", "tilt_x_deg": "5", "tilt_y_deg": "-3", "offset_um": "0.5"},
    {"surface": "cylinder", "radius_um": "60", "axis": "y", "side": "concave"},
    {"surface": "height map"},
], ids=["tilt", "cylinder", "height-map"])
def test_refocus_surface_script_equals_python_api(deepz, sample_image, tmp_path, values):
    from deepz_fiji import dpm

    _, convert, refocus, model = deepz
    image = sample_image((36, 44), seed=3, dtype=np.float32)
    imp = convert.numpy_to_imageplus(image, title="s", calibration=Calibration(pixel_um=0.5))
    heights = np.linspace(-1, 1, 36 * 44, dtype=np.float32).reshape(36, 44)
    if values["surface"] == "height map":
        values = {**values, "height_map": str(write_image(tmp_path / "h.tif", heights, "YX"))}
    _, out = _run(deepz, "Refocus_Surface.py", imp, **values)
    if values["surface"] == "tilt":
        surface = dpm.plane_dpm(image.shape, 0.5, 5, -3, 0.5)
    elif values["surface"] == "cylinder":
        surface = dpm.cylinder_dpm(image.shape, 0.5, 60, "y", 0.0, "concave")
    else:
        surface = dpm.height_map_dpm(heights)
    expected = refocus.refocus_surface(image, surface, model)
    assert np.abs(out.data - expected).max() <= 1e-4


@pytest.mark.parametrize("mode", ["plane", "stack"])
def test_refocus_video_script_equals_python_api(deepz, sample_image, mode):
    _, convert, refocus, model = deepz
    frames = np.stack([sample_image((32, 32), seed=s) for s in range(3)])
    imp = convert.numpy_to_imageplus(frames, "TYX", title="movie",
                                      calibration=Calibration(pixel_um=0.5, frame_interval_s=2.0))
    _, out = _run(deepz, "Refocus_Video.py", imp, mode=mode, dz="-1", start="-1", stop="0",
                  step="1")
    if mode == "plane":
        expected, axes = refocus.refocus_frames(frames, -1.0, model), "TYX"
    else:
        expected, axes = refocus.virtual_stack(frames, -1.0, 0.0, 1.0, model), "TZYX"
    assert out.axes == axes and out.data.shape == expected.shape
    assert np.abs(out.data - expected).max() <= 1e-4
    assert out.calibration.frame_interval_s == pytest.approx(2.0)


def test_deepz_script_errors_are_user_errors(deepz, sample_image):
    _, convert, _, _ = deepz
    imp = convert.numpy_to_imageplus(sample_image((32, 32)), title="x")
    with pytest.raises(DeepZError, match="trained range"):
        _run(deepz, "Refocus_Plane.py", imp, dz="50")
    with pytest.raises(DeepZError, match="height-map image"):
        _run(deepz, "Refocus_Surface.py", imp, surface="height map")


def test_cli_runs_a_deepz_script_like_the_python_api(tiny_model_dir, sample_image, tmp_path, fiji_test_env):
    """The documented form: parameters may follow the options (``--image … start=… -o …``)."""
    from deepz_fiji.refocus import virtual_stack

    image = sample_image((32, 40), seed=7)
    src = write_image(tmp_path / "cells.tif", image, "YX", pixel_um=0.5)
    out = tmp_path / "stack.tif"
    cmd = [sys.executable, "-m", "deepz_fiji", "fiji", "run-script", str(SCRIPT_DIR / "Virtual_Stack.py"),
           "--image", str(src), "start=-2", "stop=2", "step=1", f"model={tiny_model_dir}", "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=fiji_test_env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "oneDNN" not in proc.stderr and "absl" not in proc.stderr  # TensorFlow's start-up lines stay hidden
    written = read_image(out)
    expected = virtual_stack(image, -2, 2, 1, str(tiny_model_dir))
    assert written.axes == "ZYX" and written.data.shape == (5, 32, 40)
    assert np.abs(written.data - expected).max() <= 1e-4
    assert written.calibration.pixel_um == pytest.approx(0.5)
    assert written.calibration.z_step_um == pytest.approx(1.0)


def test_scripts_report_progress_to_imagej(deepz, sample_image, monkeypatch):
    from deepz_fiji.fiji import actions

    _, convert, _, _ = deepz
    calls, statuses = [], []
    real = actions.imagej_progress

    def recording(what):
        draw = real(what)

        def progress(done, total):
            calls.append((done, total))
            draw(done, total)

        return progress

    monkeypatch.setattr(actions, "imagej_progress", recording)
    monkeypatch.setattr(actions, "_status", statuses.append)
    imp = convert.numpy_to_imageplus(sample_image((32, 32)), title="p")
    _run(deepz, "Virtual_Stack.py", imp, start="-1", stop="1", step="1")
    assert calls and calls[-1][0] == calls[-1][1], "progress reaches done == total"
    assert statuses[0].startswith("Deep-Z virtual stack") and statuses[-1].startswith("Deep-Z virtual stack: done")
