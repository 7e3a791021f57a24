"""Fluorescent samples: 300 nm beads (in a volume, on a plane, a tilted plane or a cylinder),
neuron nuclei in a worm, filament networks, or any density array.

A :class:`Sample` holds points (x, y, z in µm, photons; beads) and/or a voxel density on the
stack grid (photons per voxel; extended objects), plus one row per object with its true 3D
position. Lateral coordinates: ``x_um = column × pixel_um`` with pixel centres at whole
columns (numpy convention); ``z_um`` is on the stack's z axis (plane ``i`` at ``z_um[i]``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from deepz_fiji.errors import DeepZError


@dataclass(frozen=True)
class Grid:
    """The stack's sampling: ``ny × nx`` pixels of ``pixel_um``, planes at ``z_um``; the optics'
    lateral resolution (µm) scales the density of fine structures."""

    ny: int
    nx: int
    pixel_um: float
    z_um: np.ndarray
    resolution_um: float = 0.4
    step_um: float = 1.0  # plane spacing used when there is a single plane

    @property
    def nz(self) -> int:
        return len(self.z_um)

    @property
    def z_step_um(self) -> float:
        return float(self.z_um[1] - self.z_um[0]) if self.nz > 1 else self.step_um

    @property
    def width_um(self) -> float:
        return (self.nx - 1) * self.pixel_um

    @property
    def height_um(self) -> float:
        return (self.ny - 1) * self.pixel_um

    @property
    def area_um2(self) -> float:
        return self.nx * self.ny * self.pixel_um**2

    def plane(self, z_um: np.ndarray) -> np.ndarray:
        """Fractional plane coordinate of ``z_um`` (0 = first plane)."""
        return (np.asarray(z_um, dtype=np.float64) - self.z_um[0]) / self.z_step_um


@dataclass
class Sample:
    points: np.ndarray  # (N, 4): x_um, y_um, z_um, photons
    density: np.ndarray | None = None  # (nz, ny, nx) float32 photons per voxel
    objects: list[dict] = field(default_factory=list)
    point_diameter_um: float = 0.0


# Per-sample defaults: photons per object (filaments: per µm; arrays: per unit value) with the
# paper's 0.75 NA objective (other objectives collect ∝ NA²), and the object-to-object
# brightness variation (coefficient of variation of a log-normal).
DEFAULT_PHOTONS = {"beads": 20000.0, "nuclei": 30000.0, "filaments": 1500.0, "array": 1000.0}
DEFAULT_CV = {"beads": 0.15, "nuclei": 0.35, "filaments": 0.3}
BEAD_DENSITY_PER_UM2 = 1.8e-3  # 461 beads over ~500 × 500 µm² in the paper
NUCLEUS_VOLUME_PER_UM3 = 1 / 2000.0
FILAMENTS_PER_RESOLUTION = 1 / 8  # filament length per µm² = this / lateral resolution (µm)


def brightness(rng: np.random.Generator, n: int, photons: float, cv: float) -> np.ndarray:
    """Log-normal per-object brightness with mean ``photons`` and coefficient of variation ``cv``."""
    if cv <= 0:
        return np.full(n, float(photons))
    sigma = math.sqrt(math.log1p(cv**2))
    return photons * rng.lognormal(-sigma**2 / 2, sigma, n)


def random_count(rng: np.random.Generator, n_objects: int | None, expected: float) -> int:
    """``n_objects`` if given, else a random count around ``expected`` (density varies per seed)."""
    if n_objects is not None:
        return int(n_objects)
    return max(1, int(rng.poisson(expected * rng.uniform(0.5, 1.5))))


def spread_out(rng: np.random.Generator, candidates: np.ndarray, n: int, min_dist: float | np.ndarray) -> np.ndarray:
    """Pick up to ``n`` of the candidate rows (in order) keeping neighbours ≥ ``min_dist`` apart."""
    from scipy.spatial import cKDTree

    min_dist = np.broadcast_to(np.asarray(min_dist, dtype=np.float64), (len(candidates),))
    reach = float(min_dist.max()) * 2 if len(candidates) else 0.0
    tree = cKDTree(candidates)
    taken = np.zeros(len(candidates), dtype=bool)
    chosen: list[int] = []
    for i in range(len(candidates)):
        if len(chosen) >= n:
            break
        near = tree.query_ball_point(candidates[i], reach)
        clash = [j for j in near if taken[j] and np.linalg.norm(candidates[i] - candidates[j])
                 < (min_dist[i] + min_dist[j]) / 2]
        if not clash:
            taken[i] = True
            chosen.append(i)
    return np.asarray(chosen, dtype=np.int64)


def object_row(kind: str, x: float, y: float, z: float, size: float, photons: float, grid: Grid) -> dict:
    return {
        "kind": kind, "x_um": round(float(x), 4), "y_um": round(float(y), 4), "z_um": round(float(z), 4),
        "size_um": round(float(size), 4), "photons": round(float(photons), 1),
        "x_px": round(float(x) / grid.pixel_um, 3), "y_px": round(float(y) / grid.pixel_um, 3),
        "z_plane": round(float(grid.plane(z)), 3),
    }


# --------------------------------------------------------------------------- beads


def _bead_sample(grid: Grid, xyz: np.ndarray, photons: np.ndarray, diameter: float) -> Sample:
    points = np.column_stack([xyz, photons])
    objects = [object_row("bead", x, y, z, diameter, p, grid) for (x, y, z), p in zip(xyz, photons, strict=True)]
    return Sample(points=points, objects=objects, point_diameter_um=diameter)


def _lateral(rng: np.random.Generator, grid: Grid, n: int) -> np.ndarray:
    return np.column_stack([rng.uniform(0, grid.width_um, n), rng.uniform(0, grid.height_um, n)])


def beads_volume(grid: Grid, rng, *, n_objects=None, photons, brightness_cv, bead_um=0.3, **_) -> Sample:
    """Beads scattered through the stack's volume (1 µm clear of its first and last plane)."""
    n = random_count(rng, n_objects, BEAD_DENSITY_PER_UM2 * grid.area_um2)
    lo, hi = grid.z_um[0], grid.z_um[-1]
    margin = min(1.0, (hi - lo) / 4)
    cand = np.column_stack([_lateral(rng, grid, 4 * n + 8), rng.uniform(lo + margin, hi - margin, 4 * n + 8)])
    xyz = cand[spread_out(rng, cand, n, max(1.0, 3 * bead_um))]
    return _bead_sample(grid, xyz, brightness(rng, len(xyz), photons, brightness_cv), bead_um)


def _surface_beads(grid: Grid, rng, surface: Callable[[np.ndarray, np.ndarray], np.ndarray], *, n_objects,
                   photons, brightness_cv, bead_um) -> Sample:
    n = random_count(rng, n_objects, BEAD_DENSITY_PER_UM2 * grid.area_um2)
    xy = _lateral(rng, grid, 4 * n + 8)
    xy = xy[spread_out(rng, xy, n, max(1.0, 3 * bead_um))]
    z = surface(xy[:, 0], xy[:, 1])
    xyz = np.column_stack([xy, z])
    return _bead_sample(grid, xyz, brightness(rng, len(xyz), photons, brightness_cv), bead_um)


def beads_plane(grid: Grid, rng, *, offset_um=None, **kw) -> Sample:
    """Beads on a flat coverslip at ``offset_um`` (default 0: the stack's centre plane)."""
    z0 = 0.0 if offset_um is None else float(offset_um)
    return _surface_beads(grid, rng, lambda x, y: np.full_like(x, z0), **_bead_kw(kw))


def beads_tilted(grid: Grid, rng, *, tilt_deg=None, offset_um=None, **kw) -> Sample:
    """Beads on a plane tilted by ``tilt_deg`` (default 1.5°, the paper's) about the y axis.

    z = offset + tan(tilt)·(x − x_centre), the surface of ``deepz_fiji.dpm.plane_dpm(shape,
    pixel_um, tilt_y_deg=tilt, offset_um=offset)``.
    """
    tilt = 1.5 if tilt_deg is None else float(tilt_deg)
    if not (math.isfinite(tilt) and abs(tilt) < 89):
        raise DeepZError(f"tilt_deg must be an angle between -89 and 89 degrees, got {tilt}")
    z0 = 0.0 if offset_um is None else float(offset_um)
    slope, xc = math.tan(math.radians(tilt)), grid.width_um / 2
    return _surface_beads(grid, rng, lambda x, y: z0 + slope * (x - xc), **_bead_kw(kw))


def beads_cylinder(grid: Grid, rng, *, radius_um=None, offset_um=None, **kw) -> Sample:
    """Beads on the near side of a tube of ``radius_um`` (default 3600 µm: the paper's 7.2 mm tube).

    The tube's axis runs along x through the image centre; the surface bends away from the
    objective towards the top and bottom edges: z = offset + R − √(R² − (y − y_centre)²), the
    surface of ``deepz_fiji.dpm.cylinder_dpm(shape, pixel_um, R, axis='x', offset_um=offset)``.
    By default the apex sits half the sag above focus, so centre and edges are both defocused.
    """
    radius = 3600.0 if radius_um is None else float(radius_um)
    half = grid.height_um / 2
    if not (math.isfinite(radius) and radius > half):
        raise DeepZError(f"the cylinder radius must exceed half the image height ({half:.1f} µm), got {radius}")
    sag = radius - math.sqrt(radius**2 - half**2)
    z0 = -sag / 2 if offset_um is None else float(offset_um)
    return _surface_beads(grid, rng, lambda x, y: z0 + radius - np.sqrt(radius**2 - (y - half) ** 2),
                          **_bead_kw(kw))


def _bead_kw(kw: dict) -> dict:
    return {k: kw.get(k) for k in ("n_objects", "photons", "brightness_cv")} | {"bead_um": kw.get("bead_um", 0.3)}


# --------------------------------------------------------------------------- any array


def density_sample(grid: Grid, array: np.ndarray, photons: float) -> Sample:
    """A user's (Z, Y, X) fluorophore density on the stack grid; ``photons`` per unit value."""
    array = np.asarray(array)
    if array.ndim != 3:
        raise DeepZError(f"a sample array must be 3D (Z, Y, X), got shape {array.shape}")
    if array.shape != (grid.nz, grid.ny, grid.nx):
        raise DeepZError(
            f"the sample array has shape {array.shape} but the stack is {(grid.nz, grid.ny, grid.nx)} "
            "(planes, height, width); match the planes and size to the array"
        )
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise DeepZError(f"a sample array must hold real numbers, got {array.dtype}")
    if not np.all(np.isfinite(array)):
        raise DeepZError("the sample array contains NaN or infinite values; replace them before simulating")
    if array.min() < 0:
        raise DeepZError("the sample array has negative values; a fluorophore density must be ≥ 0")
    return Sample(points=np.zeros((0, 4)), density=(array * float(photons)).astype(np.float32))
