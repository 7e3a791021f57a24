"""The paper's bead experiments on simulated data (Fig. 1b,c and Fig. 4e,f,k,l).

- :func:`volume_experiment` (Fig. 1): one noisy plane (Δz = 0) of a simulated bead stack is
  refocused into a virtual stack; lateral FWHM (each bead in its own brightest plane) and axial
  FWHM (x–z slice) of the same beads in the virtual stack, in the mechanically "scanned" noisy
  stack and in the simulator's noiseless stack.
- :func:`surface_experiment` (Fig. 4): beads on a tilted plane or a cylinder imaged at one
  plane; lateral FWHM of the same beads in the raw image, in the image refocused onto the
  matching surface DPM, and in the noiseless in-focus image of the same beads (same seed, flat
  at Δz = 0).

Beads are always detected on the noiseless truth and measured at those centroids in every
image, so all columns describe the same beads. Refocusing is injected (``stack_fn``,
``refocus_fn``): this module stays numpy-only; the benchmarks pass
:func:`deepz_fiji.refocus.virtual_stack` / :func:`~deepz_fiji.refocus.refocus_surface`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from deepz_fiji.beads.compare import lateral_fwhm_at_focus
from deepz_fiji.beads.detect import BeadDetection, detect_beads
from deepz_fiji.beads.fwhm import FwhmTable, axial_fwhm, lateral_fwhm
from deepz_fiji.dpm import cylinder_dpm, plane_dpm
from deepz_fiji.errors import DeepZError

log = logging.getLogger(__name__)

#: (image (Y, X), start_um, stop_um, step_um) -> virtual stack (Z, Y, X); e.g. refocus.virtual_stack.
StackFn = Callable[[np.ndarray, float, float, float], np.ndarray]
#: (image (Y, X), dpm_um (Y, X)) -> refocused image (Y, X); e.g. refocus.refocus_surface.
RefocusFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
Progress = Callable[[int, int], None]

#: Default simulation seed: held out (training stacks use seeds 1001+, accuracy 5000+).
BENCH_SEED = 7100
SURFACES = ("tilt", "cylinder")
#: Simulated planes around the imaged plane for one-plane experiments (the middle one is used).
_PLANES = 3


@dataclass
class BeadExperiment:
    """FWHM tables of the same beads (detected on the truth) in several images.

    ``tables[(measurement, image)]`` with measurement 'lateral' or 'axial'; ``images`` in
    display order; ``true_z_um``: the simulated depth of each detected bead (µm, Δz from the
    imaged plane); ``info`` holds the set-up (sizes, seed, Δz range, beads simulated ...).
    """

    name: str
    detection: BeadDetection
    images: list[str]
    true_z_um: np.ndarray
    tables: dict[tuple[str, str], FwhmTable] = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    @property
    def measurements(self) -> list[str]:
        return list(dict.fromkeys(m for m, _ in self.tables))

    def bead_ids(self, measurement: str, image: str) -> np.ndarray:
        """Index (into ``detection.centroids``) of every fitted row of a table."""
        return _nearest(self.detection.centroids, self.tables[measurement, image].rows)

    def common_beads(self, measurement: str) -> set[int]:
        """Beads fitted in every image of ``measurement``."""
        sets = [set(self.bead_ids(measurement, im).tolist()) for im in self.images if (measurement, im) in self.tables]
        return set.intersection(*sets) if sets else set()

    def summary(self) -> list[dict]:
        """One row per (measurement, image): counts and medians (all fitted / fitted everywhere)."""
        rows = []
        for m in self.measurements:
            common = self.common_beads(m)
            for im in self.images:
                table = self.tables.get((m, im))
                if table is None:
                    continue
                ids = self.bead_ids(m, im)
                both = table.fwhm_um[np.isin(ids, list(common))]
                rows.append({
                    "experiment": self.name, "measurement": m, "image": im,
                    "beads": len(self.detection), "fitted": table.n_fitted, "failed": table.n_failed,
                    "median_um": _median(table.fwhm_um), "common": len(common), "median_common_um": _median(both),
                })
        return rows

    def bead_rows(self) -> list[dict]:
        """One row per (measurement, image, bead): the fit, or the reason it failed."""
        out = []
        keys = ("y", "x", "z", "fwhm_um", "fwhm_x_um", "fwhm_y_um", "r2")
        for (m, im), table in self.tables.items():
            base = {"experiment": self.name, "measurement": m, "image": im}
            fitted = zip(self.bead_ids(m, im), table.rows, ["fitted"] * len(table.rows), strict=True)
            failed = zip(_nearest(self.detection.centroids, table.failed), table.failed,
                         [f["reason"] for f in table.failed], strict=True)
            for bead, r, status in [*fitted, *failed]:
                out.append({**base, "bead": int(bead), "true_z_um": float(self.true_z_um[bead]),
                            **{k: r.get(k, "") for k in keys}, "status": status})
        return out

    def median(self, measurement: str, image: str) -> float:
        """Median FWHM (µm) of one table; NaN when no bead was fitted."""
        return _median(self.tables[measurement, image].fwhm_um)


def _median(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=float)
    return float(np.median(values)) if values.size else float("nan")


def _nearest(centroids: np.ndarray, rows: Sequence[dict]) -> np.ndarray:
    """Index of the centroid nearest each row's (y, x)."""
    if not rows:
        return np.empty(0, dtype=int)
    from scipy.spatial import cKDTree

    _, idx = cKDTree(centroids).query(np.array([(r["y"], r["x"]) for r in rows], dtype=float))
    return np.asarray(idx, dtype=int)


def _true_depths(centroids: np.ndarray, objects: Sequence[dict]) -> np.ndarray:
    """Simulated z (µm) of the object nearest each detected centroid."""
    if len(centroids) == 0:
        return np.empty(0)
    from scipy.spatial import cKDTree

    _, idx = cKDTree([(o["y_px"], o["x_px"]) for o in objects]).query(centroids)
    return np.array([objects[i]["z_um"] for i in np.atleast_1d(idx)], dtype=float)


def _steps(progress: Progress | None, total: int) -> Callable[[], None]:
    done = [0]

    def step() -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], total)

    return step


def optics_for(config=None, *, z_step_um: float = 0.5):
    """Simulator optics matching a model's config (its NA, emission wavelength, pixel size)."""
    from deepz_fiji.simulate import Optics

    optics = Optics().replace(z_step_um=z_step_um)
    if config is None:
        return optics
    return optics.replace(na=config.na, emission_um=config.wavelength_um, pixel_um=config.pixel_um)


def _shape(size: int | Sequence[int]) -> tuple[int, int]:
    shape = (int(size), int(size)) if np.isscalar(size) else tuple(int(s) for s in size)
    if len(shape) != 2 or min(shape) < 1:
        raise DeepZError(f"size must be N or (height, width) in pixels, got {size!r}")
    return shape  # type: ignore[return-value]


# --------------------------------------------------------------------------- Fig. 1


def volume_experiment(
    stack_fn: StackFn,
    *,
    size: int | Sequence[int] = 1024,
    seed: int = BENCH_SEED,
    optics=None,
    sample: str = "beads",
    start_um: float = -10.0,
    stop_um: float = 10.0,
    step_um: float = 0.5,
    n_objects: int | None = None,
    progress: Progress | None = None,
) -> BeadExperiment:
    """Fig. 1b,c: Deep-Z virtual stack from the Δz = 0 plane vs the scanned stack, same beads.

    ``sample`` is 'beads' (scattered through the volume, 1 µm clear of the first and last
    plane) or 'plane-beads' (on a coverslip at Δz = 0, as in the paper). ``stack_fn(image,
    start_um, stop_um, step_um)`` must return the planes of ``start … stop`` (the scan's planes).
    """
    from deepz_fiji.simulate import simulate_stack

    if not start_um <= 0 <= stop_um:
        raise DeepZError(f"the range {start_um:g} … {stop_um:g} µm must contain the imaged plane Δz = 0")
    step = _steps(progress, 5)
    optics = optics_for(z_step_um=step_um) if optics is None else optics.replace(z_step_um=step_um)
    sim = simulate_stack(sample, _shape(size), optics=optics, seed=seed, z_range_um=(start_um, stop_um),
                         n_objects=n_objects)
    step()
    z = np.asarray(sim.z_um, dtype=float)
    snapshot = sim.stack[int(np.argmin(np.abs(z)))]
    virtual = np.asarray(stack_fn(snapshot, start_um, stop_um, step_um), dtype=np.float32)
    if virtual.shape != sim.stack.shape:
        raise DeepZError(f"the virtual stack has shape {virtual.shape} but the scan has {sim.stack.shape}; "
                         "refocus to the scan's planes")
    step()
    images = {"Deep-Z": virtual, "scanned": sim.stack.astype(np.float32), "noiseless": sim.truth}
    det = detect_beads(sim.truth.max(axis=0))
    exp = BeadExperiment("fig1", det, list(images), _true_depths(det.centroids, sim.objects), info={
        "sample": sample, "size": list(sim.stack.shape[1:]), "seed": seed, "planes": len(z),
        "z_um": [float(z[0]), float(z[-1])], "z_step_um": step_um, "pixel_um": sim.pixel_um,
        "beads_simulated": len(sim.objects), "beads_detected": len(det), "rejected": det.rejected})
    step()
    for name, stack in images.items():
        exp.tables["lateral", name] = lateral_fwhm_at_focus(stack, sim.pixel_um, det.centroids)
    step()
    for name, stack in images.items():
        exp.tables["axial", name] = axial_fwhm(stack, sim.pixel_um, step_um, det.centroids)
    step()
    return exp


# --------------------------------------------------------------------------- Fig. 4


def surface_setup(surface: str, shape: Sequence[int], pixel_um: float, *, tilt_deg: float = 1.5,
                  radius_um: float = 3600.0) -> tuple[str, dict, np.ndarray]:
    """(simulator sample, its keyword arguments, matching DPM in µm) for 'tilt' or 'cylinder'.

    Tilt: beads on z = tan(tilt)·(x − x_centre), about the y axis (``plane_dpm(tilt_y_deg=…)``).
    Cylinder: a tube of ``radius_um`` along x whose apex sits half the sag above focus
    (``cylinder_dpm(axis='x', offset_um=−sag/2)``), so centre and edges are both defocused.
    """
    shape = _shape(shape)
    if surface == "tilt":
        return "tilted-beads", {"tilt_deg": tilt_deg, "offset_um": 0.0}, plane_dpm(shape, pixel_um, tilt_y_deg=tilt_deg)
    if surface == "cylinder":
        sag = float(cylinder_dpm(shape, pixel_um, radius_um, axis="x").max())
        offset = -sag / 2
        dpm = cylinder_dpm(shape, pixel_um, radius_um, axis="x", offset_um=offset)
        return "cylinder-beads", {"radius_um": radius_um, "offset_um": offset}, dpm
    raise DeepZError(f"unknown surface {surface!r}; choose one of {', '.join(SURFACES)}")


def dpm_at_beads(dpm: np.ndarray, objects: Sequence[dict]) -> np.ndarray:
    """The DPM (µm) at each simulated object's pixel position (bilinear)."""
    from scipy import ndimage

    if not objects:
        return np.empty(0)
    coords = np.array([[o["y_px"] for o in objects], [o["x_px"] for o in objects]], dtype=float)
    return ndimage.map_coordinates(np.asarray(dpm, dtype=np.float64), coords, order=1, mode="nearest")


def surface_experiment(
    refocus_fn: RefocusFn,
    surface: str = "tilt",
    *,
    size: int | Sequence[int] = 2048,
    seed: int = BENCH_SEED,
    optics=None,
    tilt_deg: float = 1.5,
    radius_um: float = 3600.0,
    n_objects: int | None = None,
    progress: Progress | None = None,
) -> BeadExperiment:
    """Fig. 4: raw image of beads on a surface vs Deep-Z refocused with the surface's DPM vs truth.

    The raw image is the Δz = 0 camera frame (noisy); ``refocus_fn(raw, dpm)`` refocuses it
    onto the surface; the truth is the noiseless Δz = 0 image of the same beads (same seed:
    same positions and brightness) on a flat coverslip at Δz = 0, i.e. each bead in focus.
    """
    from deepz_fiji.simulate import simulate_stack

    shape = _shape(size)
    step = _steps(progress, 4)
    optics = optics_for() if optics is None else optics
    sample, kw, dpm = surface_setup(surface, shape, optics.pixel_um, tilt_deg=tilt_deg, radius_um=radius_um)
    common = {"optics": optics, "seed": seed, "planes": _PLANES, "n_objects": n_objects}
    sim = simulate_stack(sample, shape, **common, **kw)
    flat = simulate_stack("plane-beads", shape, **common, offset_um=0.0)
    _check_same_beads(sim.objects, flat.objects)
    mid = _PLANES // 2
    raw, truth = sim.stack[mid].astype(np.float32), flat.truth[mid]
    step()
    refocused = np.asarray(refocus_fn(sim.stack[mid], dpm), dtype=np.float32)
    if refocused.shape != raw.shape:
        raise DeepZError(f"the refocused image has shape {refocused.shape}, the raw image {raw.shape}")
    step()
    det = detect_beads(truth)
    bead_z = np.array([o["z_um"] for o in sim.objects], dtype=float)
    mismatch = np.abs(dpm_at_beads(dpm, sim.objects) - bead_z)
    info = {"surface": surface, "sample": sample, "size": list(shape), "seed": seed, "pixel_um": optics.pixel_um,
            **kw, "dpm_um": [float(dpm.min()), float(dpm.max())],
            "bead_z_um": [float(bead_z.min()), float(bead_z.max())] if bead_z.size else [],
            "dpm_vs_bead_z_max_um": float(mismatch.max()) if mismatch.size else 0.0,
            "beads_simulated": len(sim.objects), "beads_detected": len(det), "rejected": det.rejected}
    exp = BeadExperiment(surface, det, ["raw", "Deep-Z", "in-focus truth"], _true_depths(det.centroids, sim.objects),
                         info=info)
    step()
    for name, image in zip(exp.images, (raw, refocused, truth), strict=True):
        exp.tables["lateral", name] = lateral_fwhm(image, optics.pixel_um, centroids=det.centroids)
    step()
    return exp


def _check_same_beads(a: Sequence[dict], b: Sequence[dict]) -> None:
    pa = np.array([(o["x_um"], o["y_um"], o["photons"]) for o in a]).reshape(-1, 3)
    pb = np.array([(o["x_um"], o["y_um"], o["photons"]) for o in b]).reshape(-1, 3)
    if pa.shape != pb.shape or not np.allclose(pa, pb):
        raise DeepZError(
            f"the surface and its in-focus reference hold different beads ({len(pa)} vs {len(pb)}): part of "
            "the surface lies beyond the simulated depth; use a smaller image or a gentler surface"
        )


def within(value: float, reference: float, tolerance: float) -> bool:
    """``value`` within ``tolerance`` (a fraction) of ``reference``; False for NaN."""
    return bool(math.isfinite(value) and math.isfinite(reference) and abs(value - reference) <= tolerance * reference)
