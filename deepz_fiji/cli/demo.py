"""``deepz demo``: the shipped model on a simulated snapshot, against the ground truth."""

from __future__ import annotations

import argparse
from pathlib import Path

from deepz_fiji.cli._common import ProgressBar, add_model_argument, add_progress_argument

#: ``deepz_fiji.cli.main`` imports TensorFlow quietly before this module's commands run.
USES_TENSORFLOW = True


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="refocus a simulated snapshot into a virtual z-stack and compare it with the truth",
        description="Simulate a field of view with the model's optics (a seed never used in training), "
        "take its Δz = 0 plane as the only input, refocus it to every plane of the model's trained "
        "range, and compare each plane with the simulator's noiseless ground truth (SSIM/RMSE, next to "
        "the input plane used as the answer). Writes TIFFs, per_plane.csv and demo.png.",
    )
    p.add_argument("-o", "--out", type=Path, default=Path("deepz-demo"), help="output folder (deepz-demo)")
    add_model_argument(p)
    p.add_argument("--sample", default="plane-beads",
                   help="beads, plane-beads, nuclei, filaments, tilted-beads, cylinder-beads (plane-beads)")
    p.add_argument("--size", type=int, default=256, help="image side in pixels (256)")
    p.add_argument("--range", type=float, nargs=2, metavar=("START", "STOP"), default=None,
                   help="Δz range in µm (default: the model's trained range)")
    p.add_argument("--step", type=float, default=0.5, help="plane spacing in µm (0.5)")
    p.add_argument("--seed", type=int, default=None, help="simulation seed (default: the demo's fixed seed)")
    add_progress_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deepz_fiji.refocus.demo import DEMO_SEED, run_demo

    start, stop = args.range if args.range else (None, None)
    with ProgressBar("refocus", args.no_progress) as bar:
        result = run_demo(args.out, model=args.model, sample=args.sample, size=args.size,
                          seed=DEMO_SEED if args.seed is None else args.seed, start_um=start,
                          stop_um=stop, step_um=args.step, progress=bar)
    print(f"{'z (µm)':>7} {'SSIM':>7} {'RMSE':>8}   {'input plane as the answer':>26}   {'physics blur':>24}")
    for row in result.rows:
        print(f"{row['z_um']:>+7.1f} {row['ssim']:>7.3f} {row['rmse']:>8.1f}   "
              f"SSIM {row['ssim_input_plane']:>6.3f} RMSE {row['rmse_input_plane']:>8.1f}   "
              f"SSIM {row['ssim_physics_blur']:>6.3f} RMSE {row['rmse_physics_blur']:>7.1f}")
    far = [r for r in result.rows if abs(r["z_um"]) >= 2.5]
    if far:
        better = sum(r["rmse"] < min(r["rmse_input_plane"], r["rmse_physics_blur"]) for r in far)
        print(f"|Δz| ≥ 2.5 µm: Deep-Z beats both baselines on RMSE at {better}/{len(far)} planes")
    if result.hard:
        h = result.hard
        print(f"the hard direction, a snapshot {h['from_um']:+g} µm from focus refocused by {h['dz_um']:+g} µm: "
              + ", ".join(f"{name} RMSE {h[name]['rmse']:.1f} SSIM {h[name]['ssim']:.3f}"
                          for name in ("Deep-Z", "input", "physics blur")))
    for name, path in result.files.items():
        print(f"wrote {name}: {path}")
    return 0
