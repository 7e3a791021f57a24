"""Tables and files of a :class:`~deepz_fiji.beads.experiments.BeadExperiment`.

:func:`write_experiment` writes, for an experiment named ``NAME``:
``NAME_summary.csv`` (one row per measurement and image), ``NAME_beads.csv`` (one row per bead,
measurement and image: the fit or why it failed), ``NAME_MEASUREMENT_fwhm.png`` (overlaid
histograms) and ``NAME_info.json`` (the set-up). :func:`format_summary` renders the summary
rows as an aligned text table.
"""

from __future__ import annotations

import argparse
import logging
import math
from collections.abc import Sequence
from pathlib import Path

from deepz_fiji.beads.experiments import BeadExperiment
from deepz_fiji.beads.fwhm import fwhm_histogram
from deepz_fiji.io import write_csv, write_json

log = logging.getLogger(__name__)

#: (summary key, header, width, format) of the printed table.
_COLUMNS = (
    ("experiment", "experiment", 10, "s"),
    ("measurement", "FWHM", 7, "s"),
    ("image", "image", 14, "s"),
    ("beads", "beads", 5, "d"),
    ("fitted", "fitted", 6, "d"),
    ("failed", "failed", 6, "d"),
    ("median_um", "median µm", 9, ".3f"),
    ("common", "common", 6, "d"),
    ("median_common_um", "median common µm", 16, ".3f"),
)


def format_summary(rows: Sequence[dict]) -> str:
    """The summary rows as a text table ('common': beads fitted in every image of that FWHM)."""
    lines = [" ".join(f"{h:<{w}}" if f == "s" else f"{h:>{w}}" for _, h, w, f in _COLUMNS)]
    for r in rows:
        cells = []
        for key, _, w, f in _COLUMNS:
            v = r[key]
            if f == "s":
                cells.append(f"{v:<{w}}")
            elif isinstance(v, float) and not math.isfinite(v):
                cells.append(f"{'–':>{w}}")
            else:
                cells.append(f"{v:>{w}{f}}")
        lines.append(" ".join(cells))
    return "\n".join(lines)


def um(value: float) -> str:
    """A FWHM for printing: '0.512 µm', or 'no fit' for NaN (no bead fitted)."""
    return f"{value:.3f} µm" if math.isfinite(value) else "no fit"


def write_experiment(exp: BeadExperiment, out_dir: str | Path, *,
                     plotted: Sequence[str] | None = None) -> dict[str, Path]:
    """Write the experiment's CSVs, histograms (of the ``plotted`` images; default all) and info."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "summary": write_csv(out / f"{exp.name}_summary.csv", exp.summary()),
        "beads": write_csv(out / f"{exp.name}_beads.csv", exp.bead_rows()),
        "info": write_json(out / f"{exp.name}_info.json", exp.info),
    }
    images = list(exp.images if plotted is None else plotted)
    for m in exp.measurements:
        tables = {im: exp.tables[m, im] for im in images if (m, im) in exp.tables and len(exp.tables[m, im])}
        if not tables:
            log.warning("no %s FWHM was fitted in %s; histogram skipped", m, ", ".join(images))
            continue
        title = f"{exp.name}: {m} FWHM of {len(exp.detection)} beads"
        files[f"{m}_png"] = fwhm_histogram(tables, out / f"{exp.name}_{m}_fwhm.png", title=title)
    return files


def add_bench_arguments(parser: argparse.ArgumentParser, *, size: int, seed: int, out: str | Path) -> None:
    """The bead benchmarks' common options: --model, --size N | H W, --seed, --beads, -o, --no-progress."""
    from deepz_fiji.cli._common import add_model_argument, add_progress_argument

    add_model_argument(parser)
    parser.add_argument("--size", type=int, nargs="+", default=[size], metavar="PX",
                        help=f"image size: N (square) or H W in pixels (default {size})")
    parser.add_argument("--seed", type=int, default=seed, help=f"simulation seed (default {seed}, held out)")
    parser.add_argument("--beads", type=int, default=None, metavar="N",
                        help="beads to simulate (default: the paper's density, ~1.8 per 1000 µm²)")
    parser.add_argument("-o", "--output", default=str(out), metavar="OUTDIR",
                        help=f"folder for the CSV, PNG and JSON files (default {out})")
    add_progress_argument(parser)


def parse_size(parser: argparse.ArgumentParser, size: Sequence[int]) -> tuple[int, int]:
    """``--size`` as (height, width); a parser error unless it is one or two positive numbers."""
    if len(size) not in (1, 2) or min(size) < 1:
        parser.error(f"--size takes N or H W (positive pixels), got {' '.join(map(str, size))}")
    return (size[0], size[-1])
