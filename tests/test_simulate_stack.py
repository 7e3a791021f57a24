"""Simulated stacks: bead focus at the true z, sub-pixel placement, photons, noise, samples, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from deepz_fiji.errors import DeepZError
from deepz_fiji.simulate import SAMPLES, Optics, simulate_pair, simulate_stack


@pytest.fixture(scope="module")
def beads():
    return simulate_stack("beads", 64, seed=7, n_objects=8, planes=41)


def isolated(objects, min_um=3.0):
    xy = np.array([[o["x_um"], o["y_um"]] for o in objects])
    keep = []
    for i, o in enumerate(objects):
        d = np.hypot(*(xy - xy[i]).T)
        d[i] = np.inf
        if d.min() > min_um:
            keep.append(o)
    return keep


def test_result_is_a_calibrated_uint16_stack_with_noiseless_truth(beads):
    assert beads.stack.dtype == np.uint16 and beads.stack.shape == (41, 64, 64)
    assert beads.truth.dtype == np.float32 and beads.truth.shape == beads.stack.shape
    assert (beads.pixel_um, beads.z_step_um) == (0.325, 0.5)
    np.testing.assert_allclose(beads.z_um, np.arange(-10, 10.01, 0.5))
    assert beads.truth.min() >= beads.camera.offset  # offset included in the truth
    assert len(beads.objects) == 8
    assert {"kind", "x_um", "y_um", "z_um", "size_um", "photons"} <= set(beads.objects[0])


def test_each_bead_is_brightest_at_its_true_z(beads):
    checked = 0
    for o in isolated(beads.objects):
        x, y = round(o["x_px"]), round(o["y_px"])
        if not (0 <= x < 64 and 0 <= y < 64):
            continue
        for image in (beads.truth, beads.stack):
            z_peak = beads.z_um[int(np.argmax(image[:, y, x]))]
            assert abs(z_peak - o["z_um"]) <= 0.5, (o, z_peak)
        checked += 1
    assert checked >= 3


def test_beads_sit_at_their_sub_pixel_positions(beads):
    background = beads.camera.offset + beads.camera.gain * beads.camera.background
    checked = 0
    for o in isolated(beads.objects, 4.0):
        x, y, plane = round(o["x_px"]), round(o["y_px"]), round(o["z_plane"])
        if not (3 <= x < 61 and 3 <= y < 61):
            continue
        win = beads.truth[plane, y - 3 : y + 4, x - 3 : x + 4] - background
        yy, xx = np.mgrid[-3:4, -3:4]
        assert (xx * win).sum() / win.sum() + x == pytest.approx(o["x_px"], abs=0.05)
        assert (yy * win).sum() / win.sum() + y == pytest.approx(o["y_px"], abs=0.05)
        checked += 1
    assert checked >= 2


def test_same_seed_same_stack_other_seed_other_stack():
    a = simulate_stack("plane-beads", (24, 40), seed=3, planes=5)
    b = simulate_stack("plane-beads", (24, 40), seed=3, planes=5)
    c = simulate_stack("plane-beads", (24, 40), seed=4, planes=5)
    np.testing.assert_array_equal(a.stack, b.stack)
    assert a.objects == b.objects
    assert not np.array_equal(a.stack, c.stack)
    assert a.stack.shape == (5, 24, 40)  # non-square


def test_every_plane_receives_a_points_photons():
    """A single emitter in the middle: each plane near focus holds its photons (energy conserved)."""
    density = np.zeros((9, 96, 96), dtype=np.float32)
    density[4, 48, 48] = 1.0
    r = simulate_stack(density, photons=5000, background=0, read_noise=0, offset=0, gain=1)
    np.testing.assert_allclose(r.truth.sum(axis=(1, 2)), 5000, rtol=0.02)
    assert r.z_um[4] == 0 and int(np.argmax(r.truth.max(axis=(1, 2)))) == 4


def test_noise_is_poisson_plus_read_noise():
    cam = dict(background=200.0, read_noise=2.0, offset=100.0, gain=2.0)
    r = simulate_stack(np.zeros((2, 128, 128)), seed=1, **cam)
    electrons = (r.stack.astype(np.float64) - cam["offset"]) / cam["gain"]
    assert electrons.mean() == pytest.approx(200, rel=0.01)
    expected_var = 200 + cam["read_noise"] ** 2 + 1 / (12 * cam["gain"] ** 2)
    assert electrons.var() == pytest.approx(expected_var, rel=0.05)
    np.testing.assert_allclose(r.truth, cam["offset"] + cam["gain"] * 200)
    # bright objects too: residuals scale with √(expected electrons)
    b = simulate_stack("plane-beads", 48, seed=2, n_objects=6, planes=3, **cam)
    mean_e = (b.truth.astype(np.float64) - cam["offset"]) / cam["gain"]
    residual = (b.stack - b.truth) / cam["gain"] / np.sqrt(mean_e + cam["read_noise"] ** 2)
    assert residual.std() == pytest.approx(1.0, abs=0.05)
    assert mean_e.max() > 2000


def test_surface_samples_follow_their_surfaces():
    """Tilted plane and tube: the formulas, and the same surfaces as the DPM builders."""
    from deepz_fiji.dpm import cylinder_dpm, plane_dpm

    tilt = simulate_stack("tilted-beads", (16, 200), seed=0, n_objects=12, planes=3, tilt_deg=2.0, offset_um=0.5)
    xc = (200 - 1) * 0.325 / 2
    tilt_map = plane_dpm((16, 200), 0.325, tilt_y_deg=2.0, offset_um=0.5)
    for o in tilt.objects:
        assert o["z_um"] == pytest.approx(0.5 + math.tan(math.radians(2.0)) * (o["x_um"] - xc), abs=1e-3)
        assert tilt_map[round(o["y_px"]), round(o["x_px"])] == pytest.approx(o["z_um"], abs=0.01)
    cyl = simulate_stack("cylinder-beads", (200, 16), seed=0, n_objects=12, planes=3, radius_um=500.0)
    yc = (200 - 1) * 0.325 / 2
    sag = 500 - math.sqrt(500**2 - yc**2)
    cyl_map = cylinder_dpm((200, 16), 0.325, 500.0, axis="x", offset_um=-sag / 2)
    for o in cyl.objects:
        assert o["z_um"] == pytest.approx(-sag / 2 + 500 - math.sqrt(500**2 - (o["y_um"] - yc) ** 2), abs=1e-3)
        assert cyl_map[round(o["y_px"]), round(o["x_px"])] == pytest.approx(o["z_um"], abs=0.01)


def test_nuclei_are_2_to_3_um_and_inside_the_stack():
    r = simulate_stack("nuclei", 96, seed=5, planes=41)
    assert len(r.objects) >= 3
    for o in r.objects:
        assert o["kind"] == "nucleus" and 2.0 <= o["size_um"] <= 3.0
        assert r.z_um[0] <= o["z_um"] <= r.z_um[-1]
    positions = np.array([[o["x_um"], o["y_um"], o["z_um"]] for o in r.objects])
    gaps = np.linalg.norm(positions[:, None] - positions[None], axis=-1) + np.eye(len(positions)) * 99
    assert gaps.min() >= 2.0  # no overlapping nuclei
    assert r.stack.max() > r.camera.offset + 10 * r.camera.gain * r.camera.background ** 0.5


def test_filaments_and_confocal_pairs_share_objects():
    wide, conf = simulate_pair("filaments", 48, seed=1, planes=9)
    assert wide.objects == conf.objects and len(wide.objects) >= 1
    assert (wide.optics.na, conf.modality, conf.pinhole_au) == (1.4, "confocal", 1.0)
    assert all(o["kind"] == "filament" and 15 <= o["size_um"] <= 70 for o in wide.objects)
    signal = [(r.truth - r.truth.min()).sum(axis=(1, 2)) for r in (wide, conf)]
    # wide-field planes all carry similar light; confocal planes away from the filaments much less
    assert signal[0].min() > 0.5 * signal[0].max()
    assert signal[1].min() < 0.5 * signal[1].max()


def test_progress_reports_up_to_done():
    calls = []
    simulate_stack("plane-beads", 32, planes=3, n_objects=2, progress=lambda d, t: calls.append((d, t)))
    assert calls and calls[-1][0] == calls[-1][1]
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(size=0), "size"),
        (dict(size=(16, -2)), "size"),
        (dict(size=12.5), "size"),
        (dict(sample="stars"), "unknown sample"),
        (dict(sample=np.full((3, 8, 8), np.nan)), "NaN"),
        (dict(sample=-np.ones((3, 8, 8))), "negative"),
        (dict(sample=np.ones((8, 8))), "3D"),
        (dict(sample=np.ones((3, 8, 8)), size=16), "does not match"),
        (dict(photons=-1), "photons"),
        (dict(planes=0), "plane"),
        (dict(z_range_um=(0, 1.2)), "whole number"),
        (dict(planes=5, z_range_um=(0, 1)), "do not fit"),
        (dict(modality="sted"), "modality"),
        (dict(n_objects=-3), "n_objects"),
        (dict(gain=0), "gain"),
        (dict(optics="20x"), "Optics"),
    ],
)
def test_bad_inputs_raise_deepz_error(kwargs, message):
    array = isinstance(kwargs.get("sample"), np.ndarray)
    kwargs = ({"size": None} if array else {"sample": "beads", "size": 16, "planes": 3}) | kwargs
    with pytest.raises(DeepZError, match=message):
        simulate_stack(kwargs.pop("sample"), kwargs.pop("size"), **kwargs)


def test_sample_registry_lists_the_cli_names():
    assert set(SAMPLES) == {"beads", "plane-beads", "tilted-beads", "cylinder-beads", "nuclei", "filaments"}
    assert Optics().planes == 81


def test_objects_far_beyond_the_stack_are_left_out(caplog):
    r = simulate_stack("plane-beads", 32, planes=3, n_objects=3, offset_um=500.0, read_noise=0)
    assert r.objects == []
    assert "left out" in caplog.text
    assert r.truth.max() == pytest.approx(r.camera.offset + r.camera.gain * r.camera.background)


def test_a_single_plane_matches_the_same_plane_of_a_stack():
    from deepz_fiji.simulate import Optics, simulate_stack

    optics = Optics().replace(z_step_um=0.5)
    kw = {"optics": optics, "seed": 3, "n_objects": 6, "offset_um": 0.5}  # beads 1.5 µm out of focus
    one = simulate_stack("plane-beads", 64, z_range_um=(2.0, 2.0), **kw)
    three = simulate_stack("plane-beads", 64, z_range_um=(1.5, 2.5), **kw)
    assert one.truth.shape[0] == 1 and three.truth.shape[0] == 3
    peak = three.truth[1].max() - 100
    assert np.abs(one.truth[0] - three.truth[1]).max() < 0.01 * peak
