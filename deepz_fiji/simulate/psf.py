"""Point spread functions: wide-field (psfmodels) and confocal, centred on their intensity maximum.

Coordinates: a PSF array is ``(Z, Y, X)``; plane ``nz // 2`` is the plane of maximum intensity
(the focal shift of an index-mismatched specimen is absorbed there, the axial asymmetry is
kept), planes above it are closer to the objective (Δz < 0). The lateral centre is pixel
``nxy // 2``.

Normalisation: every plane of a wide-field PSF carries the full photon count (sums to 1 over a
window large enough to hold it: light is only redistributed by defocus); a confocal PSF's
in-focus plane sums to 1 and defocused planes carry less.
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass

import numpy as np

from deepz_fiji.errors import DeepZError
from deepz_fiji.simulate.optics import Optics

log = logging.getLogger(__name__)

MODALITIES = ("widefield", "confocal")


# --------------------------------------------------------------------------- psfmodels access


def _psfmodels_params(optics: Optics) -> dict:
    return {
        "NA": optics.na,
        "ni": optics.immersion_index,
        "ni0": optics.design_immersion_index,
        "ns": optics.sample_index,
        "ng": optics.coverslip_index,
        "ng0": optics.design_coverslip_index,
        "tg": optics.coverslip_um,
        "tg0": optics.coverslip_design_um,
        "ti0": optics.working_distance_um,
    }


def _raw(optics: Optics, zv: np.ndarray, nx: int, dxy: float, wavelength: float, sf: int) -> np.ndarray:
    """psfmodels' PSF at focus positions ``zv`` (µm from the coverslip), unnormalised float64."""
    import psfmodels

    func = psfmodels.vectorial_psf if optics.psf_model == "vectorial" else psfmodels.scalar_psf
    params = dict(_psfmodels_params(optics), sf=int(sf), mode=1)
    zv = np.atleast_1d(np.asarray(zv, dtype=np.float64))
    return func(zv, nx=int(nx), dxy=float(dxy), pz=float(optics.depth_um), wvl=float(wavelength),
                params=params, normalize=False)


def _check_modality(modality: str) -> None:
    if modality not in MODALITIES:
        raise DeepZError(f"modality must be one of {', '.join(MODALITIES)}, got {modality!r}")


def check_pinhole(pinhole_au: float) -> float:
    if not (math.isfinite(pinhole_au) and 0 < pinhole_au <= 20):
        raise DeepZError(f"the pinhole must be between 0 and 20 Airy units, got {pinhole_au}")
    return float(pinhole_au)


def pinhole_radius_um(optics: Optics, pinhole_au: float) -> float:
    """Back-projected pinhole radius: 1 Airy unit has a diameter of 1.22 λ_em / NA."""
    return 0.61 * optics.emission_um / optics.na * pinhole_au


def _disk(radius_px: float) -> np.ndarray:
    """An anti-aliased disk (pixel coverage fractions, 8×8 supersampling)."""
    half = int(math.ceil(radius_px + 0.5))
    sub = (np.arange(8) + 0.5) / 8 - 0.5
    coords = (np.arange(-half, half + 1)[:, None] + sub[None, :]).ravel()
    inside = (coords[:, None] ** 2 + coords[None, :] ** 2) <= radius_px**2
    n = 2 * half + 1
    return inside.reshape(n, 8, n, 8).mean(axis=(1, 3))


# --------------------------------------------------------------------------- focus


@functools.lru_cache(maxsize=32)
def focus_position(optics: Optics, modality: str = "widefield", pinhole_au: float = 1.0) -> float:
    """psfmodels' focus coordinate (µm from the coverslip) of the PSF's intensity maximum.

    Searches the on-axis intensity on a grid around the paraxial focus, then refines it.
    """
    _check_modality(modality)
    scale = optics.axial_scale_um
    ni = optics.immersion_index
    mismatch = (abs(1 - ni / optics.sample_index) * optics.depth_um
                + abs(1 - ni / optics.coverslip_index) * abs(optics.coverslip_um - optics.coverslip_design_um)
                + abs(1 - ni / optics.design_immersion_index) * optics.working_distance_um)
    half = 2 * mismatch + 10 * scale
    step = scale / 20

    def on_axis(zv: np.ndarray) -> np.ndarray:
        if modality == "widefield":
            return _raw(optics, zv, 1, 0.002, optics.emission_um, 1)[:, 0, 0]
        pitch = pinhole_radius_um(optics, pinhole_au) / 4
        disk = _disk(4.0)
        em = _raw(optics, zv, disk.shape[0], pitch, optics.emission_um, 1)
        ex = _raw(optics, zv, 1, 0.002, optics.excitation_um, 1)[:, 0, 0]
        return ex * (em * disk).sum(axis=(1, 2))

    zv = optics.depth_um + np.arange(-half, half + step / 2, step)
    k = int(np.argmax(on_axis(zv)))
    fine = zv[k] + np.linspace(-step, step, 21)
    values = on_axis(fine)
    j = int(np.clip(np.argmax(values), 1, len(fine) - 2))
    y0, y1, y2 = values[j - 1 : j + 2]
    denom = y0 - 2 * y1 + y2
    shift = 0.5 * (y0 - y2) / denom if denom < 0 else 0.0
    return float(fine[j] + shift * (fine[1] - fine[0]))


def focal_shift_um(optics: Optics) -> float:
    """Where the wide-field intensity maximum lies relative to the paraxial focus (µm, + = deeper)."""
    return focus_position(optics) - optics.depth_um


# --------------------------------------------------------------------------- PSF blocks


def psf_block(
    optics: Optics,
    dz_um: np.ndarray,
    half: int,
    pitch_um: float,
    *,
    modality: str = "widefield",
    pinhole_au: float = 1.0,
    integrate: bool = True,
) -> np.ndarray:
    """PSF planes at defocus ``dz_um`` (relative to the intensity maximum) on a (2·half+1)² grid.

    Wide-field: each plane sums to 1 over the window (``integrate``: values are averaged over
    the pixel, as a camera does). Confocal: excitation (per µm², samples) × the fraction of the
    emission that passes the pinhole; unnormalised, consistent across pitches and windows.
    """
    _check_modality(modality)
    dz_um = np.atleast_1d(np.asarray(dz_um, dtype=np.float64))
    n = 2 * int(half) + 1
    zv = focus_position(optics, modality, pinhole_au if modality == "confocal" else 1.0) + dz_um
    if modality == "widefield":
        em = _raw(optics, zv, n, pitch_um, optics.emission_um, 3 if integrate else 1)
        return em / em.sum(axis=(1, 2), keepdims=True)
    from scipy.signal import fftconvolve

    disk = _disk(pinhole_radius_um(optics, pinhole_au) / pitch_um)
    pad = disk.shape[0] // 2
    em = _raw(optics, zv, n + 2 * pad, pitch_um, optics.emission_um, 3)
    em /= em.sum(axis=(1, 2), keepdims=True)
    detected = fftconvolve(em, disk[None], mode="valid", axes=(1, 2))
    ex = _raw(optics, zv, n, pitch_um, optics.excitation_um, 1)
    ex /= ex.sum(axis=(1, 2), keepdims=True) * pitch_um**2
    return np.clip(ex * detected, 0, None)


def psf_banded(
    optics: Optics,
    dz_um: np.ndarray,
    pitch_um: float,
    *,
    modality: str = "widefield",
    pinhole_au: float = 1.0,
    integrate: bool = True,
    min_half: int = 0,
) -> np.ndarray:
    """Like :func:`psf_block`, but each plane computed on a window sized to its own defocus.

    Planes are grouped in bands of |Δz| (limits 4 nλ/NA², then ×1.25), each band on the window
    its limit needs (so a plane's values never depend on which other planes were asked for);
    all are returned on the largest window (zero outside a band's window).
    """
    dz_um = np.atleast_1d(np.asarray(dz_um, dtype=np.float64))
    limits = [4 * optics.axial_scale_um]
    while limits[-1] < np.abs(dz_um).max():
        limits.append(1.25 * limits[-1])
    halves = [max(min_half, int(math.ceil(optics.support_radius_um(lim) / pitch_um))) for lim in limits]
    band_of = np.searchsorted(limits, np.abs(dz_um))
    half_max = max(halves[b] for b in np.unique(band_of))
    out = np.zeros((len(dz_um), 2 * half_max + 1, 2 * half_max + 1))
    for b in np.unique(band_of):
        band = band_of == b
        half = halves[b]
        block = psf_block(optics, dz_um[band], half, pitch_um, modality=modality, pinhole_au=pinhole_au,
                          integrate=integrate)
        lo = half_max - half
        out[band, lo : lo + 2 * half + 1, lo : lo + 2 * half + 1] = block
    return out


def _axis(n: int | None, default: int, what: str) -> int:
    n = default if n is None else int(n)
    if n < 1 or n % 2 == 0:
        raise DeepZError(f"{what} must be a positive odd number, got {n}")
    return n


def _psf(optics, modality, pinhole_au, nz, nxy, pixel_um, z_step_um, integrate) -> np.ndarray:
    optics = Optics() if optics is None else optics
    pixel_um = optics.pixel_um if pixel_um is None else float(pixel_um)
    z_step_um = optics.z_step_um if z_step_um is None else float(z_step_um)
    if not (pixel_um > 0 and z_step_um > 0):
        raise DeepZError(f"pixel size and z step must be positive, got {pixel_um} and {z_step_um} µm")
    nz = _axis(nz, 2 * int(round(6 * optics.axial_scale_um / z_step_um)) + 1, "nz")
    dz = (np.arange(nz) - nz // 2) * z_step_um
    default_xy = 2 * int(math.ceil(optics.support_radius_um(dz.max()) / pixel_um)) + 1
    nxy = _axis(nxy, default_xy, "nxy")
    psf = psf_banded(optics, dz, pixel_um, modality=modality, pinhole_au=pinhole_au, integrate=integrate,
                     min_half=nxy // 2)
    if modality == "confocal":
        focus = psf_block(optics, [0.0], psf.shape[1] // 2, pixel_um, modality=modality, pinhole_au=pinhole_au)
        psf /= focus.sum()
    c = psf.shape[1] // 2
    h = nxy // 2
    return psf[:, c - h : c + h + 1, c - h : c + h + 1].astype(np.float32)


def widefield_psf(
    optics: Optics | None = None,
    *,
    nz: int | None = None,
    nxy: int | None = None,
    pixel_um: float | None = None,
    z_step_um: float | None = None,
    integrate_pixels: bool = True,
) -> np.ndarray:
    """The wide-field PSF (Z, Y, X) float32, centred on its intensity maximum.

    Defaults: the optics' pixel size and z step, ±6 nλ/NA² axially, a window holding the most
    defocused plane. Each plane sums to 1 over the full PSF (cropping to a small ``nxy`` keeps
    the values). ``integrate_pixels`` averages over each camera pixel.
    """
    return _psf(optics, "widefield", 1.0, nz, nxy, pixel_um, z_step_um, integrate_pixels)


def confocal_psf(
    optics: Optics | None = None,
    pinhole_au: float = 1.0,
    *,
    nz: int | None = None,
    nxy: int | None = None,
    pixel_um: float | None = None,
    z_step_um: float | None = None,
) -> np.ndarray:
    """The point-scanning confocal PSF: excitation × (emission ⊗ pinhole), pinhole in Airy units.

    Same layout as :func:`widefield_psf`; the in-focus plane sums to 1. Excitation at
    ``optics.excitation_um``, emission and Airy unit at ``optics.emission_um``; the pinhole
    convolution is an FFT convolution on the PSF grid.
    """
    return _psf(optics, "confocal", check_pinhole(pinhole_au), nz, nxy, pixel_um, z_step_um, False)


# --------------------------------------------------------------------------- measurements


def _fwhm_1d(profile: np.ndarray, peak: int, step: float, what: str) -> float:
    half = profile[peak] / 2.0
    edges = []
    for direction in (-1, 1):
        i = peak
        while 0 <= i + direction < len(profile) and profile[i + direction] > half:
            i += direction
        j = i + direction
        if not 0 <= j < len(profile):
            raise DeepZError(f"the PSF does not fall to half maximum inside its {what} extent; give a larger window")
        frac = (profile[i] - half) / (profile[i] - profile[j])
        edges.append(i + direction * frac)
    return float((edges[1] - edges[0]) * step)


def psf_fwhm(psf: np.ndarray, pixel_um: float, z_step_um: float) -> tuple[float, float]:
    """(lateral, axial) full widths at half maximum in µm through the brightest voxel.

    Half-maximum crossings are linearly interpolated between samples; lateral is the mean of
    the x and y widths. Accurate when the PSF is sampled near or above Nyquist.
    """
    psf = np.asarray(psf, dtype=np.float64)
    if psf.ndim != 3 or min(psf.shape) < 3:
        raise DeepZError(f"psf_fwhm needs a (Z, Y, X) PSF of at least 3 samples per axis, got {psf.shape}")
    if not np.all(np.isfinite(psf)) or psf.max() <= 0:
        raise DeepZError("the PSF must be finite with a positive maximum")
    z, y, x = np.unravel_index(int(np.argmax(psf)), psf.shape)
    fx = _fwhm_1d(psf[z, y, :], x, pixel_um, "lateral")
    fy = _fwhm_1d(psf[z, :, x], y, pixel_um, "lateral")
    fz = _fwhm_1d(psf[:, y, x], z, z_step_um, "axial")
    return (fx + fy) / 2.0, fz


@dataclass(frozen=True)
class Asymmetry:
    """How different the PSF is ``distance_um`` above (towards the objective) and below focus.

    ``relative_difference`` = ‖p₋ − p₊‖ / ‖(p₋ + p₊)/2‖ of the line profiles through the PSF
    centre (0 for a symmetric PSF); ``centre_ratio`` = on-axis intensity below / above.
    """

    distance_um: float
    relative_difference: float
    centre_ratio: float


def axial_asymmetry(
    optics: Optics | None = None,
    distance_um: float = 2.0,
    *,
    modality: str = "widefield",
    pinhole_au: float = 1.0,
) -> Asymmetry:
    """Compare the PSF ``distance_um`` above and below its intensity maximum (fine sampling)."""
    optics = Optics() if optics is None else optics
    if not (math.isfinite(distance_um) and distance_um > 0):
        raise DeepZError(f"the asymmetry distance must be a positive number of µm, got {distance_um}")
    pitch = optics.lateral_resolution_um / 6
    half = int(math.ceil(optics.support_radius_um(distance_um) / pitch))
    above, below = psf_block(optics, [-distance_um, distance_um], half, pitch, modality=modality,
                             pinhole_au=pinhole_au, integrate=False)[:, half]
    diff = np.linalg.norm(above - below) / np.linalg.norm((above + below) / 2)
    return Asymmetry(float(distance_um), float(diff), float(below[half] / above[half]))
