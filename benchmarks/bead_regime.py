"""How bead density and brightness limit bringing a defocused snapshot back into focus.

    python benchmarks/bead_regime.py [--model NAME …] [--fovs 4] [--out DIR]

On our own simulator (seeds 7000+, never used in training), beads on a plane at the model's
nominal optics are recorded 5 µm (R/2) out of focus on either side and refocused back by ∓R/2;
each output is scored against the noiseless in-focus plane like a suite row
(:func:`deepz_fiji.evaluate.score_row`: the input plane and the physics blur as baselines). The
density runs from the paper's (1.8e-3 beads/µm²) to 35× it, the suite's sparse beads; the
photons per bead from the simulator's default down to 1/16 of it (the suite's normal SNR is
about 1/4). It separates what the sample's regime costs from what other optics cost: the suite
changes both at once. Writes ``table.md`` and ``rows.csv`` under ``--out``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SEED0 = 7000
DENSITIES = (1.0, 4.0, 12.0, 35.0)  # × the paper's bead density
BRIGHTNESS = (1.0, 0.25, 0.0625)  # × the simulator's default photons per bead
SIZE = 256


def measure(model_name: str, fovs: int) -> list[dict]:
    from deepz_fiji.evaluate import nominal_psf_plane, physics_blur, score_row
    from deepz_fiji.metrics import pearson
    from deepz_fiji.refocus import load_model, refocus_plane
    from deepz_fiji.simulate import Optics, simulate_stack
    from deepz_fiji.simulate.samples import BEAD_DENSITY_PER_UM2, DEFAULT_PHOTONS

    model = load_model(model_name)
    cfg = model.config
    r = min(abs(cfg.dz_min_um), abs(cfg.dz_max_um)) / 2
    optics = Optics().replace(na=cfg.na, emission_um=cfg.wavelength_um, pixel_um=cfg.pixel_um)
    paper = BEAD_DENSITY_PER_UM2 * (SIZE * cfg.pixel_um) ** 2
    rows = []
    for density in DENSITIES:
        for bright in BRIGHTNESS:
            for fov in range(fovs):
                sim = simulate_stack("plane-beads", SIZE, optics=optics, seed=SEED0 + fov, z_range_um=(-r, r),
                                     n_objects=max(1, round(density * paper)),
                                     photons=DEFAULT_PHOTONS["beads"] * (cfg.na / 0.75) ** 2 * bright)
                z = np.asarray(sim.z_um)
                truth = sim.truth[int(np.argmin(np.abs(z)))]
                for side in (-1, 1):
                    image = sim.stack[int(np.argmin(np.abs(z - side * r)))].astype(np.float32)
                    dz = -side * r
                    out = refocus_plane(image, dz, model)
                    blur = physics_blur(image, nominal_psf_plane(cfg, dz))
                    row = score_row(out, truth, image, blur, model=cfg.name, split="own-simulator",
                                    sample="plane-beads", optics="nominal", snr=f"x{bright:g}", direction="refocus",
                                    cls="learning", input_um=side * r, dz_um=dz)
                    rows.append({**row.as_dict(), "density": density, "brightness": bright, "fov": fov,
                                 "correlation": pearson(out, truth)})
    return rows


def table(rows: list[dict]) -> str:
    lines = [f"# {rows[0]['model']}: beads on a plane {abs(rows[0]['input_um']):g} um out of focus, refocused back",
             "", "Cells: median RMSE ÷ the better baseline (won rows of all); correlation with the truth.", "",
             "| density × paper's | " + " | ".join(f"photons ×{b:g}" for b in BRIGHTNESS) + " |",
             "|---:|" + "---|" * len(BRIGHTNESS)]
    for density in DENSITIES:
        cells = []
        for bright in BRIGHTNESS:
            sel = [r for r in rows if r["density"] == density and r["brightness"] == bright]
            cells.append(f"{np.median([r['ratio'] for r in sel]):.2f} ({sum(r['won'] for r in sel)}/{len(sel)}); "
                         f"r {np.median([r['correlation'] for r in sel]):.2f}")
        lines.append(f"| {density:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from deepz_fiji.io import write_csv

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", nargs="+", default=["widefield-20x-0.75na"])
    parser.add_argument("--fovs", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("bead-regime-out"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    everything, texts = [], []
    for name in args.model:
        rows = measure(name, args.fovs)
        everything += rows
        texts.append(table(rows))
        print(texts[-1], flush=True)
    (args.out / "table.md").write_text("\n".join(texts), encoding="utf-8")
    write_csv(args.out / "rows.csv", everything)
    return 0


if __name__ == "__main__":
    sys.exit(main())
