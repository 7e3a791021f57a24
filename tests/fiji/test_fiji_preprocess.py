"""Contract-B preprocessing through ImageJ: headless ImageJ 1.x has no commands, so Python runs and says so."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

pytestmark = pytest.mark.imagej


@pytest.fixture(scope="module")
def pre(imagej_host):
    from deepz_fiji.fiji.preprocess import fiji_preprocessor

    return fiji_preprocessor(imagej_host)


def _stack(seed=0, shift=(0.0, 0.0)):
    rng = np.random.default_rng(seed)
    plane = ndi.gaussian_filter(rng.random((48, 48)).astype(np.float32), 2)
    return np.stack([ndi.shift(plane, (shift[0] * z, shift[1] * z)) for z in range(4)])


def test_preprocessor_matches_the_protocol(pre):
    from deepz_fiji.data import Preprocessor

    assert isinstance(pre, Preprocessor) and pre.name == "fiji"


def test_register_falls_back_to_pystackreg_and_says_why(pre):
    from deepz_fiji.data import stack_register

    stack = _stack(shift=(1.0, -2.0))
    aligned, info = pre.register(stack)
    assert info["implementation"] == "python:pystackreg"
    assert "no menu command table" in info["fiji_fallback"]
    expected, _ = stack_register(stack)
    np.testing.assert_allclose(aligned, expected)


def test_edf_and_stitch_fall_back(pre):
    edf, info = pre.edf(_stack())
    assert edf.shape == (48, 48) and info["implementation"].startswith("python:") and info["fiji_fallback"]
    big = ndi.gaussian_filter(np.random.default_rng(1).random((60, 100)).astype(np.float32), 2)
    tiles = [big[:, :60], big[:, 40:]]
    mosaic, sinfo = pre.stitch(tiles, (1, 2), 20 / 60)
    assert sinfo["implementation"].startswith("python:") and sinfo["fiji_fallback"]
    assert mosaic.shape == big.shape
    np.testing.assert_allclose(mosaic, big, atol=1e-4)
