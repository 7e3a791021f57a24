"""``deepz train DATASET --out models/NAME``: train a Deep-Z generator on a prepared dataset."""

from __future__ import annotations

import argparse
import shlex
import sys

#: Arguments that are TrainConfig fields of the same name (passed on only when given).
_OPTION_ARGS = ("iterations", "warmup", "batch", "val_every", "patch", "seed", "g_steps", "d_steps",
                "lr_g", "lr_d", "alpha", "val_samples", "log_every", "shuffle_buffer", "intensity_scale",
                "augment", "augment_group", "keep", "sharpen_weight", "snapshots", "physics_share", "precision")
_MODEL_ARGS = ("intensity_gain", "dpm_scale_um", "physics_inputs", "na", "wavelength_um", "immersion_index", "modality",
               "description")

#: ``deepz_fiji.cli.main`` imports TensorFlow quietly before this module's commands run.
USES_TENSORFLOW = True


def register(subparsers: argparse._SubParsersAction) -> None:
    from deepz_fiji.model.config import PHYSICS_INPUTS
    from deepz_fiji.refocus.precision import PRECISIONS

    p = subparsers.add_parser(
        "train", help="train a Deep-Z generator (LS-GAN) on a dataset made by 'deepz prepare'",
        description="Train a Deep-Z generator on a dataset folder and write a model folder "
                    "(saved_model/, config.json, checkpoint/, training_log.csv, training_curves.png). "
                    "A folder that holds a checkpoint is resumed automatically.",
    )
    p.add_argument("dataset", help="dataset folder written by 'deepz prepare'")
    p.add_argument("--out", required=True, help="model folder to write, e.g. models/my-model")
    arch = p.add_argument_group("network")
    arch.add_argument("--preset", choices=("paper", "small", "tiny"), default=None,
                      help="architecture preset (default small: width 0.25; paper: 25.6 M parameters)")
    arch.add_argument("--width", type=float, default=None, help="channel width multiplier (overrides the preset)")
    arch.add_argument("--depth", type=int, default=None, help="number of down blocks (default 5)")
    arch.add_argument("--intensity-gain", type=float, default=None,
                      help="fixed factor on the image inside the network, undone at its output (default 20; "
                           "1 is the paper's network; --init-from keeps the source model's)")
    arch.add_argument("--dpm-scale-um", type=float, default=None,
                      help="µm per unit of the DPM channel (default 10, the paper's; about the largest |Δz| "
                           "keeps that channel near ±1 for short ranges; --init-from keeps the source model's)")
    arch.add_argument("--physics-inputs", nargs="+", choices=PHYSICS_INPUTS, default=None, metavar="NAME",
                      help="input channels computed from the image and the optics, after the DPM: 'blur' (the "
                           "image convolved with the nominal PSF at Δz); with --init-from a model without them, "
                           "they start with zero weights, or --physics-share of the image's)")
    arch.add_argument("--physics-share", type=float, default=None, metavar="S",
                      help="with --init-from a model without the physics inputs: move this share of the first "
                           "layer's image weights onto each of them (default 0)")
    arch.add_argument("--init-from", default=None, metavar="MODEL",
                      help="start from this model's generator weights (name or folder; same depth and width, "
                           "or a smaller width: the network is widened without changing its output)")
    run = p.add_argument_group("training (paper defaults)")
    run.add_argument("--iterations", type=int, default=None, help="GAN iterations after the warm-up (default 1000)")
    run.add_argument("--warmup", type=int, default=None,
                     help="MAE-only generator iterations before the GAN starts (default 0)")
    run.add_argument("--batch", type=int, default=None, help="pairs per batch (default 20)")
    run.add_argument("--val-every", type=int, default=None, help="validate and checkpoint every K iterations (50)")
    run.add_argument("--val-samples", type=int, default=None, help="validate on at most this many pairs (all)")
    run.add_argument("--patch", type=int, default=None, help="training crop side in px (default: the dataset's)")
    run.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    run.add_argument("--g-steps", type=int, default=None, help="generator updates per iteration (6)")
    run.add_argument("--d-steps", type=int, default=None, help="discriminator updates per iteration (3)")
    run.add_argument("--lr-g", type=float, default=None, help="generator learning rate (1e-4)")
    run.add_argument("--lr-d", type=float, default=None, help="discriminator learning rate (3e-5)")
    run.add_argument("--alpha", type=float, default=None, help="weight of the MAE term in the generator loss (0.02)")
    run.add_argument("--log-every", type=int, default=None, help="CSV/TensorBoard row every N iterations (10)")
    run.add_argument("--shuffle-buffer", type=int, default=None, help="pairs held for shuffling (256)")
    run.add_argument("--intensity-scale", type=float, nargs=2, default=None, metavar=("LOW", "HIGH"),
                     help="random log-uniform intensity factor range for input and target (default 0.5 2)")
    run.add_argument("--no-intensity-scale", dest="intensity_scale", action="store_const", const="off",
                     help="do not rescale training intensities")
    run.add_argument("--no-augment", dest="augment", action="store_false", default=None,
                     help="no random flips/rotations of training pairs")
    run.add_argument("--augment-group", type=int, choices=(5, 8), default=None,
                     help="random transforms per training pair: 5, the paper's (identity, 3 rotations, 1 flip; "
                          "default), or 8, every symmetry of the square")
    run.add_argument("--sharpen-weight", type=float, default=None, metavar="W",
                     help="weight of the pairs refocusing towards their region's focal plane in the warm-up "
                          "MAE (default 1: unweighted)")
    run.add_argument("--snapshots", action="store_true", default=None,
                     help="also keep the generator of every validation in checkpoint/snapshots/ (to judge "
                          "them with a benchmark: generalization.py --checkpoint RUN --iteration N)")
    run.add_argument("--keep", choices=("best", "last"), default=None,
                     help="generator written to the model folder: the one with the lowest validation MAE "
                          "(best, default) or the final one (last: for a GAN phase or a robustness fine-tune)")
    run.add_argument("--precision", choices=PRECISIONS, default=None,
                     help="arithmetic of the training steps (default: a resumed run's, else float32 or "
                          "$DEEPZ_PRECISION); bfloat16 needs a CPU with AVX512-BF16 or AMX and is about twice "
                          "as fast there")
    run.add_argument("--resume", action="store_true",
                     help="require a checkpoint in --out to continue from (resuming is automatic anyway)")
    meta = p.add_argument_group("recorded in config.json")
    meta.add_argument("--name", default=None, help="model name (default: the --out folder name)")
    meta.add_argument("--na", type=float, default=None, help="objective NA (default 0.75)")
    meta.add_argument("--wavelength-um", type=float, default=None, help="emission wavelength in µm (0.584)")
    meta.add_argument("--immersion-index", type=float, default=None, help="immersion refractive index")
    meta.add_argument("--modality", choices=("widefield", "widefield->confocal"), default=None,
                      help="widefield, or widefield->confocal for Deep-Z+ (default: the dataset's, else widefield)")
    meta.add_argument("--description", default=None, help="free text stored in config.json")
    p.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from deepz_fiji.train import train

    options = {}
    for field in _OPTION_ARGS:
        value = getattr(args, field)
        if value is not None:
            options[field] = None if value == "off" else (tuple(value) if isinstance(value, list) else value)
    model_fields = {k: getattr(args, k) for k in _MODEL_ARGS if getattr(args, k) is not None}
    bar = tqdm(desc="training", unit="it", disable=None, dynamic_ncols=True)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    def on_event(kind: str, info: dict) -> None:
        if kind == "resumed":
            bar.n = info["iteration"]
            tqdm.write(f"resuming from the checkpoint at iteration {info['iteration']}")
        elif kind == "validation":
            mark = " *" if info["improved"] else ""
            tqdm.write(f"iteration {info['iteration']}: validation MAE {info['val_mae']:.5f} "
                       f"(best {info['best_val_mae']:.5f}; with Δz signs flipped "
                       f"{info['val_mae_dz_flipped']:.5f}){mark}")

    try:
        result = train(
            args.dataset, args.out, preset=args.preset, width=args.width, depth=args.depth,
            options=options, init_from=args.init_from, resume=args.resume, name=args.name,
            model_fields=model_fields, command="deepz " + shlex.join(sys.argv[1:]),
            progress=progress, on_event=on_event,
        )
    finally:
        bar.close()
    kept = ("" if result.kept == "best" else
            f"the last generator (validation MAE {result.val_mae:.5f}); lowest ")
    print(f"model written to {result.path}: {kept}validation MAE {result.best_val_mae:.5f} (iteration "
          f"{result.best_iteration}; input-as-output baseline {result.baseline_mae:.5f}), "
          f"{result.iteration} iterations, {result.seconds / 60:.1f} min")
    return 0
