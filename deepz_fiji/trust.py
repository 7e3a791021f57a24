"""Saying when a refocused image should not be trusted (so far: the calibration check).

The image's pixel size and optics are compared with the model's config. A model is only trustworthy at the sampling and optics it was trained for. Each mismatch beyond
its tolerance gives one :class:`CalibrationWarning` naming both values and the fix; the command
line shows it as one ``WARNING`` line. Tolerances: pixel size ±10 % (relative), NA ±0.05,
emission wavelength ±0.03 µm; the optics are checked only where the user states them.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

log = logging.getLogger(__name__)

PIXEL_TOLERANCE = 0.1
NA_TOLERANCE = 0.05
WAVELENGTH_TOLERANCE_UM = 0.03
FIX = "use a model made for this set-up, or train one for it (deepz train --init-from)"


class DeepZWarning(UserWarning):
    """A result deepz-fiji computed but cannot vouch for."""


class CalibrationWarning(DeepZWarning):
    """The image's pixel size or optics differ from those the model was trained at."""


def calibration_problems(config: Any, pixel_um: float | None, *, na: float | None = None,
                         wavelength_um: float | None = None) -> list[str]:
    """One sentence per quantity outside its tolerance (empty when everything matches)."""
    name = config.name
    problems = []
    if pixel_um is not None and abs(pixel_um - config.pixel_um) > PIXEL_TOLERANCE * config.pixel_um:
        problems.append(f"pixel size {pixel_um:.4g} µm differs from the {config.pixel_um:.4g} µm model {name!r} "
                        f"was trained at; resample the image to that pixel size, or {FIX}")
    if na is not None and abs(na - config.na) > NA_TOLERANCE + 1e-9:
        problems.append(f"NA {na:g} differs from the NA {config.na:g} model {name!r} was trained for; {FIX}")
    if wavelength_um is not None and abs(wavelength_um - config.wavelength_um) > WAVELENGTH_TOLERANCE_UM + 1e-9:
        problems.append(f"emission wavelength {wavelength_um:g} µm differs from the {config.wavelength_um:g} µm "
                        f"model {name!r} was trained for; {FIX}")
    return problems


def calibration_note(config: Any, pixel_um: float | None, *, na: float | None = None,
                     wavelength_um: float | None = None) -> str:
    """What an output's metadata says of its calibration: the problems, or that it matches."""
    problems = calibration_problems(config, pixel_um, na=na, wavelength_um=wavelength_um)
    return " | ".join(problems) if problems else "matches the model's (pixel size, and the optics where given)"


def check_calibration(config: Any, pixel_um: float | None, *, na: float | None = None,
                      wavelength_um: float | None = None) -> list[str]:
    """Warn (:class:`CalibrationWarning`) once per problem of :func:`calibration_problems`; returns them."""
    problems = calibration_problems(config, pixel_um, na=na, wavelength_um=wavelength_um)
    for problem in problems:
        warnings.warn(CalibrationWarning(problem), stacklevel=3)
    return problems


def show_deepz_warnings_as_log_lines() -> None:
    """Show :class:`DeepZWarning`\\ s as one ``WARNING`` log line each (the command line's way)."""
    previous = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001 - warnings' signature
        if issubclass(category, DeepZWarning):
            logging.getLogger("deepz_fiji").warning("%s", message)
        else:
            previous(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    warnings.simplefilter("always", DeepZWarning)
