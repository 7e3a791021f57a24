"""``deepz fit``: a folder of calibrated z-stacks to a validated model and its card, in a time budget.

Steps, each resumable (the same call continues a killed run; ``OUT/fit.json`` records the plan):

1. **Plan** (:func:`plan_fit`): read every stack's calibration (one calibration for all), hold out
   the last ``val_stacks`` stacks by name, take the trained |Δz| range from what the thinnest
   stack covers (or check an asked one against it) and choose the transfer source
   (:func:`choose_source`): the installed wide-field model whose optics are closest in the
   network's own units (PSF width in pixels, depth of field in µm), or none.
2. **Prepare** the training pairs (registration, EDF normalisation, regions, focus targets) into
   ``OUT/fit/dataset``.
3. **Train** MAE-only until the budget is spent (``max_seconds``: what is left of ``minutes``
   after preparing, less a reserve for the card), with the learning rate cut to a quarter for the
   last quarter of it, validating on the held-out stacks every eighth of the budget and keeping
   the best generator.
4. **Card** (:mod:`deepz_fiji.evaluate.card`): the exported model on the held-out stacks
   against the input plane and the physics blur; the dataset is then removed.
"""

from __future__ import annotations

import csv
import logging
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from deepz_fiji.errors import DeepZError
from deepz_fiji.model.folder import available_models, load_config, resolve_model_path

log = logging.getLogger(__name__)

FIT_FILE = "fit.json"
WORK_DIR = "fit"
#: Transfer only from a model whose PSF width in pixels is within this factor of the data's and
#: whose depth of field is within :data:`CLOSE_AXIAL` of it.
CLOSE_LATERAL = 1.5
CLOSE_AXIAL = 3.0
#: Seconds of the budget kept for exporting the model and writing its card (at most half the budget).
CARD_RESERVE_S = 60.0
#: Fewest training seconds a budget must leave.
MIN_TRAIN_S = 10.0
#: Fewest planes a stack needs (a focus plane and two on each side).
MIN_PLANES = 5
#: The schedule: Adam at these rates (transfer, from scratch), times LR_DROP_FACTOR for the last
#: quarter of the budget; VALIDATIONS validations (and checkpoints) per budget on VAL_SAMPLES pairs.
LR_TRANSFER, LR_SCRATCH = 2e-4, 4e-4
LR_DROP_AT, LR_DROP_FACTOR = 0.75, 0.25
VALIDATIONS, VAL_SAMPLES = 8, 128


@dataclass
class FitPlan:
    """What a fit will do; stored in ``OUT/fit.json`` so that a resumed run does the same."""

    stacks: list[str]
    held_out: list[str]
    pixel_um: float
    z_step_um: float
    range_um: float
    patch: int
    source: str | None
    source_reason: str
    na: float
    wavelength_um: float
    immersion_index: float
    optics_given: bool
    minutes: float
    seed: int = 0
    done: bool = False
    prepare_s: float | None = None
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        train = len(self.stacks) - len(self.held_out)
        optics = (f"NA {self.na:g}, emission {self.wavelength_um:g} µm, immersion n {self.immersion_index:g}"
                  + ("" if self.optics_given else " (assumed: pass --na/--wavelength-um/--immersion-index)"))
        return "\n".join([
            f"{len(self.stacks)} stacks ({train} to train on, held out: {', '.join(self.held_out)}); "
            f"pixel {self.pixel_um:g} µm, z-step {self.z_step_um:g} µm; trained Δz range ±{self.range_um:g} µm",
            f"optics: {optics}",
            f"start: {self.source_reason}",
            f"budget: {self.minutes:g} min",
        ])


@dataclass
class FitResult:
    path: Path
    plan: FitPlan
    card: dict[str, Any]
    seconds: float


# --------------------------------------------------------------------------- planning
def _model_configs() -> dict[str, Any]:
    configs = {}
    for name, path in available_models().items():
        try:
            configs[name] = load_config(path)
        except DeepZError as exc:
            log.warning("skipping model %s as a transfer source: %s", name, exc)
    return configs


def _scales(pixel_um: float, na: float, wavelength_um: float, immersion: float) -> tuple[float, float]:
    """(lateral PSF width in pixels, depth of field in µm)."""
    return 0.61 * wavelength_um / na / pixel_um, wavelength_um * immersion / na ** 2


def choose_source(pixel_um: float, na: float | None, wavelength_um: float | None,
                  immersion_index: float | None, configs: dict[str, Any] | None = None) -> tuple[str | None, str]:
    """The closest installed wide-field model to transfer from, or ``None``; and a sentence why.

    Closeness is measured where the network sees it: the lateral PSF width in pixels (within
    ×1.5) and the depth of field in µm (within ×3); unknown optics are taken as each model's own.
    """
    configs = _model_configs() if configs is None else configs
    best: tuple[float, str, str] | None = None
    for name, c in configs.items():
        if c.modality != "widefield":
            continue
        ours = _scales(pixel_um, na or c.na, wavelength_um or c.wavelength_um,
                       immersion_index or c.immersion_index or 1.0)
        theirs = _scales(c.pixel_um, c.na, c.wavelength_um, c.immersion_index or 1.0)
        lateral, axial = ours[0] / theirs[0], ours[1] / theirs[1]
        if max(lateral, 1 / lateral) > CLOSE_LATERAL or max(axial, 1 / axial) > CLOSE_AXIAL:
            continue
        distance = abs(math.log(lateral)) + abs(math.log(axial))
        why = (f"transfer from {name} (its PSF is {lateral:.2f}x as wide in pixels as this data's, its depth of "
               f"field {axial:.2f}x as deep: the closest installed model)")
        if best is None or distance < best[0]:
            best = (distance, name, why)
    if best is None:
        return None, ("from scratch: no installed wide-field model has a PSF within x1.5 in pixels and a depth of "
                      "field within x3 of this data's (give --from MODEL to transfer anyway)")
    return best[1], best[2]


def _stack_infos(stack_dir: str | Path, pixel_um: float | None, z_step_um: float | None) -> list[Any]:
    from deepz_fiji.data.stacks import find_stacks, load_stack

    infos = [load_stack(p, pixel_um=pixel_um, z_step_um=z_step_um) for p in find_stacks(stack_dir)]
    first = infos[0]
    for s in infos[1:]:
        for what, a, b in (("pixel size", first.pixel_um, s.pixel_um), ("z-step", first.z_step_um, s.z_step_um)):
            if abs(a - b) > 0.01 * a:
                raise DeepZError(f"{s.path.name} has {what} {b:g} µm but {first.path.name} has {a:g} µm; one model "
                                 "needs one calibration: put the stacks of each calibration in a folder of their own")
    return infos


def plan_fit(stack_dir: str | Path, *, source: str | None = None, minutes: float = 20.0, val_stacks: int = 1,
             pixel_um: float | None = None, z_step_um: float | None = None, range_um: float | None = None,
             na: float | None = None, wavelength_um: float | None = None, immersion_index: float | None = None,
             seed: int = 0) -> FitPlan:
    """Check the stacks and decide the fit (see the module docstring); :class:`DeepZError` on bad input."""
    if not (minutes > 0 and math.isfinite(minutes)):
        raise DeepZError(f"--minutes must be a positive number, got {minutes}")
    if val_stacks < 1:
        raise DeepZError(f"--val-stacks must be at least 1 (the model card needs a held-out stack), got {val_stacks}")
    infos = _stack_infos(stack_dir, pixel_um, z_step_um)
    if len(infos) <= val_stacks:
        raise DeepZError(f"{len(infos)} stack(s) found but {val_stacks} are held out for validation; give at least "
                         f"{val_stacks + 1} stacks or fewer --val-stacks")
    step, pixel = infos[0].z_step_um, infos[0].pixel_um
    thinnest = min(infos, key=lambda s: s.data.shape[0])
    planes = thinnest.data.shape[0]
    covered = (planes - 1) // 2 * step
    if planes < MIN_PLANES:
        raise DeepZError(f"{thinnest.path.name} has {planes} planes; deepz fit needs stacks of at least "
                         f"{MIN_PLANES} planes around the focus")
    if range_um is None:
        range_um = covered
    elif range_um > covered + 1e-6:
        raise DeepZError(f"the stacks are too thin for --range-um {range_um:g}: {thinnest.path.name} has {planes} "
                         f"planes of {step:g} µm, ±{covered:g} µm around its middle; ask for --range-um {covered:g} "
                         "or less, or record thicker stacks")
    elif range_um < 2 * step:
        raise DeepZError(f"--range-um {range_um:g} is less than two z-steps ({step:g} µm); ask for more")
    side = min(min(s.data.shape[1:]) for s in infos)
    patch = 128 if side >= 128 else side // 16 * 16
    if patch < 32:
        raise DeepZError(f"the smallest stack is {side} px wide; deepz fit needs stacks at least 32 px wide")
    if source in (None, "auto"):
        source, reason = choose_source(pixel, na, wavelength_um, immersion_index)
    elif source == "none":
        source, reason = None, "from scratch (--from none)"
    else:
        source = str(resolve_model_path(source))
        reason = f"transfer from {source} (--from)"
    base = load_config(source) if source else None
    given = na is not None and wavelength_um is not None
    from deepz_fiji.simulate.optics import Optics

    default = Optics()
    names = [s.path.stem for s in infos]
    return FitPlan(
        stacks=[str(s.path) for s in infos], held_out=names[-val_stacks:], pixel_um=pixel, z_step_um=step,
        range_um=round(float(range_um), 6), patch=patch, source=source, source_reason=reason,
        na=float(na if na is not None else base.na if base else default.na),
        wavelength_um=float(wavelength_um if wavelength_um is not None else
                            base.wavelength_um if base else default.emission_um),
        immersion_index=float(immersion_index if immersion_index is not None else
                              (base.immersion_index if base and base.immersion_index else default.immersion_index)),
        optics_given=given, minutes=float(minutes), seed=seed)


# --------------------------------------------------------------------------- running
def _read_plan(out: Path) -> FitPlan | None:
    import json

    path = out / FIT_FILE
    if not path.is_file():
        return None
    try:
        return FitPlan(**json.loads(path.read_text()))
    except (json.JSONDecodeError, TypeError) as exc:
        raise DeepZError(f"{path} is damaged ({exc}); delete {out} and run deepz fit again") from exc


def _save_plan(out: Path, plan: FitPlan) -> None:
    from deepz_fiji.io import write_json

    write_json(out / FIT_FILE, asdict(plan))


def _check_same(saved: FitPlan, plan: FitPlan, out: Path) -> None:
    for key in ("stacks", "held_out", "pixel_um", "z_step_um", "range_um", "source"):
        if getattr(saved, key) != getattr(plan, key):
            raise DeepZError(f"{out} holds a fit with another {key.replace('_', ' ')} ({getattr(saved, key)!r}); "
                             "run the same command to resume it, or choose another --out")


def _trained_seconds(out: Path) -> float:
    """Training seconds already spent by a run in ``out`` (its log's last time stamp)."""
    path = out / "training_log.csv"
    if not path.is_file():
        return 0.0
    with open(path, newline="") as fh:
        times = [float(r["time_s"]) for r in csv.DictReader(fh) if r.get("time_s")]
    return times[-1] if times else 0.0


def fit(stack_dir: str | Path, out: str | Path, *, progress: Callable[[float, float], None] | None = None,
        say: Callable[[str], None] = log.info, **plan_options: Any) -> FitResult:
    """Fit a model to the stacks in ``stack_dir`` into the model folder ``out`` (see the module docstring).

    ``plan_options`` go to :func:`plan_fit`. ``progress(seconds, budget)`` follows the training;
    ``say`` receives the plan and each step's one-line report.
    """
    t0 = time.perf_counter()
    out = Path(out)
    plan = plan_fit(stack_dir, **plan_options)
    saved = _read_plan(out)
    if saved is not None:
        _check_same(saved, plan, out)
        saved.minutes = plan.minutes  # a resumed fit may be given another budget
        plan = saved
        if plan.done:
            from deepz_fiji.evaluate.card import read_card

            card = read_card(out)
            if card is not None:
                say(f"{out} is already fitted; its card: {card['summary']}")
                return FitResult(out, plan, card, 0.0)
        say("resuming the fit in " + str(out))
    elif out.exists() and any(out.iterdir()):
        raise DeepZError(f"{out} exists and is not a deepz fit folder; choose another --out")
    reserve = min(CARD_RESERVE_S, 30 * plan.minutes)
    if plan.minutes * 60 - reserve < MIN_TRAIN_S:  # before anything is written
        raise DeepZError(f"--minutes {plan.minutes:g} leaves no time for training; give at least "
                         f"{(MIN_TRAIN_S + 1) / 30:.1f} minutes")
    say(plan.describe())
    out.mkdir(parents=True, exist_ok=True)
    _save_plan(out, plan)
    dataset = out / WORK_DIR / "dataset"
    if plan.prepare_s is None or not (dataset / "manifest.json").is_file():
        plan.prepare_s = _prepare(plan, dataset) + (plan.prepare_s or 0.0)
        _save_plan(out, plan)
        say(f"prepared the training pairs in {plan.prepare_s:.0f} s")
    budget = plan.minutes * 60 - plan.prepare_s - reserve
    if budget < MIN_TRAIN_S:
        raise DeepZError(f"--minutes {plan.minutes:g} leaves {max(budget, 0):.0f} s for training after preparing "
                         f"({plan.prepare_s:.0f} s) and the card ({reserve:.0f} s); give more minutes")
    result = _train(plan, dataset, out, budget, progress)
    say(f"trained {result.iteration} iterations in {result.seconds:.0f} s; best validation MAE "
        f"{result.best_val_mae:.4g} at iteration {result.best_iteration} (input as output: {result.baseline_mae:.4g})")
    card = write_fit_card(out, plan)
    shutil.rmtree(out / WORK_DIR, ignore_errors=True)
    plan.done = True
    _save_plan(out, plan)
    say(f"model card: {card['summary']}")
    return FitResult(out, plan, card, time.perf_counter() - t0)


def _prepare(plan: FitPlan, dataset: Path) -> float:
    from deepz_fiji.data import prepare_dataset
    from deepz_fiji.train.loop import REFERENCE_INPUT

    t0 = time.perf_counter()
    reference = "edf"
    if plan.source is not None:
        reference = "input" if load_config(plan.source).normalization.get("reference") == REFERENCE_INPUT else "edf"
    prepare_dataset(plan.stacks, dataset, patch=plan.patch, planes=max(1, int(round(plan.range_um / plan.z_step_um))),
                    targets_per_input=3, val_fovs=plan.held_out, seed=plan.seed, z_step_um=plan.z_step_um,
                    pixel_um=plan.pixel_um, overwrite=True, max_dz_um=plan.range_um, focus_target=True,
                    norm_reference=reference)
    return time.perf_counter() - t0


def _train(plan: FitPlan, dataset: Path, out: Path, budget: float,
           progress: Callable[[float, float], None] | None) -> Any:
    from deepz_fiji.train.loop import train

    before = _trained_seconds(out)
    started = time.perf_counter()
    fields: dict[str, Any] = {"na": plan.na, "wavelength_um": plan.wavelength_um,
                              "immersion_index": plan.immersion_index,
                              "description": f"deepz fit of {len(plan.stacks)} stacks ({plan.source_reason})"}
    preset = None
    if plan.source is None:
        fields["dpm_scale_um"] = float(max(1.0, round(plan.range_um)))
    else:
        preset = load_config(plan.source).preset
    options = {"warmup": 10 ** 7, "iterations": 0, "batch": 8, "val_every": 10 ** 7,
               "val_every_s": float(min(300.0, max(20.0, budget / VALIDATIONS))), "val_samples": VAL_SAMPLES,
               "lr_g": LR_TRANSFER if plan.source else LR_SCRATCH, "max_seconds": float(budget),
               "lr_drop_at_s": LR_DROP_AT * budget, "lr_drop_factor": LR_DROP_FACTOR, "seed": plan.seed}

    def on_iteration(_iteration: int, _total: int) -> None:
        if progress is not None:
            progress(min(budget, before + time.perf_counter() - started), budget)

    return train(dataset, out, preset=preset, options=options, init_from=plan.source, name=out.name,
                 model_fields=fields, command="deepz fit", progress=on_iteration)


def write_fit_card(out: Path, plan: FitPlan) -> dict[str, Any]:
    """Score the model in ``out`` on the plan's held-out stacks and write its card."""
    from deepz_fiji.data.stacks import load_stack
    from deepz_fiji.evaluate.card import stack_rows, write_card, xz_sections
    from deepz_fiji.refocus import load_model, refocus_plane, virtual_stack

    model = load_model(out)
    rows, examples, sections = [], [], None
    held = [p for p in plan.stacks if Path(p).stem in plan.held_out]
    for path in held:
        stack = load_stack(path, pixel_um=plan.pixel_um, z_step_um=plan.z_step_um).data
        r, ex = stack_rows(stack, Path(path).stem, plan.z_step_um, model.config,
                           lambda image, dz: refocus_plane(image, dz, model))
        rows += r
        if not examples:
            examples = list(ex.values())
            sections = xz_sections(stack, lambda image, zs: virtual_stack(image, zs[0], zs[-1], plan.z_step_um,
                                                                          model), plan.z_step_um, plan.range_um)
    if not rows:
        raise DeepZError("the held-out stacks are too thin for any card row; record thicker stacks")
    meta = {"model": out.name, "held_out": plan.held_out, "pixel_um": plan.pixel_um, "z_step_um": plan.z_step_um,
            "range_um": plan.range_um, "start": plan.source_reason, "minutes": plan.minutes,
            "note": "the held-out stacks also chose the kept generator (lowest validation MAE)"}
    return write_card(out, rows, meta, examples, sections, plan.z_step_um)


def fitted_summary(result: FitResult) -> str:
    """One line for the end of ``deepz fit``."""
    counts = result.card.get("counts", {}).get("all", {})
    return (f"wrote {result.path} ({result.seconds / 60:.1f} min): won {counts.get('won', 0)}/{counts.get('rows', 0)} "
            f"held-out rows, harmless {counts.get('harmless', 0)}; see {result.path / 'report.png'} "
            f"or deepz info {result.path}")


__all__ = ["FitPlan", "FitResult", "choose_source", "fit", "fitted_summary", "plan_fit", "write_fit_card"]
