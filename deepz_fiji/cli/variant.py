"""``deepz variant MODEL --out FOLDER``: a model folder with another physics blend or output level."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    from deepz_fiji.model.config import OUTPUT_LEVELS

    p = subparsers.add_parser(
        "variant", help="copy a model with another physics blend or output level (same network)",
        description="Copy a model folder with other post-processing of the network's planes: the share of the "
                    "physics blur blended in (--physics-blend; 0: the network alone) and how a wide-field output's "
                    "level is set (--output-level, --level-scale). The network itself is not changed. "
                    "E.g. the default's network alone: deepz variant widefield-20x-0.75na --out models/network-only "
                    "--physics-blend 0 --output-level flux")
    p.add_argument("model", help="model name or folder to copy")
    p.add_argument("--out", required=True, type=Path, help="the new model folder (must not exist)")
    p.add_argument("--name", default=None, help="the new model's name (default: the folder's name)")
    p.add_argument("--physics-blend", type=float, default=None, metavar="A",
                   help="output = (1 - A) x the network + A x the physics blur at dz; 0 <= A < 1")
    p.add_argument("--output-level", choices=OUTPUT_LEVELS, default=None,
                   help="flux: the frame's mean kept; local-flux: the input's low-pass kept; background; none")
    p.add_argument("--level-scale", type=float, default=None, metavar="S",
                   help="local-flux's low-pass: sigma = S x the defocus disc's radius at dz (> 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deepz_fiji.model.folder import load_config
    from deepz_fiji.model.variant import write_variant

    out = write_variant(args.model, args.out, name=args.name, physics_blend=args.physics_blend,
                        output_level=args.output_level, output_level_scale=args.level_scale)
    c = load_config(out)
    level = f"{c.output_level}" + (f" at {c.output_level_scale:g}" if c.output_level == "local-flux" else "")
    print(f"wrote {out}: {c.name}, physics blend {c.physics_blend:g}, output level {level}")
    return 0
