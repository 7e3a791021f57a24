"""Model folders: write, find by name, load, predict (contract A).

A model folder holds

- ``saved_model/`` — the generator as a TensorFlow SavedModel; plain
  ``tf.saved_model.load(folder / 'saved_model').signatures['serving_default']`` works. Its
  input ``input`` is float32 ``[N, H, W, 2]`` (normalised image, Δz / dpm_scale_um; then one channel
  per ``config.physics_inputs`` entry, see :mod:`deepz_fiji.model.generator`) with H and W
  multiples of ``config.size_multiple``; its output ``output`` is float32 ``[N, H, W, 1]``.
- ``config.json`` — :class:`ModelConfig` (written last: a folder without it is unfinished).
- ``generator.weights.h5`` — the same weights for Keras (transfer learning, checks).
- ``checkpoint/``, ``training_log.csv``, ``training_curves.png`` when trained here.

Names resolve in ``$DEEPZ_MODELS_DIR`` (one or more folders separated by ``os.pathsep``), then
the repository's ``models/``, then ``~/.deepz/models``.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from deepz_fiji.errors import DeepZError
from deepz_fiji.model.config import ModelConfig

log = logging.getLogger(__name__)

#: Name of the model used when none is given (a folder in one of the search directories).
DEFAULT_MODEL = "widefield-20x-0.75na"
MODELS_ENV = "DEEPZ_MODELS_DIR"
SAVED_MODEL_DIR = "saved_model"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "generator.weights.h5"
CHECKPOINT_DIR = "checkpoint"
SIGNATURE = "serving_default"


# --------------------------------------------------------------------------- finding models
def model_search_dirs() -> list[Path]:
    """Folders searched for model names, in order."""
    dirs = [Path(p).expanduser() for p in os.environ.get(MODELS_ENV, "").split(os.pathsep) if p]
    dirs.append(Path(__file__).resolve().parents[2] / "models")
    dirs.append(Path.home() / ".deepz" / "models")
    return dirs


def available_models() -> dict[str, Path]:
    """Model names found in the search folders -> their folder (the first one found wins)."""
    found: dict[str, Path] = {}
    for base in model_search_dirs():
        if base.is_dir():
            for sub in sorted(base.iterdir()):
                if (sub / CONFIG_FILE).is_file() and sub.name not in found:
                    found[sub.name] = sub
    return found


def resolve_model_path(name_or_path: str | os.PathLike | None = None) -> Path:
    """The folder of a model given by path or by name (``None`` = :data:`DEFAULT_MODEL`)."""
    default = name_or_path is None
    if default:
        name_or_path = DEFAULT_MODEL
    candidate = Path(name_or_path).expanduser()
    if candidate.is_dir():
        return candidate
    text = str(name_or_path)
    looks_like_path = isinstance(name_or_path, os.PathLike) or "/" in text or os.sep in text
    if looks_like_path:
        raise DeepZError(f"model folder {candidate} does not exist; check the path or give a model name")
    models = available_models()
    if text in models:
        return models[text]
    names = ", ".join(sorted(models)) or "none"
    where = ", ".join(str(d) for d in model_search_dirs())
    if default:
        raise DeepZError(f"the default model {text!r} is not installed (searched {where}); choose a model "
                         f"with --model (available: {names}) or train one with deepz train")
    raise DeepZError(f"unknown model {text!r}; available models: {names} (searched {where}; "
                     f"set {MODELS_ENV} to add a folder)")


def load_config(name_or_path: str | os.PathLike | None = None) -> ModelConfig:
    """The ``config.json`` of a model given by name or path, without loading its network."""
    return ModelConfig.load(resolve_model_path(name_or_path) / CONFIG_FILE)


def load_model(name_or_path: str | os.PathLike | None = None) -> DeepZModel:
    """Load a model folder by name or path; :class:`DeepZError` if it is missing or broken."""
    return DeepZModel(resolve_model_path(name_or_path))


# --------------------------------------------------------------------------- writing models
def export_saved_model(generator: Any, folder: str | os.PathLike) -> Path:
    """Write ``generator`` as ``folder/saved_model`` with the documented serving signature.

    Written to a temporary folder first and swapped in, so an existing export stays intact if
    this fails.
    """
    import keras
    import tensorflow as tf

    folder = Path(folder)
    target = folder / SAVED_MODEL_DIR
    archive = keras.export.ExportArchive()
    archive.track(generator)

    channels = int(generator.input_shape[-1])

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, channels], tf.float32, name="input")])
    def serve(input):  # noqa: A002 - the argument name is the signature's input key
        return {"output": generator(input, training=False)}

    archive.add_endpoint(SIGNATURE, serve)
    tmp = Path(tempfile.mkdtemp(prefix=".saved_model.", dir=folder))
    try:
        archive.write_out(str(tmp), verbose=False)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; a model folder is for sharing
        _swap_in(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _swap_in(tmp: Path, target: Path) -> None:
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)


def save_weights(generator: Any, path: str | os.PathLike) -> Path:
    """Keras ``.weights.h5`` of ``generator``, written atomically."""
    path = Path(path)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    try:
        generator.save_weights(str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def save_model_folder(folder: str | os.PathLike, generator: Any, config: ModelConfig,
                      *, measure_receptive_field: bool = True) -> Path:
    """Write weights, SavedModel and (last) ``config.json`` of a generator into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_FILE).unlink(missing_ok=True)  # the folder is unfinished until rewritten
    save_weights(generator, folder / WEIGHTS_FILE)
    export_saved_model(generator, folder)
    if measure_receptive_field:
        from deepz_fiji.model.receptive import measure_receptive_field

        def predict(x: np.ndarray) -> np.ndarray:
            return generator(x, training=False).numpy()

        config.receptive_field_px = measure_receptive_field(predict, config.depth, channels=config.input_channels)
    config.save(folder / CONFIG_FILE)
    log.info("wrote model folder %s", folder)
    return folder


# --------------------------------------------------------------------------- using models
class DeepZModel:
    """A trained generator loaded from a model folder (contract A)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_dir():
            raise DeepZError(f"model folder {self.path} does not exist")
        self.config = ModelConfig.load(self.path / CONFIG_FILE)
        saved = self.path / SAVED_MODEL_DIR
        if not (saved / "saved_model.pb").is_file():
            raise DeepZError(f"model folder {self.path} has no {SAVED_MODEL_DIR}/saved_model.pb; "
                             "re-export the model (deepz train writes it) or pick another model")
        self._saved, self._serve = _load_signature(saved)

    def __repr__(self) -> str:
        return f"DeepZModel({self.config.name!r}, path={str(self.path)!r})"

    @property
    def name(self) -> str:
        return self.config.name

    def predict(self, x: np.ndarray, *, batch_size: int = 4) -> np.ndarray:
        """Run the generator on ``x`` float32 (N, H, W, C) of any H, W; returns (N, H, W, 1).

        C is ``config.input_channels``: 2 (image, DPM / scale), then the physics inputs if any.

        H and W are padded to ``config.size_multiple`` by edge replication and cropped back.
        """
        from deepz_fiji.io import check_finite

        x = np.asarray(x)
        channels = self.config.input_channels
        if x.ndim != 4 or x.shape[-1] != channels:
            names = ", ".join(["image", "DPM/scale", *self.config.physics_inputs])
            raise DeepZError(f"model input must have shape (N, H, W, {channels}) = ({names}), got {x.shape}")
        if x.shape[0] == 0 or x.shape[1] == 0 or x.shape[2] == 0:
            raise DeepZError(f"model input is empty (shape {x.shape})")
        x = x.astype(np.float32, copy=False)
        check_finite(x, "model input")
        n, h, w, _ = x.shape
        m = self.config.size_multiple
        pad = ((0, 0), (0, -h % m), (0, -w % m), (0, 0))
        xp = np.pad(x, pad, mode="edge") if any(p[1] for p in pad) else x
        out = np.empty((n, h, w, 1), np.float32)
        for start in range(0, n, max(1, int(batch_size))):
            y = self._serve(input=xp[start:start + batch_size])["output"].numpy()
            out[start:start + batch_size] = y[:, :h, :w, :]
        return out

    @property
    def receptive_field_px(self) -> int:
        """Full width (2·radius + 1) of the measured receptive field, in input pixels."""
        if self.config.receptive_field_px is None:
            from deepz_fiji.model.receptive import measure_receptive_field

            self.config.receptive_field_px = measure_receptive_field(self.predict, self.config.depth,
                                                                     channels=self.config.input_channels)
        return self.config.receptive_field_px

    @property
    def receptive_field_radius_px(self) -> int:
        """Pixels on each side of an output pixel that influence it (tile overlap needed)."""
        return (self.receptive_field_px - 1) // 2

    def keras_generator(self) -> Any:
        """The generator as a Keras model with this folder's weights (for training/transfer)."""
        from deepz_fiji.model.generator import generator_for

        weights = self.path / WEIGHTS_FILE
        if not weights.is_file():
            raise DeepZError(f"model folder {self.path} has no {WEIGHTS_FILE}; it cannot be used "
                             "for transfer learning (only models trained by deepz train carry it)")
        generator = generator_for(self.config)
        try:
            generator.load_weights(str(weights))
        except Exception as exc:  # noqa: BLE001 - any h5/shape problem is a broken folder
            raise DeepZError(f"{weights} does not match the architecture in config.json ({exc})") from exc
        return generator


def _load_signature(saved: Path) -> tuple[Any, Any]:
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(str(saved))
    except Exception as exc:  # noqa: BLE001 - TF raises many types for corrupt files
        raise DeepZError(f"cannot load the SavedModel in {saved} ({type(exc).__name__}); "
                         "the model folder is corrupt, re-export or re-download it") from exc
    if SIGNATURE not in loaded.signatures:
        raise DeepZError(f"SavedModel in {saved} has no '{SIGNATURE}' signature; re-export it")
    return loaded, loaded.signatures[SIGNATURE]  # keep ``loaded`` alive: it owns the variables
