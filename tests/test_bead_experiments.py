"""The paper's bead experiments in simulation (Fig. 1 volume, Fig. 4 tilt/cylinder) and their scripts."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from deepz_fiji.beads.experiments import (
    dpm_at_beads,
    surface_experiment,
    surface_setup,
    volume_experiment,
    within,
)
from deepz_fiji.beads.report import format_summary, write_experiment
from deepz_fiji.simulate import Optics, simulate_stack

REPO = Path(__file__).resolve().parents[1]
PIXEL_UM = Optics().pixel_um
SUMMARY_COLUMNS = ["experiment", "measurement", "image", "beads", "fitted", "failed", "median_um", "common",
                   "median_common_um"]
SEED = 11
VOLUME = {"size": (128, 256), "seed": SEED, "n_objects": 12, "start_um": -5.0, "stop_um": 5.0}
TILT_SHAPE = (128, 1024)


def flat_truth(shape, seed=SEED):
    """The noiseless in-focus image of the surface experiment's beads (a perfect refocusing)."""
    return simulate_stack("plane-beads", shape, seed=seed, planes=3, offset_um=0.0).truth[1]


# --------------------------------------------------------------------------- DPM vs simulator


@pytest.mark.parametrize(("surface", "shape"), [("tilt", (64, 1024)), ("cylinder", (1024, 64))])
def test_surface_dpm_gives_each_simulated_bead_its_depth(surface, shape):
    sample, kw, dpm = surface_setup(surface, shape, PIXEL_UM)
    sim = simulate_stack(sample, shape, seed=3, planes=3, n_objects=30, **kw)
    z = np.array([o["z_um"] for o in sim.objects])
    assert len(z) >= 20 and np.ptp(z) > 3.0  # the beads really sit at different depths
    at_pixel = [dpm[int(round(o["y_px"])), int(round(o["x_px"]))] for o in sim.objects]
    np.testing.assert_allclose(at_pixel, z, atol=0.1)
    np.testing.assert_allclose(dpm_at_beads(dpm, sim.objects), z, atol=0.01)
    if surface == "tilt":  # tilted about y: depth follows x, not y
        x = np.array([o["x_px"] for o in sim.objects])
        assert np.corrcoef(x, z)[0, 1] > 0.99


def test_cylinder_surface_is_defocused_at_centre_and_edges():
    _, kw, dpm = surface_setup("cylinder", (1024, 32), PIXEL_UM, radius_um=3600.0)
    assert dpm[512].mean() == pytest.approx(kw["offset_um"], abs=0.01) and kw["offset_um"] < -1.5
    assert dpm[0].mean() == pytest.approx(-kw["offset_um"], abs=0.01)


# --------------------------------------------------------------------------- Fig. 4


@pytest.fixture(scope="module")
def tilt_perfect():
    """Tilt experiment whose 'Deep-Z' is a perfect refocusing (the in-focus truth), with what it was given."""
    truth = flat_truth(TILT_SHAPE)
    given = {}

    def perfect(image, dpm):
        given.update(image=image, dpm=dpm)
        return truth

    return surface_experiment(perfect, "tilt", size=TILT_SHAPE, seed=SEED), given


def test_tilt_experiment_measures_the_same_beads_in_three_images(tilt_perfect):
    exp, given = tilt_perfect
    assert given["image"].shape == TILT_SHAPE and given["image"].dtype == np.uint16  # a camera frame
    np.testing.assert_array_equal(given["dpm"], surface_setup("tilt", TILT_SHAPE, PIXEL_UM)[2])
    rows = exp.summary()
    assert [list(r) for r in rows] == [SUMMARY_COLUMNS] * 3
    assert [r["image"] for r in rows] == ["raw", "Deep-Z", "in-focus truth"]
    beads = len(exp.detection)
    assert beads >= 5 and all(r["beads"] == beads and r["fitted"] + r["failed"] == beads for r in rows)
    raw, deepz, truth = rows
    assert truth["fitted"] == beads
    assert deepz["median_um"] == pytest.approx(truth["median_um"]) and within(deepz["median_um"], truth["median_um"], 0.15)
    assert raw["median_um"] > 2 * truth["median_um"]  # 1.5° over 1024 px blurs most beads
    assert 0.3 < truth["median_um"] < 0.8  # a 0.75 NA in-focus bead at 584 nm


def test_bead_rows_hold_every_bead_once_per_image_with_its_true_depth(tilt_perfect):
    exp, _ = tilt_perfect
    rows = exp.bead_rows()
    beads = len(exp.detection)
    assert len(rows) == 3 * beads
    for image in exp.images:
        assert sorted(r["bead"] for r in rows if r["image"] == image) == list(range(beads))
    z = np.array([exp.true_z_um[r["bead"]] for r in rows if r["image"] == "raw" and r["status"] == "fitted"])
    fwhm = np.array([r["fwhm_um"] for r in rows if r["image"] == "raw" and r["status"] == "fitted"])
    assert np.corrcoef(np.abs(z), fwhm)[0, 1] > 0.7  # the raw blur grows with the bead's defocus


def test_without_refocusing_the_output_stays_as_blurred_as_the_raw_image():
    exp = surface_experiment(lambda image, dpm: image, "tilt", size=(96, 1024), seed=SEED)
    raw, deepz, truth = (exp.median("lateral", im) for im in exp.images)
    assert deepz == pytest.approx(raw, rel=1e-6)
    assert not within(deepz, truth, 0.15)


def test_write_experiment_writes_tables_histogram_and_info(tilt_perfect, tmp_path):
    exp, _ = tilt_perfect
    files = write_experiment(exp, tmp_path / "out")
    assert set(files) == {"summary", "beads", "info", "lateral_png"}
    with open(files["summary"], newline="") as fh:
        summary = list(csv.DictReader(fh))
    assert list(summary[0]) == SUMMARY_COLUMNS and len(summary) == 3
    with open(files["beads"], newline="") as fh:
        beads = list(csv.DictReader(fh))
    assert len(beads) == 3 * len(exp.detection) and {"bead", "true_z_um", "fwhm_um", "status"} <= set(beads[0])
    assert files["lateral_png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    info = json.loads(files["info"].read_text())
    assert info["tilt_deg"] == 1.5 and info["dpm_vs_bead_z_max_um"] < 0.1
    text = format_summary(exp.summary())
    assert len(text.splitlines()) == 4 and "in-focus truth" in text


# --------------------------------------------------------------------------- Fig. 1


def test_volume_experiment_with_perfect_refocusing_matches_the_noiseless_stack():
    truth = simulate_stack("beads", VOLUME["size"], seed=SEED, n_objects=VOLUME["n_objects"],
                           z_range_um=(VOLUME["start_um"], VOLUME["stop_um"])).truth
    calls = []

    def perfect(image, start, stop, step):
        calls.append((image.shape, start, stop, step))
        return truth

    exp = volume_experiment(perfect, **VOLUME)
    assert calls == [(VOLUME["size"], -5.0, 5.0, 0.5)]
    rows = {(r["measurement"], r["image"]): r for r in exp.summary()}
    assert set(rows) == {(m, im) for m in ("lateral", "axial") for im in ("Deep-Z", "scanned", "noiseless")}
    assert all(list(r) == SUMMARY_COLUMNS for r in rows.values())
    beads = len(exp.detection)
    assert beads >= 3 and rows["lateral", "noiseless"]["fitted"] == beads and rows["axial", "noiseless"]["fitted"] > 0
    for m in ("lateral", "axial"):
        assert rows[m, "Deep-Z"]["median_um"] == pytest.approx(rows[m, "noiseless"]["median_um"])
        assert within(rows[m, "scanned"]["median_um"], rows[m, "noiseless"]["median_um"], 0.15)
    assert rows["axial", "noiseless"]["median_um"] > 2 * rows["lateral", "noiseless"]["median_um"]
    # each bead is measured in its own brightest plane: the one at its simulated depth
    lateral = exp.tables["lateral", "noiseless"]
    focus_um = VOLUME["start_um"] + 0.5 * np.array([r["z"] for r in lateral.rows])
    np.testing.assert_allclose(focus_um, exp.true_z_um[exp.bead_ids("lateral", "noiseless")], atol=0.75)


# --------------------------------------------------------------------------- scripts


def load_script(name):
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_model(make_tiny_model):
    """A real (random-weight) tiny generator saved as a model folder: plumbing only."""
    pytest.importorskip("tensorflow")
    return make_tiny_model("tiny-beads")


def test_tilt_script_runs_end_to_end_with_a_tiny_model(tiny_model, tmp_path, capsys):
    main = load_script("beads_tilt").main
    code = main(["--model", str(tiny_model), "--size", "96", "1024", "--beads", "20", "--no-progress",
                 "-o", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 0
    assert "median µm" in out and "tilt: median lateral FWHM raw" in out and "cylinder" in out
    for surface in ("tilt", "cylinder"):
        assert (tmp_path / "out" / f"{surface}_lateral_fwhm.png").stat().st_size > 0
        with open(tmp_path / "out" / f"{surface}_summary.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert [r["image"] for r in rows] == ["raw", "Deep-Z", "in-focus truth"] and int(rows[2]["fitted"]) > 0


def test_fig1_script_runs_end_to_end_with_a_tiny_model(tiny_model, tmp_path, capsys):
    main = load_script("beads_fig1").main
    code = main(["--model", str(tiny_model), "--size", "128", "256", "--beads", "12", "--no-progress",
                 "-o", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 0 and "41 planes" in out and "axial median FWHM" in out
    with open(tmp_path / "out" / "fig1_summary.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6 and all(int(r["beads"]) > 0 for r in rows)
    assert int(next(r for r in rows if r["image"] == "scanned" and r["measurement"] == "axial")["fitted"]) > 0
    assert (tmp_path / "out" / "fig1_lateral_fwhm.png").exists() and (tmp_path / "out" / "fig1_axial_fwhm.png").exists()


def test_script_rejects_a_bad_size(capsys):
    with pytest.raises(SystemExit) as exc:
        load_script("beads_tilt").main(["--size", "1", "2", "3"])
    assert exc.value.code == 2 and "--size takes N or H W" in capsys.readouterr().err
