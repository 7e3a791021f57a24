"""Extended samples rasterised on the stack grid: worm neuron nuclei and filament networks.

Both become voxel densities (photons per voxel) with sub-voxel accuracy: nuclei by
supersampled coverage of each ellipsoid, filaments by trilinear splatting of points every
third of a voxel along each curve (so a filament's in-focus image is at most ~1 px softer than
a perfect camera's).
"""

from __future__ import annotations

import math

import numpy as np

from deepz_fiji.errors import DeepZError
from deepz_fiji.simulate.samples import (
    FILAMENTS_PER_RESOLUTION,
    NUCLEUS_VOLUME_PER_UM3,
    Grid,
    Sample,
    brightness,
    object_row,
    random_count,
    spread_out,
)

# --------------------------------------------------------------------------- worm nuclei


def _worm_centreline(grid: Grid, rng: np.random.Generator, step_um: float) -> np.ndarray:
    """A sinuous body axis (x, y in µm) crossing the field of view, sampled every ``step_um``."""
    w, h = grid.width_um, grid.height_um
    size = max(w, h, 1.0)
    heading = rng.uniform(0, np.pi)
    centre = np.array([w / 2, h / 2]) + rng.uniform(-0.2, 0.2, 2) * size
    amplitude = rng.uniform(0.05, 0.2) * size
    wavelength = rng.uniform(0.8, 1.6) * size
    phase = rng.uniform(0, 2 * np.pi)
    u = np.arange(-1.5 * size, 1.5 * size, step_um)
    v = amplitude * np.sin(2 * np.pi * u / wavelength + phase)
    c, s = math.cos(heading), math.sin(heading)
    return np.column_stack([centre[0] + c * u - s * v, centre[1] + s * u + c * v])


def nuclei(grid: Grid, rng, *, n_objects=None, photons, brightness_cv, radius_um=None, **_) -> Sample:
    """Neuron nuclei (ellipsoids 2–3 µm across) packed inside a worm-shaped tube.

    The worm lies flat, its axis a random sinuous curve across the image near z = 0, body
    radius ``radius_um`` (default 15 µm); nuclei fill it at ~1 per 2000 µm³ (random per seed),
    without overlapping. Only nuclei centred inside the stack's z range are kept.
    """
    from scipy.spatial import cKDTree

    body = 15.0 if radius_um is None else float(radius_um)
    if not (math.isfinite(body) and body >= 2.0):
        raise DeepZError(f"the worm radius must be at least 2 µm, got {radius_um}")
    axis = _worm_centreline(grid, rng, 0.5)
    tree = cKDTree(axis)
    z_lo, z_hi = grid.z_um[0], grid.z_um[-1]
    zc = rng.uniform(-0.1, 0.1) * (z_hi - z_lo) + (z_lo + z_hi) / 2
    n_cand = 20000
    cand = np.column_stack([rng.uniform(0, grid.width_um, n_cand), rng.uniform(0, grid.height_um, n_cand),
                            rng.uniform(max(z_lo, zc - body), min(z_hi, zc + body), n_cand)])
    semi = rng.uniform(1.0, 1.5, (n_cand, 3))
    dist_xy, _ = tree.query(cand[:, :2])
    inside = np.hypot(dist_xy, cand[:, 2] - zc) <= body - semi.max(axis=1)
    box_volume = grid.width_um * grid.height_um * (min(z_hi, zc + body) - max(z_lo, zc - body))
    volume = box_volume * inside.mean()
    n = random_count(rng, n_objects, volume * NUCLEUS_VOLUME_PER_UM3) if inside.any() else 0
    cand, semi = cand[inside], semi[inside]
    keep = spread_out(rng, cand, n, 2 * semi.max(axis=1) + 0.4) if n else np.zeros(0, dtype=np.int64)
    cand, semi = cand[keep], semi[keep]
    angle = rng.uniform(0, np.pi, len(cand))
    power = brightness(rng, len(cand), photons, brightness_cv)
    density = np.zeros((grid.nz, grid.ny, grid.nx), dtype=np.float32)
    objects = []
    for centre, abc, phi, p in zip(cand, semi, angle, power, strict=True):
        _add_ellipsoid(density, grid, centre, abc, phi, p)
        objects.append(object_row("nucleus", *centre, 2 * float(np.prod(abc)) ** (1 / 3), p, grid))
    return Sample(points=np.zeros((0, 4)), density=density, objects=objects)


def _add_ellipsoid(density, grid: Grid, centre, abc, phi: float, photons: float, sub: int = 3) -> None:
    """Add a uniformly bright ellipsoid (semi-axes ``abc`` µm, rotated ``phi`` about z) by coverage."""
    px, dz = grid.pixel_um, grid.z_step_um
    reach = float(max(abc))
    cx, cy, cz = centre[0] / px, centre[1] / px, grid.plane(centre[2])
    x0, x1 = max(0, math.floor(cx - reach / px)), min(grid.nx - 1, math.ceil(cx + reach / px))
    y0, y1 = max(0, math.floor(cy - reach / px)), min(grid.ny - 1, math.ceil(cy + reach / px))
    z0, z1 = max(0, math.floor(cz - abc[2] / dz)), min(grid.nz - 1, math.ceil(cz + abc[2] / dz))
    if x0 > x1 or y0 > y1 or z0 > z1:
        return
    off = (np.arange(sub) + 0.5) / sub - 0.5
    zs = ((np.arange(z0, z1 + 1)[:, None] + off).ravel() - cz) * dz
    ys = ((np.arange(y0, y1 + 1)[:, None] + off).ravel() - cy) * px
    xs = ((np.arange(x0, x1 + 1)[:, None] + off).ravel() - cx) * px
    c, s = math.cos(phi), math.sin(phi)
    u = c * xs[None, :] + s * ys[:, None]
    v = -s * xs[None, :] + c * ys[:, None]
    r2 = (u / abc[0]) ** 2 + (v / abc[1]) ** 2  # (Y, X)
    inside = (r2[None] + (zs[:, None, None] / abc[2]) ** 2) <= 1.0
    nz_, ny_, nx_ = z1 - z0 + 1, y1 - y0 + 1, x1 - x0 + 1
    cover = inside.reshape(nz_, sub, ny_, sub, nx_, sub).mean(axis=(1, 3, 5))
    voxels = 4 / 3 * math.pi * float(np.prod(abc)) / (px * px * dz)  # the whole nucleus, in voxels
    density[z0 : z1 + 1, y0 : y1 + 1, x0 : x1 + 1] += (photons / voxels) * cover.astype(np.float32)


# --------------------------------------------------------------------------- filaments


def filaments(grid: Grid, rng, *, n_objects=None, photons, brightness_cv, persistence_um=30.0,
              layer_um=None, **_) -> Sample:
    """A network of semi-flexible filaments (microtubule/actin-like) in a thin cell layer.

    Each filament is a worm-like chain (persistence length ``persistence_um``) 15–70 µm long,
    starting anywhere in or near the image in any direction; it stays within a layer of
    ``layer_um`` (default min(4 µm, 60 % of the stack range)) centred on z = 0, reflecting off
    its faces. Their total length per area scales with the optics' resolution (a network a
    20× objective just resolves, denser at 63×). ``photons`` are per µm of filament.
    """
    z_lo, z_hi = grid.z_um[0], grid.z_um[-1]
    layer = min(4.0, 0.6 * (z_hi - z_lo)) if layer_um is None else float(layer_um)
    zc = min(max(0.0, z_lo), z_hi)
    top, bottom = max(z_lo, zc - layer / 2), min(z_hi, zc + layer / 2)
    mean_length = 40.0
    length_per_um2 = FILAMENTS_PER_RESOLUTION / grid.resolution_um  # ~0.3 µm/µm² at 20×, 0.66 at 63×
    n = random_count(rng, n_objects, length_per_um2 * grid.area_um2 / mean_length)
    step = min(grid.pixel_um, grid.z_step_um) / 3
    density = np.zeros((grid.nz, grid.ny, grid.nx), dtype=np.float32)
    objects = []
    margin = 0.1 * max(grid.width_um, grid.height_um)
    for p in brightness(rng, n, photons, brightness_cv):
        length = rng.uniform(15, 70)
        start = np.array([rng.uniform(-margin, grid.width_um + margin),
                          rng.uniform(-margin, grid.height_um + margin), rng.uniform(top, bottom)])
        path = _chain(rng, start, length, step, persistence_um, top, bottom)
        _splat(density, grid, path, p * step)
        mid = path[len(path) // 2]
        objects.append(object_row("filament", *mid, length, p * length, grid))
    return Sample(points=np.zeros((0, 4)), density=density, objects=objects)


def _chain(rng, start, length, step, persistence, top, bottom) -> np.ndarray:
    """A worm-like chain: the heading random-walks (variance step/persistence per step), the
    elevation wanders within ±0.3 rad, and z folds back at the layer's faces."""
    n = max(2, int(length / step))
    kick = math.sqrt(step / persistence)
    heading = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, kick, n))
    elevation = np.clip(rng.normal(0, 0.1) + np.cumsum(rng.normal(0, 0.3 * kick, n)), -0.3, 0.3)
    tangent = np.column_stack([np.cos(elevation) * np.cos(heading), np.cos(elevation) * np.sin(heading),
                               np.sin(elevation)])
    pts = start + np.cumsum(step * tangent, axis=0)
    if bottom > top:  # triangle-wave fold into [top, bottom]
        span = bottom - top
        z = np.mod(pts[:, 2] - top, 2 * span)
        pts[:, 2] = top + np.where(z > span, 2 * span - z, z)
    else:
        pts[:, 2] = top
    return pts


def _splat(density, grid: Grid, pts: np.ndarray, weight: float) -> None:
    """Add ``weight`` photons per point with trilinear weights on the voxel grid."""
    nz, ny, nx = density.shape
    coords = np.column_stack([grid.plane(pts[:, 2]), pts[:, 1] / grid.pixel_um, pts[:, 0] / grid.pixel_um])
    base = np.floor(coords).astype(np.int64)
    frac = coords - base
    flat = density.reshape(-1)
    for corner in range(8):
        bits = np.array([(corner >> 2) & 1, (corner >> 1) & 1, corner & 1])
        idx = base + bits
        w = np.prod(np.where(bits, frac, 1 - frac), axis=1) * weight
        ok = np.all((idx >= 0) & (idx < (nz, ny, nx)), axis=1)
        np.add.at(flat, np.ravel_multi_index(idx[ok].T, (nz, ny, nx)), w[ok].astype(np.float32))
