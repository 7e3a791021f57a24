"""Fixtures for the ImageJ/Fiji bridge tests.

- ``imagej_host``: real ImageJ 1.x (ij.jar) in this process, headless, started once per session
  (the JVM cannot restart); skipped with the reason when Java, ij.jar or jpype/scyjava is missing.
- ``tiny_model_dir``: a random-weight 3-level tiny generator saved as a model folder.
- ``fiji_test_env``: environment for subprocesses (repository on PYTHONPATH, no forced headless).
- ``artifacts_dir``: ``test-artifacts/`` in the repository, for screenshots.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "fiji_scripts" / "Deep-Z"


def java_skip_reason() -> str | None:
    """Why the real-ImageJ tests cannot run here, or None."""
    from deepz_fiji.errors import DeepZError

    try:
        import jpype  # noqa: F401
        import scyjava  # noqa: F401
    except ImportError as exc:
        return f"jpype/scyjava not installed ({exc}); pip install 'deepz-fiji[fiji]'"
    from deepz_fiji.fiji.java import find_ij_jar, find_java

    try:
        find_java()
        find_ij_jar()
    except DeepZError as exc:
        return str(exc)
    return None


@pytest.fixture(scope="session")
def require_java() -> None:
    """Skip (with the reason) unless Java, ij.jar and jpype/scyjava are here; starts nothing."""
    reason = java_skip_reason()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def imagej_host():
    reason = java_skip_reason()
    if reason:
        pytest.skip(reason)
    from deepz_fiji.fiji.host import start_imagej

    return start_imagej(headless=True)


@pytest.fixture(scope="session")
def tiny_model_dir(make_tiny_model) -> Path:
    return make_tiny_model("tiny-fiji-test", pixel_um=0.5)


@pytest.fixture(scope="session")
def fiji_test_env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="3")
    return env


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    folder = REPO / "test-artifacts"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture
def fiji_app(tmp_path) -> Path:
    """A Fiji.app-shaped folder (jars/ with an ImageJ jar, plugins/), no real Fiji inside."""
    app = tmp_path / "Fiji.app"
    (app / "jars").mkdir(parents=True)
    (app / "plugins").mkdir()
    jar = Path("/usr/share/java/ij.jar")
    target = app / "jars" / "ij-1.53t.jar"
    if jar.is_file():
        shutil.copyfile(jar, target)
    else:
        target.write_bytes(b"")
    return app


def _sample_image(shape=(40, 48), seed=0, dtype=np.uint16) -> np.ndarray:
    from scipy import ndimage as ndi

    rng = np.random.default_rng(seed)
    spots = np.zeros(shape, np.float32)
    spots[rng.integers(4, shape[0] - 4, 8), rng.integers(4, shape[1] - 4, 8)] = 4000
    image = ndi.gaussian_filter(spots, 1.5) * 8 + 100 + rng.normal(0, 5, shape)
    return np.clip(image, 0, np.iinfo(dtype).max if np.issubdtype(dtype, np.integer) else None).astype(dtype)


@pytest.fixture(scope="session")
def sample_image():
    """``sample_image(shape, seed, dtype)``: a small fluorescence-like image (blurred spots on a background)."""
    return _sample_image
