"""Fig. 1b,c in simulation: bead FWHM from Deep-Z (one image) vs a 41-plane mechanical scan.

    python benchmarks/beads_fig1.py [--model NAME|PATH] [--size 1024 | --size H W] [--seed 7100] [--beads N]
                                    [--sample beads|plane-beads] [-o OUTDIR]

A bead stack (−10 … +10 µm, 0.5 µm: 41 planes) is simulated with the model's optics; its noisy
Δz = 0 plane alone is refocused by the model into a 41-plane virtual stack. Beads are detected
on the noiseless truth's maximum projection; each is measured in the virtual stack, the noisy
scan and the noiseless truth: lateral FWHM in its own brightest plane, axial FWHM from the x–z
slice through it. Prints the table (medians over all fitted beads and over the beads fitted in
every image) and writes fig1_summary.csv, fig1_beads.csv, fig1_lateral_fwhm.png,
fig1_axial_fwhm.png (Deep-Z vs scanned, as in the paper) and fig1_info.json into OUTDIR.
``--sample beads`` scatters the beads through the volume (each at its own depth);
``plane-beads`` puts them on a coverslip at Δz = 0 as in the paper.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

START_UM, STOP_UM, STEP_UM = -10.0, 10.0, 0.5


def main(argv: list[str] | None = None) -> int:
    from deepz_fiji.beads.experiments import BENCH_SEED
    from deepz_fiji.beads.report import add_bench_arguments, parse_size

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_bench_arguments(parser, size=1024, seed=BENCH_SEED, out=REPO / "scratch" / "beads_fig1")
    parser.add_argument("--sample", choices=("beads", "plane-beads"), default="beads",
                        help="beads through the volume (default) or on a coverslip at Δz = 0 (the paper's)")
    args = parser.parse_args(argv)
    size = parse_size(parser, args.size)

    from deepz_fiji.beads.experiments import optics_for, volume_experiment
    from deepz_fiji.beads.report import format_summary, um, write_experiment
    from deepz_fiji.cli._common import ProgressBar
    from deepz_fiji.errors import DeepZError
    from deepz_fiji.refocus import resolve_model, virtual_stack

    try:
        t0 = time.perf_counter()
        model = resolve_model(args.model)
        with ProgressBar("virtual stack", disable=args.no_progress) as bar:
            exp = volume_experiment(
                lambda image, start, stop, step: virtual_stack(image, start, stop, step, model, progress=bar),
                size=size, seed=args.seed, optics=optics_for(model.config), sample=args.sample,
                n_objects=args.beads, start_um=START_UM, stop_um=STOP_UM, step_um=STEP_UM)
        files = write_experiment(exp, args.output, plotted=["Deep-Z", "scanned"])
    except DeepZError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    info = exp.info
    print(f"model {model.config.name} ({model.path}); {info['sample']} {info['size'][0]}×{info['size'][1]} px, "
          f"seed {info['seed']}, {info['planes']} planes {START_UM:g} … {STOP_UM:g} µm; "
          f"{info['beads_simulated']} beads simulated, {info['beads_detected']} isolated beads detected on the "
          f"noiseless truth (rejected {info['rejected']}); {time.perf_counter() - t0:.0f} s")
    print(format_summary(exp.summary()))
    for m in exp.measurements:
        deepz, scan = exp.median(m, "Deep-Z"), exp.median(m, "scanned")
        ratio = f" = {deepz / scan:.2f}" if math.isfinite(deepz / scan) else ""
        print(f"{m} median FWHM: Deep-Z {um(deepz)} / scanned {um(scan)}{ratio}")
    print(f"wrote {', '.join(str(p) for p in files.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
