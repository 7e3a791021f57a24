"""Shared pytest fixtures."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
IJ_JAR = Path(os.environ.get("DEEPZ_IJ_JAR", "/usr/share/java/ij.jar"))


@pytest.fixture(scope="session")
def ij_jvm():
    """scyjava with real ImageJ 1.x (ij.jar) running in this process, started once per session.

    The JVM is started by the bridge (``deepz_fiji.fiji.start_imagej``), so every test module
    shares it; skips with the reason when Java or ij.jar is missing (CI installs libij-java).
    """
    if not IJ_JAR.exists():
        pytest.skip(f"ImageJ 1.x not found at {IJ_JAR} (apt-get install libij-java)")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java runtime found")
    import scyjava

    from deepz_fiji.fiji.host import start_imagej

    start_imagej(headless=True, ij_jar=IJ_JAR)
    return scyjava


@pytest.fixture
def run_cli(tmp_path):
    """Run ``python -m deepz_fiji ARGS`` in a subprocess; returns the CompletedProcess."""
    import subprocess
    import sys

    def run(*args: str, check: bool = False, timeout: float = 600):
        env = dict(os.environ, PYTHONPATH=str(REPO))
        env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the CLI quiets TensorFlow itself
        proc = subprocess.run([sys.executable, "-m", "deepz_fiji", *map(str, args)], capture_output=True,
                              text=True, cwd=tmp_path, env=env, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"deepz {' '.join(map(str, args))} failed:\n{proc.stderr}")
        return proc

    return run


@pytest.fixture(scope="session")
def make_tiny_model(tmp_path_factory):
    """Factory: ``make_tiny_model(name, **config_fields) -> Path`` of a saved random-weight model.

    A 3-level ``tiny`` generator with fixed random weights (seed 0) and the intensity gain
    ``deepz train`` gives new models, saved as a model folder with its measured receptive field;
    folders are cached per (name, fields).
    """
    from deepz_fiji.train.loop import DEFAULT_INTENSITY_GAIN
    cache: dict[tuple, Path] = {}

    def make(name: str = "tiny-test", **fields) -> Path:
        key = (name, tuple(sorted(fields.items())))
        if key not in cache:
            import keras

            from deepz_fiji.model import ModelConfig, save_model_folder
            from deepz_fiji.model.generator import generator_for

            keras.utils.set_random_seed(0)
            fields = {"intensity_gain": DEFAULT_INTENSITY_GAIN, **fields}
            config = ModelConfig.from_preset(name, "tiny", depth=3, **fields)
            folder = tmp_path_factory.mktemp("models") / name
            cache[key] = save_model_folder(folder, generator_for(config), config)
        return cache[key]

    return make


@pytest.fixture(scope="module")
def shipped_model(request):
    """The model in ``models/`` named by the test module's ``SHIPPED``; its tests skip if it is not there."""
    from deepz_fiji.model import available_models, load_model

    name = request.module.SHIPPED
    if name not in available_models():
        pytest.skip(f"model {name!r} is not shipped in models/")
    return load_model(name)
