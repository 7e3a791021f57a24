"""The Deep-Z training loop: optional MAE warm-up, then LS-GAN iterations (SPEC §3).

:func:`train` reads a dataset folder (contract B), trains, validates every ``val_every``
iterations, checkpoints at every validation, keeps the generator with the lowest validation
MAE and finally writes the model folder (contract A): ``saved_model/``, ``config.json``,
``generator.weights.h5``, ``checkpoint/``, ``training_log.csv``, ``training_curves.png`` and
TensorBoard ``logs/``. A folder holding a checkpoint is resumed automatically; a finished
one is extended when asked for more iterations.
"""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepz_fiji.errors import DeepZError
from deepz_fiji.model.config import ModelConfig
from deepz_fiji.model.folder import CONFIG_FILE, SAVED_MODEL_DIR, load_model, save_model_folder
from deepz_fiji.train.options import TrainConfig

#: Intensity gain of newly trained generators (see :mod:`deepz_fiji.model.generator`): with the
#: paper's gain of 1, CPU-length runs learned how far to refocus but not in which direction.
DEFAULT_INTENSITY_GAIN = 20.0

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
EventHook = Callable[[str, dict[str, Any]], None]


@dataclass
class TrainResult:
    """What a finished (or stopped) run reports."""

    path: Path
    iteration: int
    best_val_mae: float
    best_iteration: int
    baseline_mae: float
    seconds: float
    finished: bool
    kept: str = "best"
    val_mae: float | None = None  # of the exported generator (finished runs)


def train(
    dataset: str | Path,
    out: str | Path,
    *,
    preset: str | None = None,
    width: float | None = None,
    depth: int | None = None,
    options: TrainConfig | dict[str, Any] | None = None,
    init_from: str | Path | None = None,
    resume: bool = False,
    name: str | None = None,
    model_fields: dict[str, Any] | None = None,
    command: str | None = None,
    progress: Progress | None = None,
    on_event: EventHook | None = None,
    stop_after: int | None = None,
) -> TrainResult:
    """Train a generator on ``dataset`` into the model folder ``out``.

    ``preset`` (default ``small``)/``width``/``depth`` choose the architecture; when resuming
    the checkpoint's architecture is used and given values must not contradict it. ``resume=True`` insists on a
    checkpoint in ``out``; without it a checkpoint there is resumed automatically.
    ``init_from``: model name or folder whose generator weights start a fresh run (same
    architecture). ``model_fields``: extra :class:`ModelConfig` fields (``na``, ``modality`` …).
    ``on_event(kind, info)`` is called with ``'validation'`` and ``'resumed'`` events (``info``
    holds ``iteration``, ``val_mae``… and the live ``generator``). ``stop_after``: stop
    (as if killed) after this iteration without exporting — for tests.
    ``options['precision']`` (default: the resumed run's, else ``$DEEPZ_PRECISION``, else float32)
    sets the arithmetic of every training and validation step.
    """
    from deepz_fiji.refocus.precision import precision_scope

    given = options.to_dict() if isinstance(options, TrainConfig) else dict(options or {})
    given["precision"] = _precision(given, Path(out))
    with precision_scope(given["precision"]):
        return _train(dataset, out, preset=preset, width=width, depth=depth, given=given, init_from=init_from,
                      resume=resume, name=name, model_fields=model_fields, command=command, progress=progress,
                      on_event=on_event, stop_after=stop_after)


def _precision(given: dict[str, Any], out: Path) -> str:
    """The precision asked for, else the resumed run's, else ``$DEEPZ_PRECISION`` (checked against the CPU)."""
    from deepz_fiji.refocus.precision import check_precision
    from deepz_fiji.train.checkpoint import has_checkpoint, read_run

    value = given.get("precision")
    if value is None and has_checkpoint(out):
        value = read_run(out)["options"].get("precision")
    return check_precision(value)


def _train(dataset: str | Path, out: str | Path, *, preset: str | None, width: float | None, depth: int | None,
           given: dict[str, Any], init_from: str | Path | None, resume: bool, name: str | None,
           model_fields: dict[str, Any] | None, command: str | None, progress: Progress | None,
           on_event: EventHook | None, stop_after: int | None) -> TrainResult:
    """:func:`train` with its options as a dict, inside the precision scope."""
    import keras
    import tensorflow as tf

    from deepz_fiji.data import read_dataset
    from deepz_fiji.model.discriminator import build_discriminator
    from deepz_fiji.model.generator import generator_for
    from deepz_fiji.train.checkpoint import TrainingState, has_checkpoint, read_run
    from deepz_fiji.train.log import TrainingLog
    from deepz_fiji.train.pipeline import training_patch, training_stream, validation_arrays
    from deepz_fiji.train.steps import GanSteps

    data = read_dataset(dataset)
    out = Path(out)
    resuming = has_checkpoint(out)
    if resume and not resuming:
        raise DeepZError(f"--resume was given but {out} holds no training checkpoint; drop --resume to start")
    if not resuming and out.exists() and ((out / CONFIG_FILE).exists() or (out / SAVED_MODEL_DIR).exists()):
        raise DeepZError(f"{out} already holds a model without a training checkpoint; choose another --out")

    fields = {**_dataset_fields(data.manifest), **(model_fields or {})}
    if resuming:
        run = read_run(out)
        config = ModelConfig.from_dict(run["model"])
        _check_resume(config, preset, width, depth)
        options = _resumed_options(run["options"], given)
        init_from = run.get("init_from")
    else:
        options = TrainConfig.from_dict(given)
        source = None if init_from is None else load_model(init_from)
        fields.setdefault("intensity_gain", DEFAULT_INTENSITY_GAIN if source is None else source.config.intensity_gain)
        if source is not None:
            fields.setdefault("dpm_scale_um", source.config.dpm_scale_um)
        config = ModelConfig.from_preset(name or out.name, preset or "small", width=width, depth=depth, **fields)

    keras.utils.set_random_seed(options.seed)
    generator = generator_for(config)
    discriminator = build_discriminator(config.width, intensity_gain=config.intensity_gain)
    g_opt = keras.optimizers.Adam(learning_rate=options.lr_g)
    d_opt = keras.optimizers.Adam(learning_rate=options.lr_d)
    state = TrainingState(out, generator, discriminator, g_opt, d_opt)
    steps = GanSteps(generator, discriminator, g_opt, d_opt, alpha=options.alpha,
                     dpm_scale_um=config.dpm_scale_um)

    if resuming:
        start = state.restore()
        g_opt.learning_rate, d_opt.learning_rate = options.lr_g, options.lr_d  # not the checkpoint's
        if start > options.total_iterations:
            raise DeepZError(f"{out} has already been trained for {start} iterations, more than the "
                             f"{options.total_iterations} asked for; ask for more with --iterations")
        resumes = [*run.get("resumes", []), {"iteration": start, "command": command, "options": options.to_dict()}]
        run = {**run, "options": options.to_dict(), "resumes": resumes}
        state.start(run)
        _emit(on_event, "resumed", iteration=start, generator=generator)
    else:
        start = 0
        if source is not None:
            _init_generator(generator, config, source, options.seed, options.physics_share)
        out.mkdir(parents=True, exist_ok=True)
        state.start({"model": config.to_dict(), "options": options.to_dict(), "dataset": str(data.path),
                     "init_from": None if init_from is None else str(init_from), "command": command})
    patch = training_patch(data, options, config.size_multiple)
    val = validation_arrays(data, options, config.size_multiple, config)
    inputs = val[0] if val[0].ndim == 3 else val[0][..., 0]  # the image, without physics channels
    baseline = float(np.mean(np.abs(inputs - val[1])))  # "do nothing": input as the prediction
    history = TrainingLog(out, resume_iteration=start if resuming else None)
    total = options.total_iterations
    batches = iter(training_stream(data, options, patch, start=start, config=config))
    seconds0, t0 = float(state.seconds.numpy()), time.perf_counter()

    def elapsed() -> float:
        return seconds0 + time.perf_counter() - t0

    def validate(iteration: int, phase: str, sums: dict[str, list[float]]) -> None:
        val_mae = steps.validate(*val, batch=options.batch)
        # the same pairs with the sign of Δz flipped: well above val_mae only if the network knows up from down
        flipped = steps.validate(val[0], val[1], -val[2], batch=options.batch)
        improved = state.improve(val_mae, iteration)
        if options.snapshots:
            state.snapshot(iteration)
        history.record({**_means(sums), "iteration": iteration, "phase": phase, "val_mae": val_mae,
                        "val_mae_dz_flipped": flipped,
                        "best_val_mae": float(state.best_val_mae.numpy()), "time_s": round(elapsed(), 2)})
        state.save(iteration, elapsed())
        history.flush()
        _emit(on_event, "validation", iteration=iteration, val_mae=val_mae, val_mae_dz_flipped=flipped,
              improved=improved,
              best_val_mae=float(state.best_val_mae.numpy()), generator=generator)

    if start == 0:
        validate(0, "start", {})
    last_validation = elapsed()
    sums: dict[str, list[float]] = {}
    dropped = False
    for iteration in range(start + 1, total + 1):
        if not dropped and options.lr_drop_at_s is not None and elapsed() >= options.lr_drop_at_s:
            g_opt.learning_rate = options.lr_g * options.lr_drop_factor
            d_opt.learning_rate = options.lr_d * options.lr_drop_factor
            dropped = True
            log.info("learning rates × %g from iteration %d", options.lr_drop_factor, iteration)
        phase = "warmup" if iteration <= options.warmup else "gan"
        if phase == "warmup":
            _add(sums, steps.warmup(*next(batches)))
        else:
            for _ in range(options.d_steps):
                _add(sums, steps.discriminator_step(*next(batches)))
            for _ in range(options.g_steps):
                _add(sums, steps.generator_step(*next(batches)))
        out_of_time = options.max_seconds is not None and elapsed() >= options.max_seconds
        if (iteration % options.val_every == 0 or iteration == total or out_of_time
                or options.val_every_s is not None and elapsed() - last_validation >= options.val_every_s):
            validate(iteration, phase, sums)
            sums, last_validation = {}, elapsed()
        elif iteration % options.log_every == 0:
            history.record({**_means(sums), "iteration": iteration, "phase": phase, "time_s": round(elapsed(), 2)})
            sums = {}
        if progress is not None:
            progress(iteration, total)
        if out_of_time:
            log.info("time budget of %.0f s spent at iteration %d", options.max_seconds, iteration)
            total = iteration
            break
        if stop_after is not None and iteration >= stop_after and iteration < total:
            history.close()
            return TrainResult(out, iteration, float(state.best_val_mae.numpy()),
                               int(state.best_iteration.numpy()), baseline, elapsed(), finished=False)
    history.close()

    # export the best (or the last) generator; the checkpoint keeps the last state for extending the run
    if options.keep == "best":
        generator.load_weights(str(state.best_weights))
    final_mae = steps.validate(*val, batch=options.batch)
    final_flipped = steps.validate(val[0], val[1], -val[2], batch=options.batch)
    config.training = _training_record(data, options, patch, run.get("command") if resuming else command, init_from,
                                       resumes=run["resumes"] if resuming else [], iteration=total,
                                       seconds=elapsed())
    config.validation = {
        "metric": "mae", "val_mae": final_mae, "kept": options.keep,
        "best_iteration": int(state.best_iteration.numpy()),
        "best_val_mae": float(state.best_val_mae.numpy()),
        "baseline_mae_input_as_output": baseline, "val_mae_dz_flipped": final_flipped,
        "val_pairs": int(len(val[2])),
        "val_patch": int(val[1].shape[-1]),
    }
    config.versions = _versions(tf, keras)
    save_model_folder(out, generator, config)
    return TrainResult(out, total, float(state.best_val_mae.numpy()), int(state.best_iteration.numpy()), baseline,
                       elapsed(), finished=True, kept=options.keep, val_mae=final_mae)


# --------------------------------------------------------------------------- helpers
def _add(sums: dict[str, list[float]], losses: dict[str, Any]) -> None:
    for key, value in losses.items():
        sums.setdefault(key, []).append(float(value))


def _means(sums: dict[str, list[float]]) -> dict[str, float]:
    return {key: float(np.mean(values)) for key, values in sums.items()}


def _emit(hook: EventHook | None, kind: str, **info: Any) -> None:
    if hook is not None:
        hook(kind, info)


#: ``config.json`` ``normalization.reference`` of a model trained on ``--norm-reference input`` data.
REFERENCE_INPUT = "each training input plane on itself, as a single test image is normalised"


def _dataset_fields(manifest: dict[str, Any]) -> dict[str, Any]:
    """ModelConfig fields the dataset determines: calibration, trained Δz range, modality."""
    fields: dict[str, Any] = {}
    if isinstance(manifest.get("modality"), str):
        fields["modality"] = manifest["modality"]
    for key in ("pixel_um", "z_step_um"):
        if isinstance(manifest.get(key), (int, float)):
            fields[key] = float(manifest[key])
    dz = manifest.get("dz_range_um")
    if isinstance(dz, list) and len(dz) == 2 and dz[0] < dz[1]:
        fields["dz_min_um"], fields["dz_max_um"] = float(dz[0]), float(dz[1])
    normalization = manifest.get("normalization") or {}
    if normalization.get("method"):
        reference = (REFERENCE_INPUT if normalization.get("reference") == "input" else
                     "edf of each training stack; a single test image is normalised on itself")
        fields["normalization"] = {"method": normalization["method"], "reference": reference}
    return fields


def _check_resume(config: ModelConfig, preset: str | None, width: float | None, depth: int | None) -> None:
    """Refuse architecture options that contradict the checkpoint being resumed."""
    if width is not None and width != config.width or depth is not None and depth != config.depth:
        raise DeepZError(f"the checkpoint was trained with width {config.width} and depth {config.depth}; "
                         "resume without --width/--depth or train into a new folder")
    if width is None and depth is None and preset not in (None, config.preset, "custom"):
        from deepz_fiji.model.config import PRESETS

        if PRESETS.get(preset) != (config.width, config.depth):
            raise DeepZError(f"the checkpoint is a {config.preset!r} network, not {preset!r}; resume with "
                             f"--preset {config.preset} or train into a new folder")


#: Options a resumed run may change (run length, schedule by hand, logging cadence); the
#: others must stay as the run started.
RESUME_CHANGEABLE = ("iterations", "warmup", "lr_g", "lr_d", "val_every", "log_every", "keep", "max_seconds",
                     "val_every_s", "lr_drop_at_s", "lr_drop_factor", "snapshots", "precision")


def _resumed_options(saved: dict[str, Any], given: dict[str, Any]) -> TrainConfig:
    """The saved options of a run, with the run length, learning rates and logging cadence updated."""
    saved_options = TrainConfig.from_dict(saved).to_dict()
    for key, value in given.items():
        if key not in RESUME_CHANGEABLE and key in saved_options and value != saved_options[key]:
            raise DeepZError(f"the run being resumed used {key}={saved_options[key]!r}, not {value!r}; "
                             f"resume with the same value or train into a new folder")
    return TrainConfig.from_dict({**saved_options, **{k: v for k, v in given.items() if k in RESUME_CHANGEABLE}})


def _init_generator(generator: Any, config: ModelConfig, source: Any, seed: int = 0, share: float = 0.0) -> None:
    """Copy the generator weights of ``source`` (a loaded model of the same gain and depth).

    A source of smaller width is widened function-preservingly (:mod:`deepz_fiji.model.widen`); a
    source without this network's physics input channels gets ``share`` of the image channel's
    first-layer weights on each of them (0: zero weights, the same function).
    """
    same = source.config.same_architecture(config)
    add_inputs = (not same and source.config.widths == config.widths and not source.config.physics_inputs
                  and bool(config.physics_inputs))
    widen = (not same and not add_inputs and source.config.depth == config.depth
             and source.config.width < config.width and source.config.physics_inputs == config.physics_inputs)
    if source.config.physics_inputs and source.config.physics_inputs != config.physics_inputs:
        raise DeepZError(f"--init-from model {source.name!r} reads physics inputs {source.config.physics_inputs}, "
                         f"not {config.physics_inputs}; give the same --physics-inputs")
    if not (same or widen or add_inputs):
        raise DeepZError(f"--init-from model {source.name!r} has width {source.config.width} and depth "
                         f"{source.config.depth}, which does not match this network (width {config.width}, "
                         f"depth {config.depth}); choose the same --depth and the same or a larger --width")
    if source.config.intensity_gain != config.intensity_gain:
        raise DeepZError(f"--init-from model {source.name!r} was trained with intensity gain "
                         f"{source.config.intensity_gain}, not {config.intensity_gain}; drop --intensity-gain")
    if source.config.dpm_scale_um != config.dpm_scale_um:
        raise DeepZError(f"--init-from model {source.name!r} reads its DPM channel as Δz / "
                         f"{source.config.dpm_scale_um:g} µm, not / {config.dpm_scale_um:g} µm; drop --dpm-scale-um")
    if widen:
        from deepz_fiji.model.widen import TRAINING_NOISE, widen_generator

        widen_generator(source.keras_generator(), generator, config.depth, noise=TRAINING_NOISE, seed=seed)
        log.info("generator initialised from %s, widened from width %g to %g", source.path,
                 source.config.width, config.width)
        return
    if add_inputs:
        _copy_adding_inputs(source.keras_generator(), generator, share)
        log.info("generator initialised from %s, with %g of the image weights on the physics inputs %s",
                 source.path, share, ", ".join(config.physics_inputs))
        return
    generator.set_weights(source.keras_generator().get_weights())
    log.info("generator initialised from %s", source.path)


def _copy_adding_inputs(source: Any, generator: Any, share: float = 0.0) -> None:
    """Copy every layer's weights; a kernel reading more input channels gets ``share`` of its image
    channel's (channel 0) weights on each new one and keeps the rest on the image."""
    layers = {layer.name: layer for layer in source.layers}
    for layer in generator.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        old = layers[layer.name].get_weights()
        new = []
        for w, o in zip(weights, old, strict=True):
            if w.shape != o.shape:  # (kh, kw, in, out) with more inputs
                added = np.repeat(share * o[:, :, :1], w.shape[2] - o.shape[2], axis=2)
                o = np.concatenate([o, added], axis=2)
                o[:, :, 0] *= 1 - share * added.shape[2]
            new.append(o)
        layer.set_weights(new)


def _training_record(data: Any, options: TrainConfig, patch: int,
                     command: str | None, init_from: Any, *, resumes: list[dict[str, Any]], iteration: int,
                     seconds: float) -> dict[str, Any]:
    m = data.manifest
    return {
        "command": command,
        "dataset": {
            "path": str(data.path),
            "counts": m.get("counts"),
            "patch": m.get("patch"),
            "planes": m.get("planes"),
            "z_step_um": m.get("z_step_um"),
            "pixel_um": m.get("pixel_um"),
            "dz_range_um": m.get("dz_range_um"),
            "fovs": {split: len(info.get("fovs", [])) for split, info in m.get("splits", {}).items()},
            "normalization": (m.get("normalization") or {}).get("method"),
        },
        "options": options.to_dict(),
        "patch": patch,
        "iterations": iteration,
        "warmup_iterations": options.warmup,
        "gan_iterations": max(0, iteration - options.warmup),
        "pairs_seen": options.batch * (min(iteration, options.warmup)
                                       + max(0, iteration - options.warmup) * (options.g_steps + options.d_steps)),
        "seconds": round(seconds, 1),
        "init_from": str(init_from) if init_from is not None else None,
        "resumed_from": resumes[-1]["iteration"] if resumes else None,
        # every resume of the run: where it went on, and the command and options it went on with
        "resumes": resumes,
    }


def _versions(tf: Any, keras: Any) -> dict[str, str]:
    from deepz_fiji import __version__

    return {"deepz_fiji": __version__, "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": np.__version__, "python": platform.python_version()}

