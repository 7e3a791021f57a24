"""How much of the physics blur should a model's output blend in (``physics_blend``)?

    python benchmarks/blend_sweep.py --model NAME [--split selection] [--blends 0 0.1 0.2 0.3 0.4 0.5]

Runs the independent suite (``generalization.py``) once with the model's network alone (its own
``physics_blend`` switched off) and scores, for every blend a, the plane (1 − a) × output + a ×
physics blur of each row against the same baselines: won (learning rows won) and harmless counts
per a. Choose a on the selection split only.
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
    parser.add_argument("--cache", type=Path, default=Path("~/.cache/deepz-fiji/generalization").expanduser())
    args = parser.parse_args(argv)
    from deepz_fiji.evaluate import score_row

    counts = {a: {"won": 0, "learning": 0, "harmless": 0, "rows": 0} for a in args.blends}

    def on_row(row, images) -> None:
        labels = {key: getattr(row, key) for key in LABELS}
        for a, count in counts.items():
            scored = score_row((1 - a) * images["output"] + a * images["blur"], images["truth"], images["input"],
                               images["blur"], **labels)
            count["won"] += scored.won
            count["learning"] += scored.won and row.cls == "learning"
            count["harmless"] += scored.harmless
            count["rows"] += 1

    rows, _ = generalization.measure(args.model, args.split, False, False, args.cache, on_row=on_row,
                                     network_alone=True)
    print(f"{rows[0].model}, {args.split} split\n\n| blend | won (learning) | harmless |\n|---:|---|---:|")
    for a, c in counts.items():
        print(f"| {a:g} | {c['won']} ({c['learning']}) | {c['harmless']} of {c['rows']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
