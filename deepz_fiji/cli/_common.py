"""Argument helpers shared by several sub-commands."""

from __future__ import annotations

import argparse


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    """``--model NAME|PATH``; the shipped default model when omitted."""
    parser.add_argument(
        "--model",
        default=None,
        help="model name (a folder in models/) or path to a model folder; default: the shipped default model",
    )


class ProgressBar:
    """A tqdm bar fed by ``progress(done, total)`` callbacks; hidden when not on a terminal."""

    def __init__(self, desc: str, disable: bool = False, unit: str = "tile"):
        from tqdm import tqdm

        self.bar = tqdm(desc=desc, unit=unit, disable=True if disable else None, leave=False)

    def __call__(self, done: int, total: int) -> None:
        self.bar.total = total
        self.bar.update(done - self.bar.n)

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
