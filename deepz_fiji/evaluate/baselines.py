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
