"""DPM builders: values, shapes, sign convention and range checks."""

import math

import numpy as np
import pytest

from deepz_fiji.dpm import (
    check_range,
    cylinder_dpm,
    height_map_dpm,
    plane_dpm,
    sinusoid_dpm,
    uniform_dpm,
)
from deepz_fiji.errors import DeepZError


def test_uniform():
    dpm = uniform_dpm((3, 5), -2.5)
    assert dpm.shape == (3, 5) and dpm.dtype == np.float32
    assert np.all(dpm == -2.5)


def test_plane_tilt_about_x_changes_along_y_only():
    pixel = 0.325
    dpm = plane_dpm((101, 51), pixel, tilt_x_deg=1.5, offset_um=1.0)
    assert dpm.shape == (101, 51)
    assert dpm[50, 25] == pytest.approx(1.0)
    assert np.allclose(dpm[:, 0], dpm[:, -1])
    slope = math.tan(math.radians(1.5)) * pixel
    assert dpm[100, 0] - dpm[0, 0] == pytest.approx(100 * slope, rel=1e-5)
    assert dpm[100, 0] > dpm[0, 0]  # positive tilt: Δz grows with y


def test_plane_tilt_about_y_and_gradient_form_agree():
    a = plane_dpm((20, 30), 0.5, tilt_y_deg=10.0)
    b = plane_dpm((20, 30), 0.5, gradient_um_per_px=(0.0, math.tan(math.radians(10)) * 0.5))
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert np.allclose(a[0], a[-1]) and a[0, -1] > a[0, 0]


def test_cylinder_sag_matches_geometry_and_sides():
    R, pixel = 3600.0, 0.325
    dpm = cylinder_dpm((1001, 10), pixel, R, axis="x", offset_um=-1.0)
    d = 500 * pixel
    assert dpm[500, 3] == pytest.approx(-1.0)
    assert dpm[0, 3] == pytest.approx(-1.0 + R - math.sqrt(R**2 - d**2), rel=1e-4)
    concave = cylinder_dpm((1001, 10), pixel, R, axis="x", offset_um=-1.0, side="concave")
    np.testing.assert_allclose(concave + 1.0, -(dpm + 1.0), atol=1e-5)
    along_y = cylinder_dpm((10, 1001), pixel, R, axis="y")
    np.testing.assert_allclose(along_y[0], dpm[:, 0] + 1.0, atol=1e-5)
    with pytest.raises(DeepZError, match="radius"):
        cylinder_dpm((1000, 10), 1.0, 100.0)


def test_sinusoid_range_and_period():
    dpm = sinusoid_dpm((4, 256), period_px=64, min_um=-9, max_um=-1)
    assert dpm.min() == pytest.approx(-9, abs=1e-3) and dpm.max() == pytest.approx(-1, abs=1e-3)
    np.testing.assert_allclose(dpm[:, :64], dpm[:, 64:128], atol=1e-4)
    assert np.allclose(dpm[0], dpm[3])
    vertical = sinusoid_dpm((256, 4), 64, -9, -1, direction="y")
    np.testing.assert_allclose(vertical[:, 0], dpm[0], atol=1e-4)


def test_height_map_and_errors():
    h = np.linspace(-2, 2, 12).reshape(3, 4)
    np.testing.assert_allclose(height_map_dpm(h, offset_um=1), h + 1, atol=1e-6)
    with pytest.raises(DeepZError, match="2D"):
        height_map_dpm(np.zeros((2, 2, 2)))
    with pytest.raises(DeepZError, match="NaN"):
        height_map_dpm(np.array([[0, np.nan]]))
    with pytest.raises(DeepZError, match="shape"):
        uniform_dpm((0, 3), 1.0)
    with pytest.raises(DeepZError, match="finite"):
        uniform_dpm((3, 3), float("nan"))


def test_check_range_names_the_range():
    check_range(uniform_dpm((4, 4), 10.0), -10, 10)
    with pytest.raises(DeepZError, match=r"50 µm is outside the model's trained range -10 … 10 µm"):
        check_range(uniform_dpm((4, 4), 50.0), -10, 10)
    tilted = plane_dpm((100, 100), 1.0, tilt_x_deg=20)
    with pytest.raises(DeepZError, match="outside"):
        check_range(tilted, -10, 10)
