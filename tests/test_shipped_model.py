"""The shipped default model: a valid folder, plain-TensorFlow loadable, and it really refocuses."""

import json

import numpy as np
import pytest

from deepz_fiji.model import DEFAULT_MODEL, load_model
from deepz_fiji.model.folder import model_search_dirs, resolve_model_path

pytestmark = pytest.mark.slow

if not any((d / DEFAULT_MODEL / "config.json").is_file() for d in model_search_dirs()):
    pytest.skip(f"no default model {DEFAULT_MODEL!r} is shipped in models/ yet", allow_module_level=True)


@pytest.fixture(scope="module")
def model():
    return load_model(None)


def test_default_model_is_shipped_with_the_papers_setup(model):
    assert model.config.name == DEFAULT_MODEL
    assert model.path == resolve_model_path(DEFAULT_MODEL)
    cfg = model.config
    assert (cfg.dz_min_um, cfg.dz_max_um) == (-10.0, 10.0)
    assert cfg.pixel_um == pytest.approx(0.325) and cfg.z_step_um == pytest.approx(0.5)
    assert cfg.na == pytest.approx(0.75) and cfg.wavelength_um == pytest.approx(0.584)
    assert cfg.modality == "widefield"
    assert cfg.validation["val_mae"] < cfg.validation["baseline_mae_input_as_output"]
    size_mb = sum(f.stat().st_size for f in model.path.rglob("*") if f.is_file()) / 2**20
    assert size_mb < 50


def test_saved_model_signature_loads_in_plain_tensorflow(model):
    import tensorflow as tf

    serving = tf.saved_model.load(str(model.path / "saved_model")).signatures["serving_default"]
    x = np.zeros((1, 64, 64, 2), np.float32)
    out = serving(input=tf.constant(x))
    assert list(out) == ["output"] and out["output"].shape == (1, 64, 64, 1)
    np.testing.assert_allclose(out["output"].numpy(), model.predict(x), atol=1e-5)
    json.loads((model.path / "config.json").read_text())


@pytest.mark.parametrize("sample", ["nuclei", "plane-beads"])
@pytest.mark.parametrize("dz", [-5.0, 5.0])
def test_shipped_model_refocuses_held_out_fields_in_the_right_direction(model, sample, dz):
    """Closer to the noiseless truth at Δz than the input plane is, and than the output for −Δz.

    The bars are "better than doing nothing" and "knows up from down"; how much better is
    measured by benchmarks/accuracy.py (README: Models).
    """
    from deepz_fiji.metrics import rmse
    from deepz_fiji.refocus import refocus_plane
    from deepz_fiji.simulate import simulate_stack

    extra = {"n_objects": 12} if sample == "plane-beads" else {}
    sim = simulate_stack(sample, 128, seed=4242, z_range_um=(-6, 6), offset_um=dz, **extra)
    z = np.asarray(sim.z_um)
    snapshot = sim.stack[int(np.argmin(np.abs(z)))]  # the sample lies |dz| µm out of focus
    truth = sim.truth[int(np.argmin(np.abs(z - dz)))]
    error = rmse(refocus_plane(snapshot, dz, model), truth)
    assert error < rmse(snapshot.astype(np.float32), truth)
    assert error < rmse(refocus_plane(snapshot, -dz, model), truth)


def test_demo_command_writes_its_files_and_reports_every_plane(run_cli, tmp_path):
    import csv

    proc = run_cli("demo", "-o", "demo", "--size", "96", "--range", "-4", "4", "--step", "2", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "demo"
    assert {"input.tif", "virtual_stack.tif", "truth.tif", "scanned.tif", "per_plane.csv", "demo.png",
            "hard_direction.png"} <= {p.name for p in out.iterdir()}
    with open(out / "per_plane.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [float(r["z_um"]) for r in rows] == [-4.0, -2.0, 0.0, 2.0, 4.0]
    far = [r for r in rows if abs(float(r["z_um"])) >= 2.5]
    better = sum(float(r["rmse"]) < min(float(r["rmse_input_plane"]), float(r["rmse_physics_blur"])) for r in far)
    assert f"Deep-Z beats both baselines on RMSE at {better}/2 planes" in proc.stdout
    for row in far:  # 4 um from a thin layer of beads, the nominal PSF's blur is far closer than the input
        assert float(row["rmse_physics_blur"]) < 0.8 * float(row["rmse_input_plane"])
    assert "the hard direction, a snapshot -2 µm from focus refocused by +2 µm: Deep-Z RMSE" in proc.stdout
    assert "Warning" not in proc.stderr
