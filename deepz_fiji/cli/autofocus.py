"""``deepz autofocus`` (in-focus Δz of one image) and ``deepz refocus-video`` (drift correction)."""

from __future__ import annotations

import argparse
from pathlib import Path

from deepz_fiji.cli._common import (
    ProgressBar,
    add_cluster_arguments,
    add_model_argument,
    add_progress_argument,
    add_tta_argument,
    on_cluster,
)

#: ``deepz_fiji.cli.main`` imports TensorFlow quietly before this module's commands run.
USES_TENSORFLOW = True


def _grid(value: str) -> tuple[int, int]:
    try:
        rows, cols = (int(v) for v in value.lower().split("x"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"regions must look like 4x4 (rows x columns), got {value!r}") from exc
    return rows, cols


def _add_focus_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--range", nargs=2, type=float, default=(-10.0, 10.0), metavar=("START", "STOP"),
                   help="Δz searched, in µm (default -10 10)")
    p.add_argument("--step", type=float, default=0.5, metavar="STEP", help="z step of the search in µm (default 0.5)")
    p.add_argument("--sharpness", choices=("normvar", "brenner"), default="normvar",
                   help="focus measure: normalised variance (default) or Brenner gradient")
    add_model_argument(p)
    p.add_argument("--pixel-um", type=float, metavar="P", help="pixel size in µm (default: the input's calibration)")
    p.add_argument("--tile", type=int, default=None, metavar="N", help="refocusing tile side in pixels")
    add_tta_argument(p)
    p.add_argument("--single-pass", dest="renormalize", action="store_false",
                   help="one virtual stack, the image normalised on itself (half the work; sparse samples far "
                        "from focus then come out too far) instead of a second one normalised on the first's EDF")


def register(subparsers: argparse._SubParsersAction) -> None:
    a = subparsers.add_parser(
        "autofocus", help="find the Δz at which an image's sample is in focus (or a height map)",
        description="Refocus IMAGE into a virtual stack, score every plane's sharpness and print the Δz "
                    "(µm) of the sharpest one (parabolic interpolation). With --regions, one Δz per region: "
                    "a height map, written with -o as a TIFF usable as a DPM (deepz surface --height-map).",
    )
    a.add_argument("image", type=Path, help="a single-plane TIFF")
    a.add_argument("--regions", type=_grid, default=None, metavar="RxC", help="grid of regions, e.g. 4x4")
    a.add_argument("-o", "--output", type=Path, metavar="HEIGHT.tif", help="write the height map (µm) here")
    _add_focus_options(a)
    a.set_defaults(func=cmd_autofocus)

    v = subparsers.add_parser(
        "refocus-video", help="refocus every frame of a video (fixed Δz, or each frame to its best plane)",
        description="Refocus every frame of VIDEO (T(C)YX) by --dz, or with --track-focus each frame to its "
                    "own in-focus plane (autofocus per frame: drift correction).",
    )
    v.add_argument("video", type=Path, help="a time series of single planes (ImageJ TIFF, T or TC frames)")
    v.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.tif", help="output TIFF")
    how = v.add_mutually_exclusive_group(required=True)
    how.add_argument("--dz", type=float, metavar="DZ_UM", help="refocus every frame by this Δz (µm)")
    how.add_argument("--track-focus", action="store_true", help="refocus each frame to its in-focus plane")
    v.add_argument("--focus-channel", type=int, default=0, metavar="C", help="channel that decides the focus")
    v.add_argument("--focus-csv", type=Path, metavar="CSV", help="write each frame's Δz here")
    add_cluster_arguments(v)
    v.add_argument("--chunk", type=int, default=8, metavar="F", help="frames per task on a Dask cluster (8)")
    add_progress_argument(v)
    _add_focus_options(v)
    v.set_defaults(func=cmd_refocus_video)


def cmd_autofocus(args: argparse.Namespace) -> int:
    from deepz_fiji.activity.drift import autofocus_file

    result = autofocus_file(args.image, regions=args.regions, model=args.model, range_um=tuple(args.range),
                            step_um=args.step, method=args.sharpness, output=args.output,
                            pixel_um=args.pixel_um, tile=args.tile, tta=args.tta, renormalize=args.renormalize)
    if args.regions is None:
        print(f"in focus at dz = {result.dz_um[0, 0]:+.2f} um" + ("" if result.single_focus else
              f" (no single focus: {result.no_single_focus_reason})"))
    else:
        print("in-focus dz (um) per region:")
        for row in result.dz_um:
            print("  " + " ".join(f"{v:+7.2f}" for v in row))
    if args.output is not None:
        print(f"wrote {args.output}")
    return 0


def cmd_refocus_video(args: argparse.Namespace) -> int:
    from deepz_fiji.activity.drift import refocus_video_file

    kw = dict(dz_um=args.dz, track=args.track_focus, model=args.model, range_um=tuple(args.range), step_um=args.step,
              focus_channel=args.focus_channel, method=args.sharpness, focus_csv=args.focus_csv,
              pixel_um=args.pixel_um, tile=args.tile, tta=args.tta, renormalize=args.renormalize)
    if on_cluster(args):
        from deepz_fiji.dask_cluster import connect, dask_refocus_video

        with connect(args.scheduler, args.workers) as client, ProgressBar("video", args.no_progress, "chunk") as bar:
            dz = dask_refocus_video(args.video, args.output, client, chunk=args.chunk, progress=bar, **kw)
    else:
        with ProgressBar("focus", args.no_progress) as bar:
            dz = refocus_video_file(args.video, args.output, progress=bar, **kw)
    if args.track_focus:
        print(f"in-focus dz per frame: {dz.min():+.2f} ... {dz.max():+.2f} um (mean {dz.mean():+.2f})")
    print(f"wrote {args.output}")
    return 0
