"""Refocus image files: read a TIFF, refocus it, write a calibrated ImageJ TIFF (atomically).

These are what ``deepz refocus | stack | surface`` run. Every user mistake (missing or broken
input, RGB, NaN, Δz outside the trained range, a broken model folder, an output in a missing
folder) raises :class:`~deepz_fiji.errors.DeepZError` *before* anything is written, and the
output appears only when complete.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepz_fiji import __version__
from deepz_fiji.errors import DeepZError
from deepz_fiji.io import Image, read_image, write_image
from deepz_fiji.refocus.api import Progress, refocus, resolve_model, virtual_stack
from deepz_fiji.refocus.inputs import as_image, z_planes
from deepz_fiji.refocus.symmetry import TTA_LABEL
from deepz_fiji.trust import calibration_note, check_calibration

log = logging.getLogger(__name__)

PathLike = str | os.PathLike
#: Pixel sizes differing from the model's by more than this fraction trigger a warning.


@dataclass
class Surface:
    """A surface for :func:`refocus_surface_file`: exactly one of tilt, cylinder or height map."""

    tilt_x_deg: float | None = None
    tilt_y_deg: float | None = None
    cylinder_radius_um: float | None = None
    axis: str = "x"
    side: str = "convex"
    height_map: PathLike | None = None
    offset_um: float = 0.0

    def kind(self) -> str:
        kinds = [name for name, given in (
            ("tilt", self.tilt_x_deg is not None or self.tilt_y_deg is not None),
            ("cylinder", self.cylinder_radius_um is not None),
            ("height map", self.height_map is not None),
        ) if given]
        if len(kinds) != 1:
            raise DeepZError(
                "give exactly one surface: a tilt (--tilt-x-deg/--tilt-y-deg), a cylinder "
                f"(--cylinder-radius-um) or a height map (--height-map); got {', '.join(kinds) or 'none'}"
            )
        return kinds[0]

    def dpm(self, shape: tuple[int, int], pixel_um: float) -> np.ndarray:
        """The DPM (µm) of this surface for an image of ``shape`` with ``pixel_um`` pixels."""
        from deepz_fiji import dpm

        kind = self.kind()
        if kind == "tilt":
            return dpm.plane_dpm(shape, pixel_um, self.tilt_x_deg or 0.0, self.tilt_y_deg or 0.0,
                                 self.offset_um)
        if kind == "cylinder":
            return dpm.cylinder_dpm(shape, pixel_um, self.cylinder_radius_um, self.axis, self.offset_um,
                                    self.side)
        height = read_image(self.height_map)
        if height.data.shape != tuple(shape):
            raise DeepZError(
                f"height map {Path(self.height_map).name} is {height.data.shape} but the image is "
                f"{tuple(shape)}; give a 2D height map (µm) of the image's size"
            )
        return dpm.height_map_dpm(height.data, self.offset_um)

    def describe(self) -> str:
        kind = self.kind()
        if kind == "tilt":
            text = f"tilted plane (tilt x {self.tilt_x_deg or 0:g} deg, tilt y {self.tilt_y_deg or 0:g} deg)"
        elif kind == "cylinder":
            text = f"{self.side} cylinder of radius {self.cylinder_radius_um:g} um along {self.axis}"
        else:
            text = f"height map {Path(self.height_map).name}"
        return f"{text}, offset {self.offset_um:+g} um"


def check_output(path: PathLike) -> Path:
    """Refuse outputs that are not .tif/.tiff or whose folder does not exist (before any work)."""
    path = Path(path)
    if path.suffix.lower() not in (".tif", ".tiff"):
        raise DeepZError(f"output {path} must be a .tif or .tiff file")
    if not path.parent.is_dir():
        raise DeepZError(f"output folder {path.parent} does not exist; create it first or choose another path")
    if path.is_dir():
        raise DeepZError(f"output {path} is a folder; give a file name ending in .tif")
    return path


def resolve_pixel_um(image: Image, model, pixel_um: float | None = None, *, na: float | None = None,
                     wavelength_um: float | None = None) -> float:
    """Pixel size for the output: the override, else the input's calibration, else the model's.

    Checks it, and the optics where given, against the model's config
    (:func:`~deepz_fiji.refocus.calibration.check_calibration`: one warning per mismatch).
    """
    if pixel_um is not None:
        if not (np.isfinite(pixel_um) and pixel_um > 0):
            raise DeepZError(f"pixel size must be a positive number of µm, got {pixel_um}")
        value, source = float(pixel_um), "given"
    elif image.pixel_um:
        value, source = float(image.pixel_um), "the input's calibration"
    else:
        value, source = float(model.config.pixel_um), "the model's (the input has no calibration)"
    log.info("pixel size %.4g µm from %s", value, source)
    check_calibration(model.config, value, na=na, wavelength_um=wavelength_um)
    return value


def _prepare(input_path: PathLike, output: PathLike, model, pixel_um: float | None, optics: dict):
    output = check_output(output)
    image = read_image(input_path)
    as_image(image.data, f"image {Path(input_path).name}")
    model = resolve_model(model)
    return output, image, model, resolve_pixel_um(image, model, pixel_um, **optics)


def _optics(kw: dict[str, Any]) -> dict[str, float | None]:
    """Take the stated optics (``na``, ``wavelength_um``) out of the refocusing keywords."""
    return {"na": kw.pop("na", None), "wavelength_um": kw.pop("wavelength_um", None)}


def _metadata(model, image: Image, description: str, options: dict[str, Any], pixel_um: float,
              optics: dict[str, float | None], **extra: Any) -> dict[str, Any]:
    """The output TIFF's provenance: model, source, and the refocusing options that change pixels."""
    if options.get("tta"):
        extra["deepz_tta"] = TTA_LABEL
    return {
        "deepz_description": description,
        "deepz_model": model.config.name,
        "deepz_model_path": str(getattr(model, "path", "")),
        "deepz_trained_range_um": f"{model.config.dz_min_um:g} ... {model.config.dz_max_um:g}",
        "deepz_source": str(image.path or ""),
        "deepz_version": __version__,
        "deepz_calibration": calibration_note(model.config, pixel_um, **optics),
        **extra,
    }


def _write(output: Path, data: np.ndarray, axes: str, image: Image, pixel_um: float,
           z_step_um: float | None, metadata: dict) -> Path:
    return write_image(output, data, axes, pixel_um=pixel_um, z_step_um=z_step_um,
                       frame_interval_s=image.calibration.frame_interval_s, metadata=metadata)


def refocus_file(input_path: PathLike, output: PathLike, dz_um: float, model=None, *,
                 pixel_um: float | None = None, progress: Progress | None = None, **kw: Any) -> Path:
    """Refocus every plane of ``input_path`` by ``dz_um`` µm and write ``output``."""
    optics = _optics(kw)
    output, image, model, pixel = _prepare(input_path, output, model, pixel_um, optics)
    data = refocus(image.data, float(dz_um), model, progress=progress, **kw)
    desc = f"Deep-Z refocus by dz = {float(dz_um):+g} um with model {model.config.name}"
    return _write(output, data, image.axes, image, pixel, image.z_step_um,
                  _metadata(model, image, desc, kw, pixel, optics, deepz_dz_um=float(dz_um)))


def virtual_stack_file(input_path: PathLike, output: PathLike, start_um: float, stop_um: float,
                       step_um: float, model=None, *, pixel_um: float | None = None,
                       progress: Progress | None = None, **kw: Any) -> Path:
    """Write a calibrated virtual z-stack (ZYX; TZCYX for frames) of ``input_path``."""
    zs = z_planes(start_um, stop_um, step_um)  # check the range before reading anything big
    optics = _optics(kw)
    output, image, model, pixel = _prepare(input_path, output, model, pixel_um, optics)
    if "Z" in image.axes:
        raise DeepZError(
            f"{Path(input_path).name} already has a Z axis ({image.axes}); a virtual stack starts "
            "from single planes: give one slice, or re-label the slices as frames (T) in Fiji "
            "(Image > Hyperstacks > Re-order Hyperstack)"
        )
    data = virtual_stack(image.data, start_um, stop_um, step_um, model, progress=progress, **kw)
    desc = (f"Deep-Z virtual stack dz = {zs[0]:+g} ... {zs[-1]:+g} um, step {float(step_um):g} um, "
            f"{len(zs)} planes, model {model.config.name}")
    meta = _metadata(model, image, desc, kw, pixel, optics, deepz_start_um=float(zs[0]), deepz_stop_um=float(zs[-1]),
                     deepz_step_um=float(step_um), deepz_planes=len(zs))
    return _write(output, data, image.axes[:-2] + "ZYX", image, pixel, float(step_um), meta)


def refocus_surface_file(input_path: PathLike, output: PathLike, surface: Surface, model=None, *,
                         pixel_um: float | None = None, dpm_output: PathLike | None = None,
                         progress: Progress | None = None, **kw: Any) -> Path:
    """Refocus ``input_path`` onto ``surface`` and write ``output`` (and the DPM if asked)."""
    surface.kind()  # refuse an ambiguous surface before reading anything
    if dpm_output is not None:
        check_output(dpm_output)
    optics = _optics(kw)
    output, image, model, pixel = _prepare(input_path, output, model, pixel_um, optics)
    dpm = surface.dpm(image.data.shape[-2:], pixel)
    data = refocus(image.data, dpm, model, progress=progress, **kw)
    desc = (f"Deep-Z refocus onto a {surface.describe()} (dz {dpm.min():+.3g} ... {dpm.max():+.3g} um) "
            f"with model {model.config.name}")
    meta = _metadata(model, image, desc, kw, pixel, optics, deepz_dpm_min_um=float(dpm.min()), deepz_dpm_max_um=float(dpm.max()))
    path = _write(output, data, image.axes, image, pixel, image.z_step_um, meta)
    if dpm_output is not None:
        write_image(dpm_output, dpm, "YX", pixel_um=pixel, metadata={"deepz_description": f"DPM (um): {desc}"})
    return path
