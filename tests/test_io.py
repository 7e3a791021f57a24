"""Calibrated TIFF round trips, foreign TIFF flavours, atomic writes and input errors."""

import logging

import numpy as np
import pytest
import tifffile

from deepz_fiji.errors import DeepZError
from deepz_fiji.io import atomic_path, read_image, write_csv, write_image, write_json


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_hyperstack_round_trip_keeps_pixels_axes_and_calibration(tmp_path, dtype):
    rng = np.random.default_rng(0)
    data = (rng.random((2, 5, 3, 16, 20)) * 200).astype(dtype)  # T Z C Y X
    path = write_image(tmp_path / "h.tif", data, "TZCYX", pixel_um=0.325, z_step_um=0.5,
                       frame_interval_s=0.28, metadata={"dz_um": 2.5})
    image = read_image(path)
    assert image.axes == "TZCYX"
    assert image.data.dtype == dtype
    np.testing.assert_array_equal(image.data, data)
    assert image.pixel_um == pytest.approx(0.325)
    assert image.z_step_um == pytest.approx(0.5)
    assert image.calibration.frame_interval_s == pytest.approx(0.28)
    assert image.calibration.unit == "micron"


def test_axes_are_reordered_to_imagej_order(tmp_path):
    data = np.arange(3 * 4 * 6 * 7, dtype=np.float32).reshape(3, 4, 6, 7)  # C Z Y X
    image = read_image(write_image(tmp_path / "c.tif", data, "CZYX"))
    assert image.axes == "ZCYX"
    np.testing.assert_array_equal(image.data, np.moveaxis(data, 0, 1))


def test_float64_is_stored_as_float32_and_bad_dtypes_refused(tmp_path):
    image = read_image(write_image(tmp_path / "f.tif", np.ones((4, 4)), "YX"))
    assert image.data.dtype == np.float32 and image.axes == "YX"
    with pytest.raises(DeepZError, match="int64"):
        write_image(tmp_path / "i.tif", np.ones((4, 4), np.int64), "YX")
    assert not (tmp_path / "i.tif").exists()


def test_plain_multipage_and_ome_tiffs(tmp_path):
    stack = (np.random.default_rng(1).random((7, 10, 12)) * 1000).astype(np.uint16)
    tifffile.imwrite(tmp_path / "plain.tif", stack)
    plain = read_image(tmp_path / "plain.tif")
    assert plain.axes == "ZYX" and plain.pixel_um is None
    np.testing.assert_array_equal(plain.data, stack)
    tifffile.imwrite(tmp_path / "x.ome.tif", stack, metadata={"axes": "ZYX", "PhysicalSizeX": 0.2,
                                                              "PhysicalSizeZ": 0.3})
    ome = read_image(tmp_path / "x.ome.tif")
    assert ome.axes == "ZYX"
    assert ome.pixel_um == pytest.approx(0.2) and ome.z_step_um == pytest.approx(0.3)


def test_bad_inputs_raise_one_sentence_errors(tmp_path, caplog):
    with pytest.raises(DeepZError, match="does not exist"):
        read_image(tmp_path / "missing.tif")
    (tmp_path / "text.tif").write_text("not an image")
    with pytest.raises(DeepZError, match="cannot read"):
        read_image(tmp_path / "text.tif")
    write_image(tmp_path / "whole.tif", np.ones((4, 64, 64), np.uint16), "ZYX")
    (tmp_path / "cut.tif").write_bytes((tmp_path / "whole.tif").read_bytes()[:3000])
    with caplog.at_level(logging.WARNING), pytest.raises(DeepZError, match="complete TIFF"):
        read_image(tmp_path / "cut.tif")
    assert not caplog.records  # only the one-line error, not tifffile's own log line too
    tifffile.imwrite(tmp_path / "rgb.tif", np.zeros((8, 8, 3), np.uint8), photometric="rgb")
    with pytest.raises(DeepZError, match="RGB"):
        read_image(tmp_path / "rgb.tif")
    nan = np.ones((3, 4, 4), np.float32)
    nan[1, 2, 2] = np.nan
    write_image(tmp_path / "nan.tif", nan, "ZYX")
    with pytest.raises(DeepZError, match="NaN"):
        read_image(tmp_path / "nan.tif")
    assert np.isnan(read_image(tmp_path / "nan.tif", allow_nonfinite=True).data).sum() == 1
    with pytest.raises(DeepZError, match="axes"):
        write_image(tmp_path / "a.tif", np.ones((2, 4, 4)), "YX")


def test_atomic_writes_leave_nothing_on_failure(tmp_path):
    target = tmp_path / "out.csv"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash while writing")
    assert list(tmp_path.iterdir()) == []
    write_csv(target, [{"a": 1, "b": 2.5}, {"a": 3, "c": "x"}])
    assert target.read_text().splitlines() == ["a,b,c", "1,2.5,", "3,,x"]
    write_json(tmp_path / "m.json", {"v": np.float32(1.5), "a": np.arange(2)})
    assert (tmp_path / "m.json").read_text().count("1.5") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "out.csv"]


def test_writing_into_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DeepZError, match="does not exist"):
        write_image(tmp_path / "nope" / "x.tif", np.ones((4, 4), np.float32), "YX")
