"""``deepz prepare STACK_DIR --out DATASET``: training pairs from calibrated z-stacks.

With ``--labels CONFOCAL_DIR`` the stacks are wide-field inputs and the confocal stacks of the
same fields of view are the targets (Deep-Z+, :func:`deepz_fiji.data.crossmodal.prepare_crossmodal_dataset`).
"""

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
    p.add_argument("--targets", type=int, default=None,
                   help="random target planes per input plane (default 8; 4 with --labels)")
    p.add_argument("--val-fraction", type=float, default=0.15,
                   help="fraction of fields of view used for validation (default 0.15)")
    p.add_argument("--val-fovs", nargs="+", metavar="NAME", default=None,
                   help="stacks (file names without extension) to validate on, instead of a random "
                        "--val-fraction of them, e.g. one of each sample kind")
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
    p.add_argument("--clean-targets", type=Path, metavar="TRUTH_DIR", default=None,
                   help="noiseless stacks of the same fields (deepz simulate --truth): targets come from them "
                        "(needs --no-stackreg)")
    p.add_argument("--focus-target", action="store_true",
                   help="pair every input plane with its region's focal plane (with --labels: the confocal "
                        "plane at its zero point) too, on top of the random targets (more refocusing into focus)")
    p.add_argument("--norm-reference", choices=("edf", "input"), default="edf",
                   help="normalise each stack with its EDF's constants (edf, the paper's default) or each pair "
                        "with its whole input plane's, as a single image is at inference (input)")
    p.add_argument("--max-dz", type=float, metavar="UM", dest="max_dz_um",
                   help="largest |Δz| of a pair in µm (default: any two kept planes)")
    plus = p.add_argument_group("Deep-Z+ (wide-field inputs, confocal targets)")
    plus.add_argument("--labels", type=Path, nargs="+", metavar="CONFOCAL_DIR",
                      help="folder (or files) of confocal z-stacks of the same fields of view, paired with "
                           "STACK_DIR by file name or else by sorted order")
    plus.add_argument("--coregister", choices=("intensity", "features"), default=None,
                      help="global confocal-to-wide-field registration of the EDFs (default intensity)")
    plus.add_argument("--transform", choices=("rigid", "affine", "projective"), default=None,
                      help="transform of the global registration (default rigid; projective needs features)")
    plus.add_argument("--fine", choices=("translation", "rigid", "none"), default=None,
                      help="fine alignment of every region (default translation)")
    plus.add_argument("--grid", type=int, nargs=2, metavar=("ROWS", "COLS"), default=None,
                      help="stitch every ROWS×COLS consecutive stacks (tiles, row by row) into one field of view")
    plus.add_argument("--tile-overlap", type=float, default=None,
                      help="fraction of a tile shared with its neighbour (default 0.1)")
    plus.add_argument("--no-stackreg", dest="align_planes", action="store_false", default=None,
                      help="do not StackReg-align the planes of each stack (stacks without stage drift)")
    plus.add_argument("--focus-measure", choices=("structure", "ssim"), default=None,
                      help="focus curve against the EDF: SSIM without its luminance term (default) or full SSIM")
    p.set_defaults(func=run)


#: Options that only mean something with --labels.
_CROSSMODAL = ("coregister", "transform", "fine", "grid", "tile_overlap", "focus_measure")


def run(args: argparse.Namespace) -> int:
    from deepz_fiji.data import prepare_dataset
    from deepz_fiji.errors import DeepZError

    given = [name for name in _CROSSMODAL if getattr(args, name) is not None]
    if args.labels is None and given:
        option = "--" + given[0].replace("_", "-")
        raise DeepZError(f"{option} is for Deep-Z+ datasets; add --labels CONFOCAL_DIR or drop it")
    if args.labels is not None and args.norm_reference != "edf":
        raise DeepZError("--norm-reference input is not available with --labels (Deep-Z+ datasets are "
                         "normalised on each stack's EDF); drop it")
    preprocessor = choose_preprocessor(args.preprocess, args.fiji)
    from tqdm import tqdm

    bar = tqdm(unit="stack", desc="prepare", disable=not sys.stderr.isatty(), leave=False)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    common = dict(patch=args.patch, planes=args.planes, val_fraction=args.val_fraction, val_fovs=args.val_fovs,
                  seed=args.seed,
                  preprocessor=preprocessor, progress=progress, z_step_um=args.z_step_um, pixel_um=args.pixel_um,
                  shard_size=args.shard_size, overwrite=args.overwrite, max_dz_um=args.max_dz_um)
    try:
        if args.labels is None:
            manifest = prepare_dataset(args.stacks, args.out,
                                       targets_per_input=8 if args.targets is None else args.targets,
                                       align_planes=args.align_planes is not False,
                                       clean_targets=args.clean_targets, focus_target=args.focus_target,
                                       norm_reference=args.norm_reference, **common)
        else:
            from deepz_fiji.data.crossmodal import TARGETS_PER_INPUT, prepare_crossmodal_dataset

            options = {name: getattr(args, name) for name in (*given, "align_planes")
                       if getattr(args, name) is not None}
            options = {("method" if k == "coregister" else "model" if k == "transform" else k): v
                       for k, v in options.items()}
            manifest = prepare_crossmodal_dataset(args.stacks, args.labels, args.out,
                                                  targets_per_input=TARGETS_PER_INPUT if args.targets is None
                                                  else args.targets,
                                                  focus_target=args.focus_target, **options, **common)
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
        from deepz_fiji.fiji.host import start_imagej
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
    if manifest.get("modality"):
        pairs = manifest.get("pairs", {})
        lines.append(f"  modality {manifest['modality']}: {pairs.get('input')} inputs, {pairs.get('target')} targets")
    for split, info in manifest["splits"].items():
        factor = f" (×{info['augmentation_factor']} augmentation in training)" if info["augmentation_factor"] > 1 else ""
        lines.append(f"  {split}: {info['pairs']} pairs from {info['regions']} regions of "
                     f"{len(info['fovs'])} field(s) of view{factor}: {', '.join(info['fovs'])}")
    lo, hi = manifest["dz_range_um"]
    lines.append(f"  Δz range {lo:+g} … {hi:+g} µm (z-step {manifest['z_step_um']:g} µm, "
                 f"pixel {manifest['pixel_um']:g} µm, patch {manifest['patch']} px)")
    lines.append(f"  preprocessing: {manifest['preprocessing']['register']}; {manifest['preprocessing']['edf']}")
    return "\n".join(lines)
