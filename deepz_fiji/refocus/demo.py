"""The demo: one simulated snapshot refocused into a virtual z-stack, checked against the truth.

A field of view is simulated with the model's own optics (a seed never used for training),
its Δz = 0 plane is the single input image, and the model refocuses it to every plane of
``start … stop``. The simulator's noiseless planes are the ground truth, so every refocused
plane gets SSIM/RMSE next to two baselines: "the input plane as the answer" and the physics
blur (the input convolved with the model's nominal PSF at Δz, :mod:`deepz_fiji.evaluate`).
The hard direction is shown too: the plane half the range too shallow, refocused to the focus,
beside the same two baselines (``hard_direction.png``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepz_fiji.errors import DeepZError
from deepz_fiji.evaluate import nominal_psf_plane, physics_blur
from deepz_fiji.io import write_csv, write_image

log = logging.getLogger(__name__)

#: Simulation seed of the demo field of view (training stacks use other seeds).
DEMO_SEED = 20190131


@dataclass
class DemoResult:
    """What :func:`run_demo` produced: files and the per-plane table."""

    out_dir: Path
    rows: list[dict]
    files: dict[str, Path]
    hard: dict | None = None


def run_demo(
    out_dir: str | Path,
    *,
    model=None,
    sample: str = "plane-beads",
    size: int = 256,
    seed: int = DEMO_SEED,
    start_um: float | None = None,
    stop_um: float | None = None,
    step_um: float = 0.5,
    progress: Callable[[int, int], None] | None = None,
) -> DemoResult:
    """Simulate, refocus, compare and write the demo outputs into ``out_dir``."""
    from deepz_fiji.metrics import per_plane
    from deepz_fiji.refocus.api import resolve_model, virtual_stack
    from deepz_fiji.simulate import Optics, simulate_stack

    model = resolve_model(model)
    cfg = model.config
    start_um = cfg.dz_min_um if start_um is None else start_um
    stop_um = cfg.dz_max_um if stop_um is None else stop_um
    if start_um > 0 or stop_um < 0:
        raise DeepZError(f"the demo range {start_um:g} … {stop_um:g} µm must include the input plane Δz = 0")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    optics = Optics().replace(na=cfg.na, emission_um=cfg.wavelength_um, pixel_um=cfg.pixel_um, z_step_um=step_um)
    sim = simulate_stack(sample, size, optics=optics, seed=seed, z_range_um=(start_um, stop_um))
    zero = int(np.argmin(np.abs(sim.z_um)))
    snapshot = sim.stack[zero]
    refocused = virtual_stack(snapshot, start_um, stop_um, step_um, model, progress=progress)
    z = np.asarray(sim.z_um, dtype=float)
    blurred = np.stack([physics_blur(snapshot, nominal_psf_plane(cfg, dz)) for dz in z])
    rows = _table(per_plane(refocused, sim.truth, z_um=z),
                  per_plane(np.broadcast_to(snapshot, sim.truth.shape).astype(np.float32), sim.truth, z_um=z),
                  per_plane(blurred, sim.truth, z_um=z))
    hard = _hard_direction(sim, z, cfg, model)
    px, dz = cfg.pixel_um, step_um
    files = {
        "input": write_image(out / "input.tif", snapshot, "YX", pixel_um=px),
        "virtual_stack": write_image(out / "virtual_stack.tif", refocused, "ZYX", pixel_um=px, z_step_um=dz,
                                     metadata={"model": cfg.name, "dz_um": f"{start_um:g}..{stop_um:g}"}),
        "truth": write_image(out / "truth.tif", sim.truth, "ZYX", pixel_um=px, z_step_um=dz),
        "scanned": write_image(out / "scanned.tif", sim.stack, "ZYX", pixel_um=px, z_step_um=dz),
        "table": write_csv(out / "per_plane.csv", rows),
    }
    files["figure"] = demo_figure(out / "demo.png", snapshot, refocused, sim.truth, z, title=cfg.name)
    if hard is not None:
        files["hard_direction"] = _hard_figure(out / "hard_direction.png", hard, cfg.name)
    return DemoResult(out_dir=out, rows=rows, files=files, hard=hard and hard["scores"])


def _table(model_rows: list[dict], baseline_rows: list[dict], blur_rows: list[dict]) -> list[dict]:
    return [
        {"z_um": round(float(m["z_um"]), 3), "ssim": m["ssim"], "rmse": m["rmse"],
         "ssim_input_plane": b["ssim"], "rmse_input_plane": b["rmse"],
         "ssim_physics_blur": f["ssim"], "rmse_physics_blur": f["rmse"]}
        for m, b, f in zip(model_rows, baseline_rows, blur_rows, strict=True)
    ]


def _hard_direction(sim, z: np.ndarray, cfg, model) -> dict | None:
    """The plane half the range above focus (too shallow), refocused to the focus, with both baselines."""
    from deepz_fiji.metrics import rmse, ssim
    from deepz_fiji.refocus.api import refocus_plane

    shift = 0.5 * min(abs(float(z[0])), abs(float(z[-1])))  # half the demo's range
    source, focus = int(np.argmin(np.abs(z + shift))), int(np.argmin(np.abs(z)))
    if source == focus:
        return None
    dz = float(z[focus] - z[source])
    images = {"input": sim.stack[source].astype(np.float32), "Deep-Z": refocus_plane(sim.stack[source], dz, model),
              "physics blur": physics_blur(sim.stack[source], nominal_psf_plane(cfg, dz)), "truth": sim.truth[focus]}
    truth = images["truth"]
    scores = {name: {"rmse": rmse(im, truth), "ssim": ssim(im, truth)} for name, im in images.items() if name != "truth"}
    return {"images": images, "scores": {"from_um": float(z[source]), "dz_um": dz, **scores}}


def _hard_figure(path: Path, hard: dict, title: str) -> Path:
    from deepz_fiji.plots import new_figure, save_png

    images, scores = hard["images"], hard["scores"]
    fig, axes = new_figure(1, len(images), size=(2.6 * len(images), 3.0))
    lo, hi = np.percentile(images["truth"], [0.5, 99.9])
    for ax, (name, image) in zip(axes.ravel(), images.items(), strict=True):
        ax.imshow(image, cmap="gray", vmin=lo, vmax=hi)
        label = f"\nRMSE {scores[name]['rmse']:.1f}, SSIM {scores[name]['ssim']:.3f}" if name in scores else ""
        ax.set_title(f"{name}{label}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{title}: a snapshot {scores['from_um']:+g} µm from focus refocused by {scores['dz_um']:+g} µm")
    return save_png(fig, path)


def demo_figure(path: Path, snapshot: np.ndarray, refocused: np.ndarray, truth: np.ndarray, z_um: np.ndarray,
                *, title: str = "", shown: int = 4) -> Path:
    """Input, refocused planes, ground truth, |difference| and x–z sections in one PNG."""
    from deepz_fiji.plots import new_figure, save_png

    picks = _picked_planes(z_um, shown)
    fig, axes = new_figure(4, len(picks) + 1, size=(2.4 * (len(picks) + 1), 10.4))
    lo, hi = np.percentile(truth, [0.5, 99.9])
    show = {"vmin": lo, "vmax": hi, "cmap": "gray"}
    axes[0, 0].imshow(snapshot, **show)
    axes[0, 0].set_title("input (Δz = 0)", fontsize=9)
    for col, i in enumerate(picks, start=1):
        diff = np.abs(refocused[i] - truth[i])
        axes[0, col].imshow(refocused[i], **show)
        axes[0, col].set_title(f"Deep-Z Δz = {z_um[i]:+g} µm", fontsize=9)
        axes[1, col].imshow(truth[i], **show)
        axes[1, col].set_title(f"truth Δz = {z_um[i]:+g} µm", fontsize=9)
        axes[2, col].imshow(diff, cmap="magma", vmin=0, vmax=(hi - lo) / 2)
        axes[2, col].set_title("|Deep-Z − truth|", fontsize=9)
    y = int(np.argmax(truth.max(axis=(0, 2))))
    extent = [0, truth.shape[2], float(z_um[-1]), float(z_um[0])]
    axes[3, 0].imshow(refocused[:, y, :], aspect="auto", extent=extent, **show)
    axes[3, 0].set_title(f"x–z Deep-Z (y = {y})", fontsize=9)
    axes[3, 1].imshow(truth[:, y, :], aspect="auto", extent=extent, **show)
    axes[3, 1].set_title("x–z truth", fontsize=9)
    for ax in axes.ravel():
        ax.set_xticks([])
        if ax not in (axes[3, 0], axes[3, 1]):
            ax.set_yticks([])
    for ax in list(axes[1:3, 0]) + list(axes[3, 2:]):
        ax.axis("off")
    if title:
        fig.suptitle(title)
    return save_png(fig, path)


def _picked_planes(z_um: np.ndarray, shown: int) -> list[int]:
    targets = np.linspace(z_um[0], z_um[-1], shown + 2)[1:-1]
    return sorted({int(np.argmin(np.abs(z_um - t))) for t in targets})
