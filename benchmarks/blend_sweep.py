"""How much of the physics blur should a model's output blend in (``physics_blend``), and at what
scale should it keep the input's low-pass (``output_level`` ``local-flux``, ``output_level_scale``)?

    python benchmarks/blend_sweep.py --model NAME [--split selection] [--blends 0 0.1 0.2 0.3 0.4 0.5]
        [--level-scales 0.5 1 2]

Runs the independent suite (``generalization.py``) once with the model's network alone (its own
``physics_blend`` switched off, its level the frame's mean) and scores, for every blend a, the
plane y = (1 − a) × output + a × physics blur of each row against the same baselines; with
``--level-scales``, also y + low-pass(input − y) at σ = s × the defocus disc's radius at Δz for
every s (:mod:`deepz_fiji.refocus.levels`). Prints won (learning rows won) and harmless counts per
setting. Choose on the selection split only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generalization  # noqa: E402

LABELS = ("model", "split", "sample", "optics", "snr", "direction", "cls", "input_um", "dz_um")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--split", choices=("selection", "test"), default="selection")
    parser.add_argument("--blends", type=float, nargs="+", default=[0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    parser.add_argument("--level-scales", type=float, nargs="+", default=[], metavar="S",
                        help="also keep the input's low-pass at these scales (local-flux)")
    parser.add_argument("--cache", type=Path, default=Path("~/.cache/deepz-fiji/generalization").expanduser())
    args = parser.parse_args(argv)
    import dataclasses

    from deepz_fiji.evaluate import score_row
    from deepz_fiji.refocus.levels import local_sigma_px, lowpass

    settings = [(a, s) for a in args.blends for s in [None, *args.level_scales]]
    counts = {k: {"won": 0, "learning": 0, "harmless": 0, "rows": 0} for k in settings}

    def on_row(row, images) -> None:
        labels = {key: getattr(row, key) for key in LABELS}
        config = images["model"].config
        for (a, s), count in counts.items():
            plane = (1 - a) * images["output"] + a * images["blur"]
            if s is not None:
                sigma = local_sigma_px(row.dz_um, dataclasses.replace(config, output_level_scale=s))
                plane = plane + lowpass(images["input"] - plane, sigma)
            scored = score_row(plane, images["truth"], images["input"], images["blur"], **labels)
            count["won"] += scored.won
            count["learning"] += scored.won and row.cls == "learning"
            count["harmless"] += scored.harmless
            count["rows"] += 1

    rows, _ = generalization.measure(args.model, args.split, False, False, args.cache, on_row=on_row,
                                     network_alone=True)
    print(f"{rows[0].model}, {args.split} split\n\n| blend | level | won (learning) | harmless |\n|---:|---|---|---:|")
    for (a, s), c in counts.items():
        level = "network's" if s is None else f"local-flux {s:g}"
        print(f"| {a:g} | {level} | {c['won']} ({c['learning']}) | {c['harmless']} of {c['rows']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
