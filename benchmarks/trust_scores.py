"""How well do candidate out-of-distribution scores tell a harmful refocused plane from a harmless one?

    python benchmarks/trust_scores.py --model NAME [NAME …] [--split selection] [--ensemble MODEL …] [--out DIR]
    python benchmarks/trust_scores.py --combine DIR   # a learned combination of DIR's scores (scikit-learn)

Runs the independent suite (``generalization.py``) and computes, for every row, scores that
need no truth: ``cycle`` (refocus by Δz, back by −Δz, RMS difference from the input in its own
normalised units), ``away_from_blur`` (output's RMS distance from the physics blur ÷ the
input's), ``away_from_input`` (output's distance from the input ÷ the blur's) and ``peak_ratio``
(99.9th percentile of the output ÷ the blur's), and two input statistics: ``foreground`` (the
fraction of the input above its background threshold: a dense sample), ``fill`` (how far the
input's gaps are filled with light, :func:`deepz_fiji.data.background_fill`: dense, thick tissue) and ``low_frequency``
(the share of the input's power spectrum below 0.15 cycles/px: a blurred input), and ``flip`` (the
network's disagreement with itself on the mirrored image, mirrored back, ÷ the output's distance
from the blur: one extra network pass, the cheapest test-time-augmentation spread). For each it prints
the AUC for "not harmless" (RMSE > 1.05× the better baseline) and the hit rate at the threshold that
fires on 10 % of the harmless rows, and the same for the rows worse than 1.5× ("gross"). Given
several models, each gets its table and a pooled one follows (thresholds per model, at 10 % of its
own harmless rows, as a model config would record them). Choose a score and threshold on the
selection split only.

``--combine DIR`` reads the ``*-trust_scores.csv`` files a run wrote and fits two classifiers of
"not harmless" on every score (logarithms), |Δz|, the sign of Δz and the model: a logistic
regression and gradient-boosted trees, each cross-validated by leaving one sample kind out. It
prints their AUC and hit rates at 10 % false alarms: what any combination of these scores reaches.
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
    from deepz_fiji.data.normalize import background_fill, background_mask

    xn = normalize(x, params)
    spectrum = np.abs(np.fft.rfft2(xn - xn.mean())) ** 2
    fy = np.fft.fftfreq(xn.shape[0])[:, None]
    fx = np.fft.rfftfreq(xn.shape[1])[None, :]
    high = np.hypot(fy, fx) > 0.15
    flipped = refocus_plane(x[:, ::-1], row.dz_um, images["model"])[:, ::-1]
    return {"cycle": rmse(normalize(back, params), xn),
            "flip": rmse(y, flipped) / max(rmse(y, b), 1e-9),
            "foreground": float(1 - background_mask(x).mean()),
            "fill": background_fill(x),
            "low_frequency": float(1 - spectrum[high].sum() / max(spectrum.sum(), 1e-12)),
            "away_from_blur": rmse(y, b) / max(rmse(x, b), 1e-9),
            "away_from_input": rmse(y, x) / max(rmse(b, x), 1e-9),
            "peak_ratio": float(np.percentile(y, 99.9) / max(np.percentile(b, 99.9), 1e-9))}


SCORES = ("cycle", "flip", "away_from_blur", "away_from_input", "peak_ratio", "foreground", "fill", "low_frequency")
#: Rows this much worse than the better baseline are "gross" failures.
GROSS = 1.5


def separation(values: np.ndarray, harmful: np.ndarray,
               harmless: np.ndarray | None = None) -> tuple[float, float, float]:
    """(AUC, threshold, hit rate on the ``harmful`` rows there); the threshold fires on 10 % of the
    ``harmless`` rows (default: the rows not ``harmful``)."""
    harmless = ~harmful if harmless is None else harmless
    auc = float(np.mean(values[harmful][:, None] > values[harmless][None, :]))
    threshold = float(np.quantile(values[harmless], 0.9))
    return auc, threshold, float(np.mean(values[harmful] > threshold))


def score_table(records: list[dict], names: tuple[str, ...], title: str) -> list[str]:
    """Markdown lines: per score, AUC and hit rate at 10 % false alarms, for harm and gross harm."""
    ratio = np.array([r["ratio"] for r in records])
    model = np.array([r["model"] for r in records])
    harmful, gross, harmless = ratio > 1.05, ratio > GROSS, ratio <= 1.05
    lines = [f"# {title}: {int(harmful.sum())} harmful rows of {len(records)} ({int(gross.sum())} worse than "
             f"{GROSS}x)", "",
             "| score | AUC (harmful vs harmless) | hit rate on harmful | AUC (gross vs harmless) | "
             "hit rate on gross | false alarms |", "|---|---:|---:|---:|---:|---:|"]
    for name in names:
        values = np.array([r[name] for r in records])
        fired = np.zeros(len(records), bool)
        for m in np.unique(model):  # each model its own threshold, at 10 % of its harmless rows
            own = model == m
            fired[own] = values[own] > np.quantile(values[own & harmless], 0.9)
        auc = separation(values, harmful, harmless)[0]
        auc_gross = separation(values, gross, harmless)[0]
        lines.append(f"| {name} | {auc:.2f} | {fired[harmful].mean():.2f} | {auc_gross:.2f} | "
                     f"{fired[gross].mean():.2f} | {fired[harmless].mean():.2f} |")
    return lines


def combine(folder: Path) -> str:
    """AUC and hit rates of learned combinations of the scores, leaving one sample kind out."""
    try:
        from sklearn.ensemble import GradientBoostingClassifier
        from sklearn.linear_model import LogisticRegression
    except ImportError as exc:
        raise SystemExit("--combine needs scikit-learn: pip install scikit-learn") from exc
    records = []
    for path in sorted(folder.glob("*-trust_scores.csv")):
        with open(path, newline="", encoding="utf-8") as fh:
            records += list(csv.DictReader(fh))
    if not records:
        raise SystemExit(f"no *-trust_scores.csv in {folder}; run with --model … --out {folder} first")
    models = sorted({r["model"] for r in records})
    features = np.array([[np.log(max(float(r[s]), 1e-6)) for s in SCORES]
                         + [abs(float(r["dz_um"])), np.sign(float(r["dz_um"]))]
                         + [r["model"] == m for m in models] for r in records], float)
    ratio = np.array([float(r["ratio"]) for r in records])
    sample = np.array([r["sample"] for r in records])
    harmful = ratio > 1.05
    lines = [f"# learned combinations, {len(models)} models, {len(records)} rows, one sample kind left out at a time",
             "", "| classifier | AUC | hit rate on harmful | hit rate on gross |", "|---|---:|---:|---:|"]
    for name, make in (("logistic regression", lambda: LogisticRegression(max_iter=2000)),
                       ("gradient-boosted trees", lambda: GradientBoostingClassifier(random_state=0))):
        p = np.zeros(len(records))
        for kind in np.unique(sample):
            held = sample == kind
            p[held] = make().fit(features[~held], harmful[~held]).predict_proba(features[held])[:, 1]
        auc, threshold, hit = separation(p, harmful)
        lines.append(f"| {name} | {auc:.2f} | {hit:.2f} | {np.mean(p[ratio > GROSS] > threshold):.2f} |")
    lines += ["", "Input images whose rows (every Δz refocused from it) are all harmful or all harmless. A score "
              "of the input alone fires on all of an image's rows or on none, so on every other image it misses "
              "a harmful row or raises a false alarm:", ""]
    lines += [f"- {m}: {pure:.2f} of {n} inputs" for m, (pure, n) in pure_inputs(records).items()]
    return "\n".join(lines) + "\n"


def pure_inputs(records: list[dict]) -> dict[str, tuple[float, int]]:
    """Per model: (fraction of input images whose rows share one verdict, number of input images)."""
    verdicts: dict[tuple, set] = {}
    for r in records:
        key = (r["model"], r["sample"], r["optics"], r["snr"], r["direction"], float(r["input_um"]))
        verdicts.setdefault(key, set()).add(float(r["ratio"]) > 1.05)
    out = {}
    for m in sorted({k[0] for k in verdicts}):
        mine = [len(v) == 1 for k, v in verdicts.items() if k[0] == m]
        out[m] = (float(np.mean(mine)), len(mine))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", nargs="+", default=[None])
    parser.add_argument("--split", choices=("selection", "test"), default="selection")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--ensemble", nargs="+", default=[], metavar="MODEL",
                        help="other generators (names or folders) for the ensemble score")
    parser.add_argument("--out", type=Path, default=Path("trust-scores-out"))
    parser.add_argument("--cache", type=Path, default=Path("~/.cache/deepz-fiji/generalization").expanduser())
    parser.add_argument("--combine", type=Path, default=None, metavar="DIR",
                        help="only fit learned combinations of the scores a run wrote to DIR")
    args = parser.parse_args(argv)
    if args.combine:
        text = combine(args.combine)
        (args.combine / "combined.md").write_text(text, encoding="utf-8")
        print(text)
        return 0
    from deepz_fiji.refocus import load_model

    members = [load_model(m) for m in args.ensemble]
    names = (*SCORES, *(["ensemble"] if members else []))
    everything, sections = [], []
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.model:
        records: list[dict] = []

        def on_row(row, images, records=records) -> None:
            extra = ensemble_score(row, images, members) if members else {}
            records.append({**row.as_dict(), **scores(row, images), **extra})

        rows, _ = generalization.measure(name, args.split, args.quick, False, args.cache, on_row=on_row)
        with open(args.out / f"{rows[0].model}-trust_scores.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(records[0]))
            writer.writeheader()
            writer.writerows(records)
        sections.append(score_table(records, names, f"{rows[0].model}, {args.split} split"))
        everything += records
    if len(args.model) > 1:
        sections.append(score_table(everything, names, f"{len(args.model)} models pooled, {args.split} split"))
    text = "\n\n".join("\n".join(lines) for lines in sections) + "\n"
    (args.out / "table.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
