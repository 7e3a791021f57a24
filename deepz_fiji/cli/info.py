"""``deepz info MODEL``: a model's calibration, training and card."""

from __future__ import annotations

import argparse

_LEVELS = {
    "flux": "flux (the frame's mean kept)",
    "local-flux": "local flux (the input's low-pass kept at σ = {s:g} × the defocus disc's radius at Δz)",
    "background": "background (the median of the input's background pixels kept)",
    "none": "as the network gives it",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("info", help="print a model's calibration, training record and model card",
                              description="Print what a model was made for (pixel size, z-step, Δz range, optics), "
                                          "how it was trained, for models made by deepz fit its card, and the "
                                          "model's record on the independent suite where it has one (suite.json).")
    p.add_argument("model", help="model name or folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deepz_fiji.evaluate.card import card_text, read_card
    from deepz_fiji.evaluate.suite import read_suite_record, suite_text
    from deepz_fiji.model.folder import load_config, resolve_model_path

    folder = resolve_model_path(args.model)
    c = load_config(folder)
    training = c.training or {}
    print(f"{c.name} ({folder})")
    if c.description:
        print(f"  {c.description}")
    print(f"  {c.modality}; pixel {c.pixel_um:g} µm, z-step {c.z_step_um:g} µm, Δz {c.dz_min_um:g} … "
          f"{c.dz_max_um:g} µm; NA {c.na:g}, emission {c.wavelength_um:g} µm"
          + (f", immersion n {c.immersion_index:g}" if c.immersion_index else ""))
    if c.physics_inputs:
        print(f"  physics inputs: {', '.join(c.physics_inputs)} (from the optics above)")
    if c.physics_blend:
        print(f"  output: {1 - c.physics_blend:g} × the network + {c.physics_blend:g} × the physics blur at Δz")
    if c.modality == "widefield":
        print(f"  output level: {_LEVELS[c.output_level].format(s=c.output_level_scale)}")
    if training:
        print(f"  trained {training.get('iterations', '?')} iterations in "
              f"{float(training.get('seconds', 0) or 0) / 60:.1f} min; validation MAE "
              f"{(c.validation or {}).get('val_mae', float('nan')):.4g}")
    card = read_card(folder)
    print(card_text(card) if card else "  no model card (models made by deepz fit have one: report.json)")
    suite = read_suite_record(folder)
    if suite:
        print(suite_text(suite))
    return 0
