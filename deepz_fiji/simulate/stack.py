"""``simulate_stack``: a sample, through the microscope, onto an sCMOS camera, as a z-stack."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from deepz_fiji.errors import DeepZError
from deepz_fiji.simulate.camera import Camera, expose
from deepz_fiji.simulate.imaging import render
from deepz_fiji.simulate.optics import Optics
from deepz_fiji.simulate.psf import MODALITIES, check_pinhole
from deepz_fiji.simulate.samples import (
    DEFAULT_CV,
    DEFAULT_PHOTONS,
    Grid,
    Sample,
    beads_cylinder,
    beads_plane,
    beads_tilted,
    beads_volume,
    density_sample,
)
from deepz_fiji.simulate.structures import filaments, nuclei

log = logging.getLogger(__name__)

SAMPLES: dict[str, Callable[..., Sample]] = {
    "beads": beads_volume,
    "plane-beads": beads_plane,
    "tilted-beads": beads_tilted,
    "cylinder-beads": beads_cylinder,
    "nuclei": nuclei,
    "filaments": filaments,
}
_FAMILY = {"nuclei": "nuclei", "filaments": "filaments"}  # the rest are beads


@dataclass
class SimResult:
    """A simulated stack and everything needed to check it.

    ``stack``: uint16 (Z, Y, X) camera frames; ``truth``: float32 noiseless expectation in the
    same ADU (offset included); ``objects``: one dict per object (kind, x_um, y_um, z_um,
    size_um, photons, x_px, y_px, z_plane); ``z_um``: plane positions (µm, growing with depth).
    """

    stack: np.ndarray
    truth: np.ndarray
    objects: list[dict]
    optics: Optics
    z_um: np.ndarray
    pixel_um: float
    z_step_um: float
    sample: str
    modality: str = "widefield"
    pinhole_au: float | None = None
    seed: int | None = 0
    camera: Camera = field(default_factory=Camera)
    axes: str = "ZYX"

    def metadata(self) -> dict:
        """Provenance for the TIFF's ImageJ properties."""
        meta = {"simulated": "deepz_fiji.simulate", "sample": self.sample, "modality": self.modality,
                "seed": self.seed, "optics": self.optics.name, "na": self.optics.na,
                "emission_um": self.optics.emission_um, "z_start_um": float(self.z_um[0]),
                "objects": len(self.objects), "camera_offset_adu": self.camera.offset,
                "camera_gain_adu_per_e": self.camera.gain}
        if self.pinhole_au is not None:
            meta["pinhole_au"] = self.pinhole_au
        return meta


def stack_optics(optics: Optics, planes: int | None, z_range_um: tuple[float, float] | None) -> Optics:
    """``optics`` with its z range replaced by ``planes`` (centred on 0) and/or ``z_range_um``."""
    dz = optics.z_step_um
    if planes is not None:
        planes = int(planes)
        if planes < 1:
            raise DeepZError(f"the stack needs at least one plane, got {planes}")
    if z_range_um is not None:
        start, stop = (float(v) for v in z_range_um)
        changed = optics.replace(z_start_um=start, z_stop_um=stop)
        if planes is not None and changed.planes != planes:
            raise DeepZError(f"{planes} planes do not fit the z range {start}…{stop} µm at {dz} µm steps")
        return changed
    if planes is not None:
        half = (planes - 1) / 2 * dz
        return optics.replace(z_start_um=-half, z_stop_um=half)
    return optics


def image_shape(size) -> tuple[int, int]:
    sizes = (size, size) if np.isscalar(size) else tuple(size)
    if len(sizes) != 2:
        raise DeepZError(f"size must be an int or (height, width), got {size!r}")
    try:
        ny, nx = (int(s) for s in sizes)
    except (TypeError, ValueError):
        raise DeepZError(f"size must be whole numbers of pixels, got {size!r}") from None
    if ny < 1 or nx < 1 or ny != sizes[0] or nx != sizes[1]:
        raise DeepZError(f"size must be positive whole numbers of pixels, got {size!r}")
    if ny * nx > 8192 * 8192:
        raise DeepZError(f"size {ny}×{nx} is too large to simulate; use at most 8192×8192")
    return ny, nx


def _positive(value, name: str, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not math.isfinite(value) \
            or value < 0 or (value == 0 and not allow_zero):
        raise DeepZError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} number, got {value!r}")
    return float(value)


def simulate_stack(
    sample: str | np.ndarray = "beads",
    size: int | tuple[int, int] | None = None,
    *,
    optics: Optics | None = None,
    seed: int | None = 0,
    n_objects: int | None = None,
    planes: int | None = None,
    z_range_um: tuple[float, float] | None = None,
    modality: str = "widefield",
    pinhole_au: float = 1.0,
    tilt_deg: float | None = None,
    radius_um: float | None = None,
    offset_um: float | None = None,
    bead_um: float = 0.3,
    photons: float | None = None,
    brightness_cv: float | None = None,
    background: float = 50.0,
    read_noise: float = 1.6,
    offset: float = 100.0,
    gain: float = 2.17,
    progress: Callable[[int, int], None] | None = None,
) -> SimResult:
    """Simulate a calibrated fluorescence z-stack of ``sample``.

    ``sample``: one of :data:`SAMPLES` or a (Z, Y, X) array of fluorophore density (``photons``
    per unit). ``size``: pixels, int or (height, width) (default 512, or the array's).
    Planes: the optics' range (default −20 … +20 µm at 0.5 µm), or ``planes`` centred on 0,
    or ``z_range_um=(start, stop)``. ``photons``: expected photo-electrons per object in one
    plane (filaments: per µm; default by sample, × (NA/0.75)²), varied per object by
    ``brightness_cv``.
    ``tilt_deg`` (tilted-beads, default 1.5), ``radius_um`` (cylinder-beads: tube radius,
    default 3600; nuclei: worm radius, default 15), ``offset_um`` (z of a bead surface).
    Camera: ``background`` e⁻/pixel, ``read_noise`` e⁻, ``offset`` ADU, ``gain`` ADU/e⁻.
    ``modality='confocal'`` images point-scanning with a ``pinhole_au`` pinhole. The same
    ``seed`` gives the same objects (in either modality) and the same noise.
    """
    optics = Optics() if optics is None else optics
    if not isinstance(optics, Optics):
        raise DeepZError(f"optics must be an Optics instance, got {type(optics).__name__}")
    if modality not in MODALITIES:
        raise DeepZError(f"modality must be one of {', '.join(MODALITIES)}, got {modality!r}")
    pinhole = check_pinhole(pinhole_au) if modality == "confocal" else None
    camera = Camera(background=background, read_noise=read_noise, offset=offset, gain=gain)
    is_array = not isinstance(sample, str)
    if is_array:
        array = np.asarray(sample)
        if array.ndim != 3:
            raise DeepZError(f"a sample array must be 3D (Z, Y, X), got shape {array.shape}")
        if size is not None and image_shape(size) != array.shape[1:]:
            raise DeepZError(f"size {size} does not match the sample array's {array.shape[1:]}")
        size = array.shape[1:]
        if planes is None and z_range_um is None:
            planes = array.shape[0]
        name, family = "array", "array"
    else:
        if sample not in SAMPLES:
            raise DeepZError(f"unknown sample {sample!r}; choose one of {', '.join(SAMPLES)} or pass a 3D array")
        name, family = sample, _FAMILY.get(sample, "beads")
    ny, nx = image_shape(512 if size is None else size)
    optics = stack_optics(optics, planes, z_range_um)
    grid = Grid(ny=ny, nx=nx, pixel_um=optics.pixel_um, z_um=optics.z_um, resolution_um=optics.lateral_resolution_um,
                step_um=optics.z_step_um)
    if photons is None:  # collection efficiency grows roughly with NA²
        photons = DEFAULT_PHOTONS[family] * (optics.na / 0.75) ** 2
    photons = _positive(photons, "photons")
    cv = _positive(DEFAULT_CV.get(family, 0.0) if brightness_cv is None else brightness_cv, "brightness_cv",
                   allow_zero=True)
    bead_um = _positive(bead_um, "bead_um", allow_zero=True)
    if n_objects is not None and (isinstance(n_objects, bool) or int(n_objects) != n_objects or n_objects < 0):
        raise DeepZError(f"n_objects must be a whole number ≥ 0, got {n_objects!r}")
    sample_rng, noise_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))

    if is_array:
        made = density_sample(grid, array, photons)
    else:
        made = SAMPLES[name](grid, sample_rng, n_objects=n_objects, photons=photons, brightness_cv=cv,
                            tilt_deg=tilt_deg, radius_um=radius_um, offset_um=offset_um, bead_um=bead_um)
    points = made.points
    if len(points):
        points = np.column_stack([points[:, 0] / grid.pixel_um, points[:, 1] / grid.pixel_um,
                                  grid.plane(points[:, 2]), points[:, 3]])
        reach = max(grid.nz, 10.0 / grid.z_step_um)  # farther objects only add a faint haze
        near = (points[:, 2] >= -reach) & (points[:, 2] <= grid.nz - 1 + reach)
        if not near.all():
            log.warning("%d object(s) lie more than %.0f µm beyond the stack's z range and were left out",
                        int((~near).sum()), reach * grid.z_step_um)
            points = points[near]
            made.objects = [o for o, keep in zip(made.objects, near, strict=True) if keep]

    def render_progress(done: int, total: int) -> None:
        if progress is not None:
            progress(int(900 * done / total), 1000)

    def noise_progress(done: int, total: int) -> None:
        if progress is not None:
            progress(900 + int(100 * done / total), 1000)

    signal = render(optics, (grid.nz, ny, nx), points=points, density=made.density,
                    point_diameter_um=made.point_diameter_um, modality=modality,
                    pinhole_au=pinhole or 1.0, progress=render_progress)
    made.density = None  # free it before the noise pass
    stack, truth = expose(signal, camera, noise_rng, noise_progress)
    log.info("simulated %s: %d objects, %s", name, len(made.objects), stack.shape)
    return SimResult(stack=stack, truth=truth, objects=made.objects, optics=optics, z_um=optics.z_um,
                     pixel_um=optics.pixel_um, z_step_um=optics.z_step_um, sample=name, modality=modality,
                     pinhole_au=pinhole, seed=seed, camera=camera)


def simulate_pair(
    sample: str | np.ndarray = "filaments",
    size: int | tuple[int, int] | None = None,
    *,
    optics: Optics | None = None,
    pinhole_au: float = 1.0,
    **kwargs,
) -> tuple[SimResult, SimResult]:
    """(wide-field, confocal) stacks of the same objects (Deep-Z+ training pairs).

    Defaults to the 63×/1.4 oil preset; ``kwargs`` as in :func:`simulate_stack`.
    """
    optics = Optics.preset("oil-63x-1.4") if optics is None else optics
    wide = simulate_stack(sample, size, optics=optics, modality="widefield", **kwargs)
    conf = simulate_stack(sample, size, optics=optics, modality="confocal", pinhole_au=pinhole_au, **kwargs)
    return wide, conf
