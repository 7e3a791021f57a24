"""``deepz refocus``, ``deepz stack`` and ``deepz surface``: refocus image files."""

from __future__ import annotations

import argparse
from pathlib import Path

from deepz_fiji.cli._common import (
    ProgressBar,
    add_model_argument,
    add_progress_argument,
    add_tta_argument,
)

EPILOG = (
    "Δz > 0 is a plane farther from the objective (deeper into the sample). Inputs: 8/16-bit or "
    "float TIFFs, 2D or with T/C axes (every frame is refocused). The output is a calibrated "
    "ImageJ TIFF (float32, input intensity units), written only when complete."
)

#: ``deepz_fiji.cli.main`` imports TensorFlow quietly before this module's commands run.
USES_TENSORFLOW = True


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("refocus", help="refocus an image to another plane (Δz in µm)",
                              description="Refocus INPUT by DZ_UM µm with a Deep-Z model.", epilog=EPILOG)
    p.add_argument("input", type=Path, help="input TIFF (one focal plane, optionally T/C frames)")
    p.add_argument("--dz", type=float, required=True, metavar="DZ_UM", help="refocusing distance in µm")
    _add_common(p)
    p.set_defaults(func=cmd_refocus)

    s = subparsers.add_parser("stack", help="a virtual z-stack from one image",
                              description="Refocus INPUT to planes START, START+STEP, … STOP (µm; STOP "
                              "included when on the grid) and write a calibrated ZYX stack.", epilog=EPILOG)
    s.add_argument("input", type=Path, help="input TIFF (one focal plane, optionally T/C frames)")
    s.add_argument("--range", nargs=2, type=float, required=True, metavar=("START", "STOP"),
                   help="first and last Δz in µm, e.g. --range -10 10")
    s.add_argument("--step", type=float, required=True, metavar="STEP", help="z step in µm, e.g. 0.5")
    _add_common(s)
    s.set_defaults(func=cmd_stack)

    f = subparsers.add_parser("surface", help="refocus onto a tilted plane, a cylinder or a height map",
                              description="Refocus INPUT onto a 3D surface given by a digital propagation "
                              "matrix (DPM): a tilted plane, a cylinder or a height map.", epilog=EPILOG)
    f.add_argument("input", type=Path, help="input TIFF (one focal plane, optionally T/C frames)")
    f.add_argument("--tilt-x-deg", type=float, metavar="A", help="tilt about the x axis (Δz changes along y)")
    f.add_argument("--tilt-y-deg", type=float, metavar="A", help="tilt about the y axis (Δz changes along x)")
    f.add_argument("--cylinder-radius-um", type=float, metavar="R", help="cylinder surface of radius R µm")
    f.add_argument("--axis", choices=("x", "y"), default="x", help="direction of the cylinder's axis")
    f.add_argument("--side", choices=("convex", "concave"), default="convex",
                   help="convex: Δz grows away from the cylinder axis (default)")
    f.add_argument("--height-map", type=Path, metavar="MAP.tif", help="2D TIFF of heights in µm")
    f.add_argument("--offset-um", type=float, default=0.0, metavar="O", help="Δz added everywhere (µm)")
    f.add_argument("--save-dpm", type=Path, metavar="DPM.tif", help="also write the DPM used (µm)")
    _add_common(f)
    f.set_defaults(func=cmd_surface)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.tif", help="output TIFF")
    add_model_argument(parser)
    parser.add_argument("--pixel-um", type=float, metavar="P",
                        help="pixel size in µm (default: the input's calibration, else the model's)")
    parser.add_argument("--na", type=float, metavar="NA",
                        help="your objective's NA: warns when it differs from the model's by more than 0.05")
    parser.add_argument("--wavelength-um", type=float, metavar="L",
                        help="your emission wavelength in µm: warns when it differs from the model's by > 0.03")
    parser.add_argument("--allow-extrapolation", action="store_true",
                        help="allow Δz outside the model's trained range (unreliable; warns)")
    parser.add_argument("--tile", type=int, default=None, metavar="N",
                        help="largest tile side in pixels (default: sized to keep the network near 1.5 GB, "
                        "1472 for the small preset; 0 = no tiling); smaller tiles use less memory")
    parser.add_argument("--precision", choices=("float32", "bfloat16"), default=None,
                        help="arithmetic precision (default float32 or $DEEPZ_PRECISION); bfloat16 is about "
                        "twice as fast on CPUs with AVX512-BF16/AMX")
    add_tta_argument(parser)
    add_progress_argument(parser)


def _options(args: argparse.Namespace) -> dict:
    return {"model": args.model, "pixel_um": args.pixel_um, "allow_extrapolation": args.allow_extrapolation,
            "tile": args.tile, "precision": args.precision, "tta": args.tta, "na": args.na,
            "wavelength_um": args.wavelength_um}


def cmd_refocus(args: argparse.Namespace) -> int:
    from deepz_fiji.refocus.files import refocus_file

    with ProgressBar("refocus", args.no_progress) as bar:
        path = refocus_file(args.input, args.output, args.dz, progress=bar, **_options(args))
    print(f"wrote {path}")
    return 0


def cmd_stack(args: argparse.Namespace) -> int:
    from deepz_fiji.refocus.files import virtual_stack_file

    start, stop = args.range
    with ProgressBar("virtual stack", args.no_progress) as bar:
        path = virtual_stack_file(args.input, args.output, start, stop, args.step, progress=bar,
                                  **_options(args))
    print(f"wrote {path}")
    return 0


def cmd_surface(args: argparse.Namespace) -> int:
    from deepz_fiji.refocus.files import Surface, refocus_surface_file

    surface = Surface(tilt_x_deg=args.tilt_x_deg, tilt_y_deg=args.tilt_y_deg,
                      cylinder_radius_um=args.cylinder_radius_um, axis=args.axis, side=args.side,
                      height_map=args.height_map, offset_um=args.offset_um)
    with ProgressBar("surface", args.no_progress) as bar:
        path = refocus_surface_file(args.input, args.output, surface, dpm_output=args.save_dpm,
                                    progress=bar, **_options(args))
    print(f"wrote {path}")
    return 0
