"""``deepz fit STACK_DIR --out models/NAME``: your own stacks to a validated model and its card."""

from __future__ import annotations

import argparse
from pathlib import Path

#: ``deepz_fiji.cli.main`` imports TensorFlow quietly before this module's commands run.
USES_TENSORFLOW = True


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "fit", help="train a model for your microscope and sample from a folder of z-stacks, within a time budget",
        description="Read calibrated z-stacks, choose a model to transfer from (or train from scratch), prepare the "
                    "training pairs, train until --minutes are spent and write the model folder with its card "
                    "(report.json, report.png: the model on held-out stacks against the input plane and the "
                    "physics blur). Run the same command again to resume a killed fit.",
    )
    p.add_argument("stacks", type=Path, metavar="STACK_DIR", help="folder of calibrated z-stack TIFFs (one per field)")
    p.add_argument("--out", "-o", type=Path, required=True, metavar="MODEL_DIR", help="model folder to write")
    p.add_argument("--from", dest="source", default=None, metavar="MODEL",
                   help="model to transfer from, or 'none' for from scratch (default: the closest installed one)")
    p.add_argument("--minutes", type=float, default=20.0, help="time budget for the whole fit (default 20)")
    p.add_argument("--val-stacks", type=int, default=1, metavar="K",
                   help="whole stacks (the last K by name) held out for validation and the card (default 1)")
    p.add_argument("--range-um", type=float, default=None,
                   help="largest |Δz| to train for (default: what the thinnest stack covers around its middle)")
    p.add_argument("--pixel-um", type=float, default=None, help="pixel size in µm (default: from the files)")
    p.add_argument("--z-step-um", "--z-step", dest="z_step_um", type=float, default=None,
                   help="z-step in µm (default: from the files)")
    p.add_argument("--na", type=float, default=None, help="objective NA (default: the source model's)")
    p.add_argument("--wavelength-um", type=float, default=None, help="emission wavelength in µm")
    p.add_argument("--immersion-index", type=float, default=None, help="immersion refractive index")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from deepz_fiji.train.fit import fit, fitted_summary

    bar = tqdm(desc="fit", unit="s", disable=None, dynamic_ncols=True,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s of training [{remaining} left]")

    def progress(seconds: float, budget: float) -> None:
        bar.total = budget
        bar.n = seconds
        bar.refresh()

    try:
        result = fit(args.stacks, args.out, progress=progress, say=tqdm.write, source=args.source,
                     minutes=args.minutes, val_stacks=args.val_stacks, pixel_um=args.pixel_um,
                     z_step_um=args.z_step_um, range_um=args.range_um, na=args.na,
                     wavelength_um=args.wavelength_um, immersion_index=args.immersion_index, seed=args.seed)
    finally:
        bar.close()
    print(fitted_summary(result))
    return 0
