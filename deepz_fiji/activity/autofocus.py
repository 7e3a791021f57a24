"""Autofocus and drift correction from a single image: the Δz at which the sample is sharpest.

A virtual stack of the image (Deep-Z, or any ``stack_fn``) is scored plane by plane with a
sharpness measure; a parabola fitted around the sharpest plane gives the in-focus Δz with
sub-step precision. Scored per region of a grid, the in-focus Δz form a height map that is
directly a DPM (:func:`focus_map`): refocusing onto it brings every region into focus. Over a
video, :func:`track_focus` gives every frame's own best plane (focus drift).

Sharpness measures (all invariant to intensity scaling):

- ``"normvar"`` (default): normalised variance, var(I) / mean(I) / mean(I) over the region.
- ``"brenner"``: Brenner gradient, mean of (I(x+2) − I(x))² + (I(y+2) − I(y))², / mean(I)².
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from deepz_fiji.activity.stacks import StackFn, checked_stack, refocus_stack_fn, z_positions
from deepz_fiji.data.normalize import background_fill
from deepz_fiji.errors import DeepZError

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
SHARPNESS = ("normvar", "brenner")
#: Planes used by the least-squares parabola around the sharpest plane.
FIT_POINTS = 5
#: The grid whose regional foci measure how far a sample is from having one focus (:func:`plane_residual_um`).
SPREAD_GRID = (4, 4)
#: Above this scatter (µm) of the regional foci around a plane, autofocus says there is no single
#: focus. Chosen on the independent suite's selection-split fields (benchmarks/autofocus_dense.py):
#: thin samples up to 1.6 µm, a real-morphology volume 3.2–5.6 µm (dense tissue slabs stay below 0.8).
NO_SINGLE_FOCUS_UM = 2.0
#: At or above this :func:`~deepz_fiji.data.background_fill` of the image, autofocus says there is no
#: single focus: a dense or thick sample whose out-of-focus light fills every gap. Chosen on the suite's
#: selection-split fields (benchmarks/autofocus_dense.py): beads, filaments and a neuron volume up to
#: 0.30, dense tissue 10–30 µm thick from 0.39 (a thin dense layer in focus: 0.05).
DENSE_FILL = 0.34


def sharpness(image: np.ndarray, method: str = "normvar") -> float:
    """Focus measure of a 2D image (higher = sharper); see the module docstring."""
    x = np.asarray(image, dtype=np.float64)
    mean = x.mean()
    scale = mean * mean if abs(mean) > 1e-12 else 1.0
    if method == "normvar":
        return float(x.var() / scale)
    if method == "brenner":
        gx = ((x[:, 2:] - x[:, :-2]) ** 2).mean() if x.shape[1] > 2 else 0.0
        gy = ((x[2:, :] - x[:-2, :]) ** 2).mean() if x.shape[0] > 2 else 0.0
        return float((gx + gy) / scale)
    raise DeepZError(f"unknown sharpness measure {method!r}; choose one of {', '.join(SHARPNESS)}")


def peak_position(z_um: np.ndarray, values: np.ndarray, fit_points: int = FIT_POINTS) -> tuple[float, bool]:
    """Sub-step position of the maximum of ``values`` over ``z_um`` (parabola through the top).

    A least-squares parabola is fitted to ``fit_points`` planes centred on the sharpest one;
    its vertex (kept inside those planes) is the answer. Returns (z, at_edge) where at_edge is
    True when the sharpest plane is the first or last one (the focus may lie outside).
    """
    z, v = np.asarray(z_um, dtype=np.float64), np.asarray(values, dtype=np.float64)
    best = int(np.nanargmax(v))
    at_edge = best in (0, len(v) - 1)
    half = max(1, fit_points // 2)
    lo, hi = max(0, best - half), min(len(v), best + half + 1)
    if hi - lo < 3:
        return float(z[best]), at_edge
    a, b, _ = np.polyfit(z[lo:hi], v[lo:hi], 2)
    if a >= 0:
        return float(z[best]), at_edge
    return float(np.clip(-b / (2 * a), z[lo], z[hi - 1])), at_edge


def peak_width(z_um: np.ndarray, values: np.ndarray) -> float:
    """Width (µm) of the run of planes around the maximum of ``values`` at or above half its height
    over the curve's minimum."""
    v = np.asarray(values, dtype=np.float64)
    best = int(np.nanargmax(v))
    half = v.min() + 0.5 * (v[best] - v.min())
    lo, hi = best, best
    while lo > 0 and v[lo - 1] >= half:
        lo -= 1
    while hi < len(v) - 1 and v[hi + 1] >= half:
        hi += 1
    return float(z_um[hi] - z_um[lo])


def _blocks(n: int, parts: int) -> list[tuple[int, int]]:
    edges = np.linspace(0, n, parts + 1).round().astype(int)
    return [(int(edges[i]), int(edges[i + 1])) for i in range(parts)]


@dataclass
class FocusResult:
    """In-focus Δz per region (R, C), the planes' Δz, the sharpness curves (R, C, Z), and per
    region whether the sharpest plane is at the range's end and the sharpness peak's width (µm,
    :func:`peak_width`; a thick sample is sharp over more of its depth, but on its own the width
    does not tell thick samples from thin ones: benchmarks/autofocus_dense.py), and the scatter of
    the foci of a 4×4 grid around a plane (``spread_um``, :func:`plane_residual_um`; None where the
    image is too small for it), and how far the recorded image's gaps are filled with light (``fill``,
    :func:`~deepz_fiji.data.background_fill`; None where the image was not given)."""

    dz_um: np.ndarray
    z_um: np.ndarray
    curves: np.ndarray
    at_edge: np.ndarray
    shape: tuple[int, int]
    width_um: np.ndarray
    spread_um: float | None = None
    fill: float | None = None

    @property
    def single_focus(self) -> bool:
        """False when no one Δz brings the image into focus (:attr:`no_single_focus_reason`)."""
        return self.no_single_focus_reason is None

    @property
    def no_single_focus_reason(self) -> str | None:
        """Why the image has no single focus, or None: its regions are sharpest at depths that scatter
        beyond :data:`NO_SINGLE_FOCUS_UM` around a plane (:func:`plane_residual_um`), or its gaps are
        filled with light (``fill`` at or above :data:`DENSE_FILL`: a dense or thick sample)."""
        if self.spread_um is not None and self.spread_um > NO_SINGLE_FOCUS_UM:
            return f"regions of the image are sharpest at depths that scatter by {self.spread_um:.1f} µm around a plane"
        if self.fill is not None and self.fill >= DENSE_FILL:
            return (f"the image has no dark background (its median is {100 * self.fill:.0f} % of its range): a dense "
                    "or thick sample, lit from many depths")
        return None

    def height_map(self) -> np.ndarray:
        """The (Y, X) height map (µm): bilinear between region centres, linear beyond them."""
        rows, cols = self.dz_um.shape
        cy = np.array([(a + b - 1) / 2 for a, b in _blocks(self.shape[0], rows)])
        cx = np.array([(a + b - 1) / 2 for a, b in _blocks(self.shape[1], cols)])
        along_x = np.stack([_interp_linear(cx, row, np.arange(self.shape[1])) for row in self.dz_um])
        full = np.stack([_interp_linear(cy, col, np.arange(self.shape[0])) for col in along_x.T], axis=1)
        return np.clip(full, self.z_um[0], self.z_um[-1]).astype(np.float32)


def _interp_linear(centres: np.ndarray, values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """1D linear interpolation through (centres, values), extrapolated linearly at both ends."""
    if len(centres) == 1:
        return np.full(len(at), float(values[0]))
    i = np.clip(np.searchsorted(centres, at), 1, len(centres) - 1)
    x0, x1, y0, y1 = centres[i - 1], centres[i], values[i - 1], values[i]
    return y0 + (y1 - y0) * (at - x0) / (x1 - x0)


def focus_from_stack(stack: np.ndarray, z_um: np.ndarray, *, regions: tuple[int, int] = (1, 1),
                     method: str = "normvar", warn: bool = True, fill: float | None = None) -> FocusResult:
    """In-focus Δz of a (virtual) stack (Z, Y, X) with planes at ``z_um``, per region of a grid.

    ``fill`` is the recorded image's :func:`~deepz_fiji.data.background_fill` (None: not judged).
    Logs a warning (unless ``warn`` is False) when a region's sharpest plane is at the range's end,
    and when the image has no single focus.
    """
    stack = np.asarray(stack)
    rows, cols = _check_regions(regions, stack.shape[-2:])
    z = np.asarray(z_um, dtype=np.float64)
    if stack.ndim != 3 or len(z) != stack.shape[0]:
        raise DeepZError(f"a focus stack must be (Z, Y, X) with one Δz per plane, got {stack.shape} and {len(z)} Δz")
    if len(z) < 3:
        raise DeepZError("autofocus needs at least 3 planes; widen the z range or use a smaller step")
    curves, dz, edge, width = _score_regions(stack, z, rows, cols, method)
    if edge.any() and warn:
        log.warning("the sharpest plane is at the end of the %g … %g µm range in %d region(s); the focus "
                    "may lie outside it: widen the range", z[0], z[-1], int(edge.sum()))
    if (rows, cols) == SPREAD_GRID:
        spread = plane_residual_um(dz)
    elif SPREAD_GRID[0] * 8 <= stack.shape[1] and SPREAD_GRID[1] * 8 <= stack.shape[2]:
        spread = plane_residual_um(_score_regions(stack, z, *SPREAD_GRID, method)[1])
    else:
        spread = None  # too small an image for the grid
    result = FocusResult(dz, z, curves, edge, tuple(stack.shape[-2:]), width, spread, fill)
    if warn and not result.single_focus:
        log.warning("no single focus: %s; one Δz will not bring it all into focus: use --regions for a height "
                    "map, or a virtual stack", result.no_single_focus_reason)
    return result


def _score_regions(stack: np.ndarray, z: np.ndarray, rows: int, cols: int, method: str):
    """Sharpness curves (R, C, Z), in-focus Δz, at-edge flags and peak widths of a grid of regions."""
    curves = np.empty((rows, cols, len(z)))
    dz, edge, width = np.empty((rows, cols)), np.zeros((rows, cols), bool), np.empty((rows, cols))
    for r, (y0, y1) in enumerate(_blocks(stack.shape[1], rows)):
        for c, (x0, x1) in enumerate(_blocks(stack.shape[2], cols)):
            curves[r, c] = [sharpness(plane[y0:y1, x0:x1], method) for plane in stack]
            dz[r, c], edge[r, c] = peak_position(z, curves[r, c])
            width[r, c] = peak_width(z, curves[r, c])
    return curves, dz, edge, width


def plane_residual_um(foci: np.ndarray) -> float:
    """RMS (µm) of a grid of in-focus Δz around their best-fitting plane: near 0 for a flat or
    tilted sample, large where regions are sharpest at unrelated depths (``FocusResult.spread_um``)."""
    rows, cols = foci.shape
    yy, xx = np.mgrid[:rows, :cols]
    design = np.c_[np.ones(rows * cols), yy.ravel(), xx.ravel()]
    coef, *_ = np.linalg.lstsq(design, foci.ravel(), rcond=None)
    return float(np.sqrt(np.mean((foci.ravel() - design @ coef) ** 2)))


def _check_regions(regions: tuple[int, int], shape: tuple[int, ...]) -> tuple[int, int]:
    try:
        rows, cols = (int(v) for v in regions)
    except (TypeError, ValueError) as exc:
        raise DeepZError(f"regions must be two integers (rows, columns), got {regions!r}") from exc
    if rows < 1 or cols < 1 or rows * 8 > shape[0] or cols * 8 > shape[1]:
        raise DeepZError(f"a {rows}×{cols} grid does not fit a {shape[0]}×{shape[1]} image (regions of at "
                         "least 8×8 pixels); use fewer regions")
    return rows, cols


def _stack_fn(model: Any, stack_fn: StackFn | None, range_um: tuple[float, float], step_um: float,
              **refocus_kw: Any) -> StackFn:
    """``stack_fn``, else a Deep-Z one that renormalises on its first virtual stack's EDF unless told not
    to, from the model's network alone (:func:`deepz_fiji.refocus.network_only`: no physics blend)."""
    if stack_fn is not None:
        return stack_fn
    refocus_kw.setdefault("renormalize", True)
    return refocus_stack_fn(model, *range_um, step_um, network_alone=True, **refocus_kw)


def analyse_focus(
    image: np.ndarray,
    model: Any = None,
    range_um: tuple[float, float] = (-10.0, 10.0),
    step_um: float = 0.5,
    *,
    regions: tuple[int, int] = (1, 1),
    method: str = "normvar",
    stack_fn: StackFn | None = None,
    warn: bool = True,
    **refocus_kw: Any,
) -> FocusResult:
    """Virtual stack of ``image`` over ``range_um`` (one refocusing for all regions), scored.

    ``stack_fn(image) -> (Z, Y, X)`` replaces the Deep-Z ``model`` when given; its planes must
    be at :func:`~deepz_fiji.activity.stacks.z_positions` of the range. With a ``model``, the
    image is refocused twice (``renormalize=False`` in ``refocus_kw``: once), the second time
    normalised on the first virtual stack's EDF, as training normalised planes on their stack's
    EDF: normalised on itself, a sparse sample far out of focus comes out sharpest 1–3 µm too far.
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise DeepZError(f"autofocus needs one 2D image (Y, X), got shape {image.shape}")
    _check_regions(regions, image.shape)
    z = z_positions(*range_um, step_um)
    fn = _stack_fn(model, stack_fn, range_um, step_um, **refocus_kw)
    stack = checked_stack(fn(image), len(z), image.shape)
    return focus_from_stack(stack, z, regions=regions, method=method, warn=warn, fill=background_fill(image))


def estimate_focus(image: np.ndarray, model: Any = None, range_um: tuple[float, float] = (-10.0, 10.0),
                   step_um: float = 0.5, regions: tuple[int, int] | None = None, **kw: Any) -> float | np.ndarray:
    """The Δz (µm) at which ``image``'s sample is in focus; an (R, C) grid if ``regions`` is given."""
    result = analyse_focus(image, model, range_um, step_um, regions=regions or (1, 1), **kw)
    return result.dz_um if regions is not None else float(result.dz_um[0, 0])


def focus_map(image: np.ndarray, grid: tuple[int, int] = (4, 4), model: Any = None,
              range_um: tuple[float, float] = (-10.0, 10.0), step_um: float = 0.5, **kw: Any) -> np.ndarray:
    """A (Y, X) height map (µm) of the in-focus Δz per region of ``grid``: a DPM for refocusing."""
    return analyse_focus(image, model, range_um, step_um, regions=grid, **kw).height_map()


def track_focus(
    frames: np.ndarray,
    model: Any = None,
    range_um: tuple[float, float] = (-10.0, 10.0),
    step_um: float = 0.5,
    *,
    method: str = "normvar",
    stack_fn: StackFn | None = None,
    progress: Progress | None = None,
    **refocus_kw: Any,
) -> np.ndarray:
    """Each frame's own in-focus Δz (µm), shape (T,), for frames (T, Y, X) (focus drift)."""
    frames = np.asarray(frames)
    if frames.ndim != 3:
        raise DeepZError(f"focus tracking needs frames (T, Y, X), got shape {frames.shape}")
    fn = _stack_fn(model, stack_fn, range_um, step_um, **refocus_kw)
    out = np.empty(len(frames))
    at_edge, unfocused = 0, []
    for t, frame in enumerate(frames):
        result = analyse_focus(frame, None, range_um, step_um, method=method, stack_fn=fn, warn=False)
        out[t] = float(result.dz_um[0, 0])
        at_edge += int(result.at_edge.any())
        if not result.single_focus:
            unfocused.append(result.no_single_focus_reason)
        if progress is not None:
            progress(t + 1, len(frames))
    if at_edge:
        log.warning("%d of %d frames are sharpest at the end of the %g … %g µm range; their focus may lie "
                    "outside it: widen the range", at_edge, len(frames), *range_um)
    if unfocused:
        log.warning("%d of %d frames have no single focus (the first: %s); their Δz is a guess: check the "
                    "refocused frames, or refocus by a fixed --dz", len(unfocused), len(frames), unfocused[0])
    return out
