"""Inference: refocus any image with a trained Deep-Z model (planes, stacks, surfaces, frames).

Large images are processed in tiles that overlap by more than the network's receptive field
and are blended with tapered weights (no seams); many planes go through the network in
batches. See :mod:`deepz_fiji.refocus.api` for the common keyword arguments and
:mod:`deepz_fiji.refocus.files` for the file-to-file versions the ``deepz`` commands run.
"""

from deepz_fiji.refocus.api import (
    iter_refocus,
    load_model,
    network_only,
    refocus,
    refocus_frames,
    refocus_plane,
    refocus_surface,
    resolve_model,
    stack_positions,
    virtual_edf_normalization,
    virtual_stack,
)
from deepz_fiji.refocus.engine import DEFAULT_MEMORY_MB, RefocusEvent
from deepz_fiji.refocus.files import Surface, refocus_file, refocus_surface_file, virtual_stack_file
from deepz_fiji.refocus.precision import PRECISIONS, cpu_supports_bfloat16
from deepz_fiji.refocus.tiling import MAX_TILE

__all__ = [
    "DEFAULT_MEMORY_MB",
    "MAX_TILE",
    "PRECISIONS",
    "RefocusEvent",
    "Surface",
    "cpu_supports_bfloat16",
    "iter_refocus",
    "load_model",
    "network_only",
    "refocus",
    "refocus_file",
    "refocus_frames",
    "refocus_plane",
    "refocus_surface",
    "refocus_surface_file",
    "resolve_model",
    "stack_positions",
    "virtual_edf_normalization",
    "virtual_stack",
    "virtual_stack_file",
]
