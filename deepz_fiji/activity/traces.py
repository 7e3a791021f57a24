"""Activity traces per neuron: F_i(t), ΔF, ΔF/F0 and the selection of active neurons.

SPEC §6 steps 4-5: F_i(t) is the mean of the 100 brightest activity-channel voxels inside
neuron i's mask in frame t (the brightest voxels are chosen anew in every frame);
ΔF(t) = F(t) − F0 with F0 the time average of F; the most active neurons are those whose
standard deviation of ΔF exceeds a threshold.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from deepz_fiji.errors import DeepZError

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
#: Voxels averaged per neuron and frame (SPEC §6).
N_BRIGHTEST = 100


def label_indices(labels: np.ndarray) -> list[np.ndarray]:
    """Flat voxel indices of every label 1..max(labels) (an empty array for a missing label)."""
    flat = np.asarray(labels).ravel()
    order = np.argsort(flat, kind="stable")
    bounds = np.searchsorted(flat[order], np.arange(1, int(flat.max(initial=0)) + 2))
    return [order[bounds[i]:bounds[i + 1]] for i in range(len(bounds) - 1)]


def brightest_mean(stack: np.ndarray, indices: list[np.ndarray], n: int = N_BRIGHTEST) -> np.ndarray:
    """Per label, the mean of the ``n`` brightest voxels of ``stack`` among ``indices``."""
    flat = np.asarray(stack).reshape(-1)
    out = np.full(len(indices), np.nan)
    for i, idx in enumerate(indices):
        if len(idx) == 0:
            continue
        values = flat[idx].astype(np.float64)
        if len(values) > n:
            values = np.partition(values, len(values) - n)[-n:]
        out[i] = values.mean()
    return out


def extract_traces(
    activity: Iterable[np.ndarray],
    labels: np.ndarray,
    *,
    n_brightest: int = N_BRIGHTEST,
    progress: Progress | None = None,
) -> np.ndarray:
    """F (N, T): for each neuron and frame, the mean of its ``n_brightest`` brightest voxels.

    ``activity`` yields (or is) the activity-channel stacks (Z, Y, X) of each frame, on the grid
    of ``labels`` (Z, Y, X). Neurons with fewer voxels than ``n_brightest`` average all of them.
    """
    indices = label_indices(labels)
    frames = list(activity) if not isinstance(activity, np.ndarray) else activity
    total = len(frames)
    columns = []
    for t, stack in enumerate(frames):
        if np.shape(stack) != labels.shape:
            raise DeepZError(f"activity stack of frame {t} is {np.shape(stack)} but the labels are {labels.shape}")
        columns.append(brightest_mean(stack, indices, n_brightest))
        if progress is not None:
            progress(t + 1, total)
    return np.stack(columns, axis=1) if columns else np.zeros((len(indices), 0))


@dataclass
class DeltaF:
    """ΔF (N, T), F0 (N,) and ΔF/F0 (N, T) of a set of traces."""

    df: np.ndarray
    f0: np.ndarray
    dff: np.ndarray


def delta_f(traces: np.ndarray) -> DeltaF:
    """ΔF = F − F0 and ΔF/F0 with F0 the time average of each trace (F0 ≤ 0 gives NaN in ΔF/F0)."""
    traces = np.asarray(traces, dtype=np.float64)
    f0 = traces.mean(axis=1)
    df = traces - f0[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        dff = np.where(f0[:, None] > 0, df / f0[:, None], np.nan)
    return DeltaF(df=df, f0=f0, dff=dff)


def otsu_split(values: np.ndarray) -> float:
    """Otsu's split of a few 1D values, computed exactly (no histogram): the threshold halfway
    between the two neighbouring sorted values that maximise the between-class variance."""
    v = np.sort(np.asarray(values, dtype=np.float64))
    if len(v) < 2 or v[-1] == v[0]:
        return float(v[-1]) if len(v) else float("nan")
    n = np.arange(1, len(v))
    mean0 = np.cumsum(v)[:-1] / n
    mean1 = (v.sum() - np.cumsum(v)[:-1]) / (len(v) - n)
    between = n * (len(v) - n) * (mean1 - mean0) ** 2
    between[v[1:] == v[:-1]] = -1  # never split between equal values
    i = int(np.argmax(between))
    return float((v[i] + v[i + 1]) / 2)


def select_active(
    values: np.ndarray,
    *,
    min_std: float | None = None,
    n_active: int | None = None,
) -> tuple[np.ndarray, float]:
    """Boolean mask of active neurons from the standard deviation over time of ``values`` (N, T).

    Pass ``values`` = ΔF (SPEC) or ΔF/F0. Keep neurons with std above ``min_std``; or the
    ``n_active`` most variable; by default above Otsu's threshold of the std values (the split
    between quiet and active neurons). Neurons with non-finite values are never selected.
    Returns (mask, the threshold used).
    """
    if min_std is not None and n_active is not None:
        raise DeepZError("give either a minimum std or a number of active neurons, not both")
    std = np.asarray(values, dtype=np.float64).std(axis=1)
    finite = np.isfinite(std)
    if not finite.any():
        return np.zeros(len(std), bool), float("nan")
    if n_active is not None:
        if n_active < 1:
            raise DeepZError(f"the number of active neurons must be at least 1, got {n_active}")
        ranked = np.sort(std[finite])[::-1]
        thr = float(ranked[min(n_active, len(ranked)) - 1])
        mask = finite & (std >= thr)
        if mask.sum() > n_active:  # ties at the threshold: keep the first n_active by rank
            keep = np.argsort(-np.where(finite, std, -np.inf), kind="stable")[:n_active]
            mask = np.zeros_like(mask)
            mask[keep] = True
        return mask, thr
    if min_std is None:
        thr = otsu_split(std[finite])
        return finite & (std > thr), thr
    return finite & (std > min_std), float(min_std)
