"""A model's record on the independent evaluation suite (``suite.json`` in its model folder).

The suite (``benchmarks/generalization.py``) refocuses data made without our simulator (other PSF
code paths, other objects, a foreign objective) and scores every row against the input plane and
the physics blur. Its summary travels with the model, so that ``deepz info`` can say how the model
did on data it was not made for: counts per row class, how many rows per sample kind and per
optics were harmless, and the worst rows.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deepz_fiji.errors import DeepZError
from deepz_fiji.evaluate.report import counts_by, describe, row_from_dict, summarize, summary_line
from deepz_fiji.evaluate.rows import Row
from deepz_fiji.io import write_json

SUITE_JSON = "suite.json"
#: Worst rows kept in the record.
WORST = 3


def suite_record(rows: Sequence[Row], command: str) -> dict[str, Any]:
    """The record of ``rows`` (one model, one split): summary, counts, per sample kind and optics, worst rows."""
    if not rows:
        raise DeepZError("no suite rows to record; run benchmarks/generalization.py first")
    models, splits = {r.model for r in rows}, {r.split for r in rows}
    if len(models) != 1 or len(splits) != 1:
        raise DeepZError(f"a suite record holds one model on one split, got models {sorted(models)} and "
                         f"splits {sorted(splits)}")
    worst = sorted(rows, key=lambda r: r.ratio, reverse=True)[:WORST]
    return {"model": rows[0].model, "split": rows[0].split, "command": command, "summary": summary_line(rows),
            "counts": summarize(rows), "by_sample": counts_by(rows, "sample"), "by_optics": counts_by(rows, "optics"),
            "worst": [r.as_dict() for r in worst]}


def write_suite_record(folder: str | os.PathLike, rows: Sequence[Row], command: str) -> Path:
    """Write :func:`suite_record` as ``suite.json`` into a model folder (atomically); returns its path."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise DeepZError(f"{folder} is not a model folder (no config.json); give the model's folder to record into")
    return write_json(folder / SUITE_JSON, suite_record(rows, command))


def read_suite_record(folder: str | os.PathLike) -> dict[str, Any] | None:
    """The suite record of a model folder, or ``None`` when it has none."""
    path = Path(folder) / SUITE_JSON
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DeepZError(f"{path} is not valid JSON ({exc}); write it again with benchmarks/generalization.py "
                         "--record") from exc


def _counts(groups: dict[str, dict[str, int]]) -> str:
    return ", ".join(f"{name} {g['harmless']}/{g['rows']}" for name, g in groups.items())


def suite_text(record: dict[str, Any]) -> str:
    """The record as lines for a terminal (``deepz info``)."""
    lines = [f"independent suite ({record.get('split', '?')} split; data made without our simulator):",
             f"  {record.get('summary', '')}",
             f"  harmless by sample: {_counts(record.get('by_sample', {}))}",
             f"  harmless by optics: {_counts(record.get('by_optics', {}))}"]
    for r in record.get("worst", []):
        lines.append(f"  worse: {describe(row_from_dict(r))}")
    lines.append("  harmless: RMSE <= 1.05x the better of the input plane and the physics blur; won: <= 0.8x and "
                 "SSIM above both. Where a row is not harmless, the input plane or a plain blur was closer to the truth")
    return "\n".join(lines)
