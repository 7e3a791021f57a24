"""A copy of a model folder with other post-processing: the physics blend and the output level.

The network is not touched; only ``config.json`` changes (its description records the source and
the change). The source's measurements (its card, its suite record) describe other outputs and are
not copied. Useful to get a shipped model's network alone (``physics_blend`` 0, ``flux``), or
to try another level on your own data before measuring it (``deepz evaluate``).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from pathlib import Path

from deepz_fiji.errors import DeepZError
from deepz_fiji.model.config import ModelConfig
from deepz_fiji.model.folder import CONFIG_FILE, resolve_model_path


def write_variant(source: str | os.PathLike | None, out: str | os.PathLike, *, name: str | None = None,
                  physics_blend: float | None = None, output_level: str | None = None,
                  output_level_scale: float | None = None) -> Path:
    """Copy the model ``source`` (name or folder) to the new folder ``out`` with the given fields changed."""
    changes = {key: value for key, value in (("physics_blend", physics_blend), ("output_level", output_level),
                                             ("output_level_scale", output_level_scale)) if value is not None}
    if not changes:
        raise DeepZError("nothing to change: give --physics-blend, --output-level and/or --level-scale")
    folder = resolve_model_path(source)
    target = Path(out)
    if target.exists():
        raise DeepZError(f"{target} already exists; choose another --out or delete it first")
    config = ModelConfig.load(folder / CONFIG_FILE)
    new_name = name or target.name
    summary = ", ".join(f"{key} {value}" for key, value in changes.items())
    config = dataclasses.replace(config, name=new_name, **changes,
                                 description=f"{config.description}; variant of {config.name}: {summary}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        shutil.copytree(folder, tmp, dirs_exist_ok=True, ignore=shutil.ignore_patterns("report.*", "suite.json", "checkpoint"))
        config.save(tmp / CONFIG_FILE)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
