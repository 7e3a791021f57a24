"""Neuron activity in 3D from single-plane videos, and autofocus / drift correction (SPEC §6).

numpy / scipy / scikit-image only: the refocusing is injected as ``stack_fn(image) -> (Z, Y, X)``
(by default Deep-Z through :mod:`deepz_fiji.refocus`, imported only when needed).

- :func:`track_activity` — the whole ``deepz track`` analysis (register, virtual stacks,
  segment, traces, active neurons, spectral clustering, outputs); resumable.
- :mod:`~deepz_fiji.activity.register`, :mod:`~.segment`, :mod:`~.traces`, :mod:`~.cluster` —
  the steps, usable on their own.
- :func:`estimate_focus`, :func:`focus_map`, :func:`track_focus` — autofocus (``deepz autofocus``,
  ``deepz refocus-video --track-focus``).
"""

from deepz_fiji.activity.autofocus import (
    FocusResult,
    analyse_focus,
    estimate_focus,
    focus_from_stack,
    focus_map,
    peak_position,
    sharpness,
    track_focus,
)
from deepz_fiji.activity.cluster import (
    Clustering,
    adjusted_rand_index,
    eigengap_k,
    similarity_matrix,
    spectral_clustering,
)
from deepz_fiji.activity.pipeline import (
    ActivityOptions,
    ActivityResult,
    analyse_stacks,
    analyse_traces,
    as_video,
    track_activity,
)
from deepz_fiji.activity.register import (
    Registration,
    apply_transforms,
    estimate_transform,
    register_frames,
    rigid_transform,
)
from deepz_fiji.activity.segment import (
    Segmentation,
    find_neurons,
    median_projection,
    segment_neurons,
)
from deepz_fiji.activity.stacks import StackFn, refocus_stack_fn, z_positions
from deepz_fiji.activity.traces import DeltaF, delta_f, extract_traces, select_active

__all__ = [
    "ActivityOptions",
    "ActivityResult",
    "Clustering",
    "DeltaF",
    "FocusResult",
    "Registration",
    "Segmentation",
    "StackFn",
    "adjusted_rand_index",
    "analyse_focus",
    "analyse_stacks",
    "analyse_traces",
    "apply_transforms",
    "as_video",
    "delta_f",
    "eigengap_k",
    "estimate_focus",
    "estimate_transform",
    "extract_traces",
    "find_neurons",
    "focus_from_stack",
    "focus_map",
    "median_projection",
    "peak_position",
    "refocus_stack_fn",
    "register_frames",
    "rigid_transform",
    "segment_neurons",
    "select_active",
    "sharpness",
    "similarity_matrix",
    "spectral_clustering",
    "track_activity",
    "track_focus",
    "z_positions",
]
