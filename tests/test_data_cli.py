"""``deepz prepare`` end to end, through a subprocess as a user runs it."""

from __future__ import annotations

import json

import pytest
from test_data_synthetic import blob_stack

from deepz_fiji.io import write_image


@pytest.fixture
def stack_dir(tmp_path):
    folder = tmp_path / "stacks"
    folder.mkdir()
    for i in range(3):
        write_image(folder / f"worm{i}.tif", blob_stack((11, 48, 48), n_blobs=6, seed=i, focus=5),
                    "ZYX", pixel_um=0.325, z_step_um=0.5)
    return folder


def test_prepare_writes_a_dataset_and_prints_a_summary(run_cli, stack_dir, tmp_path):
    proc = run_cli("prepare", stack_dir, "--out", tmp_path / "ds", "--patch", "32", "--planes", "3",
                   "--targets", "2", "--preprocess", "python", "--seed", "1")
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    train, val = manifest["splits"]["train"], manifest["splits"]["val"]
    assert len(train["fovs"]) == 2 and len(val["fovs"]) == 1
    assert f"train: {train['pairs']} pairs" in proc.stdout and f"val: {val['pairs']} pairs" in proc.stdout
    lo, hi = manifest["dz_range_um"]
    assert -3.0 <= lo < 0 < hi <= 3.0 and "Δz range" in proc.stdout
    assert manifest["planes"] == 3 and manifest["patch"] == 32 and manifest["targets_per_input"] == 2
    assert manifest["focus_target"] is False


def test_prepare_focus_target_adds_pairs_into_the_focal_plane(run_cli, stack_dir, tmp_path):
    args = ("--patch", "32", "--planes", "3", "--targets", "2", "--no-stackreg", "--seed", "1")
    assert run_cli("prepare", stack_dir, "--out", tmp_path / "plain", *args).returncode == 0
    proc = run_cli("prepare", stack_dir, "--out", tmp_path / "focus", *args, "--focus-target")
    assert proc.returncode == 0, proc.stderr
    plain, focus = (json.loads((tmp_path / name / "manifest.json").read_text()) for name in ("plain", "focus"))
    assert focus["focus_target"] is True
    assert plain["counts"]["train"] < focus["counts"]["train"] <= plain["counts"]["train"] * 3 // 2


def test_prepare_norm_reference_input_is_recorded_and_reaches_the_model_config(run_cli, stack_dir, tmp_path):
    from deepz_fiji.train.loop import REFERENCE_INPUT, _dataset_fields

    proc = run_cli("prepare", stack_dir, "--out", tmp_path / "ds", "--patch", "32", "--planes", "3", "--targets", "2",
                   "--no-stackreg", "--norm-reference", "input")
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert manifest["normalization"]["reference"] == "input" and manifest["norm_reference"] == "input"
    assert _dataset_fields(manifest)["normalization"]["reference"] == REFERENCE_INPUT
    proc = run_cli("prepare", stack_dir, "--out", tmp_path / "plus", "--labels", stack_dir, "--norm-reference", "input")
    assert proc.returncode == 2 and "--norm-reference input is not available with --labels" in proc.stderr
    assert not (tmp_path / "plus").exists()


def test_prepare_errors_are_one_line_with_exit_code_2(run_cli, stack_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("DEEPZ_FIJI_DIR", raising=False)
    proc = run_cli("prepare", stack_dir, "--out", tmp_path / "ds", "--preprocess", "fiji")
    assert proc.returncode == 2
    assert "--fiji" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    proc = run_cli("prepare", stack_dir, "--out", tmp_path / "ds", "--patch", "64")
    assert proc.returncode == 2 and "smaller --patch" in proc.stderr
    assert not (tmp_path / "ds" / "manifest.json").exists()


def test_auto_preprocessing_falls_back_to_python_without_a_usable_fiji(run_cli, stack_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPZ_FIJI_DIR", str(tmp_path / "no-such-Fiji.app"))
    proc = run_cli("prepare", stack_dir, "--out", tmp_path / "ds", "--patch", "32", "--planes", "2",
                   "--targets", "2")
    assert proc.returncode == 0, proc.stderr
    assert "using the Python equivalents" in proc.stderr
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert manifest["preprocessing"]["preprocessor"] == "python"
    assert manifest["preprocessing"]["register"] == "python:pystackreg"


def test_choose_preprocessor_without_fiji(monkeypatch):
    from deepz_fiji.cli.prepare import choose_preprocessor
    from deepz_fiji.errors import DeepZError

    monkeypatch.delenv("DEEPZ_FIJI_DIR", raising=False)
    assert choose_preprocessor("python", None) is None
    assert choose_preprocessor("auto", None) is None
    with pytest.raises(DeepZError, match="--fiji"):
        choose_preprocessor("fiji", None)
