"""Scoring against the two physics baselines (deepz_fiji.evaluate) and the independent suite."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import ndimage as ndi

from deepz_fiji.evaluate import (
    HARMLESS_RMSE,
    WIN_RMSE,
    Row,
    markdown_table,
    nominal_optics,
    nominal_psf_plane,
    physics_blur,
    read_rows_csv,
    score_row,
    summarize,
    summary_line,
    write_rows_csv,
)

REPO = Path(__file__).resolve().parents[1]
CONFIG_20X = SimpleNamespace(name="m20", na=0.75, wavelength_um=0.584, pixel_um=0.325, z_step_um=0.5,
                             immersion_index=None, dz_min_um=-10.0, dz_max_um=10.0, modality="widefield")


def test_physics_blur_equals_a_direct_convolution():
    rng = np.random.default_rng(0)
    image = rng.random((40, 52)) * 100
    psf = nominal_psf_plane(CONFIG_20X, 2.5)
    direct = ndi.convolve(image, psf, mode="reflect")
    assert np.abs(physics_blur(image, psf) - direct).max() <= 1e-4 * direct.max()
    small = rng.random((7, 9))
    kernel = rng.random((5, 5))
    assert np.allclose(physics_blur(small, kernel), ndi.convolve(small, kernel, mode="reflect"), atol=1e-5)


def test_the_nominal_psf_conserves_flux_and_spreads_with_defocus():
    radii = []
    for dz in (0.0, 2.5, 5.0, -5.0):
        psf = nominal_psf_plane(CONFIG_20X, dz)
        assert psf.sum() == pytest.approx(1.0, abs=1e-9)
        yy, xx = np.indices(psf.shape) - psf.shape[0] // 2
        assert (psf * yy).sum() == pytest.approx(0, abs=0.05) and (psf * xx).sum() == pytest.approx(0, abs=0.05)
        radii.append(np.sqrt((psf * (yy ** 2 + xx ** 2)).sum()))
    assert radii[0] < radii[1] < radii[2]
    point = np.zeros((201, 201))
    point[100, 100] = 7.0
    assert physics_blur(point, nominal_psf_plane(CONFIG_20X, 5.0)).sum() == pytest.approx(7.0, rel=1e-4)


def test_nominal_optics_follow_the_config():
    oil = SimpleNamespace(name="m63", na=1.4, wavelength_um=0.52, pixel_um=0.1, z_step_um=0.2, immersion_index=1.515)
    optics = nominal_optics(oil)
    assert (optics.na, optics.immersion_index, optics.emission_um, optics.pixel_um) == (1.4, 1.515, 0.52, 0.1)
    assert optics.sample_index == pytest.approx(1.45), "the 63x/1.4 oil preset's medium"
    assert nominal_optics(CONFIG_20X).immersion_index == 1.0


def _row(out, inp, blur, ssim_out=0.9, ssim_in=0.5, ssim_blur=0.6, cls="learning", **kw):
    labels = dict(model="m", split="selection", sample="tissue", optics="gl", snr="normal", direction="refocus",
                  cls=cls, input_um=-5.0, dz_um=5.0)
    labels.update(kw)
    return Row(**labels, rmse_output=out, rmse_input=inp, rmse_blur=blur, ssim_output=ssim_out,
               ssim_input=ssim_in, ssim_blur=ssim_blur)


@pytest.mark.parametrize("out, ssim_out, won, harmless", [
    (WIN_RMSE * 10, 0.9, True, True),        # exactly 0.8x the better baseline (10), SSIM above both
    (WIN_RMSE * 10 + 0.01, 0.9, False, True),
    (5.0, 0.55, False, True),                # RMSE far lower but SSIM not above the blur's
    (HARMLESS_RMSE * 10, 0.9, False, True),
    (HARMLESS_RMSE * 10 + 0.01, 0.9, False, False),
])
def test_won_and_harmless_against_the_better_baseline(out, ssim_out, won, harmless):
    row = _row(out, inp=12.0, blur=10.0, ssim_out=ssim_out)
    assert row.ratio == pytest.approx(out / 10.0)
    assert (row.won, row.harmless) == (won, harmless)


def test_score_row_uses_rmse_and_ssim_against_the_truth():
    rng = np.random.default_rng(1)
    truth = ndi.gaussian_filter(rng.random((48, 48)), 2) * 100
    noisy = truth + rng.normal(0, 3, truth.shape)
    row = score_row(truth.copy(), truth, noisy, ndi.gaussian_filter(noisy, 3), model="m", split="test",
                    sample="beads", optics="gl", snr="low", direction="defocus", cls="blur", input_um=0, dz_um=2.5)
    assert row.rmse_output == 0 and row.ssim_output == pytest.approx(1.0)
    assert row.rmse_input == pytest.approx(3.0, rel=0.1)
    assert row.won and row.harmless
    with pytest.raises(Exception, match="row class"):
        _row(1, 1, 1, cls="other")


def test_tables_count_per_class_and_round_trip_through_csv(tmp_path):
    rows = [_row(7, 10, 12), _row(11, 10, 12), _row(9.5, 10, 11, cls="blur", direction="defocus", sample="beads")]
    s = summarize(rows)
    assert s["learning"] == {"rows": 2, "won": 1, "harmless": 1}
    assert s["blur"] == {"rows": 1, "won": 0, "harmless": 1}
    assert s["all"] == {"rows": 3, "won": 1, "harmless": 2}
    line = summary_line(rows)
    assert line.startswith("won 1/3 (learning 1/2, blur 0/1); harmless 2/3; worst row tissue/gl/normal refocus")
    assert "1.10x the better baseline" in line
    table = markdown_table(rows)
    assert "| learning | 2 | 1 | 1 |" in table and "| beads | gl | normal | defocus | blur | 1 | 0 | 1 | 0.95 | 0.95 |" in table
    path = write_rows_csv(rows, tmp_path / "rows.csv")
    assert read_rows_csv(path) == rows


# ----------------------------------------------------------------------------- the suite


def _load(name: str):
    sys.path.insert(0, str(REPO / "benchmarks"))
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def suite_data():
    for package in ("microscPSF", "pyotf", "flowdec", "sdeconv"):
        pytest.importorskip(package, reason="pip install --no-deps flowdec sdeconv MicroscPSF-Py pyotf dphtools "
                                            "(scripts/setup.sh does it)")
    return _load("independent_data")


def test_the_splits_share_no_seed_and_no_object(suite_data):
    gen = _load("generalization")
    sel, test = suite_data.SPLITS["selection"], suite_data.SPLITS["test"]
    assert sel["volume"] != test["volume"]
    seeds = {name: {s["seed0"] + 17 * i for i in range(len(suite_data.SAMPLES))} for name, s in suite_data.SPLITS.items()}
    assert not seeds["selection"] & seeds["test"]
    for sample in suite_data.SAMPLES:
        a = suite_data.make_object(sample, sel["seed0"], 48, 41, sel["volume"])
        b = suite_data.make_object(sample, test["seed0"], 48, 41, test["volume"])
        assert a.sum() > 0 and b.sum() > 0 and not np.array_equal(a, b), sample
    assert gen.row_class("beads", "defocus") == "blur" and gen.row_class("beads", "refocus") == "learning"
    assert gen.row_class("tissue", "defocus") == "learning"


def test_independent_psfs_are_normalised_and_centred(suite_data):
    for optics in suite_data.optics_for(CONFIG_20X, quick=True):
        psf = suite_data.psf_stack(optics, 0.325, 0.5, 21, 33)
        assert psf.shape == (21, 33, 33)
        assert np.allclose(psf.sum(axis=(1, 2)), 1.0)
        assert int(np.argmax(psf[:, 16, 16])) == 10, optics.name


def test_independent_psfs_share_the_sign_of_z(suite_data):
    """Δz > 0 is deeper: an air objective focused into water is brighter on axis 2 µm below focus
    than 2 µm above it, in the nominal PSF and in MicroscPSF-Py's (whose own z runs the other way)."""
    nominal_ratio = nominal_psf_plane(CONFIG_20X, 2.0).max() / nominal_psf_plane(CONFIG_20X, -2.0).max()
    gl = next(o for o in suite_data.optics_for(CONFIG_20X) if o.name == "gl-deep")
    psf = suite_data.psf_stack(gl, 0.325, 0.5, 21, 33)
    assert nominal_ratio > 1.3 and psf[14, 16, 16] / psf[6, 16, 16] > 1.3


def test_image_planes_is_a_depth_resolved_convolution(suite_data):
    density = np.zeros((5, 20, 20))
    density[1, 10, 10] = 1.0
    psf = np.random.default_rng(2).random((5, 7, 7))
    planes = suite_data.image_planes(density, psf, [3])
    expected = ndi.convolve(density[1], psf[2 + (3 - 1)], mode="constant")
    assert np.allclose(planes[3], expected, atol=1e-6)


@pytest.mark.slow
def test_quick_suite_writes_the_table_csv_and_png(suite_data, make_tiny_model, tmp_path, capsys):
    pytest.importorskip("tensorflow")
    model = make_tiny_model("tiny-suite", pixel_um=0.325, na=0.75, wavelength_um=0.584, dz_min_um=-10.0,
                            dz_max_um=10.0, modality="widefield")
    out = tmp_path / "out"
    code = _load("generalization").main(["--model", str(model), "--quick", "--out", str(out),
                                         "--cache", str(tmp_path / "cache")])
    assert code == 0
    printed = capsys.readouterr().out
    rows = read_rows_csv(out / "rows.csv")
    assert len(rows) == 3 * 2 * 6 and {r.sample for r in rows} == {"beads", "tissue", "volume"}
    assert {r.direction for r in rows} == {"defocus", "refocus"}
    assert all(r.rmse_input > 0 and r.rmse_blur > 0 for r in rows)
    summary = (out / "summary.txt").read_text().strip()
    assert summary == summary_line(rows) and summary in printed
    assert "| class | rows | won | harmless |" in (out / "table.md").read_text()
    assert (out / "examples.png").stat().st_size > 10_000


@pytest.mark.slow
def test_quick_suite_scores_a_widefield_to_confocal_model_against_a_confocal_truth(suite_data, make_tiny_model,
                                                                                  tmp_path):
    pytest.importorskip("tensorflow")
    model = make_tiny_model("tiny-suite-plus", pixel_um=0.1, na=1.4, wavelength_um=0.52, immersion_index=1.515,
                            dz_min_um=-2.0, dz_max_um=2.0, modality="widefield->confocal")
    out = tmp_path / "out"
    assert _load("generalization").main(["--model", str(model), "--quick", "--out", str(out),
                                         "--cache", str(tmp_path / "cache")]) == 0
    rows = read_rows_csv(out / "rows.csv")
    assert len(rows) == 36 and all(np.isfinite([r.rmse_output, r.rmse_input, r.rmse_blur]).all() for r in rows)
    assert any(f.name.endswith("-confocal.npz") for f in (tmp_path / "cache").rglob("*.npz"))


def test_the_confocal_psf_is_narrower_axially_than_the_widefield_one(suite_data):
    oil = SimpleNamespace(name="m63", na=1.4, wavelength_um=0.52, pixel_um=0.1, immersion_index=1.515,
                          dz_min_um=-2.0, dz_max_um=2.0)
    optics = suite_data.optics_for(oil, quick=True)[0]
    wide = suite_data.psf_stack(optics, 0.1, 0.1, 31, 33)
    conf = suite_data.confocal_psf_stack(optics, 0.1, 0.1, 31, 33, 0.488)
    assert conf[15].sum() == pytest.approx(1.0)
    # a wide-field plane keeps all its light out of focus; a confocal plane loses most of it
    assert wide[5].sum() == pytest.approx(1.0) and conf[5].sum() < 0.5


def test_fit_benchmarks_oracle_filter_is_the_best_convolution():
    """Nearly exact where the truth is a symmetric blur of the input; never worse than the input itself."""
    from scipy import ndimage as ndi

    oracle_filter = _load("fit").oracle_filter
    rng = np.random.default_rng(3)
    image = ndi.gaussian_filter(rng.poisson(50, (64, 64)).astype(float), 1.0) + 100
    truth = ndi.gaussian_filter(image, 2.0, mode="wrap")
    assert np.sqrt(np.mean((oracle_filter(image, truth) - truth) ** 2)) < 0.05 * np.std(truth - image)
    other = ndi.gaussian_filter(rng.poisson(50, (64, 64)).astype(float), 1.0) + 120
    assert np.sqrt(np.mean((oracle_filter(image, other) - other) ** 2)) < np.sqrt(np.mean((image - other) ** 2))
