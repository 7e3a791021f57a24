"""A model's record on the independent suite (suite.json): written, read, printed, kept current."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from deepz_fiji.errors import DeepZError
from deepz_fiji.evaluate import Row, summary_line, write_rows_csv
from deepz_fiji.evaluate.suite import (
    read_suite_record,
    suite_record,
    suite_text,
    write_suite_record,
)

REPO = Path(__file__).resolve().parents[1]
SHIPPED = ("widefield-20x-0.75na", "widefield-20x-0.75na-beads", "deepz-63x-1.4", "deepz-plus-63x-1.4")


def _row(out: float, sample: str = "tissue", optics: str = "gl", model: str = "m", split: str = "test") -> Row:
    return Row(model=model, split=split, sample=sample, optics=optics, snr="normal", direction="refocus",
               cls="learning", input_um=-5.0, dz_um=5.0, rmse_output=out, rmse_input=10.0, rmse_blur=12.0,
               ssim_output=0.9, ssim_input=0.5, ssim_blur=0.4)


ROWS = [_row(7), _row(11, optics="pupil"), _row(30, sample="beads"), _row(9, sample="beads", optics="pupil")]


def test_the_record_counts_per_sample_and_optics_and_keeps_the_worst_rows():
    record = suite_record(ROWS, "python benchmarks/generalization.py --model m --split test")
    assert record["summary"] == summary_line(ROWS)
    assert record["counts"]["all"] == {"rows": 4, "won": 1, "harmless": 2}
    assert record["by_sample"] == {"tissue": {"rows": 2, "won": 1, "harmless": 1},
                                   "beads": {"rows": 2, "won": 0, "harmless": 1}}
    assert record["by_optics"]["pupil"] == {"rows": 2, "won": 0, "harmless": 1}
    assert [r["rmse_output"] for r in record["worst"]] == [30, 11, 9]
    text = suite_text(record)
    assert "harmless by sample: tissue 1/2, beads 1/2" in text
    assert "worse: beads/gl/normal refocus from -5 by +5 um: 3.00x the better baseline" in text


def test_a_record_holds_one_model_on_one_split_and_goes_into_a_model_folder(tmp_path):
    with pytest.raises(DeepZError, match="one model on one split"):
        suite_record([*ROWS, _row(8, model="other")], "cmd")
    with pytest.raises(DeepZError, match="no suite rows"):
        suite_record([], "cmd")
    with pytest.raises(DeepZError, match="not a model folder"):
        write_suite_record(tmp_path, ROWS, "cmd")
    assert not (tmp_path / "suite.json").exists()
    assert read_suite_record(tmp_path) is None
    (tmp_path / "suite.json").write_text("{")
    with pytest.raises(DeepZError, match="not valid JSON"):
        read_suite_record(tmp_path)


def _generalization():
    sys.path.insert(0, str(REPO / "benchmarks"))
    spec = importlib.util.spec_from_file_location("generalization", REPO / "benchmarks" / "generalization.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["generalization"] = module
    spec.loader.exec_module(module)
    return module


def test_deepz_info_prints_a_record_made_from_an_earlier_runs_rows(make_tiny_model, tmp_path, capsys):
    pytest.importorskip("tensorflow")
    from deepz_fiji.cli import main
    from deepz_fiji.model.variant import write_variant

    model = make_tiny_model("tiny-record", dz_min_um=-2.0, dz_max_um=2.0)
    rows = [_row(r.rmse_output, r.sample, r.optics, model="tiny-record") for r in ROWS]
    csv_path = write_rows_csv(rows, tmp_path / "rows.csv")
    try:
        assert _generalization().main(["--model", str(model), "--record", "--from-rows", str(csv_path)]) == 0
        assert json.loads((model / "suite.json").read_text())["summary"] == summary_line(rows)
        capsys.readouterr()
        assert main(["info", str(model)]) == 0
        out = capsys.readouterr().out
        assert "independent suite (test split" in out and summary_line(rows) in out
        # a variant's outputs differ from the measured ones: the record stays behind
        variant = write_variant(model, tmp_path / "variant", physics_blend=0.3)
        assert not (variant / "suite.json").exists()
    finally:
        (model / "suite.json").unlink(missing_ok=True)


def test_record_refuses_a_training_checkpoint_or_a_quick_run():
    with pytest.raises(SystemExit):
        _generalization().main(["--checkpoint", "run", "--record"])
    with pytest.raises(SystemExit):
        _generalization().main(["--quick", "--record"])


@pytest.mark.parametrize("name", SHIPPED)
def test_the_shipped_models_records_are_their_published_test_split_tables(name):
    folder = REPO / "models" / name
    if not (folder / "config.json").is_file():
        pytest.skip(f"{name} is not installed")
    record = read_suite_record(folder)
    assert record is not None, (f"models/{name} has no suite.json; after measuring it, record it: python "
                                f"benchmarks/generalization.py --model {name} --split test --record")
    published = (REPO / "benchmarks" / "results" / "generalization" / f"{name}-test" / "summary.txt").read_text()
    assert record["split"] == "test" and record["summary"] == published.strip(), (
        f"models/{name}/suite.json is not the published test-split table; record it again with --record")
