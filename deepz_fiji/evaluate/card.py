"""A model card: a model scored on held-out z-stacks against both baselines (``report.json``/``.png``).

The rows come from whole stacks the model never trained on. From each stack's in-focus plane (the
plane of highest contrast among those R or more from both ends) the model refocuses *away* by ±R/2 and ±R (R: the model's trained
|Δz| range, snapped to the stack's grid), and from planes R/2 *off* focus (both sides) it
refocuses back to focus and past it by R. Every row is scored as the evaluation suite scores
(:func:`~deepz_fiji.evaluate.score_row`): RMSE and SSIM of the output, of the input plane and of
the physics blur at Δz against the stack's own plane at the target. Refocusing itself is a
callable given by the caller, so this module stays numpy-only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deepz_fiji.errors import DeepZError
from deepz_fiji.evaluate.baselines import nominal_psf_plane, physics_blur
from deepz_fiji.evaluate.report import summarize, summary_line
from deepz_fiji.evaluate.rows import Row, score_row
from deepz_fiji.io import write_json

CARD_JSON = "report.json"
CARD_PNG = "report.png"
Refocus = Callable[[np.ndarray, float], np.ndarray]


def card_tasks(n_planes: int, focus: int, step_um: float, range_um: float) -> list[tuple[str, int, int]]:
    """``(direction, input plane, plane offset)`` of a stack's rows, those whose target lies inside it."""
    half = max(1, _planes(0.5 * range_um, step_um))
    full = max(half + 1, _planes(range_um, step_um))
    tasks = [("away", focus, sign * k) for sign in (-1, 1) for k in (half, full)]
    tasks += [("refocus", focus - side * half, side * k) for side in (1, -1) for k in (half, full)]
    return [(d, z, k) for d, z, k in tasks if 0 <= z < n_planes and 0 <= z + k < n_planes]


def _planes(distance_um: float, step_um: float) -> int:
    """``distance_um`` in whole planes, halves rounded up (robust to float error at .5)."""
    return int(np.floor(distance_um / step_um + 0.5 + 1e-6))


def focus_plane(stack: np.ndarray, margin: int = 0) -> int:
    """Index of the in-focus plane of a stack: the plane of highest contrast among those at least
    ``margin`` planes from both ends (all planes where the stack is thinner than that)."""
    from deepz_fiji.data.preprocess import plane_contrast

    contrast = plane_contrast(stack)
    if len(contrast) > 2 * margin:
        inner = contrast[margin:len(contrast) - margin]
        return margin + int(np.argmax(inner))
    return int(np.argmax(contrast))


def stack_rows(stack: np.ndarray, name: str, step_um: float, config: Any, refocus: Refocus,
               range_um: float | None = None, blur_config: Any = None) -> tuple[list[Row], dict[str, Any]]:
    """The rows of one held-out ZYX ``stack`` and its example images (the first ``away`` and
    ``refocus`` rows' input, truth, output and blur). ``range_um``: R (default: the model's
    trained range); ``blur_config``: whose nominal optics make the physics blur (default ``config``;
    e.g. the data's own when a model made for other optics is scored on the same rows)."""
    if range_um is None:
        range_um = max(abs(float(config.dz_min_um)), abs(float(config.dz_max_um)))
    focus = focus_plane(stack, _planes(range_um, step_um))
    rows, examples = [], {}
    for direction, z_in, k in card_tasks(len(stack), focus, step_um, range_um):
        image, truth, dz = stack[z_in], stack[z_in + k], k * step_um
        output = refocus(image, dz)
        blur = physics_blur(image, nominal_psf_plane(blur_config or config, dz))
        row = score_row(output, truth, image, blur, model=config.name, split="held-out", sample=name,
                        optics="own", snr="own", direction=direction,
                        cls="blur" if direction == "away" else "learning",
                        input_um=round((z_in - focus) * step_um, 4), dz_um=round(dz, 4))
        rows.append(row)
        if direction not in examples:
            examples[direction] = {"row": row, "input": image, "truth": truth, "output": output, "blur": blur}
    return rows, examples


def xz_sections(stack: np.ndarray, refocus_stack: Callable[[np.ndarray, Sequence[float]], np.ndarray],
                step_um: float, range_um: float) -> dict[str, np.ndarray]:
    """x–z sections through the brightest row of the in-focus plane: the stack, and that plane refocused."""
    k = _planes(range_um, step_um)
    focus = focus_plane(stack, k)
    lo, hi = max(0, focus - k), min(len(stack) - 1, focus + k)
    zs = [(z - focus) * step_um for z in range(lo, hi + 1)]
    virtual = refocus_stack(stack[focus], zs)
    from scipy import ndimage as ndi

    row = int(np.unravel_index(np.argmax(ndi.gaussian_filter(stack[focus], 2.0)), stack.shape[1:])[0])
    return {"truth": np.asarray(stack[lo:hi + 1, row, :]), "output": np.asarray(virtual[:, row, :])}


def card_dict(rows: Sequence[Row], meta: dict[str, Any]) -> dict[str, Any]:
    """The JSON card: ``meta`` (model, data, training), counts per class, summary line and rows."""
    return {**meta, "summary": summary_line(rows), "counts": summarize(rows),
            "rows": [r.as_dict() for r in rows]}


def write_card(folder: str | os.PathLike, rows: Sequence[Row], meta: dict[str, Any],
               examples: Sequence[dict[str, Any]], sections: dict[str, np.ndarray] | None = None,
               step_um: float = 1.0) -> dict[str, Any]:
    """Write ``report.json`` and ``report.png`` into the model folder; returns the card."""
    folder = Path(folder)
    card = card_dict(rows, meta)
    write_json(folder / CARD_JSON, card)
    _plot_card(folder / CARD_PNG, card, examples, sections, step_um)
    return card


def read_card(folder: str | os.PathLike) -> dict[str, Any] | None:
    """The card of a model folder, or ``None`` when it has none."""
    path = Path(folder) / CARD_JSON
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DeepZError(f"{path} is not valid JSON ({exc}); re-run deepz fit to write it again") from exc


def card_text(card: dict[str, Any]) -> str:
    """The card as lines for a terminal (``deepz info``)."""
    lines = [f"model card ({card.get('rows') and len(card['rows'])} rows on held-out stacks "
             f"{', '.join(card.get('held_out', [])) or '?'}):", f"  {card.get('summary', '')}"]
    header = f"  {'stack':<14}{'direction':<10}{'from um':>8}{'dz um':>8}{'ratio':>7}{'RMSE out/in/blur':>26}" \
             f"{'SSIM out/in/blur':>22}  verdict"
    lines.append(header)
    for r in card.get("rows", []):
        verdict = "won" if r["won"] else "harmless" if r["harmless"] else "WORSE"
        lines.append(f"  {r['sample'][:13]:<14}{r['direction']:<10}{r['input_um']:>+8.2f}{r['dz_um']:>+8.2f}"
                     f"{r['ratio']:>7.2f}{r['rmse_output']:>10.4g}{r['rmse_input']:>8.4g}{r['rmse_blur']:>8.4g}"
                     f"{r['ssim_output']:>8.3f}{r['ssim_input']:>7.3f}{r['ssim_blur']:>7.3f}  {verdict}")
    lines.append("  ratio = output RMSE / the better baseline's (input plane, physics blur); won: ratio <= 0.8 and "
                 "SSIM above both; WORSE rows: do not trust the model there")
    return "\n".join(lines)


def _plot_card(path: Path, card: dict[str, Any], examples: Sequence[dict[str, Any]],
               sections: dict[str, np.ndarray] | None, step_um: float) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from deepz_fiji.plots import save_png

    rows = card["rows"]
    n_img = len(examples)
    fig = Figure(figsize=(9, 2.4 * (n_img + 2)), layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(n_img + 2, 4)
    ax = fig.add_subplot(grid[0, :])
    for direction, marker in (("away", "o"), ("refocus", "s")):
        chosen = [r for r in rows if r["direction"] == direction]
        for key, colour in (("output", "C0"), ("input", "C1"), ("blur", "C2")):
            ax.scatter([r["dz_um"] + (0.02 if direction == "refocus" else 0) for r in chosen],
                       [r[f"rmse_{key}"] for r in chosen], marker=marker, color=colour,
                       label=f"{key} ({direction})")
    ax.set_xlabel("Δz (µm)")
    ax.set_ylabel("RMSE")
    ax.set_title(card.get("summary", ""), fontsize=8)
    ax.legend(fontsize=6, ncol=3)
    for i, ex in enumerate(examples):
        lo, hi = np.percentile(ex["truth"], [0.5, 99.8])
        r = ex["row"]
        for j, name in enumerate(("input", "truth", "output", "blur")):
            a = fig.add_subplot(grid[1 + i, j])
            a.imshow(ex[name], cmap="gray", vmin=lo, vmax=hi)
            a.set_xticks([])
            a.set_yticks([])
            a.set_title(f"{name}" + (f"  ({r.direction} {r.input_um:+g}{r.dz_um:+g} µm, ratio {r.ratio:.2f})"
                                     if j == 0 else ""), fontsize=7, loc="left")
    if sections:
        for j, name in enumerate(("truth", "output")):
            a = fig.add_subplot(grid[n_img + 1, 2 * j:2 * j + 2])
            image = sections[name]
            lo, hi = np.percentile(sections["truth"], [0.5, 99.8])
            a.imshow(image, cmap="gray", vmin=lo, vmax=hi, aspect="auto")
            a.set_title(f"x–z section: {'held-out stack' if name == 'truth' else 'refocused from its focus'}",
                        fontsize=7)
            a.set_xticks([])
            a.set_ylabel(f"z ({step_um:g} µm planes)", fontsize=7)
    save_png(fig, path, dpi=70)
