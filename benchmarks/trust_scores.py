"""How well do candidate out-of-distribution scores tell a harmful refocused plane from a harmless one?

    python benchmarks/trust_scores.py --model NAME [--split selection] [--ensemble MODEL …] [--out DIR]

Runs the independent suite (``generalization.py``) and computes, for every row, scores that
need no truth: ``cycle`` (refocus by Δz, back by −Δz, RMS difference from the input in its own
normalised units), ``away_from_blur`` (output's RMS distance from the physics blur ÷ the
input's), ``away_from_input`` (output's distance from the input ÷ the blur's) and ``peak_ratio``
(99.9th percentile of the output ÷ the blur's), and two input statistics: ``foreground`` (the
fraction of the input above its background threshold: a dense sample) and ``low_frequency``
(the share of the input's power spectrum below 0.15 cycles/px: a blurred input). For each it prints the AUC for "not harmless"
(RMSE > 1.05× the better baseline) and the hit rate at the threshold that fires on 10 % of the
harmless rows. Choose a score and threshold on the selection split only.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generalization  # noqa: E402


def ensemble_score(row, images, members) -> dict[str, float]:
    from deepz_fiji.metrics import rmse
    from deepz_fiji.refocus import refocus_plane

    y, b = images["output"], images["blur"]
    spread = max(rmse(y, refocus_plane(images["input"], row.dz_um, m)) for m in members)
    return {"ensemble": spread / max(rmse(y, b), 1e-9)}


def scores(row, images) -> dict[str, float]:
    from deepz_fiji.data import estimate_normalization, normalize
    from deepz_fiji.metrics import rmse
    from deepz_fiji.refocus import refocus_plane

    x, y, b = images["input"], images["output"], images["blur"]
    params = estimate_normalization(x)
    back = refocus_plane(y, -row.dz_um, images["model"])
    from deepz_fiji.data.normalize import background_mask

    xn = normalize(x, params)
    spectrum = np.abs(np.fft.rfft2(xn - xn.mean())) ** 2
    fy = np.fft.fftfreq(xn.shape[0])[:, None]
    fx = np.fft.rfftfreq(xn.shape[1])[None, :]
    high = np.hypot(fy, fx) > 0.15
    return {"cycle": rmse(normalize(back, params), xn),
            "foreground": float(1 - background_mask(x).mean()),
            "low_frequency": float(1 - spectrum[high].sum() / max(spectrum.sum(), 1e-12)),
            "away_from_blur": rmse(y, b) / max(rmse(x, b), 1e-9),
            "away_from_input": rmse(y, x) / max(rmse(b, x), 1e-9),
            "peak_ratio": float(np.percentile(y, 99.9) / max(np.percentile(b, 99.9), 1e-9))}


def separation(values: np.ndarray, harmful: np.ndarray) -> tuple[float, float, float]:
    """(AUC, threshold firing on 10 % of the harmless rows, hit rate on the harmful ones there)."""
    auc = float(np.mean(values[harmful][:, None] > values[~harmful][None, :]))
    threshold = float(np.quantile(values[~harmful], 0.9))
    return auc, threshold, float(np.mean(values[harmful] > threshold))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--split", choices=("selection", "test"), default="selection")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--ensemble", nargs="+", default=[], metavar="MODEL",
                        help="other generators (names or folders) for the ensemble score")
    parser.add_argument("--out", type=Path, default=Path("trust-scores-out"))
    parser.add_argument("--cache", type=Path, default=Path("~/.cache/deepz-fiji/generalization").expanduser())
    args = parser.parse_args(argv)
    from deepz_fiji.refocus import load_model

    members = [load_model(m) for m in args.ensemble]
    records = []

    def on_row(row, images) -> None:
        extra = ensemble_score(row, images, members) if members else {}
        records.append({**row.as_dict(), **scores(row, images), **extra})

    rows, _ = generalization.measure(args.model, args.split, args.quick, False, args.cache, on_row=on_row)
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "trust_scores.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    harmful = np.array([not r["harmless"] for r in records])
    lines = [f"# {rows[0].model}, {args.split} split: {int(harmful.sum())} harmful rows of {len(records)}", "",
             "| score | AUC (harmful vs harmless) | threshold (10 % of harmless rows) | hit rate on harmful |",
             "|---|---:|---:|---:|"]
    for name in ("cycle", "away_from_blur", "away_from_input", "peak_ratio", "foreground", "low_frequency",
                 *(["ensemble"] if members else [])):
        auc, threshold, hit = separation(np.array([r[name] for r in records]), harmful)
        lines.append(f"| {name} | {auc:.2f} | {threshold:.3g} | {hit:.2f} |")
    text = "\n".join(lines) + "\n"
    (args.out / "table.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
