"""The physics blur baseline: the input convolved with the model's own nominal PSF at Δz.

The nominal optics come from the model's config (NA, emission wavelength, pixel size, immersion);
what the config does not record (sample index, coverslip, emitter depth) is taken from the
simulator preset with the same NA and immersion, else from the 20×/0.75 air default. Each PSF
plane is normalised to sum 1 over its window, so the blur conserves flux: defocus only moves
light.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import numpy as np
from scipy import signal

from deepz_fiji.errors import DeepZError
from deepz_fiji.simulate.optics import PRESETS, Optics


def _immersion(config: Any) -> float:
    index = getattr(config, "immersion_index", None)
    if index:
        return float(index)
    return 1.0 if float(config.na) < 1.0 else 1.515


def nominal_optics(config: Any) -> Optics:
    """:class:`Optics` for a model config (a :class:`~deepz_fiji.model.ModelConfig` or alike)."""
    immersion = _immersion(config)
    base = next((p for p in PRESETS.values()
                 if abs(p.na - float(config.na)) < 0.011 and abs(p.immersion_index - immersion) < 0.01), Optics())
    return dataclasses.replace(base, name=f"nominal-{config.name}", na=float(config.na), immersion_index=immersion,
                               emission_um=float(config.wavelength_um), pixel_um=float(config.pixel_um),
                               z_step_um=float(config.z_step_um), psf_model="vectorial")


@functools.lru_cache(maxsize=64)
def _psf_plane(optics: Optics, dz_um: float) -> np.ndarray:
    from deepz_fiji.simulate.psf import psf_banded

    plane = psf_banded(optics, np.array([dz_um]), optics.pixel_um)[0]
    return (plane / plane.sum()).astype(np.float64)


def nominal_psf_plane(config: Any, dz_um: float) -> np.ndarray:
    """The nominal wide-field PSF of ``config`` at ``dz_um`` (Y, X), summing to 1."""
    return _psf_plane(nominal_optics(config), round(float(dz_um), 6)).copy()


def physics_blur(image: np.ndarray, psf: np.ndarray) -> np.ndarray:
    """``image`` (Y, X) convolved with ``psf`` (odd-sized, centred), edges mirrored; float32.

    Equals ``scipy.ndimage.convolve(image, psf, mode='reflect')``, computed by FFT.
    """
    image = np.asarray(image, dtype=np.float64)
    psf = np.asarray(psf, dtype=np.float64)
    if image.ndim != 2 or psf.ndim != 2:
        raise DeepZError(f"physics_blur takes a (Y, X) image and PSF, got shapes {image.shape} and {psf.shape}")
    if psf.shape[0] % 2 == 0 or psf.shape[1] % 2 == 0:
        raise DeepZError(f"the PSF must have odd sides (centred), got {psf.shape}")
    hy, hx = psf.shape[0] // 2, psf.shape[1] // 2
    if hy >= image.shape[0] or hx >= image.shape[1]:  # mirror padding cannot reach further than the image
        psf = psf[max(0, hy - image.shape[0] + 1): psf.shape[0] - max(0, hy - image.shape[0] + 1),
                  max(0, hx - image.shape[1] + 1): psf.shape[1] - max(0, hx - image.shape[1] + 1)]
        psf = psf / psf.sum()
        hy, hx = psf.shape[0] // 2, psf.shape[1] // 2
    padded = np.pad(image, ((hy, hy), (hx, hx)), mode="symmetric")
    return signal.fftconvolve(padded, psf, mode="valid").astype(np.float32)


def blur_channel(image: np.ndarray, dz_um: Any, config: Any) -> np.ndarray:
    """``image`` (Y, X) blurred by ``config``'s nominal PSF at ``dz_um``: a number, or a DPM (Y, X) in µm.

    For a DPM the image is blurred at the z-step grid values spanning it and each pixel takes the
    linear interpolation between the two grid planes around its Δz (exact where the DPM is uniform
    on a grid value). The generator's ``blur`` physics input; float32.
    """
    dz = np.asarray(dz_um, dtype=np.float64)
    if dz.ndim == 0:
        return physics_blur(image, nominal_psf_plane(config, float(dz)))
    if dz.shape != np.shape(image):
        raise DeepZError(f"the DPM has shape {dz.shape} but the image {np.shape(image)}; give one Δz per pixel")
    lo, hi = float(dz.min()), float(dz.max())
    if hi - lo < 1e-6:
        return physics_blur(image, nominal_psf_plane(config, lo))
    step = float(config.z_step_um)
    grid = np.arange(np.floor(lo / step), np.ceil(hi / step) + 1) * step
    position = np.clip((dz - grid[0]) / step, 0, len(grid) - 1)
    below = np.minimum(np.floor(position).astype(int), len(grid) - 2)
    frac = (position - below).astype(np.float32)
    out = np.zeros(dz.shape, np.float32)
    for i, z in enumerate(grid):
        weight = np.where(below == i, 1 - frac, 0) + np.where(below == i - 1, frac, 0)
        if weight.any():
            out += weight.astype(np.float32) * physics_blur(image, nominal_psf_plane(config, float(z)))
    return out


def physics_channels(image: np.ndarray, dz_um: Any, config: Any) -> list[np.ndarray]:
    """The generator's physics input channels for a normalised ``image`` at ``dz_um``, in the
    order of ``config.physics_inputs`` (empty for a model without them)."""
    builders = {"blur": blur_channel}
    return [builders[name](image, dz_um, config) for name in getattr(config, "physics_inputs", [])]
