"""Synthetic neuron-activity data with known answers, for tests and demonstrations.

Nuclei are anisotropic Gaussian blobs at random 3D positions (at least ``min_sep_um`` apart);
neurons belong to co-active groups that share a train of calcium transients (plus a little
independent noise), and some neurons stay quiet. The activity volume of frame t is
Σ_i F_i(t) · blob_i; :func:`widefield_frame` makes a crude single-plane wide-field image of a
volume (each plane blurred in proportion to its distance from the focal plane, then summed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi


@dataclass
class SyntheticActivity:
    """Ground truth: positions (N, 3) voxels (z, y, x), group per neuron (−1 = quiet), traces F
    (N, T), the nuclei volume (Z, Y, X) and the activity volumes (T, Z, Y, X)."""

    positions: np.ndarray
    groups: np.ndarray
    traces: np.ndarray
    nuclei: np.ndarray
    activity: np.ndarray
    pixel_um: float
    z_step_um: float


def _positions(rng: np.random.Generator, n: int, shape: tuple[int, int, int], spacing: np.ndarray,
               min_sep_um: float, margin_um: float) -> np.ndarray:
    lo = np.ceil(margin_um / spacing)
    hi = np.array(shape) - 1 - lo
    out: list[np.ndarray] = []
    for _ in range(20000):
        p = rng.uniform(lo, hi)
        if all(np.linalg.norm((p - q) * spacing) >= min_sep_um for q in out):
            out.append(p)
            if len(out) == n:
                return np.array(out)
    raise ValueError(f"cannot place {n} neurons {min_sep_um} µm apart in a volume of shape {shape}")


def calcium_transients(rng: np.random.Generator, n_frames: int, n_events: int, tau_frames: float) -> np.ndarray:
    """A train of calcium transients (instant rise, exponential decay), peak-normalised to 1.

    Raises ``ValueError`` when ``n_frames`` is too short to hold ``n_events`` onsets.
    """
    if n_events < 1 or n_frames < n_events + 2:
        raise ValueError(f"{n_events} calcium transients need at least {n_events + 2} frames, got {n_frames}")
    spikes = np.zeros(n_frames)
    spikes[rng.choice(n_frames - 2, size=n_events, replace=False)] = rng.uniform(0.6, 1.0, n_events)
    kernel = np.exp(-np.arange(n_frames) / tau_frames)
    trace = np.convolve(spikes, kernel)[:n_frames]
    return trace / trace.max()


def synthetic_activity(
    shape: tuple[int, int, int] = (21, 64, 64),
    *,
    n_groups: int = 3,
    per_group: int = 5,
    n_quiet: int = 4,
    n_frames: int = 40,
    pixel_um: float = 0.5,
    z_step_um: float = 1.0,
    sigma_um: tuple[float, float] = (1.5, 0.8),
    min_sep_um: float = 5.0,
    amplitude: float = 1.0,
    amplitude_spread: float = 0.1,
    noise: float = 0.02,
    background: float = 0.05,
    seed: int = 0,
) -> SyntheticActivity:
    """Synthetic nuclei and activity volumes with ``n_groups`` co-active groups (see module doc).

    ``sigma_um`` = (axial, lateral) blob σ in µm; F_i(t) = 1 + amplitude_i · g_k(t) + noise for
    a neuron of group k (amplitude_i within ±``amplitude_spread`` of ``amplitude``, relative), 1 + noise when quiet.
    """
    rng = np.random.default_rng(seed)
    spacing = np.array([z_step_um, pixel_um, pixel_um], dtype=float)
    n = n_groups * per_group + n_quiet
    pos = _positions(rng, n, shape, spacing, min_sep_um, margin_um=2 * max(sigma_um))
    groups = np.array([k for k in range(n_groups) for _ in range(per_group)] + [-1] * n_quiet)
    patterns = np.array([calcium_transients(rng, n_frames, max(2, n_frames // 12), n_frames / 15) for _ in range(n_groups)])
    amps = amplitude * rng.uniform(1 - amplitude_spread, 1 + amplitude_spread, n)
    traces = 1.0 + noise * rng.standard_normal((n, n_frames))
    active = groups >= 0
    traces[active] += amps[active, None] * patterns[groups[active]]

    grid = np.indices(shape, dtype=np.float32)
    sig = np.array([sigma_um[0], sigma_um[1], sigma_um[1]]) / spacing
    blobs = np.exp(-0.5 * sum(((grid[a][None] - pos[:, a, None, None, None]) / sig[a]) ** 2 for a in range(3)))
    blobs = blobs.astype(np.float32)
    brightness = rng.uniform(0.7, 1.3, n).astype(np.float32)
    nuclei = np.tensordot(brightness, blobs, axes=1) + background
    activity = np.tensordot(traces.T.astype(np.float32), blobs, axes=1) + background
    activity += noise * rng.standard_normal(activity.shape).astype(np.float32)
    return SyntheticActivity(pos, groups, traces, nuclei.astype(np.float32), activity.astype(np.float32),
                             pixel_um, z_step_um)


def widefield_frame(volume: np.ndarray, focal_index: int, blur_px_per_plane: float = 0.8) -> np.ndarray:
    """A single-plane image of ``volume`` (Z, Y, X): every plane blurred by its distance, summed."""
    out = np.zeros(volume.shape[1:], np.float64)
    for z, plane in enumerate(np.asarray(volume, dtype=np.float64)):
        sigma = blur_px_per_plane * abs(z - focal_index)
        out += ndi.gaussian_filter(plane, sigma) if sigma > 0 else plane
    return out.astype(np.float32)
