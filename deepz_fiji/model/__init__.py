"""Deep-Z networks and model folders (TensorFlow / Keras 3; contract A).

- :mod:`.config` — :class:`ModelConfig` (strict ``config.json``), presets ``paper``/``small``/``tiny``.
- :mod:`.generator`, :mod:`.discriminator`, :mod:`.losses` — the networks and LS-GAN losses.
- :mod:`.folder` — :func:`load_model`, :class:`DeepZModel`, writing model folders.
- :mod:`.receptive` — receptive field measured with an impulse.

The configuration classes import without TensorFlow; the networks import it on first use.
"""

from __future__ import annotations

from deepz_fiji.model.config import PRESETS, ModelConfig
from deepz_fiji.model.folder import (
    DEFAULT_MODEL,
    DeepZModel,
    available_models,
    load_model,
    model_search_dirs,
    resolve_model_path,
    save_model_folder,
)

__all__ = [
    "DEFAULT_MODEL",
    "PRESETS",
    "DeepZModel",
    "ModelConfig",
    "available_models",
    "build_discriminator",
    "build_generator",
    "load_model",
    "model_search_dirs",
    "resolve_model_path",
    "save_model_folder",
]


def __getattr__(name: str):
    """Lazy access to the Keras builders so ``import deepz_fiji.model`` stays light."""
    if name == "build_generator":
        from deepz_fiji.model.generator import build_generator

        return build_generator
    if name == "build_discriminator":
        from deepz_fiji.model.discriminator import build_discriminator

        return build_discriminator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
