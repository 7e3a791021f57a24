"""Python equivalents of StackReg, Extended Depth of Field and Grid/Collection stitching."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi
from test_data_synthetic import blob_stack

from deepz_fiji.data import (
    Preprocessor,
    PythonPreprocessor,
    extended_depth_of_field,
    focus_height_map,
    stack_register,
    stitch_grid,
)
from deepz_fiji.errors import DeepZError


def _sharpness(image: np.ndarray) -> float:
    """Mean squared gradient over the mean intensity: higher for a better-focused image."""
    gy, gx = np.gradient(image.astype(np.float64))
    return float(np.mean(gy**2 + gx**2) / image.mean() ** 2)


def _split_focus_stack(noise: float = 1.0):
    """Blobs in the left half are in focus at plane 2, in the right half at plane 9."""
    focus = lambda y, x: 2 if x < 32 else 9  # noqa: E731
    stack = blob_stack((12, 64, 64), n_blobs=24, focus=focus, growth=1.0, noise=noise, seed=5)
    truth = blob_stack((12, 64, 64), n_blobs=24, focus=focus, growth=0.0, noise=0.0, seed=5)[0]
    return stack, truth


@pytest.mark.parametrize("method", ["variance", "wavelet"])
def test_edf_is_sharper_than_every_plane_and_closest_to_the_all_in_focus_image(method):
    stack, truth = _split_focus_stack()
    edf, info = extended_depth_of_field(stack, method=method)
    assert edf.shape == (64, 64) and edf.dtype == np.float32
    assert info["implementation"].startswith("python:")
    assert _sharpness(edf) > max(_sharpness(plane) for plane in stack)
    error = lambda img: np.abs(img - truth).mean()  # noqa: E731
    assert error(edf) < min(error(plane) for plane in stack)


def test_height_map_finds_each_half_focal_plane():
    stack, _ = _split_focus_stack()
    height = focus_height_map(stack)
    blobs = stack.max(axis=0) > 300  # judge where there is signal, not in flat background
    left, right = blobs.copy(), blobs.copy()
    left[:, 28:] = False
    right[:, :36] = False
    assert np.median(height[left]) == pytest.approx(2, abs=0.5)
    assert np.median(height[right]) == pytest.approx(9, abs=0.5)


def test_stack_register_recovers_a_known_drift():
    plane = blob_stack((1, 80, 80), n_blobs=20, focus=0, sigma0=2.0, noise=0.0, seed=2)[0]
    drift = [(0.0, 0.0), (1.5, -2.0), (3.0, -1.0), (4.0, 2.5)]
    stack = np.stack([ndi.shift(plane, d, order=3, mode="nearest") for d in drift])
    aligned, info = stack_register(stack, reference="previous")
    assert info["implementation"] == "python:pystackreg" and info["reference"] == "previous"
    np.testing.assert_allclose(info["drift_px"], drift, atol=0.15)
    inner = (slice(None), slice(8, -8), slice(8, -8))
    residual = np.abs(aligned[inner] - aligned[0][inner[1:]]).max()
    assert residual < 0.05 * np.abs(stack[inner] - stack[0][inner[1:]]).max()


def _sparse_stack(kind: str, seed: int) -> tuple[np.ndarray, int]:
    from deepz_fiji.simulate import simulate_stack

    sim = simulate_stack(kind, 128, seed=seed, z_range_um=(-8, 8), n_objects=25)
    return np.asarray(sim.stack, np.float32), int(np.argmin(np.abs(np.asarray(sim.z_um))))


@pytest.fixture(scope="module")
def sparse_bead_stack():
    return _sparse_stack("plane-beads", 11)


@pytest.mark.parametrize("kind, seed", [("plane-beads", 11), ("plane-beads", 14), ("beads", 12)])
def test_focus_reference_does_not_invent_drift_in_a_drift_free_sparse_stack(kind, seed):
    """Chaining through far-defocused sparse planes adds up biased steps; from the focus, smoothed, it does not."""
    stack, _ = _sparse_stack(kind, seed)
    _, chained = stack_register(stack, reference="previous")
    _, focus = stack_register(stack)
    first, last = focus["registered_planes"]
    assert focus["reference"] == "focus" and last - first >= 9
    if seed == 11:
        assert chained["max_drift_px"] > 2.0  # what a chain from the first plane invents
    assert focus["max_drift_px"] <= 0.5


@pytest.mark.parametrize("kind, seed", [("plane-beads", 11), ("beads", 12)])
def test_focus_reference_recovers_a_steady_drift_of_5_px(kind, seed):
    stack, f = _sparse_stack(kind, seed)
    t = np.arange(len(stack)) - f
    applied = np.stack([0.3 * t, -0.2 * t], 1)
    applied *= 5.0 / np.hypot(*applied.T).max()  # at most 5 px, at the far ends
    moved = np.stack([ndi.shift(p, d, order=3, mode="nearest") for p, d in zip(stack, applied, strict=True)])
    aligned, info = stack_register(moved)
    drift = np.array(info["drift_px"])
    anchor = info["anchor_plane"]
    first, last = info["registered_planes"]  # the planes sharp enough to register
    measured = (t + f >= first) & (t + f <= last)
    assert last - first >= 9 and abs(anchor - f) <= 2
    error = np.hypot(*(drift - (applied - applied[anchor]))[measured].T)
    assert error.max() <= 0.5, error
    inner = (slice(16, -16), slice(16, -16))
    near = anchor + 3  # aligned to the anchor plane: closer to the drift-free plane moved as the anchor was
    reference = ndi.shift(stack[near], applied[anchor], order=3, mode="nearest")[inner]
    assert np.abs(aligned[near][inner] - reference).mean() < 0.5 * np.abs(moved[near][inner] - reference).mean()


def test_stack_register_rejects_a_single_image():
    with pytest.raises(DeepZError, match="ZYX"):
        stack_register(np.zeros((32, 32)))


def _grid(seed: int, rows: int, cols: int, tile: int, overlap: float, planes: int | None = None):
    rng = np.random.default_rng(seed)
    world = ndi.gaussian_filter(rng.random((rows * tile + 20, cols * tile + 20)), 2.5)
    step = tile - round(tile * overlap)
    corners, tiles = [], []
    for r in range(rows):
        for c in range(cols):
            y, x = r * step + 6 + rng.integers(-4, 5), c * step + 6 + rng.integers(-4, 5)
            corners.append((y, x))
            crop = world[y : y + tile, x : x + tile]
            tiles.append(crop if planes is None else np.stack([crop * (k + 1) for k in range(planes)]))
    corners = np.array(corners, dtype=float)
    return world, tiles, corners


@pytest.mark.parametrize("planes", [None, 3])
def test_stitch_grid_recovers_tile_offsets_within_one_pixel(planes):
    world, tiles, corners = _grid(seed=4, rows=2, cols=3, tile=80, overlap=0.2, planes=planes)
    mosaic, info = stitch_grid(tiles, (2, 3), 0.2)
    assert info["implementation"] == "python:skimage-phase-correlation"
    found = np.array(info["positions_px"])
    expected = corners - corners.min(axis=0)
    assert np.abs(found - expected).max() <= 1.0
    # where placement is exact the blended mosaic reproduces the scene
    y0, x0 = corners.min(axis=0).astype(int)
    ref = world[y0 : y0 + mosaic.shape[-2], x0 : x0 + mosaic.shape[-1]]
    plane = mosaic if planes is None else mosaic[0]
    assert plane.shape == ref.shape
    inner = (slice(10, 70), slice(10, -10))
    np.testing.assert_allclose(plane[inner], ref[inner], atol=1e-4)


def test_stitch_grid_keeps_nominal_place_for_a_blank_tile():
    _, tiles, _ = _grid(seed=1, rows=1, cols=2, tile=64, overlap=0.25)
    tiles[1] = np.zeros_like(tiles[1])
    _, info = stitch_grid(tiles, (1, 2), 0.25)
    assert not info["pairs"][0]["used"]
    assert info["positions_px"][1] == [0.0, 64 - 16]


def test_stitch_grid_checks_its_arguments():
    tiles = [np.zeros((32, 32))] * 3
    with pytest.raises(DeepZError, match="4 tiles"):
        stitch_grid(tiles, (2, 2), 0.2)
    with pytest.raises(DeepZError, match="overlap"):
        stitch_grid(tiles[:2], (1, 2), 0.6)


def test_python_preprocessor_fulfils_the_protocol_and_names_what_ran():
    pre = PythonPreprocessor()
    assert isinstance(pre, Preprocessor) and pre.name == "python"
    stack = blob_stack((5, 32, 32), n_blobs=4)
    aligned, reg = pre.register(stack)
    edf, edf_info = pre.edf(aligned)
    assert aligned.shape == stack.shape and edf.shape == (32, 32)
    assert reg["implementation"] == "python:pystackreg"
    assert edf_info["implementation"] == "python:numpy-edf-variance"
