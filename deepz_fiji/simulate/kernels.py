"""PSF kernels on the stack grid, as the image formation needs them (cached).

A :class:`KernelBank` holds, for plane offsets ``d = i − q`` (output plane i, object plane q):

* ``coarse[d]``: the PSF sampled on the camera grid (pixel-integrated for wide-field), for
  objects given as voxel densities and for points far from focus;
* ``tiles[jy, jx, d]`` for ``|d| <= near``: the exact camera image of a point sitting
  ``(jy - phases/2, jx - phases/2) / phases`` of a pixel off a pixel centre (offsets −½ … +½).
  Near focus the PSF is narrower than two pixels, so shifting coarse samples (linear or
  Fourier) would blur or ring by 10–30 %; these tiles are cut from a PSF computed ``phases``
  times finer and integrated over pixels; points between phases interpolate bilinearly.

Points may be small spheres (beads): their projected ball is convolved into the near-focus
kernels (farther from focus it changes nothing visible).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from deepz_fiji.simulate.optics import Optics
from deepz_fiji.simulate.psf import psf_banded, psf_block

PHASES = 8  # even: offsets of exactly half a pixel are tiles


@dataclass(frozen=True)
class KernelBank:
    coarse: np.ndarray  # (n_d, 2r+1, 2r+1) float32; plane k is offset d = d_lo + k
    d_lo: int
    near: int  # |d| <= near: points use tiles
    tiles: np.ndarray  # (phases+1, phases+1, 2*near+1, 2w+1, 2w+1) float32
    phases: int = PHASES

    @property
    def d_hi(self) -> int:
        return self.d_lo + self.coarse.shape[0] - 1

    @property
    def radius(self) -> int:
        return self.coarse.shape[1] // 2

    @property
    def tile_radius(self) -> int:
        return self.tiles.shape[-1] // 2

    def plane(self, d: int) -> np.ndarray:
        return self.coarse[d - self.d_lo]


def near_planes(optics: Optics) -> int:
    """Plane offsets within ±2 nλ/NA² of focus: there, points are imaged from fine tiles."""
    return max(1, int(math.ceil(2 * optics.axial_scale_um / optics.z_step_um)))


def ball_transfer(k_cycles_um: np.ndarray, diameter_um: float) -> np.ndarray:
    """Fourier transform of a uniform ball's projection (unit integral), k in cycles/µm."""
    x = np.pi * diameter_um * np.asarray(k_cycles_um, dtype=np.float64)
    out = np.ones_like(x)
    big = x > 1e-4
    xb = x[big]
    out[big] = 3 * (np.sin(xb) - xb * np.cos(xb)) / xb**3
    return out


def _convolve_ball(planes: np.ndarray, pitch_um: float, diameter_um: float) -> np.ndarray:
    if diameter_um <= 0:
        return planes
    ny, nx = planes.shape[-2:]
    k = np.hypot(np.fft.fftfreq(ny, pitch_um)[:, None], np.fft.rfftfreq(nx, pitch_um)[None, :])
    spectrum = np.fft.rfft2(planes) * ball_transfer(k, diameter_um)
    return np.fft.irfft2(spectrum, s=(ny, nx))


_CACHE: dict[tuple, KernelBank] = {}
_CACHE_SIZE = 4


def kernel_bank(
    optics: Optics,
    d_lo: int,
    d_hi: int,
    modality: str = "widefield",
    pinhole_au: float = 1.0,
    point_diameter_um: float = 0.0,
) -> KernelBank:
    """Kernels for (at least) plane offsets ``d_lo … d_hi``.

    Cached per optics and object kind: a later call whose offsets lie inside a cached bank
    reuses it, so loops over random samples compute each PSF once.
    """
    key = (optics, modality, float(pinhole_au), float(point_diameter_um))
    bank = _CACHE.pop(key, None)
    if bank is None or bank.d_lo > d_lo or bank.d_hi < d_hi:
        if bank is not None:
            d_lo, d_hi = min(d_lo, bank.d_lo), max(d_hi, bank.d_hi)
        bank = _build(optics, d_lo, d_hi, modality, pinhole_au, point_diameter_um)
    _CACHE[key] = bank
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    return bank


def _build(optics, d_lo, d_hi, modality, pinhole_au, point_diameter_um) -> KernelBank:
    px, dz = optics.pixel_um, optics.z_step_um
    widefield = modality == "widefield"
    near = near_planes(optics)
    w = int(math.ceil(optics.support_radius_um(near * dz) / px))
    s = PHASES
    half_fine = w * s + s
    d_near = np.arange(-near, near + 1)
    # point samples: s is fine enough that the trapezoid pixel integral below is exact to ~0.2 %
    fine = psf_block(optics, d_near * dz, half_fine, px / s, modality=modality, pinhole_au=pinhole_au,
                     integrate=False)
    fine = _convolve_ball(fine, px / s, point_diameter_um)
    if widefield:  # integrate over camera pixels: trapezoid rule over s+1 fine samples per axis
        from scipy.ndimage import convolve1d

        box = np.ones(s + 1)
        box[[0, -1]] = 0.5
        fine = convolve1d(convolve1d(fine, box, axis=1, mode="constant"), box, axis=2, mode="constant")
    tiles = np.empty((s + 1, s + 1, len(d_near), 2 * w + 1, 2 * w + 1), dtype=np.float32)
    centres = half_fine + np.arange(-w, w + 1) * s
    for jy in range(s + 1):
        for jx in range(s + 1):
            rows = centres - (jy - s // 2)
            cols = centres - (jx - s // 2)
            tiles[jy, jx] = fine[:, rows[:, None], cols[None, :]]

    d_all = np.arange(d_lo, d_hi + 1)
    far_d = d_all[np.abs(d_all) > near]
    r = w
    far = None
    if len(far_d):
        # a bead (≤ ~λ/2) does not change a defocused PSF visibly: no ball convolution here
        far = psf_banded(optics, far_d * dz, px, modality=modality, pinhole_au=pinhole_au,
                         integrate=widefield, min_half=w)
        r = far.shape[1] // 2
    coarse = np.zeros((len(d_all), 2 * r + 1, 2 * r + 1), dtype=np.float32)
    if far is not None:
        coarse[np.abs(d_all) > near] = far
    centre = s // 2  # the tile of a point on a pixel centre
    for k, d in enumerate(d_all):
        if abs(d) <= near:
            coarse[k, r - w : r + w + 1, r - w : r + w + 1] = tiles[centre, centre, d + near]
    if not widefield:  # the in-focus image of a point sums to 1
        scale = float(tiles[centre, centre, near].sum())
        coarse /= scale
        tiles /= scale
    np.clip(coarse, 0, None, out=coarse)
    np.clip(tiles, 0, None, out=tiles)
    return KernelBank(coarse=coarse, d_lo=int(d_lo), near=near, tiles=tiles, phases=s)
