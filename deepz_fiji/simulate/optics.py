"""Microscope optics for the simulator: objective, media, wavelengths, sampling.

The defaults are the paper's wide-field set-up (Olympus IX83, UPLSAPO 20×/0.75 air, Texas Red
filter set, ORCA-Flash4.0 camera): 0.325 µm pixels, a z-stack from −20 to +20 µm in 0.5 µm
steps (81 planes), emission 584 nm, excitation 538 nm. The specimen (worm in agarose / M9,
index 1.33) is imaged through a 170 µm coverslip 10 µm below its surface with an air objective:
that refractive-index mismatch makes the PSF axially asymmetric, as in the paper's Fig. 1a.

Sign of z: Δz > 0 is a plane farther from the objective (deeper into the sample).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from deepz_fiji.errors import DeepZError

PSF_MODELS = ("vectorial", "scalar")


@dataclass(frozen=True)
class Optics:
    """An objective, its media and the stack sampling (all lengths in µm).

    ``*_design`` values are what the objective is corrected for (``None``: same as the actual
    value). ``depth_um`` is the emitters' depth below the coverslip used for the PSF: one
    shift-invariant PSF, computed for that depth, images the whole volume. ``psf_model`` is
    ``'vectorial'`` (Aguet 2009) or ``'scalar'`` (Gibson–Lanni), both from psfmodels.
    """

    name: str = "paper-20x-0.75-air"
    na: float = 0.75
    magnification: float = 20.0
    immersion_index: float = 1.0
    immersion_index_design: float | None = None
    sample_index: float = 1.33
    coverslip_index: float = 1.515
    coverslip_index_design: float | None = None
    coverslip_um: float = 170.0
    coverslip_design_um: float = 170.0
    working_distance_um: float = 600.0
    depth_um: float = 10.0
    emission_um: float = 0.584
    excitation_um: float = 0.538
    pixel_um: float = 0.325
    z_step_um: float = 0.5
    z_start_um: float = -20.0
    z_stop_um: float = 20.0
    psf_model: str = "vectorial"

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name in ("name", "psf_model") or value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise DeepZError(f"optics field {field.name} must be a finite number, got {value!r}")
        positive = ("na", "magnification", "emission_um", "excitation_um", "pixel_um", "z_step_um",
                    "working_distance_um")
        for name in positive:
            if getattr(self, name) <= 0:
                raise DeepZError(f"optics field {name} must be positive, got {getattr(self, name)}")
        for name in ("immersion_index", "immersion_index_design", "sample_index", "coverslip_index",
                     "coverslip_index_design"):
            value = getattr(self, name)
            if value is not None and not 1.0 <= value <= 3.0:
                raise DeepZError(f"optics field {name} must be a refractive index between 1 and 3, got {value}")
        for name in ("coverslip_um", "coverslip_design_um", "depth_um"):
            if getattr(self, name) < 0:
                raise DeepZError(f"optics field {name} must not be negative, got {getattr(self, name)}")
        if self.na >= min(self.immersion_index, self.design_immersion_index):
            raise DeepZError(
                f"NA {self.na} must be smaller than the immersion index {self.immersion_index}; "
                "use an oil preset (e.g. Optics.preset('oil-63x-1.4')) for high-NA objectives"
            )
        for name in ("emission_um", "excitation_um"):
            if not 0.2 <= getattr(self, name) <= 2.0:
                raise DeepZError(f"optics field {name} is a wavelength in µm (0.2–2), got {getattr(self, name)}")
        if self.psf_model not in PSF_MODELS:
            raise DeepZError(f"psf_model must be one of {', '.join(PSF_MODELS)}, got {self.psf_model!r}")
        if self.z_stop_um < self.z_start_um:
            raise DeepZError(f"z_stop_um ({self.z_stop_um}) must not be below z_start_um ({self.z_start_um})")
        _plane_count(self.z_start_um, self.z_stop_um, self.z_step_um)

    # ------------------------------------------------------------------ derived values
    @property
    def design_immersion_index(self) -> float:
        return self.immersion_index if self.immersion_index_design is None else self.immersion_index_design

    @property
    def design_coverslip_index(self) -> float:
        return self.coverslip_index if self.coverslip_index_design is None else self.coverslip_index_design

    @property
    def planes(self) -> int:
        """Number of planes from ``z_start_um`` to ``z_stop_um`` (inclusive)."""
        return _plane_count(self.z_start_um, self.z_stop_um, self.z_step_um)

    @property
    def z_um(self) -> np.ndarray:
        """Plane positions (µm), growing with the plane index (deeper)."""
        return self.z_start_um + self.z_step_um * np.arange(self.planes)

    @property
    def lateral_resolution_um(self) -> float:
        """The textbook lateral FWHM of the emission PSF, 0.51 λ / NA."""
        return 0.51 * self.emission_um / self.na

    @property
    def axial_scale_um(self) -> float:
        """n λ / NA²: the depth of field scale used to size PSF windows."""
        return self.immersion_index * self.emission_um / self.na**2

    def support_radius_um(self, dz_um: float, wavelength_um: float | None = None) -> float:
        """Radius holding nearly all of the PSF's light at defocus ``dz_um``: the geometric cone plus rings."""
        wl = self.emission_um if wavelength_um is None else wavelength_um
        tan_theta = self.na / math.sqrt(self.immersion_index**2 - self.na**2)
        return abs(dz_um) * tan_theta + 6.0 * wl / self.na

    def replace(self, **changes) -> Optics:
        """A copy with some fields changed (validated)."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise DeepZError(f"unknown optics field(s) {', '.join(unknown)}; valid: {', '.join(FIELD_NAMES)}")
        return dataclasses.replace(self, **changes)

    def matched(self) -> Optics:
        """The same objective without refractive-index or coverslip mismatch (a symmetric PSF)."""
        return self.replace(
            name=f"{self.name}-matched",
            sample_index=self.immersion_index,
            immersion_index_design=None,
            coverslip_index_design=None,
            coverslip_design_um=self.coverslip_um,
        )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def preset(cls, name: str) -> Optics:
        """One of :data:`PRESETS` by name."""
        try:
            return PRESETS[name]
        except KeyError:
            raise DeepZError(f"unknown optics preset {name!r}; choose one of {', '.join(PRESETS)}") from None

    @classmethod
    def from_dict(cls, values: dict) -> Optics:
        unknown = sorted(set(values) - set(FIELD_NAMES))
        if unknown:
            raise DeepZError(f"unknown optics field(s) {', '.join(unknown)}; valid: {', '.join(FIELD_NAMES)}")
        return cls(**values)


FIELD_NAMES = tuple(f.name for f in dataclasses.fields(Optics))


def _plane_count(start: float, stop: float, step: float) -> int:
    if not (math.isfinite(step) and step > 0):
        raise DeepZError(f"the z step must be a positive number of µm, got {step}")
    span = (stop - start) / step
    count = round(span)
    if abs(span - count) > 1e-6 * max(1.0, abs(span)):
        raise DeepZError(
            f"the z range {start}…{stop} µm is not a whole number of {step} µm steps; adjust the range or the step"
        )
    return int(count) + 1


PRESETS: dict[str, Optics] = {
    # The paper's bead / C. elegans microscope (Olympus IX83, UPLSAPO20X, Texas Red, ORCA-Flash4.0).
    "paper-20x-0.75-air": Optics(),
    # The paper's activity-imaging objective (Leica HC PL APO 20×/0.80 DRY, DFC9000 camera).
    "20x-0.8-air": Optics(name="20x-0.8-air", na=0.8, working_distance_um=400.0),
    # The paper's 40×/1.3 oil objective (0.27 µm steps).
    "oil-40x-1.3": Optics(
        name="oil-40x-1.3", na=1.3, magnification=40.0, immersion_index=1.515, working_distance_um=240.0,
        pixel_um=0.1625, z_step_um=0.27, z_start_um=-10.8, z_stop_um=10.8,
    ),
    # Wide-field / confocal pairs (Deep-Z+): Leica HC PL APO 63×/1.40 oil, FITC, cells in mounting
    # medium a few µm below the coverslip; 0.2 µm steps.
    "oil-63x-1.4": Optics(
        name="oil-63x-1.4", na=1.4, magnification=63.0, immersion_index=1.515, sample_index=1.45,
        working_distance_um=140.0, depth_um=3.0, emission_um=0.52, excitation_um=0.488,
        pixel_um=0.1, z_step_um=0.2, z_start_um=-4.0, z_stop_um=4.0,
    ),
}
