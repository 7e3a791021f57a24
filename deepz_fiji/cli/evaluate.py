"""``deepz evaluate PRED GT``: per-plane image metrics (and bead FWHM) against a ground truth."""

from __future__ import annotations

import argparse
import logging
import math
import sys
from pathlib import Path

log = logging.getLogger(__name__)

COLUMNS = ("plane", "z_um", "mse", "rmse", "mae", "pearson", "ssim", "psnr")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="compare a refocused image or stack with its ground truth (MSE, RMSE, MAE, Pearson, SSIM, PSNR)",
        description=(
            "Compare PRED with the ground truth GT plane by plane (2D images or ZYX stacks of the same "
            "shape, same intensity units). SSIM uses an 11x11 Gaussian window (sigma 1.5) and the "
            "ground truth's data range. z_um counts from the first plane plus --z0-um."
        ),
    )
    p.add_argument("pred", metavar="PRED", type=Path, help="prediction TIFF (e.g. a Deep-Z refocused image or stack)")
    p.add_argument("truth", metavar="GT", type=Path, help="ground-truth TIFF (e.g. the mechanically scanned image or stack)")
    p.add_argument("-o", "--output", type=Path, help="write the per-plane table to this CSV file")
    p.add_argument("--plot", type=Path, help="write SSIM and RMSE against z to this PNG file")
    p.add_argument("--beads", action="store_true",
                   help="also measure bead FWHM (same beads in both; lateral, and axial for stacks)")
    p.add_argument("--fwhm-plot", type=Path,
                   help="with --beads: lateral FWHM histograms to this PNG (stacks: also <name>-axial.png)")
    p.add_argument("--pixel-um", type=float, help="pixel size in µm (default: from the files)")
    p.add_argument("--z-step-um", type=float, help="z step in µm (default: from the files)")
    p.add_argument("--z0-um", type=float, default=0.0, help="z of the first plane in µm (default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deepz_fiji import metrics
    from deepz_fiji.errors import DeepZError
    from deepz_fiji.io import read_image, write_csv

    outputs = [args.output, args.plot] + ([args.fwhm_plot] if args.beads else [])
    for out in outputs:
        if out is not None and not out.parent.exists():
            raise DeepZError(f"output folder {out.parent} does not exist; create it first or choose another path")
    if args.fwhm_plot is not None and not args.beads:
        raise DeepZError("--fwhm-plot needs --beads; add --beads to measure the bead FWHM")

    pred = read_image(args.pred)
    truth = read_image(args.truth)
    for img, name in ((pred, "PRED"), (truth, "GT")):
        if img.axes not in ("YX", "ZYX"):
            raise DeepZError(f"{name} {img.path.name} has axes {img.axes}; evaluate compares 2D (YX) "
                             "images or z-stacks (ZYX): split channels/time points first")
    if pred.data.shape != truth.data.shape:
        raise DeepZError(f"PRED {args.pred.name} has shape {pred.data.shape} ({pred.axes}) but GT "
                         f"{args.truth.name} has {truth.data.shape} ({truth.axes}); they must match")
    pixel_um = args.pixel_um or truth.pixel_um or pred.pixel_um
    z_step_um = args.z_step_um or truth.z_step_um or pred.z_step_um
    _warn_calibration(pred, truth)

    n = 1 if truth.data.ndim == 2 else truth.data.shape[0]
    z_um = [args.z0_um + i * z_step_um for i in range(n)] if (z_step_um and truth.data.ndim == 3) else None
    rows = metrics.per_plane(pred.data, truth.data, z_um=z_um, progress=_progress_bar(n, "planes"))

    beads = None
    if args.beads:
        if not pixel_um:
            raise DeepZError("--beads needs the pixel size: the files carry none, give --pixel-um")
        from deepz_fiji.beads import compare_beads

        beads = compare_beads(pred.data, truth.data, pixel_um, z_step_um)

    _print_table(rows)
    if beads is not None:
        _print_beads(beads)
    if args.output is not None:
        write_csv(args.output, rows)
        print(f"table: {args.output}")
    if args.plot is not None:
        metrics.plot_per_plane(rows, args.plot, title=f"{args.pred.name} vs {args.truth.name}")
        print(f"plot: {args.plot}")
    if beads is not None and args.fwhm_plot is not None:
        _fwhm_plots(beads, args.fwhm_plot)
    return 0


def _warn_calibration(pred, truth) -> None:
    for what in ("pixel_um", "z_step_um"):
        a, b = getattr(pred, what), getattr(truth, what)
        if a and b and not math.isclose(a, b, rel_tol=1e-3):
            log.warning("PRED and GT disagree on %s (%g vs %g); using the ground truth's", what, a, b)


def _progress_bar(total: int, unit: str):
    if total < 2 or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    bar = tqdm(total=total, unit=unit, leave=False)

    def update(done: int, _total: int) -> None:
        bar.update(done - bar.n)
        if done >= _total:
            bar.close()

    return update


def _fmt(value) -> str:
    if isinstance(value, int):
        return str(value)
    return f"{value:.4g}" if math.isfinite(value) else str(value)


def _print_table(rows: list[dict]) -> None:
    cols = [c for c in COLUMNS if c in rows[0]]
    cells = [[_fmt(r[c]) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    print("  ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True)))
    for row in cells:
        print("  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)))


def _print_beads(beads: dict) -> None:
    from deepz_fiji.errors import DeepZError

    det = beads["lateral_truth"].detection
    why = ", ".join(f"{v} {k}" for k, v in det.rejected.items() if v)
    print(f"beads: {len(det)} isolated in GT, {det.n_rejected} rejected" + (f" ({why})" if why else ""))
    for kind in ("lateral", "axial"):
        if f"{kind}_truth" not in beads:
            continue
        parts = []
        for name, label in (("pred", "PRED"), ("truth", "GT")):
            t = beads[f"{kind}_{name}"]
            try:
                med = f"{t.median_um:.3f} µm"
            except DeepZError:
                med = "n/a"
            parts.append(f"{label} {med} (n={t.n_fitted}, {t.n_failed} failed)")
        print(f"median {kind} FWHM: " + "; ".join(parts))


def _fwhm_plots(beads: dict, path: Path) -> None:
    from deepz_fiji.beads import fwhm_histogram

    for kind in ("lateral", "axial"):
        if f"{kind}_truth" not in beads:
            continue
        target = path if kind == "lateral" else path.with_name(f"{path.stem}-axial{path.suffix}")
        tables = {"PRED": beads[f"{kind}_pred"], "GT": beads[f"{kind}_truth"]}
        if all(t.n_fitted == 0 for t in tables.values()):
            log.warning("no %s FWHM to plot", kind)
            continue
        fwhm_histogram(tables, target, title=f"{kind} FWHM")
        print(f"{kind} FWHM histogram: {target}")
