"""Wide-field/confocal stack pairs with a known misregistration between the modalities (Deep-Z+).

On two microscopes (or two light paths of one) the same field of view never lines up exactly:
the confocal field is shifted and slightly rotated against the wide-field camera's, and the
two z-scans start at different heights. :func:`simulate_misregistered_pair` builds one sample,
images it in wide field, and images the same sample — moved by a known lateral shift,
rotation and axial offset — in confocal mode, so that co-registration and the axial zero-point
search can be checked against the truth.

Geometry, in the convention of :func:`deepz_fiji.data.registration.estimate_transform`:
``matrix`` maps a wide-field pixel (x, y) onto the confocal pixel that images the same point,
and confocal plane k images the depth ``z_um[k] + axial_offset_um`` (wide-field plane k:
``z_um[k]``). So an object in focus at wide-field plane i is in focus at confocal plane
``i − axial_offset_um / z_step_um``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from deepz_fiji.errors import DeepZError
from deepz_fiji.simulate.optics import Optics
from deepz_fiji.simulate.samples import DEFAULT_CV, DEFAULT_PHOTONS, Grid
from deepz_fiji.simulate.stack import SAMPLES, SimResult, image_shape, simulate_stack, stack_optics

log = logging.getLogger(__name__)

#: Samples made as a voxel density (which can be moved by resampling); bead samples are points.
DENSITY_SAMPLES = ("filaments", "nuclei")
#: Ranges of the random misregistration drawn when none is given (a few µm at 63×, ~1°, ±0.5 µm).
RANDOM_SHIFT_PX = 20.0
RANDOM_ROTATION_DEG = 1.5
RANDOM_AXIAL_UM = 0.5
#: Default thickness of the filament layer: microtubules in the flat periphery of a cultured cell.
FILAMENT_LAYER_UM = 0.8


@dataclass
class MisregisteredPair:
    """A wide-field and a confocal stack of one sample, and how the confocal one is misplaced.

    ``shift_px`` is (dx, dy) in pixels, ``rotation_deg`` counter-clockwise in (x, y) about the
    field's centre, ``axial_offset_um`` the depth of confocal plane k minus that of wide-field
    plane k. ``confocal.z_um`` holds the confocal planes' true depths.
    """

    widefield: SimResult
    confocal: SimResult
    shift_px: tuple[float, float]
    rotation_deg: float
    axial_offset_um: float

    @property
    def matrix(self) -> np.ndarray:
        """3×3 map of wide-field (x, y) onto confocal (x, y): ``warp(confocal, matrix)`` ≈ wide field."""
        return misregistration_matrix(self.widefield.stack.shape[-2:], self.rotation_deg, self.shift_px)

    @property
    def axial_offset_planes(self) -> float:
        """The axial offset in planes: confocal zero point = wide-field zero point − this."""
        return self.axial_offset_um / self.widefield.z_step_um

    def truth(self) -> dict:
        """The misregistration as plain numbers (for reports and test messages)."""
        return {"shift_px": [float(v) for v in self.shift_px], "rotation_deg": float(self.rotation_deg),
                "axial_offset_um": float(self.axial_offset_um), "matrix": self.matrix.round(6).tolist()}


def misregistration_matrix(shape: tuple[int, int], rotation_deg: float, shift_px: tuple[float, float]) -> np.ndarray:
    """Rotation by ``rotation_deg`` about the centre of a ``shape`` (Y, X) field, then ``shift_px``."""
    centre = (np.array(shape[::-1], dtype=float) - 1) / 2
    a = math.radians(rotation_deg)
    linear = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    m = np.eye(3)
    m[:2, :2] = linear
    m[:2, 2] = centre + np.asarray(shift_px, dtype=float) - linear @ centre
    return m


def simulate_misregistered_pair(
    sample: str = "filaments",
    size: int | tuple[int, int] = 256,
    *,
    optics: Optics | None = None,
    shift_px: tuple[float, float] | None = None,
    rotation_deg: float | None = None,
    axial_offset_um: float | None = None,
    planes: int | None = None,
    z_range_um: tuple[float, float] | None = None,
    seed: int | None = 0,
    n_objects: int | None = None,
    photons: float | None = None,
    brightness_cv: float | None = None,
    pinhole_au: float = 1.0,
    layer_um: float | None = FILAMENT_LAYER_UM,
    **camera: float,
) -> MisregisteredPair:
    """Wide-field and confocal z-stacks of one ``sample`` ('filaments' or 'nuclei'), misregistered.

    Defaults to the 63×/1.4 NA oil preset (0.1 µm pixels, 0.2 µm steps). ``shift_px`` (dx, dy),
    ``rotation_deg`` and ``axial_offset_um`` default to random values from ``seed`` within
    ±20 px, ±1.5° and ±0.5 µm. Planes as in :func:`~deepz_fiji.simulate.simulate_stack`
    (``planes`` centred on 0 or ``z_range_um``); ``camera`` keywords (``background``,
    ``read_noise``, ``offset``, ``gain``) go to both stacks. The sample is built on a field
    padded by the misregistration, so neither stack has empty borders. ``layer_um``: thickness
    of the filament layer (default 0.8 µm, a flat cell's periphery; ``None``: the simulator's
    default, 60 % of the z range up to 4 µm).
    """
    if sample not in DENSITY_SAMPLES:
        raise DeepZError(f"misregistered pairs need a density sample ({', '.join(DENSITY_SAMPLES)}), got {sample!r}")
    optics = stack_optics(Optics.preset("oil-63x-1.4") if optics is None else optics, planes, z_range_um)
    ny, nx = image_shape(size)
    rng = np.random.default_rng(seed)
    sample_seed, wide_seed, conf_seed = (int(s) for s in np.random.SeedSequence(seed).generate_state(3))
    if shift_px is None:
        shift_px = tuple(rng.uniform(-RANDOM_SHIFT_PX, RANDOM_SHIFT_PX, 2))
    if rotation_deg is None:
        rotation_deg = float(rng.uniform(-RANDOM_ROTATION_DEG, RANDOM_ROTATION_DEG))
    if axial_offset_um is None:
        axial_offset_um = float(rng.uniform(-RANDOM_AXIAL_UM, RANDOM_AXIAL_UM))
    shift = tuple(float(v) for v in shift_px)
    span = optics.z_stop_um - optics.z_start_um
    if len(shift) != 2 or not all(map(math.isfinite, (*shift, rotation_deg, axial_offset_um))):
        raise DeepZError("the misregistration needs finite shift_px=(dx, dy), rotation_deg and axial_offset_um")
    if abs(axial_offset_um) > 0.25 * span:
        raise DeepZError(f"the axial offset {axial_offset_um} µm is over a quarter of the {span:g} µm z range; "
                         "simulate more planes or a smaller offset")
    margin = int(math.ceil(math.hypot(*shift) + abs(math.sin(math.radians(rotation_deg))) * math.hypot(ny, nx) / 2)) + 16
    grid = Grid(ny=ny + 2 * margin, nx=nx + 2 * margin, pixel_um=optics.pixel_um, z_um=optics.z_um,
                resolution_um=optics.lateral_resolution_um)
    made = SAMPLES[sample](grid, np.random.default_rng(sample_seed), n_objects=n_objects,
                           photons=DEFAULT_PHOTONS[sample] * (optics.na / 0.75) ** 2 if photons is None else photons,
                           brightness_cv=DEFAULT_CV[sample] if brightness_cv is None else brightness_cv,
                           tilt_deg=None, radius_um=None, offset_um=None, bead_um=0.3, layer_um=layer_um)
    moved = _move_density(made.density, misregistration_matrix((grid.ny, grid.nx), rotation_deg, shift),
                          axial_offset_um / optics.z_step_um)
    z_range = (optics.z_start_um, optics.z_stop_um)
    common = dict(optics=optics, z_range_um=z_range, photons=1.0, **camera)
    wide = simulate_stack(made.density, modality="widefield", seed=wide_seed, **common)
    conf = simulate_stack(moved, modality="confocal", pinhole_au=pinhole_au, seed=conf_seed, **common)
    crop = (slice(None), slice(margin, margin + ny), slice(margin, margin + nx))
    matrix = misregistration_matrix((ny, nx), rotation_deg, shift)
    wide = _cropped(wide, crop, sample, seed, _objects(made.objects, optics, margin, np.eye(3), 0.0))
    conf = _cropped(conf, crop, sample, seed, _objects(made.objects, optics, margin, matrix, axial_offset_um),
                    z_um=optics.z_um + axial_offset_um)
    log.info("misregistered pair: shift (%.2f, %.2f) px, rotation %.2f°, axial offset %.3f µm",
             *shift, rotation_deg, axial_offset_um)
    return MisregisteredPair(wide, conf, shift, float(rotation_deg), float(axial_offset_um))


def _move_density(density: np.ndarray, matrix: np.ndarray, dz_planes: float) -> np.ndarray:
    """Density seen by the confocal: ``out[k, q] = density[k + dz_planes, matrix⁻¹ q]`` (linear)."""
    inv = np.linalg.inv(matrix)  # confocal (x, y) -> wide-field (x, y)
    # the same map in (z, y, x) index order
    linear = np.array([[1.0, 0.0, 0.0], [0.0, inv[1, 1], inv[1, 0]], [0.0, inv[0, 1], inv[0, 0]]])
    offset = np.array([dz_planes, inv[1, 2], inv[0, 2]])
    out = ndi.affine_transform(density, linear, offset=offset, order=1, mode="constant", cval=0.0)
    return np.maximum(out, 0.0).astype(np.float32)


def _objects(rows: list[dict], optics: Optics, margin: int, matrix: np.ndarray, axial_offset_um: float) -> list[dict]:
    """Object rows in the cropped field of one modality: (x, y) mapped through ``matrix``, ``z_um``
    the true depth, ``z_plane`` the (fractional) plane of this stack where the object is in focus."""
    out = []
    for row in rows:
        x, y, _ = matrix @ np.array([row["x_px"] - margin, row["y_px"] - margin, 1.0])
        plane = (row["z_um"] - axial_offset_um - optics.z_start_um) / optics.z_step_um
        out.append({**row, "x_px": round(float(x), 3), "y_px": round(float(y), 3),
                    "x_um": round(float(x) * optics.pixel_um, 4), "y_um": round(float(y) * optics.pixel_um, 4),
                    "z_plane": round(float(plane), 3)})
    return out


def _cropped(sim: SimResult, crop: tuple[slice, ...], sample: str, seed: int | None, objects: list[dict],
             z_um: np.ndarray | None = None) -> SimResult:
    return dataclasses.replace(sim, stack=np.ascontiguousarray(sim.stack[crop]),
                               truth=np.ascontiguousarray(sim.truth[crop]), objects=objects, sample=sample,
                               seed=seed, z_um=sim.z_um if z_um is None else z_um)
