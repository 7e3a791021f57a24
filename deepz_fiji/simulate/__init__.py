"""Physics-based fluorescence z-stack simulator (numpy, scipy and psfmodels only).

* :class:`Optics` — objective, media, wavelengths and sampling; the paper's 20×/0.75 air
  set-up by default, :data:`PRESETS` for others (``Optics.preset('oil-63x-1.4')``).
* PSFs — :func:`widefield_psf`, :func:`confocal_psf`, centred on their intensity maximum;
  :func:`psf_fwhm`, :func:`axial_asymmetry`.
* :func:`simulate_stack` — beads (volume, plane, tilted plane, cylinder), worm nuclei,
  filaments or any density array, imaged over the full axial range with shot/read noise onto
  a 16-bit camera; returns a :class:`SimResult` (stack, noiseless truth, object positions).
  :func:`simulate_pair` gives wide-field/confocal pairs of the same objects.

Sign convention: Δz > 0 is farther from the objective; plane index grows with z; a point's
brightest plane is at its true z.
"""

from deepz_fiji.simulate.camera import Camera
from deepz_fiji.simulate.optics import PRESETS, Optics
from deepz_fiji.simulate.psf import (
    Asymmetry,
    axial_asymmetry,
    confocal_psf,
    psf_fwhm,
    widefield_psf,
)
from deepz_fiji.simulate.stack import SAMPLES, SimResult, simulate_pair, simulate_stack

__all__ = [
    "PRESETS",
    "SAMPLES",
    "Asymmetry",
    "Camera",
    "Optics",
    "SimResult",
    "axial_asymmetry",
    "confocal_psf",
    "psf_fwhm",
    "simulate_pair",
    "simulate_stack",
    "widefield_psf",
]
