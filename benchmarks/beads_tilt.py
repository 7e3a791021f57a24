"""Fig. 4 in simulation: beads on a 1.5° tilted plane and on a 7.2 mm cylinder, refocused with a DPM.

    python benchmarks/beads_tilt.py [--model NAME|PATH] [--size 2048 | --size H W] [--seed 7100] [--beads N]
                                    [--surfaces tilt cylinder] [--tilt-deg 1.5] [--radius-um 3600] [-o OUTDIR]

For each surface, beads on it are simulated with the model's optics and imaged at one plane
(the noisy Δz = 0 camera frame: the raw image). The model refocuses the raw image onto the
matching surface DPM (tilt: ``dpm.plane_dpm(tilt_y_deg=…)``, the simulator tilts about y;
cylinder: ``dpm.cylinder_dpm(axis='x', offset_um=−sag/2)``). The truth is the noiseless image
of the same beads (same seed) in focus. Beads are detected on the truth and the same beads are
measured in the raw image, the Deep-Z output and the truth (strongly defocused raw beads are
rings a Gaussian may fail to fit: see 'fitted' and the 'common' columns). Target: Deep-Z median
lateral FWHM within 15 % of the truth's. The paper (2048 px images): 2.14 → 0.96 µm (tilt),
2.41 → 0.91 µm (cylinder). Writes SURFACE_summary.csv, SURFACE_beads.csv,
SURFACE_lateral_fwhm.png and SURFACE_info.json into OUTDIR.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TOLERANCE = 0.15
PAPER = {"tilt": (2.14, 0.96), "cylinder": (2.41, 0.91)}


def main(argv: list[str] | None = None) -> int:
    from deepz_fiji.beads.experiments import BENCH_SEED, SURFACES
    from deepz_fiji.beads.report import add_bench_arguments, parse_size

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_bench_arguments(parser, size=2048, seed=BENCH_SEED, out=REPO / "scratch" / "beads_tilt")
    parser.add_argument("--surfaces", nargs="+", choices=SURFACES, default=list(SURFACES))
    parser.add_argument("--tilt-deg", type=float, default=1.5, help="plane tilt about y (default 1.5°)")
    parser.add_argument("--radius-um", type=float, default=3600.0, help="cylinder radius (default 3600 µm)")
    parser.add_argument("--tta", action="store_true", help="refocus with test-time augmentation (8 rotations/mirrors)")
    args = parser.parse_args(argv)
    size = parse_size(parser, args.size)

    from deepz_fiji.beads.experiments import optics_for, surface_experiment, within
    from deepz_fiji.beads.report import format_summary, um, write_experiment
    from deepz_fiji.cli._common import ProgressBar
    from deepz_fiji.errors import DeepZError
    from deepz_fiji.refocus import refocus_surface, resolve_model

    results, lines = [], []
    try:
        t0 = time.perf_counter()
        model = resolve_model(args.model)
        for surface in args.surfaces:
            with ProgressBar(f"refocus {surface}", disable=args.no_progress) as bar:
                def deepz(image, dpm, bar=bar):
                    return refocus_surface(image, dpm, model, progress=bar, tta=args.tta)

                exp = surface_experiment(deepz, surface, size=size, seed=args.seed, optics=optics_for(model.config),
                                         n_objects=args.beads, tilt_deg=args.tilt_deg, radius_um=args.radius_um)
            files = write_experiment(exp, args.output)
            results.append(exp)
            raw, out, truth = (exp.median("lateral", im) for im in exp.images)
            ok = within(out, truth, TOLERANCE)
            lines.append(f"{surface}: median lateral FWHM raw {um(raw)} → Deep-Z {um(out)}, in-focus truth "
                         f"{um(truth)}; Deep-Z within {TOLERANCE:.0%} of the truth: {'met' if ok else 'MISSED'} "
                         f"(paper {PAPER[surface][0]} → {PAPER[surface][1]} µm)")
            lines.append(f"  wrote {', '.join(str(p) for p in files.values())}")
    except DeepZError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"model {model.config.name} ({model.path}){' with --tta' if args.tta else ''}; {size[0]}×{size[1]} px, "
          f"seed {args.seed}; "
          f"{time.perf_counter() - t0:.0f} s")
    for exp in results:
        i = exp.info
        shape = f"tilt {i['tilt_deg']}° about y" if exp.name == "tilt" else f"cylinder R {i['radius_um']:g} µm along x"
        print(f"{exp.name}: {shape}, DPM {i['dpm_um'][0]:+.2f} … {i['dpm_um'][1]:+.2f} µm "
              f"(max |DPM − bead z| {i['dpm_vs_bead_z_max_um']:.3f} µm); {i['beads_simulated']} beads simulated, "
              f"{i['beads_detected']} isolated beads detected on the truth (rejected {i['rejected']})")
    print(format_summary([r for exp in results for r in exp.summary()]))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
