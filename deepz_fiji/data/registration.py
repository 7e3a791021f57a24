"""2D image registration (numpy / scikit-image): transforms between two images of one scene.

Used to register video frames against body motion (:mod:`deepz_fiji.activity.register`) and
to co-register confocal stacks to their wide-field counterparts (Deep-Z+ data,
:mod:`deepz_fiji.data.crossmodal`).

Transforms are 3×3 homogeneous matrices in (x, y) = (column, row) coordinates that map a
*reference* pixel position onto the *moving* image, i.e. ``skimage.transform.warp(moving,
matrix)`` resamples the moving image onto the reference grid.

Two estimators:

- ``"intensity"`` (default): a coarse search over rotation angles, each with a phase
  correlation for the translation, then a Powell refinement of the normalised cross-correlation
  over a rigid (angle + shift) or affine transform. Robust for sparse, blob-like images.
- ``"features"``: ORB key points matched both ways, then RANSAC fitting a rigid, affine or
  projective transform (the paper's feature-based projective registration). Needs texture.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy import ndimage as ndi

from deepz_fiji.errors import DeepZError

log = logging.getLogger(__name__)

METHODS = ("intensity", "features")
MODELS = ("rigid", "affine", "projective")
#: Largest image side the intensity refinement works on (larger frames are binned down).
REFINE_SIDE = 192
#: Shift estimators of the intensity method's coarse search -> skimage's ``normalization``.
_NORMALIZATIONS = {"phase": "phase", "plain": None}


# --------------------------------------------------------------------------- matrices


def _translation(tx: float, ty: float) -> np.ndarray:
    return np.array([[1.0, 0.0, tx], [0.0, 1.0, ty], [0.0, 0.0, 1.0]])


def _about_centre(linear: np.ndarray, centre: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """x_moving = linear @ (x_ref - centre) + centre + shift, as a 3×3 matrix."""
    m = np.eye(3)
    m[:2, :2] = linear
    m[:2, 2] = centre + shift - linear @ centre
    return m


def _rotation(angle_rad: float) -> np.ndarray:
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return np.array([[c, -s], [s, c]])


def rigid_transform(shape: tuple[int, int], angle_deg: float, shift_xy: tuple[float, float]) -> np.ndarray:
    """The 3×3 matrix of a rotation by ``angle_deg`` about the centre of a ``shape`` frame, then a
    shift ``shift_xy`` (x, y px): reference → moved frame, as :func:`estimate_transform` returns."""
    centre = (np.array(shape[::-1], dtype=float) - 1) / 2
    return _about_centre(_rotation(np.radians(angle_deg)), centre, np.asarray(shift_xy, dtype=float))


def warp_plane(
    image: np.ndarray, matrix: np.ndarray, *, order: int = 1, cval: float | None = None,
    output_shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """Resample ``image`` (Y, X) on the reference grid through ``matrix`` (reference → image).

    Pixels from outside the image get ``cval`` (default: the image's median, i.e. background).
    ``output_shape``: the reference grid's (Y, X) when it differs from the image's.
    """
    from skimage.transform import warp

    image = np.asarray(image, dtype=np.float32)
    fill = float(np.median(image)) if cval is None else float(cval)
    out = warp(image, np.asarray(matrix, dtype=np.float64), order=order, mode="constant", cval=fill,
               preserve_range=True, output_shape=output_shape)
    return out.astype(np.float32)


# --------------------------------------------------------------------------- scoring


def standardise(image: np.ndarray, smooth_px: float = 1.0) -> np.ndarray:
    """``image`` smoothed by ``smooth_px``, minus its median, over its standard deviation (float64)."""
    image = np.asarray(image, dtype=np.float64)
    if smooth_px > 0:
        image = ndi.gaussian_filter(image, smooth_px)
    image = image - np.median(image)
    std = image.std()
    return image / std if std > 0 else image


def ncc(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised cross-correlation of two same-shape arrays over pixels finite in both."""
    valid = np.isfinite(a) & np.isfinite(b)
    if valid.sum() < 16:
        return -1.0
    x, y = a[valid] - a[valid].mean(), b[valid] - b[valid].mean()
    den = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / den) if den > 0 else 0.0


def registered_ncc(reference: np.ndarray, moving: np.ndarray, matrix: np.ndarray) -> float:
    """NCC of ``reference`` with ``moving`` warped onto it by ``matrix``, over the pixels both cover."""
    return ncc(reference, warp_plane(moving, matrix, cval=np.nan))


# --------------------------------------------------------------------------- intensity


def _coarse(reference: np.ndarray, moving: np.ndarray, max_rotation_deg: float,
            angle_step_deg: float, correlations: tuple[str, ...] = ("phase",)) -> np.ndarray:
    """Best (rotation about the centre, then correlation shift) over an angle grid, by NCC.

    ``correlations``: 'phase' (whitened: sharp peaks for images of one kind) and/or 'plain'
    cross-correlation (robust when the two images differ in blur, e.g. wide-field vs confocal).
    """
    from skimage.registration import phase_cross_correlation

    centre = (np.array(reference.shape[::-1], dtype=float) - 1) / 2
    n = int(np.ceil(max_rotation_deg / angle_step_deg)) if max_rotation_deg > 0 else 0
    best, best_score = np.eye(3), -np.inf
    for angle in np.radians(angle_step_deg * np.arange(-n, n + 1)):
        rot = _about_centre(_rotation(angle), centre, np.zeros(2))
        rotated = warp_plane(moving, rot, cval=0.0)
        for correlation in correlations:
            shift, _, _ = phase_cross_correlation(reference, rotated, upsample_factor=4,
                                                  normalization=_NORMALIZATIONS[correlation])
            # ref(p) = rotated(p - s): reference → moving is rot ∘ translate(-s), s in (x, y)
            matrix = rot @ _translation(-shift[1], -shift[0])
            score = registered_ncc(reference, moving, matrix)
            if score > best_score:
                best, best_score = matrix, score
    return best


def _params_to_matrix(p: np.ndarray, model: str, centre: np.ndarray) -> np.ndarray:
    if model == "rigid":
        return _about_centre(_rotation(p[0]), centre, p[1:3])
    linear = np.array([[1 + p[0], p[1]], [p[2], 1 + p[3]]])
    return _about_centre(linear, centre, p[4:6])


def _matrix_to_params(m: np.ndarray, model: str, centre: np.ndarray) -> np.ndarray:
    linear = m[:2, :2]
    shift = m[:2, 2] - centre + linear @ centre
    if model == "rigid":
        return np.array([np.arctan2(linear[1, 0], linear[0, 0]), *shift])
    return np.array([linear[0, 0] - 1, linear[0, 1], linear[1, 0], linear[1, 1] - 1, *shift])


def _refine(reference: np.ndarray, moving: np.ndarray, start: np.ndarray, model: str) -> np.ndarray:
    """Powell maximisation of the NCC over a rigid or affine transform, on binned images."""
    from scipy.optimize import minimize

    factor = max(1, int(np.ceil(max(reference.shape) / REFINE_SIDE)))
    off = (factor - 1) / 2  # binned pixel i is centred on factor * i + off
    scale = np.array([[1.0 / factor, 0.0, -off / factor], [0.0, 1.0 / factor, -off / factor], [0, 0, 1.0]])
    ref_small, mov_small = (_bin(a, factor) for a in (reference, moving))
    centre = (np.array(ref_small.shape[::-1], dtype=float) - 1) / 2
    small_start = scale @ start @ np.linalg.inv(scale)
    p0 = _matrix_to_params(small_start, model, centre)
    options = {"xtol": 1e-3, "ftol": 1e-6, "maxfev": 2000}
    if model == "affine":  # first steps of 1 % in the linear terms, 1 px in the shift (not 100 %)
        options["direc"] = np.diag([0.01, 0.01, 0.01, 0.01, 1.0, 1.0])
    result = minimize(lambda p: -registered_ncc(ref_small, mov_small, _params_to_matrix(p, model, centre)), p0,
                      method="Powell", options=options)
    refined = _params_to_matrix(result.x, model, centre)
    return np.linalg.inv(scale) @ refined @ scale


def _bin(image: np.ndarray, factor: int) -> np.ndarray:
    if factor == 1:
        return image
    h, w = (s // factor * factor for s in image.shape)
    return image[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))


# --------------------------------------------------------------------------- features


def _features(reference: np.ndarray, moving: np.ndarray, model: str, n_keypoints: int) -> np.ndarray:
    from skimage.feature import ORB, match_descriptors
    from skimage.measure import ransac
    from skimage.transform import AffineTransform, EuclideanTransform, ProjectiveTransform

    points = []
    for image in (reference, moving):
        orb = ORB(n_keypoints=n_keypoints, fast_threshold=0.05)
        scaled = (image - image.min()) / max(float(np.ptp(image)), 1e-12)
        try:
            orb.detect_and_extract(scaled)
        except RuntimeError as exc:
            raise DeepZError(f"feature registration found no key points ({exc}); use the intensity method") from exc
        points.append((orb.keypoints, orb.descriptors))
    matches = match_descriptors(points[0][1], points[1][1], cross_check=True)
    cls, min_samples = {"rigid": (EuclideanTransform, 2), "affine": (AffineTransform, 3),
                        "projective": (ProjectiveTransform, 4)}[model]
    if len(matches) < 2 * min_samples:
        raise DeepZError(
            f"feature registration matched only {len(matches)} key points; the frames have too little "
            "texture: use the intensity method"
        )
    src = points[0][0][matches[:, 0]][:, ::-1]  # (row, col) -> (x, y)
    dst = points[1][0][matches[:, 1]][:, ::-1]
    tform, inliers = ransac((src, dst), cls, min_samples=min_samples, residual_threshold=2.0,
                            max_trials=2000, rng=0)
    if tform is None or inliers is None or inliers.sum() < min_samples + 2:
        raise DeepZError("feature registration found no consistent transform; use the intensity method")
    return np.asarray(tform.params, dtype=np.float64)


# --------------------------------------------------------------------------- public API


def estimate_transform(
    reference: np.ndarray,
    moving: np.ndarray,
    *,
    method: str = "intensity",
    model: str = "rigid",
    max_rotation_deg: float = 10.0,
    angle_step_deg: float = 2.5,
    n_keypoints: int = 400,
    correlations: tuple[str, ...] = ("phase",),
) -> np.ndarray:
    """The 3×3 matrix mapping reference (x, y) onto ``moving`` (``warp(moving, m)`` ≈ reference).

    ``method``: ``"intensity"`` (rotation grid within ±``max_rotation_deg`` + phase correlation,
    then NCC refinement; ``model`` rigid or affine) or ``"features"`` (ORB + RANSAC; ``model``
    rigid, affine or projective). ``correlations``: the intensity method's shift estimators,
    'phase' and/or 'plain' (add 'plain' for images of two modalities); the best NCC wins.
    """
    if method not in METHODS:
        raise DeepZError(f"unknown registration method {method!r}; choose one of {', '.join(METHODS)}")
    if model not in MODELS or (method == "intensity" and model == "projective"):
        allowed = MODELS if method == "features" else MODELS[:2]
        raise DeepZError(f"registration model {model!r} is not available with the {method} method; "
                         f"choose one of {', '.join(allowed)}")
    reference, moving = np.asarray(reference), np.asarray(moving)
    if reference.shape != moving.shape or reference.ndim != 2:
        raise DeepZError(f"registration needs two 2D frames of one shape, got {reference.shape} and {moving.shape}")
    unknown = sorted(set(correlations) - set(_NORMALIZATIONS)) or ([] if correlations else ["(none)"])
    if unknown:
        raise DeepZError(f"unknown correlation {unknown[0]!r}; choose from {', '.join(_NORMALIZATIONS)}")
    if np.ptp(reference) == 0 or np.ptp(moving) == 0:
        log.warning("a frame to register is blank (constant); leaving it where it is")
        return np.eye(3)
    ref, mov = standardise(reference), standardise(moving)
    if method == "features":
        return _features(ref, mov, model, n_keypoints)
    start = _coarse(ref, mov, max_rotation_deg, angle_step_deg, tuple(correlations))
    return _refine(ref, mov, start, model)
