"""The Deep-Z+ Fig. 5 benchmark runs end to end with any two model folders (tiny random ones here)."""

from __future__ import annotations

import csv
import importlib.util
import math
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")

REPO = Path(__file__).resolve().parents[1]


#: 63× calibration and a ±1.5 µm trained range for both random-weight models.
FIELDS = dict(pixel_um=0.1, z_step_um=0.2, na=1.4, wavelength_um=0.52, dz_min_um=-1.5, dz_max_um=1.5)


@pytest.fixture(scope="module")
def models(make_tiny_model):
    """A random-weight 'Deep-Z+' (widefield→confocal) and 'Deep-Z' (widefield) model."""
    return {"plus": make_tiny_model("tiny-plus", modality="widefield->confocal", **FIELDS),
            "plain": make_tiny_model("tiny-plain", modality="widefield", **FIELDS)}


def benchmark():
    spec = importlib.util.spec_from_file_location("deepz_plus_benchmark", REPO / "benchmarks" / "deepz_plus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_writes_the_table_and_xz_sections(models, tmp_path, capsys):
    out = tmp_path / "bench"
    code = benchmark().main(["--deepz-plus", str(models["plus"]), "--deepz", str(models["plain"]), "--fovs", "2",
                             "--size", "48", "--dz", "-1.0", "-0.4", "0.4", "1.0", "2.0", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    with open(out / "deepz_plus_table.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [float(r["dz_um"]) for r in table] == pytest.approx([-1.0, -0.4, 0.4, 1.0])
    for row in table:
        assert int(row["fovs"]) == 2
        for method in ("deepz_plus", "deepz", "widefield"):
            assert -1 <= float(row[f"ssim_{method}"]) <= 1 and math.isfinite(float(row[f"rmse_{method}"]))
    with open(out / "deepz_plus_rows.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 2 * 4
    assert (out / "deepz_plus_xz.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Δz +2 µm skipped: outside the trained range of tiny-plus, tiny-plain" in printed
    assert "SSIM Deep-Z+" in printed and "not widefield→confocal" not in printed


def test_benchmark_notes_a_model_that_is_not_deepz_plus(models, tmp_path, capsys):
    code = benchmark().main(["--deepz-plus", str(models["plain"]), "--deepz", str(models["plain"]), "--fovs", "1",
                             "--size", "32", "--dz", "-0.4", "0.4", "--out", str(tmp_path / "b")])
    assert code == 0
    assert "tiny-plain has modality 'widefield', not widefield→confocal" in capsys.readouterr().out
