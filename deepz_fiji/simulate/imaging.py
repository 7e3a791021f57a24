"""Image formation: expected photo-electrons per voxel of a z-stack (no noise).

Objects come as points (x, y in pixels with pixel centres at integers, z in planes with plane 0
the first stack plane, photons) and/or a voxel density on the stack grid (photons per voxel).
Every object lights every plane of the stack (the full axial range), through the PSF of
:mod:`deepz_fiji.simulate.kernels`:

* far from focus, by FFT convolution on a grid padded by the PSF radius laterally and by the
  object extent axially (no wrap-around), convolving only occupied object planes; points enter
  it through their exact Fourier phases (sub-pixel placement);
* near focus, points are drawn from sub-pixel tiles (exact pixel integration).

Sub-plane positions are interpolated with cubic (Keys) weights on the four nearest planes,
the same in both paths, so the two add up exactly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
from scipy import fft as sfft

from deepz_fiji.errors import DeepZError
from deepz_fiji.simulate.kernels import KernelBank, kernel_bank
from deepz_fiji.simulate.optics import Optics

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None] | None
WORKERS = -1  # scipy.fft: all cores


def keys_weights(frac: np.ndarray) -> np.ndarray:
    """Cubic convolution (Keys, a = −0.5) weights for offsets −1, 0, 1, 2 at fraction ``frac``."""
    f = np.asarray(frac, dtype=np.float64)[..., None]
    t = np.array([1.0, 0.0, -1.0, -2.0]) + f  # distances to the four taps (signed)
    a = np.abs(t)
    near = (1.5 * a - 2.5) * a * a + 1
    far = ((-0.5 * a + 2.5) * a - 4) * a + 2
    return np.where(a <= 1, near, np.where(a < 2, far, 0.0))


class _Steps:
    def __init__(self, total: int, callback: Progress):
        self.done, self.total, self.callback = 0, max(1, total), callback

    def __call__(self, n: int = 1) -> None:
        self.done += n
        if self.callback is not None:
            self.callback(min(self.done, self.total), self.total)


def render(
    optics: Optics,
    shape: tuple[int, int, int],
    *,
    points: np.ndarray | None = None,
    density: np.ndarray | None = None,
    point_diameter_um: float = 0.0,
    modality: str = "widefield",
    pinhole_au: float = 1.0,
    progress: Progress = None,
) -> np.ndarray:
    """Expected signal photons (Z, Y, X) float32 of ``points`` (N, 4: x_px, y_px, z_plane, photons)
    and ``density`` ((Z, Y, X) photons per voxel, on the stack grid)."""
    nz, ny, nx = (int(s) for s in shape)
    out = np.zeros((nz, ny, nx), dtype=np.float32)
    jobs = []
    if points is not None and len(points):
        points = np.asarray(points, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 4 or not np.all(np.isfinite(points)):
            raise DeepZError("points must be a finite (N, 4) array of x_px, y_px, z_plane, photons")
        base = np.floor(points[:, 2]).astype(np.int64)
        jobs.append(("points", int(base.min()) - 1, int(base.max()) + 2, point_diameter_um))
    if density is not None:
        if density.shape != (nz, ny, nx):
            raise DeepZError(f"the density must have the stack's shape {(nz, ny, nx)}, got {density.shape}")
        occupied = np.flatnonzero(density.reshape(nz, -1).any(axis=1))
        if len(occupied):
            jobs.append(("density", int(occupied[0]), int(occupied[-1]), 0.0))
    total = sum(_job_steps(nz, lo, hi, kind, points) for kind, lo, hi, _ in jobs)
    steps = _Steps(total, progress)
    for kind, b0, b1, diameter in jobs:
        bank = kernel_bank(optics, -b1, nz - 1 - b0, modality, float(pinhole_au), float(diameter))
        if kind == "points":
            _far(out, bank, b0, b1, points=points, steps=steps)
            _near(out, bank, points, steps)
        else:
            _far(out, bank, b0, b1, density=density, steps=steps)
    steps(steps.total - steps.done)
    np.clip(out, 0, None, out=out)
    return out


def _job_steps(nz: int, b0: int, b1: int, kind: str, points) -> int:
    n = 2 * (nz + b1 - b0) + nz
    if kind == "points":
        n += len(points) // 256 + 1
    return n


# --------------------------------------------------------------------------- far: FFT path


def _far(out, bank: KernelBank, b0: int, b1: int, *, points=None, density=None, steps) -> None:
    """Add the FFT convolution of object planes b0…b1 (points: only offsets beyond ``bank.near``)."""
    nz, ny, nx = out.shape
    skip_near = points is not None
    ds = [d for d in range(-b1, nz - b0) if not (skip_near and abs(d) <= bank.near)]
    if not ds or not np.any(bank.coarse[[d - bank.d_lo for d in ds]]):
        steps(2 * (nz + b1 - b0))
        return
    r = bank.radius
    Ny = sfft.next_fast_len(max(ny + r + 1, 2 * r + 1), real=True)
    Nx = sfft.next_fast_len(max(nx + r + 1, 2 * r + 1), real=True)
    nb = b1 - b0 + 1
    L = sfft.next_fast_len(nz + nb - 1)  # ≥ the number of distinct plane offsets: no axial wrap-around
    spec = np.zeros((L, Ny, Nx // 2 + 1), dtype=np.complex64)
    buf = np.zeros((Ny, Nx), dtype=np.float32)
    for d in ds:
        kernel = bank.plane(d)
        buf[:] = 0
        buf[: r + 1, : r + 1] = kernel[r:, r:]
        buf[: r + 1, Nx - r :] = kernel[r:, :r]
        buf[Ny - r :, : r + 1] = kernel[:r, r:]
        buf[Ny - r :, Nx - r :] = kernel[:r, :r]
        spec[d % L] = sfft.rfft2(buf, workers=WORKERS)
        steps()
    objects = np.zeros((nb, Ny, Nx // 2 + 1), dtype=np.complex64)
    if skip_near:
        _point_spectra(objects, points, b0, Ny, Nx)
    else:
        for q in range(b0, b1 + 1):
            if density[q].any():
                buf[:] = 0
                buf[:ny, :nx] = density[q]
                objects[q - b0] = sfft.rfft2(buf, workers=WORKERS)
    steps(L)
    if nb <= 6:  # few object planes: sum the products directly
        for i in range(nz):
            acc = np.zeros((Ny, Nx // 2 + 1), dtype=np.complex64)
            for q in range(b0, b1 + 1):
                acc += spec[(i - q) % L] * objects[q - b0]
            out[i] += sfft.irfft2(acc, s=(Ny, Nx), workers=WORKERS)[:ny, :nx]
            steps()
        return
    rows = max(1, int(2**26 // (L * (Nx // 2 + 1) * 8)))  # ~64 MB slabs
    for r0 in range(0, Ny, rows):
        sl = slice(r0, min(Ny, r0 + rows))
        h = sfft.fft(spec[:, sl], axis=0, workers=WORKERS)
        h *= sfft.fft(objects[:, sl], n=L, axis=0, workers=WORKERS)
        spec[:, sl] = sfft.ifft(h, axis=0, workers=WORKERS, overwrite_x=True)
    del objects
    for i in range(nz):
        out[i] += sfft.irfft2(spec[(i - b0) % L], s=(Ny, Nx), workers=WORKERS)[:ny, :nx]
        steps()


def _point_spectra(objects: np.ndarray, points: np.ndarray, b0: int, Ny: int, Nx: int) -> None:
    """Exact 2D Fourier transforms of weighted points, per object plane (cubic z weights)."""
    base = np.floor(points[:, 2]).astype(np.int64)
    weights = (keys_weights(points[:, 2] - base) * points[:, 3:4]).ravel()  # 4 taps per point
    which = np.repeat(np.arange(len(points)), 4)
    planes = (base[:, None] + np.arange(-1, 3)[None, :]).ravel()
    ky = np.fft.fftfreq(Ny) * 2 * np.pi
    kx = np.fft.rfftfreq(Nx) * 2 * np.pi
    order = np.argsort(planes, kind="stable")
    bounds = np.flatnonzero(np.diff(planes[order])) + 1
    for group in np.split(order, bounds):
        for chunk in np.array_split(group, max(1, len(group) // 2048)):
            idx = which[chunk]
            ey = np.exp(-1j * np.outer(ky, points[idx, 1])).astype(np.complex64)
            ex = (np.exp(-1j * np.outer(points[idx, 0], kx)) * weights[chunk][:, None]).astype(np.complex64)
            objects[planes[chunk[0]] - b0] += ey @ ex


# --------------------------------------------------------------------------- near: tiles


def _near(out, bank: KernelBank, points: np.ndarray, steps) -> None:
    nz, ny, nx = out.shape
    s, w, near = bank.phases, bank.tile_radius, bank.near
    xi = np.floor(points[:, 0] + 0.5).astype(np.int64)
    yi = np.floor(points[:, 1] + 0.5).astype(np.int64)
    tx_, ty_ = (points[:, 0] - xi + 0.5) * s, (points[:, 1] - yi + 0.5) * s  # in [0, s)
    jx, jy = np.floor(tx_).astype(np.int64), np.floor(ty_).astype(np.int64)
    ax, ay = tx_ - jx, ty_ - jy
    base = np.floor(points[:, 2]).astype(np.int64)
    weights = keys_weights(points[:, 2] - base) * points[:, 3:4]
    for j in range(len(points)):
        y0, y1 = max(0, yi[j] - w), min(ny, yi[j] + w + 1)
        x0, x1 = max(0, xi[j] - w), min(nx, xi[j] + w + 1)
        if y0 >= y1 or x0 >= x1:
            continue
        ty, tx = slice(y0 - yi[j] + w, y1 - yi[j] + w), slice(x0 - xi[j] + w, x1 - xi[j] + w)
        quad = bank.tiles[jy[j] : jy[j] + 2, jx[j] : jx[j] + 2, :, ty, tx]
        wy, wx = np.array([1 - ay[j], ay[j]]), np.array([1 - ax[j], ax[j]])
        tile = np.einsum("a,b,abzyx->zyx", wy.astype(np.float32), wx.astype(np.float32), quad)
        for tap in range(4):
            q = base[j] + tap - 1
            z0, z1 = max(0, q - near), min(nz, q + near + 1)
            if z0 < z1:
                out[z0:z1, y0:y1, x0:x1] += weights[j, tap] * tile[z0 - q + near : z1 - q + near]
        if j % 256 == 255:
            steps()
    steps()
