"""``deepz fit`` on a set-up no shipped model knows: transfer against from scratch, and the default's card.

    python benchmarks/fit.py [--work ~/deepz-runs/fit-bench] [--minutes 20] [--out benchmarks/results/fit] [--tag T]

1. Five calibrated stacks of dense textured tissue from a 40×/1.3 oil objective imaging into
   water 3–8 µm deep (0.1625 µm pixels, 0.27 µm steps, 31 planes: ±4.05 µm), rendered with
   MicroscPSF-Py's Gibson–Lanni focal scan (not the simulator's PSF code) through the
   independent suite's camera model; seeds 5000+, used nowhere else. The last one (``s5``) is
   held out.
2. ``deepz fit … --minutes N`` twice: the source it chooses itself (transfer), and ``--from none``.
3. Both cards (the held-out stack, away ±R/2, ±R; refocus from R/2 off focus to focus and past
   it), the shipped default's rows on the same stack and grid, and the CPU time at which the
   transfer run first reached the from-scratch run's best validation MAE.
4. A reference for what the rows ask: on each row, the best rotationally symmetric linear filter
   *fitted on the answer itself* (:func:`oracle_filter`). No refocusing that is a convolution of
   the input, however its PSF was found, gets closer; a network may, by knowing the sample.

Writes ``fit.md`` and ``fit.json`` under ``--out``. Each run resumes when the script is run again.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

PIXEL_UM, STEP_UM, PLANES, SIZE = 0.1625, 0.27, 31, 256
NA, WAVELENGTH_UM, IMMERSION = 1.3, 0.52, 1.515
SEED0, N_STACKS = 5000, 5


def make_stacks(folder: Path) -> None:
    """The five stacks (skipped when present)."""
    import independent_data as data

    from deepz_fiji.io import write_image

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, N_STACKS + 1):
        path = folder / f"s{i}.tif"
        if path.is_file():
            continue
        rng = np.random.default_rng(SEED0 + i)
        optics = data.TestOptics("40x-1.3-oil-into-water", "gibson-lanni", NA, WAVELENGTH_UM, IMMERSION, 1.33,
                                 depth_um=float(rng.uniform(3, 8)))
        n_obj = PLANES + 40  # the tissue slab (5-16 µm) around the middle, and room for its out-of-focus light
        density = data.make_object("tissue", SEED0 + i, SIZE, n_obj, "")
        psf = data.psf_stack(optics, PIXEL_UM, STEP_UM, 2 * n_obj + 1, 127)
        middle = n_obj // 2 + int(rng.integers(-4, 5))  # the focus is not always the middle plane
        planes = data.image_planes(density, psf, [middle + k for k in range(-(PLANES // 2), PLANES // 2 + 1)])
        camera = data.Camera(data.SNRS["normal"])
        scale = camera.photons / float(np.percentile(planes[middle], 99.9) or 1.0)
        stack = np.stack([camera.record(planes[z], scale, rng) for z in sorted(planes)])
        write_image(path, stack, "ZYX", pixel_um=PIXEL_UM, z_step_um=STEP_UM,
                    metadata={"deepz_optics": str(optics)})
        print(f"wrote {path} (depth {optics.depth_um:.1f} um)", flush=True)


def run_fit(stacks: Path, out: Path, minutes: float, source: str | None) -> None:
    if (out / "report.json").is_file():
        return
    cmd = [sys.executable, "-m", "deepz_fiji", "fit", str(stacks), "--out", str(out), "--minutes", str(minutes),
           "--na", str(NA), "--wavelength-um", str(WAVELENGTH_UM), "--immersion-index", str(IMMERSION)]
    if source:
        cmd += ["--from", source]
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)))


def curve(model: Path) -> list[tuple[float, float]]:
    """(training seconds, validation MAE) of every validation of a run."""
    with open(model / "training_log.csv", newline="") as fh:
        return [(float(r["time_s"]), float(r["val_mae"])) for r in csv.DictReader(fh) if r.get("val_mae")]


def default_rows(stacks: Path, held_out: str, range_um: float, blur_config) -> list:
    """The shipped default's rows on the held-out stack, on the fitted models' grid and baselines."""
    from deepz_fiji.data.stacks import load_stack
    from deepz_fiji.evaluate.card import stack_rows
    from deepz_fiji.refocus import load_model, refocus_plane

    model = load_model()
    stack = load_stack(stacks / f"{held_out}.tif").data
    rows, _ = stack_rows(stack, held_out, STEP_UM, model.config, lambda image, dz: refocus_plane(image, dz, model),
                         range_um=range_um, blur_config=blur_config)
    return rows


def oracle_filter(image: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """``image`` through the rotationally symmetric linear filter that brings it closest to ``truth``.

    Per ring of spatial frequency (one frequency step wide), the least-squares transfer function
    ``Σ T·X* / Σ |X|²`` of the mean-removed images; the truth's mean is put back. A reference only:
    it needs the answer.
    """
    x = np.asarray(image, np.float64)
    t = np.asarray(truth, np.float64)
    ky, kx = np.meshgrid(np.fft.fftfreq(x.shape[0]), np.fft.fftfreq(x.shape[1]), indexing="ij")
    ring = np.rint(np.hypot(ky, kx) * max(x.shape)).astype(int).ravel()
    fx, ft = np.fft.fft2(x - x.mean()), np.fft.fft2(t - t.mean())
    num = np.bincount(ring, (ft * np.conj(fx)).real.ravel())
    den = np.bincount(ring, (np.abs(fx) ** 2).ravel())
    gain = np.divide(num, den, out=np.zeros_like(num), where=den > 0)[ring].reshape(x.shape)
    return np.fft.ifft2(gain * fx).real + t.mean()


def oracle_table(stacks: Path, held_out: str, range_um: float, rows: list[dict]) -> list[str]:
    """Each of ``rows`` (a card's, same grid) beside the oracle filter's RMSE on it."""
    from deepz_fiji.data.stacks import load_stack
    from deepz_fiji.evaluate.card import _planes, card_tasks, focus_plane

    stack = load_stack(stacks / f"{held_out}.tif").data.astype(np.float64)
    focus = focus_plane(stack, _planes(range_um, STEP_UM))
    lines = ["| direction | from µm | Δz µm | better baseline | oracle filter | ratio | fitted model | ratio |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for (direction, z, k), r in zip(card_tasks(len(stack), focus, STEP_UM, range_um), rows, strict=True):
        assert (direction, round((z - focus) * STEP_UM, 4), round(k * STEP_UM, 4)) == (
            r["direction"], r["input_um"], r["dz_um"]), "the card's rows are not on this grid"
        better = min(r["rmse_input"], r["rmse_blur"])
        oracle = float(np.sqrt(np.mean((oracle_filter(stack[z], stack[z + k]) - stack[z + k]) ** 2)))
        lines.append(f"| {direction} | {r['input_um']:+.2f} | {r['dz_um']:+.2f} | {better:.1f} | {oracle:.1f} | "
                     f"{oracle / better:.2f} | {r['rmse_output']:.1f} | {r['ratio']:.2f} |")
    return lines


def table(name: str, rows: list[dict]) -> list[str]:
    lines = [f"| {name} | direction | from µm | Δz µm | RMSE out | input | blur | ratio | SSIM out | input | blur | "
             "verdict |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        verdict = "won" if r["won"] else "harmless" if r["harmless"] else "worse"
        lines.append(f"| {r['sample']} | {r['direction']} | {r['input_um']:+.2f} | {r['dz_um']:+.2f} | "
                     f"{r['rmse_output']:.1f} | {r['rmse_input']:.1f} | {r['rmse_blur']:.1f} | {r['ratio']:.2f} | "
                     f"{r['ssim_output']:.3f} | {r['ssim_input']:.3f} | {r['ssim_blur']:.3f} | {verdict} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("~/deepz-runs/fit-bench").expanduser())
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "fit")
    parser.add_argument("--tag", default="", help="suffix of the two run folders (e.g. after a schedule change)")
    parser.add_argument("--only", choices=("stacks", "transfer", "scratch"), default=None,
                        help="do one step only (the report needs all)")
    args = parser.parse_args(argv)
    stacks = args.work / "stacks"
    make_stacks(stacks)
    if args.only == "stacks":
        return 0
    tag = f"-{args.tag}" if args.tag else ""
    runs = {"transfer": (args.work / f"transfer{tag}", None), "scratch": (args.work / f"scratch{tag}", "none")}
    for name, (out, source) in runs.items():
        if args.only in (None, name):
            run_fit(stacks, out, args.minutes, source)
    if args.only:
        return 0

    from deepz_fiji.evaluate import Row, summary_line
    from deepz_fiji.evaluate.card import read_card

    cards = {name: read_card(out) for name, (out, _) in runs.items()}
    plans = {name: json.loads((out / "fit.json").read_text()) for name, (out, _) in runs.items()}
    held = plans["transfer"]["held_out"][0]
    from deepz_fiji.model.config import ModelConfig

    fitted = ModelConfig.load(runs["transfer"][0] / "config.json")  # the data's optics make the blur
    default = [r.as_dict() for r in default_rows(stacks, held, plans["transfer"]["range_um"], fitted)]
    scratch_best = min(m for _, m in curve(runs["scratch"][0]))
    scratch_time = curve(runs["scratch"][0])[-1][0]
    reached = next((t for t, m in curve(runs["transfer"][0]) if m <= scratch_best), None)
    fields = {f for f in Row.__dataclass_fields__}
    result = {
        "minutes": args.minutes,
        "transfer_source": plans["transfer"]["source_reason"],
        "cards": {name: {"summary": c["summary"], "counts": c["counts"]} for name, c in cards.items()},
        "default_summary": summary_line([Row(**{k: v for k, v in r.items() if k in fields}) for r in default]),
        "scratch_best_val_mae": scratch_best, "scratch_train_s": scratch_time,
        "transfer_best_val_mae": min(m for _, m in curve(runs["transfer"][0])),
        "transfer_reached_scratch_best_at_s": reached,
        "time_ratio": None if reached is None else reached / scratch_time,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fit.json").write_text(json.dumps(result, indent=1))
    lines = [f"# deepz fit on 40x/1.3 oil into water (0.1625 µm pixels, 0.27 µm steps), {args.minutes:g} min each",
             "", "`python benchmarks/fit.py` (see its docstring for the data).", "",
             f"- transfer: {plans['transfer']['source_reason']}: **{cards['transfer']['summary']}**",
             f"- from scratch: **{cards['scratch']['summary']}**",
             f"- the shipped default on the same rows: **{result['default_summary']}**",
             f"- validation MAE: from scratch best {scratch_best:.4g} after {scratch_time:.0f} s of training; "
             f"transfer best {result['transfer_best_val_mae']:.4g}; transfer reached the from-scratch best "
             + (f"after {reached:.0f} s ({result['time_ratio']:.2f} of the from-scratch time)" if reached is not None
                else "never"), ""]
    for name in ("transfer", "scratch"):
        lines += [f"## {name}", "", *table("stack", cards[name]["rows"]), ""]
    lines += ["## the shipped default", "", *table("stack", default), ""]
    lines += ["## what the rows ask: the best linear filter, fitted on the answer", "",
              "Per row, the rotationally symmetric linear filter that brings the input closest to the truth "
              "(fitted on the truth itself; `oracle_filter`), against the better baseline, beside the transfer "
              "run's output. A ratio ≤ 0.8 asks for more than any convolution of the input can give.", "",
              *oracle_table(stacks, held, plans["transfer"]["range_um"], cards["transfer"]["rows"]), ""]
    (args.out / "fit.md").write_text("\n".join(lines))
    print("\n".join(lines[:9]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
