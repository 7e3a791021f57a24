"""What ``deepz track`` computed (:class:`ActivityResult`) and views of it shared by its outputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deepz_fiji.activity.cluster import Clustering
from deepz_fiji.activity.register import Registration
from deepz_fiji.activity.segment import Segmentation
from deepz_fiji.activity.traces import DeltaF


@dataclass
class ActivityResult:
    """Everything :func:`track_activity` computed, plus the files it wrote."""

    z_um: np.ndarray
    pixel_um: float
    frame_interval_s: float | None
    registration: Registration | None
    nuclei_median: np.ndarray
    segmentation: Segmentation
    traces: np.ndarray  # F (N, T)
    delta: DeltaF
    active: np.ndarray  # (N,) bool
    active_threshold: float
    similarity: np.ndarray  # (A, A) over the active neurons
    clustering: Clustering  # over the active neurons
    run_info: dict[str, Any] = field(default_factory=dict)  # frames, channels, options, timing
    files: dict[str, Path] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)  # what summary.json holds

    def cluster_of_neuron(self) -> np.ndarray:
        """Cluster per neuron (N,), −1 for neurons not selected as active."""
        out = np.full(len(self.active), -1, np.int64)
        out[self.active] = self.clustering.labels
        return out


def neuron_positions_um(result: ActivityResult) -> np.ndarray:
    """(N, 3) centroid (x, y, z) in µm; z is the Δz from the input's focal plane."""
    c = result.segmentation.centroids()
    if len(c) == 0:
        return np.zeros((0, 3))
    step = result.z_um[1] - result.z_um[0] if len(result.z_um) > 1 else 1.0
    return np.stack([c[:, 2] * result.pixel_um, c[:, 1] * result.pixel_um, result.z_um[0] + c[:, 0] * step], 1)


def frame_times(result: ActivityResult) -> np.ndarray | None:
    n_t = result.traces.shape[1]
    return None if result.frame_interval_s is None else np.arange(n_t) * result.frame_interval_s
