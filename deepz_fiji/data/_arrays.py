"""Small shared argument checks for the data package."""

from __future__ import annotations

import numpy as np

from deepz_fiji.errors import DeepZError


def as_stack(stack: np.ndarray, what: str = "stack") -> np.ndarray:
    """``stack`` as a real-valued 3D (ZYX) array; :class:`DeepZError` otherwise."""
    stack = np.asarray(stack)
    if stack.ndim != 3:
        raise DeepZError(f"expected a ZYX {what} (3 dimensions), got shape {stack.shape}")
    if stack.dtype == bool or not np.issubdtype(stack.dtype, np.number) or np.iscomplexobj(stack):
        raise DeepZError(f"expected a real-valued {what}, got dtype {stack.dtype}")
    if stack.shape[0] < 1 or stack.shape[1] < 2 or stack.shape[2] < 2:
        raise DeepZError(f"the {what} of shape {stack.shape} is too small")
    return stack
