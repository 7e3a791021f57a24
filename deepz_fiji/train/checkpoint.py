"""Resumable training state in ``<model folder>/checkpoint/``.

- ``ckpt-*`` — ``tf.train.Checkpoint`` of generator, discriminator, both Adam optimizers, the
  iteration, the best validation MAE and its iteration, and the training time so far. Written
  at every validation, so a killed run loses at most one validation interval.
- ``best.weights.h5`` — the generator with the lowest validation MAE so far (the one exported).
- ``snapshots/iter-NNNNNNN.weights.h5`` — with ``TrainConfig.snapshots``, the generator of every
  validation.
- ``run.json`` — the model config and training options the run started with; a resumed run
  must use the same architecture.

Randomness: network initialisation comes from the seed; the data stream (shard order,
crops, flips, intensity factors) is a pure function of ``(seed, iteration resumed from)``, so
a resumed run is reproducible, though not bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import tensorflow as tf

from deepz_fiji.errors import DeepZError
from deepz_fiji.io import write_json
from deepz_fiji.model.folder import CHECKPOINT_DIR, save_weights

log = logging.getLogger(__name__)

RUN_FILE = "run.json"
BEST_WEIGHTS = "best.weights.h5"
SNAPSHOTS = "snapshots"


def snapshot_path(model_folder: str | Path, iteration: int) -> Path:
    """Where the generator of the validation at ``iteration`` is kept (``TrainConfig.snapshots``)."""
    return Path(model_folder) / CHECKPOINT_DIR / SNAPSHOTS / f"iter-{iteration:07d}.weights.h5"


def snapshot_iterations(model_folder: str | Path) -> list[int]:
    """The iterations whose generators a run kept, in order."""
    folder = Path(model_folder) / CHECKPOINT_DIR / SNAPSHOTS
    found = (p.name[len("iter-"):-len(".weights.h5")] for p in folder.glob("iter-*.weights.h5"))
    return sorted(int(n) for n in found if n.isdigit())


def _kept_snapshot(model_folder: str | Path, iteration: int) -> Path:
    """The weights a run kept at ``iteration``; a missing one names those it did keep."""
    path = snapshot_path(model_folder, iteration)
    if not path.is_file():
        kept = ", ".join(map(str, snapshot_iterations(model_folder))) or "none (train with --snapshots)"
        raise DeepZError(f"{model_folder} kept no generator of iteration {iteration}; it kept: {kept}")
    return path


def _generator(config: Any, weights: Path | dict[Path, float]) -> Any:
    """``config``'s network holding ``weights``: a weights file, or weights files with their shares
    (their weighted mean, weight by weight)."""
    from deepz_fiji.model.generator import generator_for

    generator = generator_for(config)
    if isinstance(weights, Path):
        generator.load_weights(str(weights))
        return generator
    total, mean = sum(weights.values()), None
    for path, share in weights.items():
        generator.load_weights(str(path))
        part = [w * (share / total) for w in generator.get_weights()]
        mean = part if mean is None else [a + b for a, b in zip(mean, part, strict=True)]
    generator.set_weights(mean)
    return generator


def _save_generator(config: Any, weights: Path | dict[Path, float], out: str | Path) -> Path:
    """A model folder at ``out`` with ``config``'s network holding ``weights`` (:func:`_generator`)."""
    from deepz_fiji.model.folder import save_model_folder

    return save_model_folder(out, _generator(config, weights), config)


def _copy_log(run: Path, out: Path) -> None:
    import shutil

    from deepz_fiji.train.log import CURVES_FILE, LOG_FILE

    for name in (LOG_FILE, CURVES_FILE):
        if (run / name).is_file():
            shutil.copyfile(run / name, out / name)


def _validation_maes(generator: Any, model_folder: Path) -> tuple[float, float]:
    """A generator's validation MAE on a run's validation pairs, and with the signs of Δz flipped."""
    from deepz_fiji.data import read_dataset
    from deepz_fiji.model.config import ModelConfig
    from deepz_fiji.train.options import TrainConfig
    from deepz_fiji.train.pipeline import validation_arrays
    from deepz_fiji.train.steps import GanSteps

    run = read_run(model_folder)
    config, options = ModelConfig.from_dict(run["model"]), TrainConfig.from_dict(run["options"])
    images, targets, dz = validation_arrays(read_dataset(run["dataset"]), options, config.size_multiple, config)
    steps = GanSteps(generator, None, None, None, alpha=options.alpha, dpm_scale_um=config.dpm_scale_um)
    return (steps.validate(images, targets, dz, options.batch),
            steps.validate(images, targets, -dz, options.batch))


def has_checkpoint(model_folder: str | Path) -> bool:
    """True when ``model_folder/checkpoint`` holds a training checkpoint."""
    return tf.train.latest_checkpoint(str(Path(model_folder) / CHECKPOINT_DIR)) is not None


def read_run(model_folder: str | Path) -> dict[str, Any]:
    """The ``run.json`` a checkpointed run started with."""
    path = Path(model_folder) / CHECKPOINT_DIR / RUN_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DeepZError(f"cannot read {path} ({exc}); the checkpoint is incomplete, train into a new folder") from exc


def export_best(model_folder: str | Path, out: str | Path, iteration: int | None = None) -> Path:
    """Write the best generator so far of a (possibly still running) training run as a model folder.

    For judging a run before it ends: ``out`` gets the weights in ``checkpoint/best.weights.h5``
    (or, given ``iteration``, the snapshot of that validation) with the config the run started with
    (no training record, no validation metrics).
    """
    from deepz_fiji.model.config import ModelConfig

    if iteration is None:
        weights = Path(model_folder) / CHECKPOINT_DIR / BEST_WEIGHTS
        if not weights.is_file():
            raise DeepZError(f"{model_folder} has no {CHECKPOINT_DIR}/{BEST_WEIGHTS} yet; "
                             "wait for its first validation")
    else:
        weights = _kept_snapshot(model_folder, iteration)
    return _save_generator(ModelConfig.from_dict(read_run(model_folder)["model"]), weights, out)


def export_average(model_folder: str | Path, shares: dict[int, float], out: str | Path,
                   reason: str = "") -> Path:
    """A model folder at ``out`` whose generator is the weighted mean of the generators a run kept at
    the iterations of ``shares`` (iteration → share; shares need not sum to 1).

    Weight-space ensembling: the mean of a fine-tuned generator and the one it started from
    (iteration 0) keeps more of the start's behaviour on data unlike the fine-tuning's (Wortsman et
    al. 2022, WiSE-FT); the mean of late snapshots smooths their spread. A finished run gives its
    ``config.json`` (training record kept) with the validation block of the mean's own MAE on the
    run's validation pairs, ``kept`` naming the mix and ``kept_because`` the ``reason``; its log and
    curves are copied. A running one gives the config it started with, the mix in its description.
    """
    from deepz_fiji.model.config import ModelConfig
    from deepz_fiji.model.folder import CONFIG_FILE, save_model_folder

    if not shares or any(not (math.isfinite(v) and v >= 0) for v in shares.values()) or sum(shares.values()) <= 0:
        raise DeepZError(f"averaging needs iterations with shares >= 0 and a positive sum, got {shares!r}")
    run = Path(model_folder)
    weights = {_kept_snapshot(run, k): float(v) for k, v in shares.items()}
    mix = "weight average of " + ", ".join(f"{v:g} × iteration {k}" for k, v in sorted(shares.items()))
    if not (run / CONFIG_FILE).is_file():
        config = ModelConfig.from_dict(read_run(run)["model"])
        config.description = f"{config.description} [{mix} of {run.name}]".strip()
        return _save_generator(config, weights, out)
    config = ModelConfig.load(run / CONFIG_FILE)
    generator = _generator(config, weights)
    val_mae, flipped = _validation_maes(generator, run)
    config.validation = {**config.validation, "val_mae": val_mae, "val_mae_dz_flipped": flipped,
                         "kept": mix, "kept_because": reason}
    out = save_model_folder(out, generator, config)
    _copy_log(run, out)
    return out


def export_snapshot(model_folder: str | Path, iteration: int, out: str | Path, reason: str) -> Path:
    """A finished run's model folder, with the generator it kept at ``iteration`` instead of its best.

    For shipping the generator a benchmark chose: ``config.json`` keeps the run's training record;
    its validation block gets that generator's figures from the run's log (same pairs), ``kept``
    becomes ``"iteration N"`` and ``kept_because`` records ``reason``. The log and curves are copied.
    """
    import csv

    from deepz_fiji.model.config import ModelConfig
    from deepz_fiji.model.folder import CONFIG_FILE
    from deepz_fiji.train.log import LOG_FILE

    run = Path(model_folder)
    if not (run / CONFIG_FILE).is_file():
        raise DeepZError(f"{run} has no {CONFIG_FILE}: the run has not finished; let it finish (or judge its "
                         "generators with export_best) before shipping one")
    weights = _kept_snapshot(run, iteration)
    with open(run / LOG_FILE, newline="", encoding="utf-8") as fh:
        row = next((r for r in csv.DictReader(fh) if r["iteration"] == str(iteration) and r["val_mae"]), None)
    if row is None:
        raise DeepZError(f"{run / LOG_FILE} has no validation at iteration {iteration}")
    config = ModelConfig.load(run / CONFIG_FILE)
    config.validation = {**config.validation, "val_mae": float(row["val_mae"]),
                         "val_mae_dz_flipped": float(row["val_mae_dz_flipped"]),
                         "kept": f"iteration {iteration}", "kept_because": reason}
    out = _save_generator(config, weights, out)
    _copy_log(run, out)
    return out


class TrainingState:
    """Networks, optimizers and counters of a run, saved and restored together."""

    def __init__(self, model_folder: str | Path, generator: Any, discriminator: Any,
                 g_optimizer: Any, d_optimizer: Any, *, max_to_keep: int = 2):
        self.folder = Path(model_folder) / CHECKPOINT_DIR
        self.generator = generator
        self.iteration = tf.Variable(0, dtype=tf.int64, trainable=False, name="iteration")
        self.best_val_mae = tf.Variable(math.inf, dtype=tf.float64, trainable=False, name="best_val_mae")
        self.best_iteration = tf.Variable(-1, dtype=tf.int64, trainable=False, name="best_iteration")
        self.seconds = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="seconds")
        # optimizer slots must exist before a restore can fill them
        g_optimizer.build(generator.trainable_variables)
        d_optimizer.build(discriminator.trainable_variables)
        self.checkpoint = tf.train.Checkpoint(
            generator=generator, discriminator=discriminator, g_optimizer=g_optimizer,
            d_optimizer=d_optimizer, iteration=self.iteration, best_val_mae=self.best_val_mae,
            best_iteration=self.best_iteration, seconds=self.seconds)
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(self.folder), max_to_keep=max_to_keep)

    @property
    def best_weights(self) -> Path:
        return self.folder / BEST_WEIGHTS

    def start(self, run: dict[str, Any]) -> None:
        """Create the checkpoint folder and record how the run was started."""
        self.folder.mkdir(parents=True, exist_ok=True)
        write_json(self.folder / RUN_FILE, run)

    def restore(self) -> int:
        """Load the latest checkpoint; returns the iteration it was saved at."""
        latest = self.manager.latest_checkpoint
        if latest is None:
            raise DeepZError(f"no checkpoint in {self.folder} to resume from")
        try:
            self.checkpoint.restore(latest).assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as exc:
            raise DeepZError(f"checkpoint {latest} does not match this network ({exc}); "
                             "train into a new folder") from exc
        log.info("resumed from %s at iteration %d", latest, int(self.iteration))
        return int(self.iteration)

    def improve(self, val_mae: float, iteration: int) -> bool:
        """Record ``val_mae``; if it is the best so far, save the generator as the best one."""
        if not val_mae < float(self.best_val_mae):
            return False
        save_weights(self.generator, self.best_weights)
        self.best_val_mae.assign(val_mae)
        self.best_iteration.assign(iteration)
        return True

    def snapshot(self, iteration: int) -> Path:
        """Keep the generator as it is at ``iteration``."""
        path = snapshot_path(self.folder.parent, iteration)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_weights(self.generator, path)
        return path

    def save(self, iteration: int, seconds: float) -> str:
        """Write a checkpoint of everything at ``iteration``."""
        self.iteration.assign(iteration)
        self.seconds.assign(seconds)
        return self.manager.save(checkpoint_number=iteration)
