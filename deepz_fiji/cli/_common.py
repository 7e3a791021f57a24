"""Argument helpers shared by several sub-commands."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

#: Environment variable naming a file that :class:`ProgressBar` keeps as ``done total`` and a
#: ``what (units)`` line, for a caller that cannot read the terminal (the ImageJ macros,
#: see ``cli._macro_job``).
PROGRESS_FILE_ENV = "DEEPZ_PROGRESS_FILE"


def add_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    """``--workers N`` / ``--scheduler ADDRESS``: run on a Dask cluster (:mod:`deepz_fiji.dask_cluster`)."""
    cluster = parser.add_mutually_exclusive_group()
    cluster.add_argument("--workers", type=int, metavar="N",
                         help="run on a local Dask cluster of N worker processes (pip install -e '.[dask]')")
    cluster.add_argument("--scheduler", metavar="ADDRESS",
                         help="run on a running Dask cluster, e.g. tcp://host:8786 (one started by dask-jobqueue)")


def on_cluster(args: argparse.Namespace) -> bool:
    """True when ``--workers`` or ``--scheduler`` was given; then checks that dask is installed."""
    if args.workers is None and args.scheduler is None:
        return False
    from deepz_fiji.dask_cluster import require_distributed

    require_distributed()
    return True


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    """``--model NAME|PATH``; the shipped default model when omitted."""
    parser.add_argument(
        "--model",
        default=None,
        help="model name (a folder in models/) or path to a model folder; default: the shipped default model",
    )


class ProgressBar:
    """A tqdm bar fed by ``progress(done, total)`` callbacks; hidden when not on a terminal.

    With ``$DEEPZ_PROGRESS_FILE`` set, the bar's state is also written to that file (at most
    five times a second, and always at the end), replacing it each time.
    """

    def __init__(self, desc: str, disable: bool = False, unit: str = "tile"):
        from tqdm import tqdm

        self.desc, self.unit = desc, unit
        self.bar = tqdm(desc=desc, unit=unit, disable=True if disable else None, leave=False)
        self.file = Path(os.environ[PROGRESS_FILE_ENV]) if os.environ.get(PROGRESS_FILE_ENV) else None
        self._written = 0.0

    def __call__(self, done: int, total: int) -> None:
        self.bar.total = total
        self.bar.update(done - self.bar.n)
        if self.file is not None and (done >= total or time.monotonic() - self._written > 0.2):
            self._write(done, total)

    def _write(self, done: int, total: int) -> None:
        tmp = self.file.with_name(self.file.name + ".tmp")
        try:
            tmp.write_text(f"{int(done)} {int(total)}\n{self.desc} ({self.unit}s)\n", encoding="utf-8")
            os.replace(tmp, self.file)
        except OSError:  # progress is advisory: never fail the job over it
            return
        self._written = time.monotonic()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.close()


def add_tta_argument(parser: argparse.ArgumentParser) -> None:
    """``--tta``: average the network's output over the 8 rotations/mirrors of the input."""
    parser.add_argument("--tta", action="store_true",
                        help="average the network's output over the 8 rotations/mirrors of the input: 8x "
                        "slower, lower error (see the README's accuracy table)")


def add_progress_argument(parser: argparse.ArgumentParser) -> None:
    """``--no-progress``: hide the progress bar."""
    parser.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
