"""Tables of scored rows: counts per class, a one-line summary, markdown and CSV."""

from __future__ import annotations

import csv
import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from deepz_fiji.evaluate.rows import CLASSES, Row
from deepz_fiji.io import atomic_path

_FIELDS = [f.name for f in dataclasses.fields(Row)]
_TEXT = {"model", "split", "sample", "optics", "snr", "direction", "cls"}


def summarize(rows: Sequence[Row]) -> dict[str, dict[str, int]]:
    """``{class: {"rows", "won", "harmless"}}`` and ``"all"``."""
    out = {}
    for cls in (*CLASSES, "all"):
        chosen = [r for r in rows if cls in ("all", r.cls)]
        out[cls] = {"rows": len(chosen), "won": sum(r.won for r in chosen),
                    "harmless": sum(r.harmless for r in chosen)}
    return out


def _describe(row: Row) -> str:
    return (f"{row.sample}/{row.optics}/{row.snr} {row.direction} from {row.input_um:+g} by {row.dz_um:+g} um: "
            f"{row.ratio:.2f}x the better baseline")


def summary_line(rows: Sequence[Row]) -> str:
    """``won N/M (learning a/b, blur c/d); harmless H/M; worst row …``."""
    if not rows:
        return "no rows"
    s = summarize(rows)
    parts = ", ".join(f"{cls} {s[cls]['won']}/{s[cls]['rows']}" for cls in CLASSES)
    worst = max(rows, key=lambda r: r.ratio)
    return (f"won {s['all']['won']}/{s['all']['rows']} ({parts}); harmless {s['all']['harmless']}/{s['all']['rows']}"
            f"; worst row {_describe(worst)}")


def markdown_table(rows: Sequence[Row], *, group: Sequence[str] = ("sample", "optics", "snr", "direction")) -> str:
    """Counts per class, then one line per group of rows (median ratio, won and harmless counts)."""
    s = summarize(rows)
    lines = ["| class | rows | won | harmless |", "|---|---:|---:|---:|"]
    lines += [f"| {cls} | {s[cls]['rows']} | {s[cls]['won']} | {s[cls]['harmless']} |" for cls in (*CLASSES, "all")]
    lines += ["", f"| {' | '.join(group)} | class | rows | won | harmless | median RMSE ÷ better baseline | worst |",
              "|" + "---|" * len(group) + "---|---:|---:|---:|---:|---:|"]
    keys = sorted({tuple(getattr(r, g) for g in group) for r in rows})
    for key in keys:
        chosen = [r for r in rows if tuple(getattr(r, g) for g in group) == key]
        ratios = [r.ratio for r in chosen]
        cls = "/".join(sorted({r.cls for r in chosen}))
        lines.append(f"| {' | '.join(map(str, key))} | {cls} | {len(chosen)} | {sum(r.won for r in chosen)} | "
                     f"{sum(r.harmless for r in chosen)} | {np.median(ratios):.2f} | {max(ratios):.2f} |")
    return "\n".join(lines) + "\n"


def write_rows_csv(rows: Sequence[Row], path: str | os.PathLike) -> Path:
    """Every row with both baselines' columns, the ratio and the verdicts (written atomically)."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*_FIELDS, "ratio", "won", "harmless"])
        writer.writeheader()
        for row in rows:
            writer.writerow(row.as_dict())
    return path


def read_rows_csv(path: str | os.PathLike) -> list[Row]:
    """Rows back from :func:`write_rows_csv`."""
    with open(path, newline="", encoding="utf-8") as fh:
        return [Row(**{k: (v if k in _TEXT else float(v)) for k, v in rec.items() if k in _FIELDS})
                for rec in csv.DictReader(fh)]
