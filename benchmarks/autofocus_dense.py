"""Autofocus on the independent suite's samples: thick and dense ones against thin ones.

Each field is rendered as the suite renders it (``independent_data``: another PSF code path at
the model's own optics, the suite's camera), recorded with its middle plane ``offset`` µm from
the focal plane; ``deepz autofocus`` (:func:`analyse_focus`, twice-normalised virtual stack over
the model's range) should answer Δz = −offset. For thin samples that is a single plane; a
thick sample (dense tissue 10–30 µm, a real-morphology volume) is about equally sharp over much
of its depth. The table gives the errors and the width of the sharpness peak
(``FocusResult.width_um``); the CSV also the peak's prominence (height above the curve's median ÷
height). Neither tells the two apart (README). The table's last columns give the scatter of a 4×4
grid's foci around a plane (``FocusResult.spread_um``), how far the frame's gaps are filled with
light (``FocusResult.fill``, :func:`deepz_fiji.data.background_fill`) and how often autofocus said
"no single focus" (a spread above ``NO_SINGLE_FOCUS_UM`` or a fill of ``DENSE_FILL`` or more); a
frame counts as handled when it is within 1 µm or autofocus said so.

    python benchmarks/autofocus_dense.py [--model NAME|PATH] [--split selection|test] [--out FILE.csv]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

SAMPLES = ("beads", "filaments", "tissue", "volume")
OFFSETS_UM = (-5.0, -2.5, 2.5, 5.0)
FIELDS, SIZE, N_Z = 2, 256, 101  # fields per sample and optics; the object grid (0.5 µm steps: ±25 µm)


def fields(config, split: str):
    """Yield (sample, optics name, field, offset µm, camera frame) of the split."""
    import independent_data as data

    step = float(config.z_step_um)
    seed0 = data.SPLITS[split]["seed0"] + 700  # seeds the suite's own rows do not use
    for optics in data.optics_for(config)[:2]:  # the model's own optics, two code paths
        psf = data.psf_stack(optics, float(config.pixel_um), step, 2 * N_Z + 1, 127)
        for s, sample in enumerate(SAMPLES):
            for f in range(FIELDS):
                seed = seed0 + 10 * s + f
                density = data.make_object(sample, seed, SIZE, N_Z, data.SPLITS[split]["volume"])
                k = [N_Z // 2 + round(o / step) for o in OFFSETS_UM]
                planes = data.image_planes(density, psf, k)
                rng = np.random.default_rng(seed)
                camera = data.Camera(data.SNRS["normal"])
                scale = camera.photons / float(np.percentile(np.stack(list(planes.values())), 99.9) or 1.0)
                for offset, p in zip(OFFSETS_UM, k, strict=True):
                    yield sample, optics.name, f, offset, camera.record(planes[p], scale, rng)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model name or folder (default: the shipped default)")
    parser.add_argument("--split", choices=("selection", "test"), default="selection")
    parser.add_argument("--out", type=Path, default=None, help="also write every field's row here (CSV)")
    args = parser.parse_args(argv)
    from deepz_fiji.activity.autofocus import analyse_focus
    from deepz_fiji.io import write_csv
    from deepz_fiji.model import load_model

    model = load_model(args.model)
    cfg = model.config
    rows, t0 = [], time.perf_counter()
    for sample, optics, field, offset, frame in fields(cfg, args.split):
        result = analyse_focus(frame, model, (cfg.dz_min_um, cfg.dz_max_um), 0.5, warn=False)
        found = float(result.dz_um[0, 0])
        curve = result.curves[0, 0]
        rows.append({"sample": sample, "optics": optics, "field": field, "offset_um": offset, "found_um": found,
                     "error_um": found + offset, "width_um": float(result.width_um[0, 0]),
                     "prominence": float((curve.max() - np.median(curve)) / max(curve.max(), 1e-12)),
                     "at_edge": bool(result.at_edge[0, 0]), "spread_um": result.spread_um, "fill": result.fill,
                     "no_single_focus": not result.single_focus})
    print(f"model {cfg.name} ({model.path}), {args.split} split, {len(rows)} frames, "
          f"{time.perf_counter() - t0:.0f} s")
    print("| sample | frames | max error µm | median error µm | within 1 µm | peak width µm (min – median – max) "
          "| regional spread µm (min – median – max) | fill (min – median – max) | no single focus said "
          "| handled (within 1 µm or said) |")
    print("|---|---:|---:|---:|---:|---|---|---|---:|---:|")
    for sample in SAMPLES:
        mine = [r for r in rows if r["sample"] == sample]
        err = np.abs([r["error_um"] for r in mine])
        said = np.array([r["no_single_focus"] for r in mine])
        spans = [f"{min(v):{f}} – {np.median(v):{f}} – {max(v):{f}}" for v, f in
                 (([r["width_um"] for r in mine], ".1f"), ([r["spread_um"] for r in mine], ".1f"),
                  ([r["fill"] for r in mine], ".2f"))]
        print(f"| {sample} | {len(mine)} | {err.max():.2f} | {np.median(err):.2f} | {int((err <= 1).sum())} | "
              f"{' | '.join(spans)} | {int(said.sum())} | {int(((err <= 1) | said).sum())} |")
    if args.out:
        write_csv(args.out, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
