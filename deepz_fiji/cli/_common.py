"""Argument helpers shared by several sub-commands."""

from __future__ import annotations

import argparse
from pathlib import Path


def existing_file(value: str) -> Path:
    """argparse type: a path that must exist (checked again, with a clear error, on use)."""
    return Path(value)


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    """``--model NAME|PATH``; the shipped default model when omitted."""
    parser.add_argument(
        "--model",
        default=None,
        help="model name (a folder in models/) or path to a model folder; default: the shipped default model",
    )
