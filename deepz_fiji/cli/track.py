"""``deepz track``: 3D neuron activity from a single-plane two-channel video (SPEC §6)."""

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


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "track", help="3D neuron activity from a single-plane video (virtual stacks per frame)",
        description=(
            "Register the frames of VIDEO against body motion, refocus every frame of both channels into a "
            "virtual stack, segment the neurons on the median nuclei volume (local maxima + 3D watershed), "
            "measure each neuron's activity (mean of its 100 brightest voxels), keep the active ones and "
            "group them by spectral clustering. Writes labels.tif, nuclei_median.tif, neurons.csv, "
            "traces.csv, three PNG figures and summary.json into OUTDIR."
        ),
        epilog="Virtual stacks are cached in OUTDIR/cache: after an interruption, run the same command "
               "with --resume to continue where it stopped.",
    )
    p.add_argument("video", type=Path, help="ImageJ hyperstack TIFF with time frames and channels (TCYX)")
    p.add_argument("--nuclei-channel", type=int, required=True, metavar="C", help="channel of the nuclei (0-based)")
    p.add_argument("--activity-channel", type=int, required=True, metavar="C",
                   help="channel of the activity indicator, e.g. GCaMP (0-based)")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUTDIR", help="folder for the results")
    p.add_argument("--range", nargs=2, type=float, default=(-10.0, 10.0), metavar=("START", "STOP"),
                   help="Δz range of the virtual stacks in µm (default -10 10)")
    p.add_argument("--step", type=float, default=0.5, metavar="STEP", help="z step in µm (default 0.5)")
    add_model_argument(p)
    p.add_argument("--resume", action="store_true", help="reuse the virtual stacks cached by an interrupted run")
    p.add_argument("--pixel-um", type=float, metavar="P", help="pixel size in µm (default: the video's calibration)")
    p.add_argument("--frame-interval", type=float, metavar="S", help="seconds between frames (default: calibration)")
    g = p.add_argument_group("analysis")
    g.add_argument("--no-register", action="store_true", help="skip the registration against body motion")
    g.add_argument("--registration", choices=("intensity", "features"), default="intensity",
                   help="intensity (phase correlation + NCC refinement, default) or features (ORB + RANSAC)")
    g.add_argument("--min-distance-um", type=float, default=2.0, metavar="D",
                   help="smallest distance between two neurons' centres in µm (default 2)")
    g.add_argument("--select-on", choices=("df", "dff"), default="df",
                   help="select active neurons by the std of ΔF (default, as the paper) or of ΔF/F0")
    sel = g.add_mutually_exclusive_group()
    sel.add_argument("--min-std", type=float, metavar="X", help="active if the std exceeds X (default: Otsu split)")
    sel.add_argument("--n-active", type=int, metavar="N", help="keep the N most variable neurons")
    g.add_argument("--sigma", type=float, default=1.5, help="σ of the similarity kernel (default 1.5)")
    g.add_argument("--clusters", type=int, metavar="K", help="number of clusters (default: from the eigengap)")
    g.add_argument("--min-clusters", type=int, default=1, metavar="K",
                   help="smallest k the eigengap may choose (default 1; 2 = always split)")
    p.add_argument("--tile", type=int, default=None, metavar="N", help="refocusing tile side in pixels")
    add_tta_argument(p)
    p.add_argument("--keep-blend", action="store_true",
                   help="refocus with the model's physics blend and output level, as single images are (default: "
                        "the network alone, which selects more of the truly active neurons)")
    p.add_argument("--allow-extrapolation", action="store_true",
                   help="allow Δz outside the model's trained range (unreliable; warns)")
    add_cluster_arguments(p)
    p.add_argument("--chunk", type=int, default=4, metavar="F", help="frames per task on a Dask cluster (4)")
    add_progress_argument(p)
    p.set_defaults(func=cmd_track)


def cmd_track(args: argparse.Namespace) -> int:
    import contextlib

    from deepz_fiji.activity import ActivityOptions, refocus_stack_fn, track_activity
    from deepz_fiji.errors import DeepZError
    from deepz_fiji.io import read_image

    video = read_image(args.video)
    start, stop = args.range
    options = ActivityOptions(register=not args.no_register, registration_method=args.registration,
                              min_distance_um=args.min_distance_um, select_on=args.select_on,
                              min_std=args.min_std, n_active=args.n_active, sigma=args.sigma, k=args.clusters,
                              min_k=args.min_clusters)
    stack_fn = refocus_stack_fn(args.model, start, stop, args.step, tile=args.tile, tta=args.tta,
                                allow_extrapolation=args.allow_extrapolation, network_alone=not args.keep_blend)
    kw = dict(stack_fn=stack_fn, z_range=(start, stop, args.step), pixel_um=args.pixel_um,
              frame_interval_s=args.frame_interval, options=options, resume=args.resume)
    with contextlib.ExitStack() as stack:
        if on_cluster(args):
            from deepz_fiji.dask_cluster import cluster_stack_many, connect

            if args.chunk < 1:
                raise DeepZError(f"--chunk must be at least 1 frame, got {args.chunk}")
            client = stack.enter_context(connect(args.scheduler, args.workers))
            kw["stack_many"] = cluster_stack_many(client, args.model, (start, stop, args.step), chunk=args.chunk,
                                                  tile=args.tile, tta=args.tta, network_alone=not args.keep_blend,
                                                  allow_extrapolation=args.allow_extrapolation)
        bar = stack.enter_context(ProgressBar("track", args.no_progress))
        result = track_activity(video, args.nuclei_channel, args.activity_channel, args.output, progress=bar, **kw)
    s = result.summary
    print(f"{s['neurons']} neurons, {s['active_neurons']} active, {s['clusters']} cluster(s) "
          f"(sizes {s['cluster_sizes']}); results in {args.output}")
    return 0
