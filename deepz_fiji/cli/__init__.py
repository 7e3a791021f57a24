"""The ``deepz`` command line.

Each module in this package adds its sub-commands through ``register(subparsers)`` and is
found automatically. Command modules stay thin: they parse arguments and call the library;
heavy imports (TensorFlow, Java) happen inside the command functions so ``deepz --help``
stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

from deepz_fiji import __version__
from deepz_fiji.errors import DeepZError

log = logging.getLogger("deepz_fiji")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every registered sub-command (modules named _* are helpers)."""
    parser = argparse.ArgumentParser(
        prog="deepz",
        description="Deep-Z: virtual 3D refocusing of wide-field fluorescence images.",
    )
    parser.add_argument("--version", action="version", version=f"deepz-fiji {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(sub)
    return parser


def setup_logging(verbosity: int) -> None:
    """Quiet by default (warnings only); ``-v`` info, ``-vv`` debug."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("deepz_fiji").setLevel(level)
    from deepz_fiji.trust import show_deepz_warnings_as_log_lines

    show_deepz_warnings_as_log_lines()
    if verbosity < 2:
        import os

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:  # name=value parameters may follow options (deepz fiji run-script S --image I a=1)
        if hasattr(args, "params") and all("=" in e and not e.startswith("-") for e in extras):
            args.params = [*args.params, *extras]
        else:
            parser.error(f"unrecognized arguments: {' '.join(extras)}")
    setup_logging(args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    module_default = getattr(sys.modules.get(args.func.__module__), "USES_TENSORFLOW", False)
    if args.verbose < 2 and getattr(args, "uses_tensorflow", module_default):  # a subcommand may say so itself
        from deepz_fiji.model.runtime import import_tensorflow_quietly

        import_tensorflow_quietly()
    try:
        result = args.func(args)
    except DeepZError as exc:
        print(f"deepz: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("deepz: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)
