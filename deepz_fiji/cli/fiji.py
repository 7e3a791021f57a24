"""``deepz fiji install | run-script | gui | doctor``: the ImageJ/Fiji side."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from deepz_fiji.errors import DeepZError

FIJI_HELP = "Fiji.app folder (default: $DEEPZ_FIJI_DIR); without it ImageJ 1.x (ij.jar) is used"


def _fiji_default() -> str | None:
    return os.environ.get("DEEPZ_FIJI_DIR") or None


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("fiji", help="install, run and diagnose the Deep-Z scripts in Fiji/ImageJ",
                              description="The ImageJ side of deepz-fiji: Fiji (through PyImageJ, offline) "
                              "or ImageJ 1.x (ij.jar, through scyjava).")
    sub = p.add_subparsers(dest="fiji_command", metavar="COMMAND")
    p.set_defaults(func=lambda args: p.print_help() or 2)

    i = sub.add_parser("install", help="add Plugins > Deep-Z to a Fiji.app or an ImageJ 1.x folder (or remove it)",
                       description="Install the Deep-Z menu entries (ImageJ macros that run this Python's deepz "
                       "command line; recordable) into plugins/Deep-Z/, and for Fiji also the CPython scripts "
                       "for Python mode into scripts/Plugins/Deep-Z/. Restart ImageJ afterwards.")
    where = i.add_mutually_exclusive_group(required=True)
    where.add_argument("--fiji", type=Path, metavar="DIR", help="the Fiji.app folder")
    where.add_argument("--imagej", type=Path, metavar="DIR", help="an ImageJ 1.x folder (the one holding plugins/)")
    i.add_argument("--uninstall", action="store_true", help="remove what an earlier install wrote")
    i.add_argument("--python", metavar="PATH", help="the Python the entries run deepz with (default: this one, "
                   f"{sys.executable})")
    i.set_defaults(func=cmd_install)

    r = sub.add_parser("run-script", help="run a #@ script on an image headlessly and save its result",
                       description="Open IMAGE in a headless ImageJ, run SCRIPT with the given name=value "
                       "parameters (others take the script's defaults) and save its ImagePlus output.")
    r.add_argument("script", type=Path, help="script file with a SciJava #@ header (e.g. fiji_scripts/Deep-Z/Refocus_Plane.py)")
    r.add_argument("params", nargs="*", metavar="name=value", help="script parameters, e.g. dz=1.5 or start=-10 stop=10 step=1")
    r.add_argument("--image", required=True, type=Path, metavar="IMG.tif", help="input image")
    r.add_argument("-o", "--output", required=True, type=Path, metavar="OUT.tif", help="output TIFF")
    r.add_argument("--output-name", metavar="NAME", help="which #@output image to save (if several)")
    host = r.add_mutually_exclusive_group()
    host.add_argument("--fiji", type=Path, default=_fiji_default(), metavar="DIR", help=FIJI_HELP)
    host.add_argument("--ij-jar", type=Path, metavar="JAR", help="ImageJ 1.x jar (default: /usr/share/java/ij.jar)")
    r.set_defaults(func=cmd_run_script, uses_tensorflow=True)  # the Deep-Z scripts refocus in-process

    g = sub.add_parser("gui", help="open ImageJ (or Fiji) with a Deep-Z menu",
                       description="Start ImageJ 1.x (or Fiji with --fiji) with its window and a Deep-Z menu "
                       "whose entries run the scripts on the current image. Blocks until ImageJ is closed.")
    ghost = g.add_mutually_exclusive_group()
    ghost.add_argument("--fiji", type=Path, default=_fiji_default(), metavar="DIR", help=FIJI_HELP)
    ghost.add_argument("--ij-jar", type=Path, metavar="JAR", help="ImageJ 1.x jar")
    g.add_argument("--scripts", type=Path, metavar="DIR", help="script folder for the menu (default: the Deep-Z scripts)")
    g.add_argument("--plugins-dir", type=Path, metavar="DIR",
                   help="ImageJ 1.x plugins folder to load (e.g. one with StackReg and TurboReg)")
    g.set_defaults(func=cmd_gui)

    d = sub.add_parser("doctor", help="diagnose Java, ij.jar, the Fiji folder and the offline settings")
    d.add_argument("--fiji", type=Path, default=_fiji_default(), metavar="DIR", help=FIJI_HELP)
    d.add_argument("--ij-jar", type=Path, metavar="JAR", help="ImageJ 1.x jar")
    d.add_argument("--engine", action="store_true",
                   help="also check TensorFlow and that the model loads (what Plugins > Deep-Z > Deep-Z Doctor runs)")
    d.add_argument("--model", metavar="NAME|PATH", help="the model --engine loads (default: the shipped default)")
    d.set_defaults(func=cmd_doctor)


def cmd_install(args: argparse.Namespace) -> int:
    from deepz_fiji.fiji.install import check_imagej_dir, install, uninstall
    from deepz_fiji.fiji.java import check_fiji_dir

    folder = check_fiji_dir(args.fiji) if args.fiji else check_imagej_dir(args.imagej)
    if args.uninstall:
        removed = uninstall(folder)
        print(f"removed {len(removed)} Deep-Z files from {folder}" if removed else f"no Deep-Z installation in {folder}")
        return 0
    python = args.python
    if python and not (Path(python).is_file() and os.access(python, os.X_OK)):
        raise DeepZError(f"--python {python} is not an executable file; give the python of the environment with deepz-fiji")
    written = install(folder, fiji=bool(args.fiji), python=python)
    print(f"installed Plugins > Deep-Z into {folder}:")
    for path in written:
        print(f"  {path.relative_to(folder)}")
    print(f"the entries run deepz with {python or sys.executable}; restart {'Fiji' if args.fiji else 'ImageJ'}, "
          "then use Plugins > Deep-Z (Deep-Z Doctor checks the set-up)")
    return 0


def cmd_run_script(args: argparse.Namespace) -> int:
    from deepz_fiji.fiji.runner import run_script_to_file
    from deepz_fiji.fiji.scripts import parse_assignments

    values = parse_assignments(args.params)
    fiji = None if args.ij_jar else args.fiji  # an explicit --ij-jar wins over $DEEPZ_FIJI_DIR
    path, outputs = run_script_to_file(args.script, args.image, args.output, values, fiji_dir=fiji,
                                       ij_jar=args.ij_jar, output_name=args.output_name)
    for name, value in outputs.items():
        if isinstance(value, (str, int, float, bool)):
            print(f"{name} = {value}")
    print(f"wrote {path}")
    return 0


def cmd_gui(args: argparse.Namespace) -> int:
    from deepz_fiji.fiji.gui import run_gui

    fiji = None if args.ij_jar else args.fiji
    return run_gui(fiji_dir=fiji, ij_jar=args.ij_jar, folder=args.scripts, plugins_dir=args.plugins_dir)


def cmd_doctor(args: argparse.Namespace) -> int:
    from deepz_fiji.fiji.doctor import diagnose

    checks = diagnose(args.fiji, args.ij_jar)
    if args.engine:
        from deepz_fiji.fiji.doctor import engine_checks

        checks += engine_checks(args.model)
    for check in checks:
        print(check.line())
    return 1 if any(c.ok is False for c in checks) else 0
