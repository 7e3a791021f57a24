"""``deepz batch IN_DIR OUT_DIR``: refocus every image of a folder (re-runnable, with a summary CSV)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from deepz_fiji.cli._common import (
    add_cluster_arguments,
    add_model_argument,
    add_tta_argument,
    on_cluster,
)

#: ``deepz_fiji.cli.main`` imports TensorFlow quietly before this module's commands run.
USES_TENSORFLOW = True


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "batch", help="refocus every image of a folder",
        description="Refocus every image in IN_DIR and write OUT_DIR/<name>_deepz.tif (calibrated ImageJ "
        "TIFFs, written atomically). Outputs that exist are skipped, so a run can be repeated to finish "
        "an interrupted batch; a file that fails is reported and the rest continue. A summary is written "
        "to OUT_DIR/deepz_batch.csv. Exit code 1 if any file failed.",
        epilog="Δz > 0 is a plane farther from the objective. With --fiji, images are opened through "
        "Bio-Formats (any format Fiji reads); otherwise TIFFs are read with tifffile.")
    p.add_argument("in_dir", type=Path, metavar="IN_DIR", help="folder of input images")
    p.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="output folder (created if missing)")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--dz", type=float, metavar="DZ_UM", help="refocus every image by DZ_UM µm")
    what.add_argument("--range", nargs=2, type=float, metavar=("START", "STOP"),
                      help="a virtual stack from START to STOP µm (with --step)")
    what.add_argument("--tilt-x-deg", type=float, metavar="A", help="refocus onto a plane tilted by A° about x")
    p.add_argument("--step", type=float, metavar="S", help="z step in µm for --range")
    p.add_argument("--tilt-y-deg", type=float, default=0.0, metavar="A", help="tilt about y (with --tilt-x-deg)")
    p.add_argument("--offset-um", type=float, default=0.0, metavar="O", help="Δz at the centre of a tilted plane")
    add_model_argument(p)
    p.add_argument("--fiji", type=Path, default=os.environ.get("DEEPZ_FIJI_DIR") or None, metavar="DIR",
                   help="Fiji.app: open images with Bio-Formats (default: $DEEPZ_FIJI_DIR)")
    p.add_argument("--reader", choices=("tifffile", "imagej", "bioformats"),
                   help="how to open images (default: bioformats with --fiji, else tifffile)")
    p.add_argument("--allow-extrapolation", action="store_true", help="allow Δz outside the trained range")
    add_tta_argument(p)
    p.add_argument("--overwrite", action="store_true", help="recompute outputs that already exist")
    add_cluster_arguments(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_batch)


def cmd_batch(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from deepz_fiji.errors import DeepZError
    from deepz_fiji.fiji.batch import SUMMARY_NAME, BatchRequest, batch_refocus

    if args.range is not None and args.step is None:
        raise DeepZError("--range needs --step (the z step in µm), e.g. --range -4 4 --step 0.5")
    request = BatchRequest(
        dz_um=args.dz,
        stack=(args.range[0], args.range[1], args.step) if args.range is not None else None,
        tilt_x_deg=args.tilt_x_deg, tilt_y_deg=args.tilt_y_deg, offset_um=args.offset_um,
        allow_extrapolation=args.allow_extrapolation, tta=args.tta,
    )
    reader = args.reader or ("bioformats" if args.fiji else "tifffile")
    cluster = on_cluster(args)
    if cluster and reader != "tifffile":
        raise DeepZError("--workers/--scheduler read TIFFs with tifffile on the workers; drop --fiji/--reader "
                         "(convert other formats to TIFF first)")
    if reader == "bioformats" and args.fiji is None:
        raise DeepZError("--reader bioformats needs Fiji: give --fiji DIR")
    if reader != "tifffile":
        from deepz_fiji.fiji.host import start_imagej

        start_imagej(fiji_dir=args.fiji if reader == "bioformats" else None)
    bar = tqdm(desc="deepz batch", unit="image", disable=True if args.no_progress else None)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        if cluster:
            rows = _on_cluster(args, request, progress)
        else:
            rows = batch_refocus(args.in_dir, args.out_dir, request, model=args.model, reader=reader,
                                 overwrite=args.overwrite, progress=progress)
    finally:
        bar.close()
    counts = {status: sum(r["status"] == status for r in rows) for status in ("done", "skipped", "failed")}
    for row in rows:
        if row["status"] == "failed":
            print(f"FAILED {row['input']}: {row['error']}")
    print(f"{counts['done']} done, {counts['skipped']} skipped (already there), {counts['failed']} failed; "
          f"summary: {Path(args.out_dir) / SUMMARY_NAME}")
    return 1 if counts["failed"] else 0


def _on_cluster(args: argparse.Namespace, request, progress) -> list[dict]:
    from deepz_fiji.dask_cluster import connect, dask_batch_refocus

    with connect(args.scheduler, args.workers) as client:
        return dask_batch_refocus(args.in_dir, args.out_dir, request, client, model=args.model,
                                  overwrite=args.overwrite, progress=progress)
