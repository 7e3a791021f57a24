"""``deepz evaluate`` through a subprocess on small calibrated TIFFs."""

import csv

import numpy as np
import pytest

from deepz_fiji import metrics
from deepz_fiji.beads import FWHM_PER_SIGMA
from deepz_fiji.io import write_image

PIXEL_UM = 0.325
Z_STEP_UM = 0.5


def bead_stack(shape=(9, 80, 80), sigma=(2.0, 1.5, 1.5), seed=0):
    """Four Gaussian beads (σz planes, σy, σx px) on a background, with Poisson noise."""
    z, y, x = np.indices(shape, dtype=float)
    clean = np.full(shape, 100.0)
    for cy, cx in [(22.0, 22.0), (22.0, 58.0), (58.0, 21.0), (57.0, 57.0)]:
        clean += 800 * np.exp(-((z - 4) ** 2) / (2 * sigma[0] ** 2) - ((y - cy) ** 2) / (2 * sigma[1] ** 2)
                              - ((x - cx) ** 2) / (2 * sigma[2] ** 2))
    return np.random.default_rng(seed).poisson(clean).astype(np.float32)


@pytest.fixture
def pair(tmp_path):
    truth = bead_stack(seed=0)
    pred = bead_stack(seed=1)
    kw = {"pixel_um": PIXEL_UM, "z_step_um": Z_STEP_UM}
    return (write_image(tmp_path / "pred.tif", pred, "ZYX", **kw),
            write_image(tmp_path / "gt.tif", truth, "ZYX", **kw), pred, truth)


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_stack_table_csv_and_plot(run_cli, pair, tmp_path):
    pred_path, gt_path, pred, truth = pair
    proc = run_cli("evaluate", pred_path, gt_path, "-o", tmp_path / "t.csv", "--plot", tmp_path / "p.png",
                   check=True)
    header = proc.stdout.splitlines()[0].split()
    assert header == ["plane", "z_um", "mse", "rmse", "mae", "pearson", "ssim", "psnr"]
    rows = read_csv(tmp_path / "t.csv")
    assert len(rows) == truth.shape[0]
    assert [float(r["z_um"]) for r in rows] == pytest.approx([Z_STEP_UM * i for i in range(9)])
    expected = metrics.compare(pred[4], truth[4])
    for key, value in expected.items():
        assert float(rows[4][key]) == pytest.approx(value, rel=1e-6)
    # the in-focus plane resembles its ground truth better than a defocused edge plane
    assert float(rows[4]["ssim"]) > float(rows[0]["ssim"])
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_2d_pair_without_calibration_has_no_z_column(run_cli, tmp_path):
    truth = bead_stack()[4]
    write_image(tmp_path / "gt.tif", truth, "YX")
    write_image(tmp_path / "pred.tif", truth + 5, "YX")
    proc = run_cli("evaluate", "pred.tif", "gt.tif", "-o", "t.csv", check=True)
    rows = read_csv(tmp_path / "t.csv")
    assert len(rows) == 1 and "z_um" not in rows[0]
    assert float(rows[0]["mae"]) == pytest.approx(5.0)
    assert float(rows[0]["pearson"]) == pytest.approx(1.0)
    assert "z_um" not in proc.stdout


def test_beads_prints_lateral_and_axial_medians(run_cli, pair, tmp_path):
    pred_path, gt_path, _, _ = pair
    proc = run_cli("evaluate", pred_path, gt_path, "--beads", "--fwhm-plot", tmp_path / "f.png", check=True)
    lines = {ln.split(":")[0]: ln for ln in proc.stdout.splitlines() if ":" in ln}
    assert "beads: 4 isolated in GT" in proc.stdout
    lateral = lines["median lateral FWHM"]
    expected = FWHM_PER_SIGMA * 1.5 * PIXEL_UM
    values = [float(part.split(" µm")[0].split()[-1]) for part in lateral.split(";")]
    assert values == pytest.approx([expected, expected], rel=0.03)
    assert "median axial FWHM" in lines
    assert (tmp_path / "f.png").exists() and (tmp_path / "f-axial.png").exists()


def test_mismatched_shapes_fail_in_one_line_without_output(run_cli, pair, tmp_path):
    pred_path, _, _, truth = pair
    write_image(tmp_path / "small.tif", truth[:, :60], "ZYX")
    proc = run_cli("evaluate", pred_path, "small.tif", "-o", "t.csv", "--plot", "p.png")
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and "shape" in err[0] and "Traceback" not in proc.stderr
    assert not (tmp_path / "t.csv").exists() and not (tmp_path / "p.png").exists()


def test_beads_without_pixel_size_asks_for_it(run_cli, tmp_path):
    image = bead_stack()[4]
    write_image(tmp_path / "a.tif", image, "YX")
    proc = run_cli("evaluate", "a.tif", "a.tif", "--beads", "-o", "t.csv")
    assert proc.returncode == 2 and "--pixel-um" in proc.stderr
    assert not (tmp_path / "t.csv").exists()
    proc = run_cli("evaluate", "a.tif", "a.tif", "--beads", "--pixel-um", "0.325", check=True)
    assert "median lateral FWHM" in proc.stdout
