"""Neuron activity in 3D from a simulated single-plane worm video (SPEC §6), end to end.

1. Simulate a worm: neuron nuclei in a tube (``deepz_fiji.simulate``, sample ``"nuclei"``),
   imaged through the paper's 20×/0.75 wide-field microscope over −10 … +10 µm. Each nucleus
   also carries an activity indicator; neurons belong to three co-active groups (shared trains
   of calcium transients) or stay quiet.
2. Make the two-channel video the camera records at one focal plane (Δz = 0): frame t of the
   nuclei channel and of the activity channel, with fresh camera noise and a small random
   body motion (translation + rotation) per frame. Written as ``OUT/worm_video.tif``.
3. Analyse it like a user would (``deepz track``): registration, Deep-Z virtual stacks of
   every frame, segmentation, traces, active neurons, spectral clustering → ``OUT/deepz/``.
4. For comparison: the same analysis on the *mechanically scanned* stacks the microscope
   would have recorded at every time point (``--scanned`` → ``OUT/scanned/``), and on the
   single focal plane alone (``--plane-only`` → ``OUT/plane/``).
5. Score each against the truth: neurons found (recall, precision within 2.5 µm; lateral only
   for the single plane), active neurons, k, ARI of the clusters against the designed groups,
   and the correlation of the traces with the true activity. ``OUT/evaluation.json``.

Run (a trained model is needed for step 3; refocusing 2 × FRAMES × 41 planes takes a while on
a CPU)::

    python examples/worm_activity.py -o /tmp/worm --model widefield-20x-0.75na --scanned --plane-only
    python examples/worm_activity.py -o /tmp/worm --skip-deepz --scanned --plane-only  # no model
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from deepz_fiji.activity import (  # noqa: E402
    ActivityOptions,
    adjusted_rand_index,
    analyse_stacks,
    refocus_stack_fn,
    track_activity,
)
from deepz_fiji.activity.outputs import neuron_positions_um, write_outputs  # noqa: E402
from deepz_fiji.activity.register import rigid_transform, warp_plane  # noqa: E402
from deepz_fiji.activity.synthetic import calcium_transients  # noqa: E402
from deepz_fiji.io import read_image, write_image, write_json  # noqa: E402
from deepz_fiji.simulate import simulate_stack  # noqa: E402
from deepz_fiji.simulate.camera import expose  # noqa: E402

Z_RANGE = (-10.0, 10.0)
Z_STEP = 0.5


def sphere_density(shape, positions_um, diameters_um, pixel_um, z_um):
    """Unit-photon balls (coverage supersampled 3× per axis) at ``positions_um`` (x, y, z)."""
    out = np.zeros(shape, np.float32)
    dz = float(z_um[1] - z_um[0])
    sub = (np.arange(3) + 0.5) / 3 - 0.5
    for (x, y, z), d in zip(positions_um, diameters_um, strict=True):
        r = d / 2
        lo = [max(0, int(np.floor(c - r / s))) for c, s in (((z - z_um[0]) / dz, dz), (y / pixel_um, pixel_um),
                                                            (x / pixel_um, pixel_um))]
        hi = [min(n - 1, int(np.ceil(c + r / s))) for n, c, s in zip(shape, ((z - z_um[0]) / dz, y / pixel_um,
                                                                     x / pixel_um), (dz, pixel_um, pixel_um),
                                                                     strict=True)]
        if any(a > b for a, b in zip(lo, hi, strict=True)):
            continue
        gz = (np.arange(lo[0], hi[0] + 1)[:, None] + sub).ravel() * dz + z_um[0] - z
        gy = (np.arange(lo[1], hi[1] + 1)[:, None] + sub).ravel() * pixel_um - y
        gx = (np.arange(lo[2], hi[2] + 1)[:, None] + sub).ravel() * pixel_um - x
        inside = (gz[:, None, None] ** 2 + gy[None, :, None] ** 2 + gx[None, None, :] ** 2) <= r * r
        n = [b - a + 1 for a, b in zip(lo, hi, strict=True)]
        cover = inside.reshape(n[0], 3, n[1], 3, n[2], 3).mean(axis=(1, 3, 5))
        out[lo[0]:hi[0] + 1, lo[1]:hi[1] + 1, lo[2]:hi[2] + 1] += cover / max(cover.sum(), 1e-9)
    return out


def signal_stack(density, photons):
    """Expected photo-electrons (Z, Y, X) of a density through the microscope (no camera)."""
    sim = simulate_stack(density, z_range_um=Z_RANGE, photons=photons, background=0.0, offset=0.0, gain=1.0,
                         read_noise=0.0)
    return sim.truth  # gain 1, offset 0, background 0: the truth is the signal in e⁻


def simulate_worm(args):
    """Nuclei and activity signal stacks, the designed groups and traces."""
    rng = np.random.default_rng(args.seed)
    sim = simulate_stack("nuclei", args.size, seed=args.seed, n_objects=args.neurons, z_range_um=Z_RANGE)
    cam = sim.camera
    nuclei_e = (sim.truth - cam.offset) / cam.gain - cam.background  # expected e⁻, noiseless
    pos = np.array([[o["x_um"], o["y_um"], o["z_um"]] for o in sim.objects])
    diam = np.array([o["size_um"] for o in sim.objects])
    n = len(pos)
    groups = rng.permutation(np.arange(n) % 4) - 1  # three groups and quiet neurons (−1), ~¼ each
    print(f"simulated {n} nuclei in a worm, {int((groups >= 0).sum())} of them active in 3 groups")
    patterns = np.array([calcium_transients(rng, args.frames, max(2, args.frames // 12), args.frames / 15)
                         for _ in range(3)])
    parts = []  # signal stacks of each group, then of the quiet neurons
    for k in (0, 1, 2, -1):
        members = groups == k
        dens = sphere_density(sim.stack.shape, pos[members], diam[members], sim.pixel_um, sim.z_um)
        parts.append(signal_stack(dens, args.photons))
    traces = 1.0 + args.amplitude * np.where(groups[:, None] >= 0, patterns[np.maximum(groups, 0)], 0.0)
    return {"camera": cam, "nuclei_e": nuclei_e, "parts": parts, "patterns": patterns, "positions_um": pos,
            "groups": groups, "traces": traces, "pixel_um": sim.pixel_um, "z_um": sim.z_um}


def activity_e(worm, t, amplitude):
    """The activity channel's expected e⁻ (Z, Y, X) at frame t."""
    parts, patterns = worm["parts"], worm["patterns"]
    return sum((1.0 + amplitude * patterns[k, t]) * parts[k] for k in range(3)) + parts[3]


def make_video(worm, args, rng):
    """(T, 2, Y, X) uint16 single-plane video at Δz = 0 with body motion and camera noise."""
    z0 = int(np.argmin(np.abs(worm["z_um"])))
    cam = worm["camera"]
    shape = worm["nuclei_e"].shape[1:]
    walk = np.cumsum(rng.normal(0, args.motion_px / 2, (args.frames, 2)), axis=0)
    walk -= walk[args.frames // 2]
    angles = np.cumsum(rng.normal(0, args.motion_deg / 2, args.frames))
    angles -= angles[args.frames // 2]
    video = np.empty((args.frames, 2, *shape), np.uint16)
    for t in range(args.frames):
        moved = np.linalg.inv(rigid_transform(shape, angles[t], walk[t]))
        for c, plane in enumerate((worm["nuclei_e"][z0], activity_e(worm, t, args.amplitude)[z0])):
            video[t, c] = expose(warp_plane(plane, moved, cval=0.0), cam, rng)[0]  # a new array each time
    return video


def scanned_stacks(worm, args, rng, folder: Path):
    """Noisy mechanically scanned stacks of both channels per frame (no motion), memory-mapped."""
    folder.mkdir(parents=True, exist_ok=True)
    nuc, act = [], []
    for t in range(args.frames):
        for lst, name, signal in ((nuc, "n", worm["nuclei_e"]), (act, "a", activity_e(worm, t, args.amplitude))):
            path = folder / f"{name}{t:04d}.npy"
            np.save(path, expose(np.array(signal, np.float32), worm["camera"], rng)[0])  # expose overwrites
            lst.append(np.load(path, mmap_mode="r"))
    return nuc, act


def evaluate(result, worm, *, lateral_only=False, tol_um=2.5):
    """Detection, selection and clustering scores of one analysis against the truth."""
    found = neuron_positions_um(result)
    truth = worm["positions_um"]
    cols = slice(0, 2) if lateral_only else slice(0, 3)
    d = np.linalg.norm(found[:, None, cols] - truth[None, :, cols], axis=2)
    rows, cols_ = linear_sum_assignment(d)  # one-to-one: a found neuron explains one true one
    paired = d[rows, cols_] <= tol_um
    nearest = np.full(len(found), -1)
    nearest[rows[paired]] = cols_[paired]
    good = nearest >= 0
    groups = np.where(good, worm["groups"][nearest], -2)
    corr = [np.corrcoef(result.traces[i], worm["traces"][j])[0, 1]
            for i, j in enumerate(nearest) if good[i] and groups[i] >= 0]
    act = result.active & good
    cl = result.cluster_of_neuron()
    return {
        "true_neurons": len(truth), "found": len(found),
        "recall": float(good.sum() / len(truth)), "precision": float(good.mean()) if len(found) else 0.0,
        "true_active": int((worm["groups"] >= 0).sum()), "selected_active": int(result.active.sum()),
        "selected_truly_active": int((act & (groups >= 0)).sum()),
        "clusters": int(result.clustering.k),
        "ari_vs_groups": float(adjusted_rand_index(cl[act], groups[act])) if act.sum() > 1 else None,
        "median_trace_correlation": float(np.median(corr)) if corr else None,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    p.add_argument("--model", default=None, help="Deep-Z model name or folder (default: the shipped one)")
    p.add_argument("--size", type=int, default=256, help="image side in pixels (0.325 µm)")
    p.add_argument("--frames", type=int, default=120, help="time points (~126 at 3.6 Hz in the paper)")
    p.add_argument("--neurons", type=int, default=40, help="nuclei in the worm")
    p.add_argument("--photons", type=float, default=8000.0, help="activity photons per neuron at baseline")
    p.add_argument("--amplitude", type=float, default=2.0, help="peak ΔF/F0 of a transient (without background)")
    p.add_argument("--motion-px", type=float, default=1.0, help="body motion per frame (px, random walk)")
    p.add_argument("--motion-deg", type=float, default=0.5, help="rotation per frame (°, random walk)")
    p.add_argument("--interval", type=float, default=0.28, help="seconds between frames")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip-deepz", action="store_true", help="no Deep-Z analysis (no model needed)")
    p.add_argument("--scanned", action="store_true", help="also analyse mechanically scanned stacks")
    p.add_argument("--plane-only", action="store_true", help="also analyse the single focal plane")
    p.add_argument("--resume", action="store_true", help="resume an interrupted Deep-Z analysis")
    p.add_argument("--keep-blend", action="store_true",
                   help="refocus with the model's physics blend and output level (deepz track --keep-blend)")
    args = p.parse_args(argv)
    if args.frames < 4:
        p.error(f"--frames {args.frames}: the activity analysis needs at least 4 time points")
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed + 1)

    worm = simulate_worm(args)
    video_path = args.out / "worm_video.tif"
    write_image(video_path, make_video(worm, args, rng), "TCYX", pixel_um=worm["pixel_um"],
                frame_interval_s=args.interval, metadata={"deepz_description": "simulated worm: C0 nuclei, C1 activity"})
    write_json(args.out / "truth.json", {"positions_um": worm["positions_um"], "groups": worm["groups"],
                                         "traces": worm["traces"]})
    video = read_image(video_path)
    options = ActivityOptions()
    scores = {}
    if not args.skip_deepz:
        from tqdm import tqdm

        with tqdm(desc="deepz track", unit="step") as bar:
            def progress(done, total):
                bar.total = total
                bar.update(done - bar.n)

            stack_fn = refocus_stack_fn(args.model, *Z_RANGE, Z_STEP) if args.keep_blend else None
            res = track_activity(video, 0, 1, args.out / "deepz", model=args.model, z_range=(*Z_RANGE, Z_STEP),
                                 stack_fn=stack_fn, options=options, progress=progress, resume=args.resume)
        scores["deepz"] = evaluate(res, worm)
    if args.plane_only:
        res = track_activity(video, 0, 1, args.out / "plane", stack_fn=lambda im: np.asarray(im)[None],
                             z_range=(0.0, 0.0, 1.0), options=options)
        scores["plane_only"] = evaluate(res, worm, lateral_only=True)
    if args.scanned:
        nuc, act = scanned_stacks(worm, args, rng, args.out / "scanned" / "cache")
        res = analyse_stacks(nuc, act, worm["z_um"], worm["pixel_um"], options=options,
                             frame_interval_s=args.interval)
        write_outputs(res, args.out / "scanned")
        scores["scanned"] = evaluate(res, worm)
    write_json(args.out / "evaluation.json", scores)
    print(json.dumps(scores, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
