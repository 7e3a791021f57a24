"""Calibrated TIFFs written by deepz_fiji open calibrated in real ImageJ 1.x."""

import numpy as np
import pytest

from deepz_fiji.io import write_image

pytestmark = pytest.mark.imagej


def test_imagej_opens_stack_with_micron_calibration(tmp_path, ij_jvm):
    data = (np.random.default_rng(0).random((9, 24, 32)) * 4000).astype(np.uint16)
    path = write_image(tmp_path / "stack.tif", data, "ZYX", pixel_um=0.325, z_step_um=0.5)
    IJ = ij_jvm.jimport("ij.IJ")
    imp = IJ.openImage(str(path))
    assert imp is not None, "ImageJ could not open the file"
    cal = imp.getCalibration()
    assert imp.getNSlices() == 9 and imp.getWidth() == 32 and imp.getHeight() == 24
    assert imp.getBitDepth() == 16
    assert float(cal.pixelWidth) == pytest.approx(0.325)
    assert float(cal.pixelHeight) == pytest.approx(0.325)
    assert float(cal.pixelDepth) == pytest.approx(0.5)
    assert str(cal.getUnit()) in ("micron", "µm")
    imp.setSlice(4)
    pixels = np.array(imp.getProcessor().getPixels(), dtype=np.int32) & 0xFFFF
    np.testing.assert_array_equal(pixels.reshape(24, 32), data[3])


def test_imagej_reads_hyperstack_axes(tmp_path, ij_jvm):
    data = np.zeros((3, 4, 2, 8, 8), np.float32)  # T Z C Y X
    path = write_image(tmp_path / "h.tif", data, "TZCYX", pixel_um=0.2, z_step_um=0.3)
    imp = ij_jvm.jimport("ij.IJ").openImage(str(path))
    assert (imp.getNFrames(), imp.getNSlices(), imp.getNChannels()) == (3, 4, 2)
    assert imp.isHyperStack()
