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


def counts(rows: Sequence[Row]) -> dict[str, int]:
    """``{"rows", "won", "harmless"}`` of ``rows``."""
    return {"rows": len(rows), "won": sum(r.won for r in rows), "harmless": sum(r.harmless for r in rows)}


def counts_by(rows: Sequence[Row], key: str) -> dict[str, dict[str, int]]:
    """:func:`counts` per value of the row field ``key`` (e.g. ``"sample"``), in order of appearance."""
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(getattr(row, key), []).append(row)
    return {value: counts(chosen) for value, chosen in groups.items()}


def summarize(rows: Sequence[Row]) -> dict[str, dict[str, int]]:
    """``{class: {"rows", "won", "harmless"}}`` and ``"all"``."""
    return {cls: counts([r for r in rows if cls in ("all", r.cls)]) for cls in (*CLASSES, "all")}


def describe(row: Row) -> str:
    """``sample/optics/snr direction from +z by Δz um: R x the better baseline``."""
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
            f"; worst row {describe(worst)}")


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


def row_from_dict(record: dict) -> Row:
    """A row back from :meth:`Row.as_dict` or a CSV record (extra keys such as ``ratio`` are ignored)."""
    return Row(**{k: (v if k in _TEXT else float(v)) for k, v in record.items() if k in _FIELDS})


def read_rows_csv(path: str | os.PathLike) -> list[Row]:
    """Rows back from :func:`write_rows_csv`."""
    with open(path, newline="", encoding="utf-8") as fh:
        return [row_from_dict(rec) for rec in csv.DictReader(fh)]
