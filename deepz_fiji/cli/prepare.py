"""``deepz prepare STACK_DIR --out DATASET``: training pairs from calibrated z-stacks."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "prepare",
        help="build a training dataset (input/target pairs with Δz) from calibrated z-stacks",
        description=(
            "Align each z-stack (StackReg), build its extended-depth-of-field image, normalise the "
            "stack to it, cover the signal with PxP regions and write input/target plane pairs "
            "(Δz = z-step × plane offset) to DATASET, split by field of view into train/val."
        ),
    )
    p.add_argument("stacks", type=Path, nargs="+", metavar="STACK_DIR",
                   help="folder of z-stack TIFFs (one stack = one field of view), or the TIFF files")
    p.add_argument("--out", "-o", type=Path, required=True, metavar="DATASET", help="dataset folder to write")
    p.add_argument("--patch", type=int, default=256, help="region size P in pixels (default 256)")
    p.add_argument("--planes", type=int, default=20,
                   help="planes kept above and below each region's focal plane (default 20)")
    p.add_argument("--targets", type=int, default=8, help="random target planes per input plane (default 8)")
    p.add_argument("--val-fraction", type=float, default=0.15,
                   help="fraction of fields of view used for validation (default 0.15)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--z-step-um", "--z-step", dest="z_step_um", type=float,
                   help="z-step in µm (default: from the files; required when they lack it)")
    p.add_argument("--pixel-um", type=float, help="pixel size in µm (default: from the files)")
    p.add_argument("--preprocess", choices=("python", "fiji", "auto"), default="auto",
                   help="who runs StackReg/EDF: python equivalents, Fiji's plugins, or Fiji when "
                        "--fiji/DEEPZ_FIJI_DIR is given and usable, else python (default auto)")
    p.add_argument("--fiji", type=Path, metavar="DIR", help="Fiji.app folder (default: $DEEPZ_FIJI_DIR)")
    p.add_argument("--shard-size", type=int, default=512, help="pairs per shard file (default 512)")
    p.add_argument("--overwrite", action="store_true", help="replace a dataset already in DATASET")
    p.add_argument("--max-dz", type=float, metavar="UM", dest="max_dz_um",
                   help="largest |Δz| of a pair in µm (default: any two kept planes)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deepz_fiji.data import prepare_dataset

    preprocessor = choose_preprocessor(args.preprocess, args.fiji)
    from tqdm import tqdm

    bar = tqdm(unit="stack", desc="prepare", disable=not sys.stderr.isatty(), leave=False)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        manifest = prepare_dataset(
            args.stacks, args.out, patch=args.patch, planes=args.planes, targets_per_input=args.targets,
            val_fraction=args.val_fraction, seed=args.seed, preprocessor=preprocessor,
            progress=progress, z_step_um=args.z_step_um, pixel_um=args.pixel_um,
            shard_size=args.shard_size, overwrite=args.overwrite, max_dz_um=args.max_dz_um,
        )
    finally:
        bar.close()
    print(summary(manifest, args.out))
    return 0


def choose_preprocessor(mode: str, fiji_dir: Path | None):
    """``None`` (the Python preprocessor) or a Fiji one, as ``--preprocess``/``--fiji`` ask."""
    from deepz_fiji.errors import DeepZError

    fiji_dir = fiji_dir or (Path(os.environ["DEEPZ_FIJI_DIR"]) if os.environ.get("DEEPZ_FIJI_DIR") else None)
    if mode == "python":
        return None
    if fiji_dir is None:
        if mode == "fiji":
            raise DeepZError("--preprocess fiji needs a Fiji installation: pass --fiji /path/to/Fiji.app "
                             "or set DEEPZ_FIJI_DIR")
        return None
    try:
        from deepz_fiji.fiji.java import start_imagej
        from deepz_fiji.fiji.preprocess import fiji_preprocessor

        return fiji_preprocessor(start_imagej(fiji_dir=fiji_dir))
    except (ImportError, DeepZError) as exc:
        if mode == "fiji":
            if isinstance(exc, DeepZError):
                raise
            raise DeepZError(f"the Fiji preprocessor is unavailable ({exc}); install deepz-fiji[fiji] or "
                             "use --preprocess python") from exc
        log.warning("Fiji preprocessing unavailable (%s); using the Python equivalents", exc)
        return None


def summary(manifest: dict, out: Path) -> str:
    """The lines printed after a successful ``deepz prepare``."""
    lines = [f"dataset written to {out}"]
    for split, info in manifest["splits"].items():
        factor = f" (×{info['augmentation_factor']} augmentation in training)" if info["augmentation_factor"] > 1 else ""
        lines.append(f"  {split}: {info['pairs']} pairs from {info['regions']} regions of "
                     f"{len(info['fovs'])} field(s) of view{factor}: {', '.join(info['fovs'])}")
    lo, hi = manifest["dz_range_um"]
    lines.append(f"  Δz range {lo:+g} … {hi:+g} µm (z-step {manifest['z_step_um']:g} µm, "
                 f"pixel {manifest['pixel_um']:g} µm, patch {manifest['patch']} px)")
    lines.append(f"  preprocessing: {manifest['preprocessing']['register']}; {manifest['preprocessing']['edf']}")
    return "\n".join(lines)
