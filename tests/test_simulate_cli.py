"""``deepz simulate`` through a subprocess: calibrated TIFFs, positions CSV, preview, PSF report."""

from __future__ import annotations

import csv
import re

import numpy as np
import tifffile


def test_cli_writes_a_calibrated_stack_truth_positions_and_preview(run_cli, tmp_path):
    proc = run_cli("simulate", "--sample", "beads", "--size", "48x64", "--planes", "9", "--n-objects", "4",
                   "--seed", "3", "--out", "stack.tif", "--truth", "truth.tif", "--positions", "pos.csv",
                   check=True)
    with tifffile.TiffFile(tmp_path / "stack.tif") as tif:
        assert tif.is_imagej
        stack = tif.asarray()
        ij = tif.imagej_metadata
        xres = tif.pages[0].tags["XResolution"].value
    assert stack.dtype == np.uint16 and stack.shape == (9, 48, 64)
    assert ij["spacing"] == 0.5 and ij["unit"] in ("micron", "um", "µm")
    assert abs(xres[1] / xres[0] - 0.325) < 1e-4  # pixels per µm in the TIFF tags
    truth = tifffile.imread(tmp_path / "truth.tif")
    assert truth.dtype == np.float32 and truth.shape == stack.shape
    with open(tmp_path / "pos.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4 and {"x_um", "y_um", "z_um", "kind"} <= set(rows[0])
    assert all(-2.0 <= float(r["z_um"]) <= 2.0 for r in rows)
    assert (tmp_path / "stack.png").stat().st_size > 1000  # default preview next to the stack

    out = proc.stdout
    lateral = float(re.search(r"lateral FWHM at focus ([\d.]+) um", out).group(1))
    assert abs(lateral - 0.51 * 0.584 / 0.75) < 0.1 * 0.397
    assert float(re.search(r"axial FWHM ([\d.]+) um", out).group(1)) > 1.0
    assert float(re.search(r"differ by (\d+) %", out).group(1)) >= 20


def test_cli_reads_back_with_deepz_io_and_reports_bad_input(run_cli, tmp_path):
    from deepz_fiji.io import read_image

    run_cli("simulate", "--sample", "filaments", "--size", "32", "--z-range", "-1", "1", "--out", "f.tif",
            "--no-preview", check=True)
    image = read_image(tmp_path / "f.tif")
    assert image.axes == "ZYX" and image.data.shape == (5, 32, 32)
    assert abs(image.pixel_um - 0.325) < 1e-4
    assert image.z_step_um == 0.5
    assert not (tmp_path / "f.png").exists()

    bad = run_cli("simulate", "--size", "0", "--out", "x.tif")
    assert bad.returncode == 2 and "size" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "x.tif").exists()
