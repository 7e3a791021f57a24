"""Training data that looks less like our own simulator: dense tissue and randomised optics.

- :func:`dense_tissue`: a slab of densely packed, textured nuclei (chromatin speckle, nucleoli)
  in a dim cytoplasm, 10–30 µm thick, as a (Z, Y, X) fluorophore density on a stack's grid,
  for :func:`deepz_fiji.simulate.simulate_stack`.
- :func:`randomized_optics`: the model's nominal optics perturbed per field (emitter depth,
  NA, wavelength, coverslip thickness, sample index), so that a network does not learn one PSF.

The independent evaluation suite (``benchmarks/independent_data.py``) makes its objects with
other code and seeds and its PSFs with other code paths: none of it is a training input.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage as ndi

from deepz_fiji.simulate.optics import Optics


def dense_tissue(shape: tuple[int, int, int], pixel_um: float, z_step_um: float, rng: np.random.Generator, *,
                 thickness_um: float | None = None, centre_um: float = 0.0) -> np.ndarray:
    """Densely packed textured nuclei in a slab ``thickness_um`` thick (default 10–30 µm at random),
    centred ``centre_um`` from the stack's middle plane; float32 density in [0, ~2]."""
    nz, ny, nx = shape
    thickness = float(rng.uniform(10, 30) if thickness_um is None else thickness_um)
    z_um = (np.arange(nz) - nz // 2) * z_step_um
    lo, hi = centre_um - thickness / 2, centre_um + thickness / 2
    density = np.zeros(shape, np.float32)
    radius_mean = float(rng.uniform(2.0, 4.0))  # µm: small worm nuclei to mammalian tissue
    volume_um3 = ny * nx * pixel_um ** 2 * thickness
    count = int(rng.uniform(0.35, 0.6) * volume_um3 / (4.19 * radius_mean ** 3))
    centres, radii = [], []
    for _ in range(count * 4):  # random packing: reject heavy overlaps
        if len(centres) >= count:
            break
        c = np.array([rng.uniform(lo, hi), rng.uniform(0, ny * pixel_um), rng.uniform(0, nx * pixel_um)])
        r = radius_mean * float(rng.uniform(0.7, 1.3))
        if centres and np.min(np.linalg.norm(np.array(centres) - c, axis=1) - np.array(radii)) < 0.8 * r:
            continue
        centres.append(c)
        radii.append(r)
    for c, r in zip(centres, radii, strict=False):
        axes = r * rng.uniform(0.75, 1.25, 3)
        k0, k1 = np.searchsorted(z_um, c[0] - axes[0]), np.searchsorted(z_um, c[0] + axes[0])
        y0, y1 = max(int((c[1] - axes[1]) / pixel_um), 0), min(int((c[1] + axes[1]) / pixel_um) + 2, ny)
        x0, x1 = max(int((c[2] - axes[2]) / pixel_um), 0), min(int((c[2] + axes[2]) / pixel_um) + 2, nx)
        if k1 <= k0 or y1 <= y0 or x1 <= x0:
            continue
        zz = z_um[k0:k1, None, None]
        yy = (np.arange(y0, y1) * pixel_um)[None, :, None]
        xx = (np.arange(x0, x1) * pixel_um)[None, None, :]
        inside = ((zz - c[0]) / axes[0]) ** 2 + ((yy - c[1]) / axes[1]) ** 2 + ((xx - c[2]) / axes[2]) ** 2 <= 1
        density[k0:k1, y0:y1, x0:x1][inside] = float(rng.lognormal(0, 0.35))
    # chromatin: a speckled texture inside the nuclei; a dim cytoplasm between them, inside the slab
    speckle = ndi.gaussian_filter(rng.standard_normal(shape).astype(np.float32),
                                  (0.4 / z_step_um, 0.3 / pixel_um, 0.3 / pixel_um))
    speckle /= speckle.std() + 1e-9
    slab = ((z_um >= lo) & (z_um <= hi))[:, None, None]
    cytoplasm = float(rng.uniform(0.03, 0.15))
    # a section: nuclei are cut at the slab's faces
    density = np.where(density > 0, density * np.clip(1 + 0.45 * speckle, 0.1, None), cytoplasm) * slab
    bright = (rng.random(shape) < 0.002) & (density > cytoplasm * 1.5)  # nucleoli / foci
    density = density + bright * rng.uniform(1, 3, shape).astype(np.float32)
    return ndi.gaussian_filter(density, (0.2 / z_step_um, 0.15 / pixel_um, 0.15 / pixel_um)).astype(np.float32)


def randomized_optics(base: Optics, rng: np.random.Generator) -> Optics:
    """``base`` with per-field perturbations: emitters 0–30 µm deep, NA ± 0.05, emission ± 20 nm,
    coverslip 160–185 µm (design 170), sample index 1.33–1.40."""
    return dataclasses.replace(
        base, name=f"{base.name}-randomised", depth_um=float(rng.uniform(0, 30)),
        na=float(np.clip(base.na + rng.uniform(-0.05, 0.05), 0.1, base.immersion_index * 0.98)),
        emission_um=float(base.emission_um + rng.uniform(-0.02, 0.02)), coverslip_um=float(rng.uniform(160, 185)),
        sample_index=float(rng.uniform(1.33, 1.40)))
