"""Test-time augmentation: average the network over the 8 symmetries of the square.

Defocus is the same in every lateral direction, so rotating or mirroring the input (image and
DPM together) should rotate or mirror the refocused plane. A trained network obeys this only
approximately; averaging its outputs over the 8 rotations/mirrors (the dihedral group D4) and
mapping each back cancels part of its error. It costs 8 network calls per tile
(``benchmarks/accuracy.py --tta`` measures what it buys).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: How outputs made with test-time augmentation say so in their metadata (``deepz_tta``).
TTA_LABEL = "mean over 8 rotations/mirrors"
#: (quarter turns, mirror) pairs: the 8 symmetries of the square.
SYMMETRIES: tuple[tuple[int, bool], ...] = tuple((k, m) for k in range(4) for m in (False, True))


def apply(batch: np.ndarray, turns: int, mirror: bool) -> np.ndarray:
    """Rotate (by ``turns`` × 90°) then mirror (left–right) the (N, Y, X, …) ``batch``."""
    out = np.rot90(batch, turns, axes=(1, 2))
    return out[:, :, ::-1] if mirror else out


def undo(batch: np.ndarray, turns: int, mirror: bool) -> np.ndarray:
    """The inverse of :func:`apply`."""
    out = batch[:, :, ::-1] if mirror else batch
    return np.rot90(out, -turns, axes=(1, 2))


def averaged(predict: Callable[[np.ndarray], np.ndarray], batch: np.ndarray) -> np.ndarray:
    """The mean of ``predict`` over the 8 symmetries of ``batch`` (N, Y, X, C), each mapped back."""
    total = np.zeros(batch.shape[:3], np.float64)
    for turns, mirror in SYMMETRIES:
        total += undo(predict(np.ascontiguousarray(apply(batch, turns, mirror))), turns, mirror)
    return (total / len(SYMMETRIES)).astype(np.float32)
