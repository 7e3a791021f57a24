"""The calibration check (deepz_fiji.trust): pixel size and optics against the model's config."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from deepz_fiji.io import write_image
from deepz_fiji.trust import CalibrationWarning, calibration_problems, check_calibration

CONFIG = SimpleNamespace(name="m20", pixel_um=0.325, na=0.75, wavelength_um=0.584)


@pytest.mark.parametrize("kw, found", [
    ({"pixel_um": 0.34}, []),                                   # within 10 %
    ({"pixel_um": 0.5}, ["pixel size 0.5 µm differs from the 0.325 µm"]),
    ({"pixel_um": 0.325, "na": 0.8}, []),                       # within 0.05
    ({"pixel_um": 0.325, "na": 0.95}, ["NA 0.95 differs from the NA 0.75"]),
    ({"pixel_um": 0.325, "wavelength_um": 0.52}, ["emission wavelength 0.52 µm differs from the 0.584 µm"]),
    ({"pixel_um": 0.2, "na": 1.4, "wavelength_um": 0.6}, ["pixel size 0.2", "NA 1.4"]),
])
def test_each_mismatch_names_both_values(kw, found):
    pixel = kw.pop("pixel_um")
    problems = calibration_problems(CONFIG, pixel, **kw)
    assert len(problems) == len(found)
    for problem, start in zip(problems, found, strict=True):
        assert problem.startswith(start) and "'m20'" in problem and "train one for it" in problem


def test_the_api_warns_with_a_calibration_warning():
    with pytest.warns(CalibrationWarning, match="resample the image to that pixel size"):
        check_calibration(CONFIG, 0.65)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_calibration(CONFIG, 0.325, na=0.75, wavelength_um=0.584) == []


def test_cli_shows_each_mismatch_as_one_warning_line(run_cli, tmp_path, make_tiny_model):
    pytest.importorskip("tensorflow")
    model = make_tiny_model("tiny-trust", pixel_um=0.5, na=0.75, wavelength_um=0.584)
    rng = np.random.default_rng(0)
    write_image(tmp_path / "in.tif", (rng.random((32, 32)) * 1000).astype(np.uint16), "YX", pixel_um=0.2)
    proc = run_cli("refocus", "in.tif", "--dz", "1", "-o", "out.tif", "--model", model, "--na", "1.3",
                   "--no-progress")
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("WARNING")]
    assert len(lines) == 2, proc.stderr
    assert "pixel size 0.2 µm differs from the 0.5 µm model 'tiny-trust'" in lines[0]
    assert "NA 1.3 differs from the NA 0.75" in lines[1]
    quiet = run_cli("refocus", "in.tif", "--dz", "1", "-o", "out2.tif", "--model", model, "--pixel-um", "0.5",
                    "--no-progress")
    assert quiet.returncode == 0 and "WARNING" not in quiet.stderr


def _trust_scores():
    """benchmarks/trust_scores.py as a module."""
    import importlib.util
    import sys
    from pathlib import Path

    bench = Path(__file__).resolve().parents[1] / "benchmarks"
    sys.path.insert(0, str(bench))
    spec = importlib.util.spec_from_file_location("trust_scores", bench / "trust_scores.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_score_separation_counts_auc_and_hits_at_ten_percent_false_alarms():
    module = _trust_scores()
    values = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 2.0, 3.0, 0.05])
    harmful = np.array([False] * 10 + [True, True, True])
    auc, threshold, hit = module.separation(values, harmful)
    assert auc == pytest.approx(2 / 3)  # 0.05 ranks below every harmless value
    assert threshold == pytest.approx(np.quantile(values[:10], 0.9))
    assert hit == pytest.approx(2 / 3)


def test_score_table_sets_each_models_threshold_on_its_own_harmless_rows():
    module = _trust_scores()
    # model a: scores 0..9 harmless, 20 and 30 harmful (one gross); model b: ten times larger scores,
    # so one pooled threshold would miss a's harmful rows, per-model thresholds catch both.
    records = [{"model": "a", "ratio": 1.0, "s": float(v)} for v in range(10)]
    records += [{"model": "a", "ratio": 1.1, "s": 20.0}, {"model": "a", "ratio": 2.0, "s": 30.0}]
    records += [{"model": "b", "ratio": 1.0, "s": 10.0 * v} for v in range(10)]
    records += [{"model": "b", "ratio": 1.2, "s": 50.0}, {"model": "b", "ratio": 1.3, "s": 500.0}]
    lines = module.score_table(records, ("s",), "two")
    assert lines[0] == "# two: 4 harmful rows of 24 (1 worse than 1.5x)"
    cells = [c.strip() for c in lines[-1].strip("|").split("|")]
    # b's 50 is below its own 90 % quantile (81), so 3 of 4 harmful rows fire, the gross one too,
    # and exactly one harmless row per model (9 > 8.1, 90 > 81): 2 of 20.
    assert cells[0] == "s" and cells[2] == "0.75" and cells[4] == "1.00" and cells[5] == "0.10"


def test_pure_inputs_counts_the_input_images_whose_rows_share_one_verdict():
    module = _trust_scores()
    base = {"model": "a", "sample": "beads", "optics": "o", "snr": "normal", "direction": "defocus"}
    records = [{**base, "input_um": "0.0", "ratio": "1.0"}, {**base, "input_um": "0.0", "ratio": "2.0"},
               {**base, "input_um": "5.0", "ratio": "1.2"}, {**base, "input_um": "5.0", "ratio": "1.3"}]
    assert module.pure_inputs(records) == {"a": (0.5, 2)}


def test_outputs_and_the_batch_summary_record_the_calibration(run_cli, tmp_path, make_tiny_model):
    pytest.importorskip("tensorflow")
    import csv

    import tifffile

    model = make_tiny_model("tiny-trust", pixel_um=0.5, na=0.75, wavelength_um=0.584)
    rng = np.random.default_rng(1)
    (tmp_path / "in").mkdir()
    write_image(tmp_path / "in" / "off.tif", (rng.random((32, 32)) * 1000).astype(np.uint16), "YX", pixel_um=0.2)
    write_image(tmp_path / "in" / "ok.tif", (rng.random((32, 32)) * 1000).astype(np.uint16), "YX", pixel_um=0.5)
    proc = run_cli("refocus", "in/off.tif", "--dz", "1", "-o", "out.tif", "--model", model, "--na", "1.3",
                   "--no-progress")
    assert proc.returncode == 0, proc.stderr
    note = tifffile.TiffFile(tmp_path / "out.tif").imagej_metadata["Properties"]["deepz_calibration"]
    assert "pixel size 0.2 µm differs" in note and "NA 1.3 differs" in note
    proc = run_cli("batch", "in", "out", "--dz", "1", "--model", model, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    with open(tmp_path / "out" / "deepz_batch.csv", newline="", encoding="utf-8") as fh:
        rows = {r["input"]: r for r in csv.DictReader(fh)}
    assert "pixel size 0.2 µm differs" in rows["off.tif"]["calibration"]
    assert rows["ok.tif"]["calibration"].startswith("matches the model's")
