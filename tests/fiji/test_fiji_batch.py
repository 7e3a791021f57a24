"""``deepz batch``: every image refocused, a corrupt file skipped, re-runs resume, a summary CSV."""

from __future__ import annotations

import csv
import subprocess
import sys

import numpy as np
import pytest

from deepz_fiji.errors import DeepZError
from deepz_fiji.fiji.batch import BatchRequest, batch_refocus
from deepz_fiji.io import read_image, write_image


@pytest.fixture
def folder(tmp_path, sample_image):
    src = tmp_path / "in"
    src.mkdir()
    images = {name: sample_image((32, 40), seed=i) for i, name in enumerate(["a", "b", "c"])}
    for name, image in images.items():
        write_image(src / f"{name}.tif", image, "YX", pixel_um=0.5)
    (src / "broken.tif").write_bytes(b"II*\x00 this is not a TIFF")
    (src / "notes.txt").write_text("not an image")
    return src, images


def _summary(out_dir):
    with open(out_dir / "deepz_batch.csv", newline="", encoding="utf-8") as fh:
        return {row["input"]: row for row in csv.DictReader(fh)}


def test_batch_refocuses_skips_bad_files_and_resumes(folder, tmp_path, tiny_model_dir):
    from deepz_fiji.refocus import refocus_plane

    src, images = folder
    out = tmp_path / "out"
    rows = batch_refocus(src, out, BatchRequest(dz_um=1.0), model=str(tiny_model_dir))
    status = {r["input"]: r["status"] for r in rows}
    assert status == {"a.tif": "done", "b.tif": "done", "broken.tif": "failed", "c.tif": "done"}
    summary = _summary(out)
    assert summary["broken.tif"]["status"] == "failed" and "broken.tif" in summary["broken.tif"]["error"]
    for name, image in images.items():
        written = read_image(out / f"{name}_deepz.tif")
        assert written.calibration.pixel_um == pytest.approx(0.5)
        assert np.abs(written.data - refocus_plane(image, 1.0, str(tiny_model_dir))).max() <= 1e-4
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "no temporary files left"
    before = (out / "a_deepz.tif").stat().st_mtime_ns
    again = batch_refocus(src, out, BatchRequest(dz_um=1.0), model=str(tiny_model_dir))
    assert {r["input"]: r["status"] for r in again}["a.tif"] == "skipped"
    assert (out / "a_deepz.tif").stat().st_mtime_ns == before


def test_batch_stack_and_tilt(folder, tmp_path, tiny_model_dir):
    from deepz_fiji import dpm
    from deepz_fiji.refocus import refocus_surface

    src, images = folder
    rows = batch_refocus(src, tmp_path / "s", BatchRequest(stack=(-1.0, 1.0, 1.0)), model=str(tiny_model_dir))
    assert sum(r["status"] == "done" for r in rows) == 3
    stack = read_image(tmp_path / "s" / "a_deepz.tif")
    assert stack.axes == "ZYX" and stack.data.shape == (3, 32, 40)
    assert stack.calibration.z_step_um == pytest.approx(1.0)
    batch_refocus(src, tmp_path / "t", BatchRequest(tilt_x_deg=4.0), model=str(tiny_model_dir))
    tilted = read_image(tmp_path / "t" / "b_deepz.tif").data
    expected = refocus_surface(images["b"], dpm.plane_dpm((32, 40), 0.5, 4.0), str(tiny_model_dir))
    assert np.abs(tilted - expected).max() <= 1e-4


def test_batch_with_tta_equals_the_api_with_tta(folder, tmp_path, tiny_model_dir):
    from deepz_fiji.refocus import refocus_plane

    src, images = folder
    batch_refocus(src, tmp_path / "a", BatchRequest(dz_um=-1.5, tta=True), model=str(tiny_model_dir))
    written = read_image(tmp_path / "a" / "c_deepz.tif").data
    expected = refocus_plane(images["c"], -1.5, str(tiny_model_dir), tta=True)
    assert np.abs(written - expected).max() <= 1e-4
    assert np.abs(expected - refocus_plane(images["c"], -1.5, str(tiny_model_dir))).max() > 1e-2


def test_batch_request_must_name_one_operation():
    with pytest.raises(DeepZError, match="exactly one"):
        BatchRequest()
    with pytest.raises(DeepZError, match="exactly one"):
        BatchRequest(dz_um=1.0, tilt_x_deg=2.0)


def test_batch_with_imagej_opener(folder, tmp_path, tiny_model_dir, imagej_host):
    src, _ = folder
    rows = batch_refocus(src, tmp_path / "ij", BatchRequest(dz_um=-1.0), model=str(tiny_model_dir), reader="imagej")
    assert {r["input"]: r["status"] for r in rows} == {
        "a.tif": "done", "b.tif": "done", "broken.tif": "failed", "c.tif": "done"}
    from_ij = read_image(tmp_path / "ij" / "c_deepz.tif").data
    batch_refocus(src, tmp_path / "tf", BatchRequest(dz_um=-1.0), model=str(tiny_model_dir))
    np.testing.assert_allclose(from_ij, read_image(tmp_path / "tf" / "c_deepz.tif").data, atol=1e-4)


def test_cli_batch_exit_codes(folder, tmp_path, tiny_model_dir, fiji_test_env):
    src, _ = folder
    out = tmp_path / "cli"
    cmd = [sys.executable, "-m", "deepz_fiji", "batch", str(src), str(out), "--dz", "0.5",
           "--model", str(tiny_model_dir), "--no-progress"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=fiji_test_env, timeout=300)
    assert proc.returncode == 1, proc.stderr  # one file failed
    assert "FAILED broken.tif" in proc.stdout and "3 done, 0 skipped" in proc.stdout
    (src / "broken.tif").unlink()
    again = subprocess.run(cmd, capture_output=True, text=True, env=fiji_test_env, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "0 done, 3 skipped" in again.stdout
    bad = subprocess.run([*cmd[:6], "--range", "-1", "1", "--model", str(tiny_model_dir)], capture_output=True,
                         text=True, env=fiji_test_env, timeout=300)
    assert bad.returncode == 2 and "deepz: error: --range needs --step" in bad.stderr


def test_batch_into_its_own_folder_ignores_its_outputs(folder, tiny_model_dir):
    src, _ = folder
    (src / "broken.tif").unlink()
    first = batch_refocus(src, src, BatchRequest(dz_um=0.5), model=str(tiny_model_dir))
    second = batch_refocus(src, src, BatchRequest(dz_um=0.5), model=str(tiny_model_dir))
    assert [r["input"] for r in first] == [r["input"] for r in second] == ["a.tif", "b.tif", "c.tif"]
    assert {r["status"] for r in second} == {"skipped"}
