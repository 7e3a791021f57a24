"""Virtual stacks for the activity and autofocus tools: the injectable ``stack_fn``.

Everything in :mod:`deepz_fiji.activity` refocuses through a callable
``stack_fn(image2d) -> (Z, Y, X)`` so that the analysis runs (and is tested) without
TensorFlow. :func:`refocus_stack_fn` builds the real one from a Deep-Z model; it imports
:mod:`deepz_fiji.refocus` only when called.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from deepz_fiji.errors import DeepZError

log = logging.getLogger(__name__)

#: ``stack_fn(image (Y, X)) -> virtual stack (Z, Y, X)``, planes at :func:`z_positions`.
StackFn = Callable[[np.ndarray], np.ndarray]


def z_positions(start_um: float, stop_um: float, step_um: float) -> np.ndarray:
    """Plane Δz (µm) ``start, start + step, …`` up to ``stop`` inclusive when on the grid.

    The same grid as :func:`deepz_fiji.refocus.stack_positions`: ``(-10, 10, 0.5)`` gives 41.
    """
    start, stop, step = float(start_um), float(stop_um), float(step_um)
    if not all(math.isfinite(v) for v in (start, stop, step)) or step <= 0 or stop < start:
        raise DeepZError(
            f"z range {start:g} … {stop:g} µm with step {step:g} µm is invalid; give START ≤ STOP "
            "and a positive STEP, e.g. --range -10 10 --step 0.5"
        )
    n = int(math.floor((stop - start) / step + 1e-6)) + 1
    return (start + step * np.arange(n)).astype(np.float64)


def refocus_stack_fn(model: Any, start_um: float, stop_um: float, step_um: float, *, renormalize: bool = False,
                     network_alone: bool = False, **kw: Any) -> StackFn:
    """A ``stack_fn`` refocusing with a Deep-Z ``model`` (object, name, path or None = default).

    The model is loaded once; extra keywords (``tile``, ``allow_extrapolation`` …) go to
    :func:`deepz_fiji.refocus.virtual_stack`. ``renormalize``: refocus twice, the second time
    with the constants of the first virtual stack's EDF
    (:func:`deepz_fiji.refocus.virtual_edf_normalization`): twice the work, and the input on the
    training's intensity scale even when its sample is far out of focus (what autofocus needs).
    ``network_alone``: the stacks come from the network alone (:func:`deepz_fiji.refocus.network_only`:
    no physics blend, the global flux level), what focus finding and neuron tracking analyse: the
    blend and the input's low-pass are a per-plane hedge that flattens sharpness curves and
    neurons' contrast. ``stack_fn.model`` stays the model as given (for the planes a caller writes).
    Needs TensorFlow (imported here, lazily).
    """
    from deepz_fiji.refocus import (
        network_only,
        resolve_model,
        virtual_edf_normalization,
        virtual_stack,
    )
    from deepz_fiji.refocus.engine import check_dz_range

    loaded = resolve_model(model)
    # refuse a range outside the trained one now, not after registering a whole video
    check_dz_range([list(z_positions(start_um, stop_um, step_um))], loaded.config,
                   bool(kw.get("allow_extrapolation", False)))

    refocuser = network_only(loaded) if network_alone else loaded

    def stack_fn(image: np.ndarray) -> np.ndarray:
        stack = virtual_stack(image, start_um, stop_um, step_um, refocuser, **kw)
        if renormalize:
            stack = virtual_stack(image, start_um, stop_um, step_um, refocuser,
                                  normalization=virtual_edf_normalization(stack), **kw)
        return stack

    stack_fn.model = loaded  # type: ignore[attr-defined]
    stack_fn.range_um = (float(start_um), float(stop_um))  # type: ignore[attr-defined]
    stack_fn.step_um = float(step_um)  # type: ignore[attr-defined]
    stack_fn.tta = bool(kw.get("tta", False))  # type: ignore[attr-defined]
    stack_fn.network_alone = refocuser is not loaded  # type: ignore[attr-defined]
    return stack_fn


def model_pixel_um(stack_fn: StackFn) -> float | None:
    """The pixel size (µm) the model behind ``stack_fn`` was trained at, if known."""
    model = getattr(stack_fn, "model", None)
    config = getattr(model, "config", None)
    return getattr(config, "pixel_um", None)


def model_name(stack_fn: StackFn) -> str:
    """A name for the refocusing behind ``stack_fn`` (the model's name, else the function's).

    Refocusing with test-time augmentation is named ``"<model> (tta)"``, and with the network alone
    of a model that post-processes its output ``"<model> (network alone)"``, so cached stacks of
    one kind are never resumed as another.
    """
    model = getattr(stack_fn, "model", None)
    config = getattr(model, "config", None)
    name = str(getattr(config, "name", None) or getattr(stack_fn, "__name__", "stack_fn"))
    if getattr(stack_fn, "network_alone", False):
        name += " (network alone)"
    return f"{name} (tta)" if getattr(stack_fn, "tta", False) else name


def checked_stack(stack: np.ndarray, n_planes: int, shape: tuple[int, int]) -> np.ndarray:
    """``stack`` as float32 (Z, Y, X) after checking it has ``n_planes`` planes of ``shape``."""
    stack = np.asarray(stack, dtype=np.float32)
    if stack.shape != (n_planes, *shape):
        raise DeepZError(
            f"the refocusing function returned shape {stack.shape}, expected {(n_planes, *shape)} "
            "(one plane per Δz of the z range); check the z range and the stack function"
        )
    return stack
