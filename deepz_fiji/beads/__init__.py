"""Bead analysis: detection of isolated beads and their lateral/axial FWHM (SPEC §5).

Typical use::

    from deepz_fiji.beads import lateral_fwhm, fwhm_histogram
    deepz = lateral_fwhm(refocused, pixel_um=0.325)
    scan = lateral_fwhm(scanned, pixel_um=0.325, centroids=deepz.detection.centroids)
    print(deepz.median_um, scan.median_um, deepz.n_failed)
    fwhm_histogram({"Deep-Z": deepz, "scanned": scan}, "lateral_fwhm.png")
"""

from deepz_fiji.beads.compare import compare_beads, focus_planes, lateral_fwhm_at_focus
from deepz_fiji.beads.detect import CROP_PX, BeadDetection, crop_at, detect_beads
from deepz_fiji.beads.fwhm import FwhmTable, axial_fwhm, fwhm_histogram, lateral_fwhm, median_fwhm
from deepz_fiji.beads.gaussfit import (
    FWHM_PER_SIGMA,
    FitError,
    GaussianFit,
    fit_gaussian_2d,
    gaussian_2d,
)

__all__ = [
    "CROP_PX",
    "FWHM_PER_SIGMA",
    "BeadDetection",
    "FitError",
    "FwhmTable",
    "GaussianFit",
    "axial_fwhm",
    "compare_beads",
    "crop_at",
    "detect_beads",
    "fit_gaussian_2d",
    "focus_planes",
    "fwhm_histogram",
    "gaussian_2d",
    "lateral_fwhm",
    "lateral_fwhm_at_focus",
    "median_fwhm",
]
