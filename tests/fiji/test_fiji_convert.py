"""ImagePlus <-> numpy against real ImageJ 1.x (headless): types, hyperstack axes, calibration."""

from __future__ import annotations

import numpy as np
import pytest

from deepz_fiji.errors import DeepZError
from deepz_fiji.io import Calibration, write_image

pytestmark = pytest.mark.imagej


@pytest.fixture(scope="module")
def convert(imagej_host):
    from deepz_fiji.fiji import convert

    return convert


@pytest.mark.parametrize("dtype, bits", [(np.uint8, 8), (np.uint16, 16), (np.float32, 32)])
def test_pixel_types_round_trip(convert, dtype, bits):
    rng = np.random.default_rng(bits)
    if dtype == np.float32:
        data = rng.normal(0, 1000, (3, 17, 23)).astype(dtype)
    else:
        data = rng.integers(0, np.iinfo(dtype).max, (3, 17, 23), endpoint=True).astype(dtype)
        data[0, 0, :2] = [np.iinfo(dtype).max, 0]  # the top bit must survive Java's signed types
    imp = convert.numpy_to_imageplus(data, "ZYX", title="types")
    assert imp.getBitDepth() == bits and imp.getNSlices() == 3
    assert (imp.getWidth(), imp.getHeight()) == (23, 17)
    imp.setSlice(2)
    assert imp.getProcessor().getPixelValue(5, 4) == pytest.approx(float(data[1, 4, 5]))  # x, y
    back = convert.imageplus_to_numpy(imp)
    assert back.axes == "ZYX" and back.data.dtype == dtype
    np.testing.assert_array_equal(back.data, data)


def test_hyperstack_axes_and_plane_order(convert):
    t, z, c, y, x = 2, 3, 4, 5, 6
    data = np.arange(t * z * c * y * x, dtype=np.float32).reshape(t, z, c, y, x)
    imp = convert.numpy_to_imageplus(data, "TZCYX", title="hyper")
    assert list(imp.getDimensions()) == [x, y, c, z, t]
    assert imp.isHyperStack()
    for ti, zi, ci in [(0, 0, 0), (1, 2, 3), (0, 1, 2), (1, 0, 1)]:
        index = imp.getStackIndex(ci + 1, zi + 1, ti + 1)
        plane = np.asarray(imp.getStack().getPixels(index)).reshape(y, x)
        np.testing.assert_array_equal(plane, data[ti, zi, ci])
    back = convert.imageplus_to_numpy(imp)
    assert back.axes == "TZCYX"
    np.testing.assert_array_equal(back.data, data)


@pytest.mark.parametrize("axes, shape", [("YX", (9, 11)), ("TYX", (4, 9, 11)), ("CYX", (2, 9, 11)),
                                         ("TZYX", (2, 3, 9, 11)), ("ZCYX", (3, 2, 9, 11))])
def test_axes_subsets_round_trip(convert, axes, shape):
    data = np.random.default_rng(1).random(shape).astype(np.float32)
    imp = convert.numpy_to_imageplus(data, axes)
    dims = dict(zip("XYCZT", (int(v) for v in imp.getDimensions()), strict=True))
    for a, n in zip(axes, shape, strict=True):
        assert dims[a] == n, f"axis {a}"
    back = convert.imageplus_to_numpy(imp)
    assert back.axes == axes
    np.testing.assert_array_equal(back.data, data)


def test_axes_in_any_order_are_reordered(convert):
    data = np.random.default_rng(2).random((3, 2, 9, 11)).astype(np.float32)  # C Z Y X
    back = convert.imageplus_to_numpy(convert.numpy_to_imageplus(data, "CZYX"))
    assert back.axes == "ZCYX"
    np.testing.assert_array_equal(back.data, data.transpose(1, 0, 2, 3))


def test_calibration_written_and_read(convert):
    cal = Calibration(pixel_um=0.325, z_step_um=0.5, frame_interval_s=2.5)
    imp = convert.numpy_to_imageplus(np.zeros((2, 3, 8, 8), np.float32), "TZYX", calibration=cal, title="cal")
    jcal = imp.getCalibration()
    assert float(jcal.pixelWidth) == pytest.approx(0.325) and float(jcal.pixelHeight) == pytest.approx(0.325)
    assert float(jcal.pixelDepth) == pytest.approx(0.5) and str(jcal.getUnit()) in ("micron", "µm")
    assert float(jcal.frameInterval) == pytest.approx(2.5) and str(jcal.getTimeUnit()) == "sec"
    assert convert.calibration_from_imageplus(imp) == Calibration(0.325, 0.5, "micron", 2.5)
    assert str(imp.getTitle()) == "cal"


def test_other_units_are_converted_to_microns_and_seconds(convert):
    imp = convert.numpy_to_imageplus(np.zeros((3, 8, 8), np.uint16), "ZYX")
    jcal = imp.getCalibration()
    jcal.pixelWidth = jcal.pixelHeight = 250.0
    jcal.pixelDepth = 400.0
    jcal.setUnit("nm")
    jcal.frameInterval = 1.5
    jcal.setTimeUnit("min")
    cal = convert.calibration_from_imageplus(imp)
    assert cal.pixel_um == pytest.approx(0.25) and cal.z_step_um == pytest.approx(0.4)
    assert cal.frame_interval_s == pytest.approx(90.0)
    uncalibrated = convert.calibration_from_imageplus(convert.numpy_to_imageplus(np.zeros((8, 8), np.uint8)))
    assert uncalibrated.pixel_um is None and uncalibrated.z_step_um is None


def test_imagej_opener_reads_calibrated_tiff(convert, tmp_path):
    data = (np.random.default_rng(3).random((2, 5, 24, 32)) * 60000).astype(np.uint16)
    path = write_image(tmp_path / "stack.tif", data, "TZYX", pixel_um=0.325, z_step_um=0.5, frame_interval_s=3.0)
    imp = convert.open_image(str(path))
    jcal = imp.getCalibration()
    assert float(jcal.pixelWidth) == pytest.approx(0.325) and float(jcal.pixelDepth) == pytest.approx(0.5)
    assert str(jcal.getUnit()) in ("micron", "µm")
    image = convert.imageplus_to_numpy(imp)
    assert image.axes == "TZYX" and image.data.dtype == np.uint16 and image.path == path
    np.testing.assert_array_equal(image.data, data)
    assert image.calibration.pixel_um == pytest.approx(0.325)
    assert image.calibration.z_step_um == pytest.approx(0.5)
    assert image.calibration.frame_interval_s == pytest.approx(3.0)


def test_current_image_and_current_plane(convert, imagej_host):
    data = np.arange(3 * 6 * 7, dtype=np.uint16).reshape(3, 6, 7)
    imp = convert.numpy_to_imageplus(data, "ZYX", title="current")
    convert.set_current_image(imp)
    assert str(convert.current_image().getTitle()) == "current"
    imp.setSlice(3)
    np.testing.assert_array_equal(convert.current_plane_to_numpy(imp), data[2])


def test_refusals(convert, imagej_host, tmp_path):
    rgb = imagej_host.IJ.createImage("colour", "RGB black", 8, 8, 1)
    with pytest.raises(DeepZError, match="RGB"):
        convert.imageplus_to_numpy(rgb)
    with pytest.raises(DeepZError, match="axes"):
        convert.numpy_to_imageplus(np.zeros((4, 4)), "ZYX")
    with pytest.raises(DeepZError, match="does not exist"):
        convert.open_image(str(tmp_path / "missing.tif"))
    (tmp_path / "broken.tif").write_bytes(b"II*\x00garbage")
    with pytest.raises(DeepZError, match="cannot open broken.tif"):
        convert.open_image(str(tmp_path / "broken.tif"))
