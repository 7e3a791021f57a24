"""Deep-Z+ against Deep-Z and the scanned wide-field plane, judged by the confocal truth (Fig. 5).

Held-out simulated fields of view (63×/1.4 NA oil, microtubule-like filaments in a thin layer,
seeds never used for training; wide-field and confocal perfectly registered, so the truth is
exact): the wide-field camera frame at z = 0 is the only input. For each Δz it is refocused by
the Deep-Z+ model (wide-field → confocal) and by a plain Deep-Z model (wide-field → wide-field);
both, and the wide-field plane scanned at that Δz, are compared with the noiseless confocal
plane at that Δz (SSIM and RMSE), as the paper's Fig. 5d.

Intensities are compared in normalised units (SPEC §4.3, 1 % of the foreground above 1): the
confocal truth on its stack's EDF, the scanned wide-field plane on its stack's EDF, the model
outputs with the input's own constants (what refocusing applies). Δz values are taken on the
scan grid (nearest plane) and limited to both models' trained ranges.

    python benchmarks/deepz_plus.py --deepz-plus models/deepz-plus-63x-1.4 --deepz models/deepz-63x-1.4 \
        [--fovs 3] [--size 256] [--dz -0.6 -0.4 -0.2 0.2 0.4 0.6] [--out runs/deepz-plus-benchmark]

Writes ``deepz_plus_rows.csv`` (every FOV and Δz), ``deepz_plus_table.csv`` (means per Δz) and
``deepz_plus_xz.png`` (x–z sections of the first FOV through the row of most signal).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

#: Within the simulated cell layer (0.8 µm thick, as in training), where the confocal truth has signal.
DZ = (-0.6, -0.4, -0.2, 0.2, 0.4, 0.6)
SEED0 = 7000  # examples/make_deepz_plus_model.sh trains on seeds 2000+
METHODS = ("deepz_plus", "deepz", "widefield")
LABELS = {"deepz_plus": "Deep-Z+", "deepz": "Deep-Z", "widefield": "WF scan", "confocal": "confocal (truth)"}


def held_out_pairs(optics, size: int, fovs: int, half_range_um: float, *, filaments: int | None = None,
                   layer_um: float = 0.8) -> list:
    """Registered wide-field/confocal stacks (no misregistration) covering ±``half_range_um``."""
    from deepz_fiji.simulate.pairs import simulate_misregistered_pair

    step = optics.z_step_um
    half = step * np.ceil(half_range_um / step - 1e-9)
    return [simulate_misregistered_pair("filaments", size, optics=optics, seed=SEED0 + fov, shift_px=(0.0, 0.0),
                                        rotation_deg=0.0, axial_offset_um=0.0, z_range_um=(-half, half),
                                        n_objects=filaments, layer_um=layer_um)
            for fov in range(fovs)]


def refocus_planes(image: np.ndarray, dz: list[float], model) -> np.ndarray:
    """(len(dz), Y, X) planes of ``image`` refocused to each Δz, in the input's units."""
    from deepz_fiji.refocus import iter_refocus

    out = np.empty((len(dz), *image.shape), np.float32)
    for event in iter_refocus(image, dz, model):
        if event.plane is not None:
            out[event.index[1]] = event.plane
    return out


def usable_dz(requested: list[float], z_um: np.ndarray, models: list) -> tuple[list[float], list[str]]:
    """Requested Δz moved onto the scan grid and kept inside every model's range; notes on the rest."""
    kept, notes = [], []
    for d in requested:
        on_grid = float(z_um[int(np.argmin(np.abs(z_um - d)))])
        outside = [m.config.name for m in models if not m.config.dz_min_um - 1e-6 <= on_grid <= m.config.dz_max_um + 1e-6]
        if outside:
            notes.append(f"Δz {on_grid:+g} µm skipped: outside the trained range of {', '.join(outside)}")
        elif on_grid not in kept:
            kept.append(on_grid)
    return kept, notes


def evaluate(plus, plain, pairs: list, dz: list[float]) -> tuple[list[dict], dict]:
    """Per FOV and Δz: SSIM/RMSE of each method against the confocal truth; x–z data of FOV 0."""
    from deepz_fiji.data import estimate_normalization, extended_depth_of_field, normalize
    from deepz_fiji.metrics import rmse, ssim

    rows, sections = [], {}
    for fov, pair in enumerate(pairs):
        wide, conf = pair.widefield, pair.confocal
        z = np.asarray(wide.z_um)
        index = {d: int(np.argmin(np.abs(z - d))) for d in dz}
        snapshot = wide.stack[index.get(0.0, int(np.argmin(np.abs(z))))]
        wide_scan = normalize(wide.stack.astype(np.float32), estimate_normalization(extended_depth_of_field(wide.stack)[0]))
        truth = normalize(conf.truth, estimate_normalization(extended_depth_of_field(conf.truth)[0]))
        zs = [float(v) for v in z if min(dz) - 1e-6 <= v <= max(dz) + 1e-6] if fov == 0 else dz
        own = estimate_normalization(snapshot)  # refocusing normalises the input on itself
        outputs = {name: normalize(refocus_planes(snapshot, zs, model), own)
                   for name, model in (("deepz_plus", plus), ("deepz", plain))}
        for d in dz:
            k, i = zs.index(d), index[d]
            images = {"deepz_plus": outputs["deepz_plus"][k], "deepz": outputs["deepz"][k], "widefield": wide_scan[i]}
            row = {"fov": fov, "dz_um": d}
            for name, image in images.items():
                row[f"ssim_{name}"] = ssim(image, truth[i])
                row[f"rmse_{name}"] = rmse(image, truth[i])
            rows.append(row)
        if fov == 0:
            planes = [int(np.argmin(np.abs(z - v))) for v in zs]
            y = int(np.argmax(truth[planes].max(axis=0).sum(axis=1)))  # the row of most in-focus signal
            sections = {"y": y, "z_um": np.array(zs), "pixel_um": wide.pixel_um,
                        "widefield": wide_scan[planes, y], "deepz": outputs["deepz"][:, y],
                        "deepz_plus": outputs["deepz_plus"][:, y], "confocal": truth[planes, y]}
    return rows, sections


def summarise(rows: list[dict]) -> list[dict]:
    """Mean over FOVs of every metric, per Δz."""
    table = []
    for d in dict.fromkeys(r["dz_um"] for r in rows):
        sel = [r for r in rows if r["dz_um"] == d]
        table.append({"dz_um": d, "fovs": len(sel),
                      **{f"{m}_{k}": float(np.mean([r[f"{m}_{k}"] for r in sel])) for m in ("ssim", "rmse")
                         for k in METHODS}})
    return table


def xz_figure(path: Path, sections: dict) -> Path:
    """x–z sections (rows: WF scan, Deep-Z, Deep-Z+, confocal truth) as one PNG."""
    from deepz_fiji.plots import new_figure, save_png

    names = ("widefield", "deepz", "deepz_plus", "confocal")
    z, px = sections["z_um"], sections["pixel_um"]
    width = sections["confocal"].shape[1] * px
    fig, axes = new_figure(len(names), 1, size=(7.0, 1.4 * len(names) + 0.8))
    lo = min(float(np.percentile(sections[n], 1)) for n in names)
    hi = max(float(np.percentile(sections[n], 99.9)) for n in names)
    for ax, name in zip(axes, names, strict=True):
        ax.imshow(sections[name], cmap="magma", vmin=lo, vmax=hi, aspect="auto", interpolation="nearest",
                  extent=(0, width, z[-1] + (z[1] - z[0]) / 2 if len(z) > 1 else 0.5,
                          z[0] - (z[1] - z[0]) / 2 if len(z) > 1 else -0.5))
        ax.set_ylabel(f"{LABELS[name]}\nz (µm)", fontsize="small")
    axes[0].set_title(f"x–z sections at y = {sections['y']} px (normalised intensity)")
    axes[-1].set_xlabel("x (µm)")
    return save_png(fig, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deepz-plus", required=True, help="Deep-Z+ model (name or folder; wide-field→confocal)")
    parser.add_argument("--deepz", required=True, help="plain Deep-Z model (name or folder) for comparison")
    parser.add_argument("--fovs", type=int, default=3, help="held-out fields of view (3)")
    parser.add_argument("--size", type=int, default=256, help="field of view side in px (256)")
    parser.add_argument("--dz", type=float, nargs="+", default=list(DZ), help=f"Δz in µm (default {DZ})")
    parser.add_argument("--filaments", type=int, default=40, help="filaments per field (40, as the example's training)")
    parser.add_argument("--layer-um", type=float, default=0.8, help="thickness of the filament layer (0.8 µm)")
    parser.add_argument("--out", type=Path, default=Path("runs/deepz-plus-benchmark"), help="folder for CSV and PNG")
    args = parser.parse_args(argv)

    from deepz_fiji.io import write_csv
    from deepz_fiji.model import load_model
    from deepz_fiji.simulate import Optics

    plus, plain = load_model(args.deepz_plus), load_model(args.deepz)
    notes = []
    if plus.config.modality != "widefield→confocal":
        notes.append(f"{plus.config.name} has modality {plus.config.modality!r}, not widefield→confocal")
    cfg = plus.config
    optics = Optics.preset("oil-63x-1.4").replace(pixel_um=cfg.pixel_um, z_step_um=cfg.z_step_um)
    for model in (plus, plain):
        if abs(model.config.pixel_um - optics.pixel_um) > 0.01 * optics.pixel_um or abs(model.config.na - optics.na) > 0.05:
            notes.append(f"{model.config.name} was trained for {model.config.pixel_um:g} µm pixels and NA "
                         f"{model.config.na:g}; these data are {optics.pixel_um:g} µm and NA {optics.na:g}")
    t0 = time.perf_counter()
    pairs = held_out_pairs(optics, args.size, args.fovs, max(abs(d) for d in args.dz) + 2 * optics.z_step_um,
                           filaments=args.filaments, layer_um=args.layer_um)
    dz, skipped = usable_dz(args.dz, np.asarray(pairs[0].widefield.z_um), [plus, plain])
    notes += skipped
    if not dz:
        print("no Δz lies inside both models' trained ranges; nothing to compare", file=sys.stderr)
        return 1
    rows, sections = evaluate(plus, plain, pairs, dz)
    table = summarise(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(args.out / "deepz_plus_rows.csv", rows)
    write_csv(args.out / "deepz_plus_table.csv", table)
    png = xz_figure(args.out / "deepz_plus_xz.png", sections)
    print(f"Deep-Z+ {plus.config.name} ({plus.path}) vs Deep-Z {plain.config.name} ({plain.path}); {args.fovs} held-out "
          f"FOVs of {args.size}² px, input = wide-field frame at z = 0, truth = noiseless confocal plane; "
          f"{time.perf_counter() - t0:.0f} s")
    print(f"{'Δz µm':>6} | {'SSIM Deep-Z+':>12} {'Deep-Z':>7} {'WF scan':>7} | {'RMSE Deep-Z+':>12} {'Deep-Z':>7} "
          f"{'WF scan':>7}")
    for r in table:
        print(f"{r['dz_um']:>+6.2f} | {r['ssim_deepz_plus']:>12.3f} {r['ssim_deepz']:>7.3f} {r['ssim_widefield']:>7.3f} | "
              f"{r['rmse_deepz_plus']:>12.3f} {r['rmse_deepz']:>7.3f} {r['rmse_widefield']:>7.3f}")
    best = sum(r["ssim_deepz_plus"] > max(r["ssim_deepz"], r["ssim_widefield"]) for r in table)
    print(f"Deep-Z+ has the highest SSIM at {best}/{len(table)} Δz; x–z sections: {png}")
    for note in notes:
        print(f"note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
