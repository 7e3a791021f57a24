"""Spectral clustering of neuron activity (SPEC §6 step 6).

S_ij = exp(−‖x_i − x_j‖² / σ²) with x_i = ΔF_i/F_i0 (the whole trace; ‖·‖ is the Euclidean
norm over time points) and σ = 1.5; W = S with a zero diagonal, D = diag(Σ_j W_ij),
L = D − W. The generalised problem L v = λ D v is solved (Shi–Malik normalised cut);
k is the index before the largest gap among the smallest eigenvalues and k-means on the
first k eigenvectors gives the clusters of co-active neurons.

With ``normalize_time=True`` the squared norm is divided by the number of time points (a
mean squared difference), which makes σ independent of the video's length; the paper's
definition (the default) uses the plain norm.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from deepz_fiji.errors import DeepZError

log = logging.getLogger(__name__)

#: σ of the similarity kernel (SPEC §6).
SIGMA = 1.5
#: Largest k the eigengap may choose by default.
MAX_K = 10


def similarity_matrix(dff: np.ndarray, sigma: float = SIGMA, *, normalize_time: bool = False) -> np.ndarray:
    """S (N, N) = exp(−‖dff_i − dff_j‖² / σ²) of traces ``dff`` (N, T)."""
    x = np.asarray(dff, dtype=np.float64)
    if x.ndim != 2:
        raise DeepZError(f"traces must be (neurons, time), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise DeepZError("traces contain NaN or infinite values (F0 ≤ 0?); select neurons with finite ΔF/F0")
    if not sigma > 0:
        raise DeepZError(f"sigma must be positive, got {sigma}")
    sq = (x * x).sum(axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * x @ x.T, 0.0)
    if normalize_time and x.shape[1]:
        d2 /= x.shape[1]
    return np.exp(-d2 / sigma**2)


@dataclass
class Clustering:
    """Cluster label per neuron (0..k-1, largest cluster first), k and the spectrum."""

    labels: np.ndarray
    k: int
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray

    def order(self) -> np.ndarray:
        """A permutation grouping neurons by cluster (stable within a cluster)."""
        return np.argsort(self.labels, kind="stable")

    def sizes(self) -> list[int]:
        return np.bincount(self.labels, minlength=self.k).tolist()


def spectrum(similarity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending) and eigenvectors of L v = λ D v for ``similarity`` (N, N)."""
    from scipy.linalg import eigh

    s = np.asarray(similarity, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] != s.shape[1]:
        raise DeepZError(f"the similarity matrix must be square, got shape {s.shape}")
    w = (s + s.T) / 2
    np.fill_diagonal(w, 0.0)
    degree = w.sum(axis=1)
    # an isolated neuron has degree 0 (D singular): a tiny floor keeps D positive definite
    degree = np.maximum(degree, 1e-12 * max(float(degree.max(initial=0.0)), 1.0))
    lap = np.diag(degree) - w
    values, vectors = eigh(lap, np.diag(degree))
    return values, vectors


def eigengap_k(eigenvalues: np.ndarray, max_k: int = MAX_K, min_k: int = 1) -> int:
    """k = the index before the largest gap among the ``max_k + 1`` smallest eigenvalues.

    Only k in ``min_k … max_k`` are considered (``min_k=2`` ignores the gap after the trivial
    first eigenvalue, i.e. always splits).
    """
    values = np.sort(np.asarray(eigenvalues, dtype=np.float64))
    m = min(max_k, len(values) - 1)
    lo = max(1, min(min_k, m))
    if m < 1:
        return 1
    gaps = np.diff(values[: m + 1])
    return int(np.argmax(gaps[lo - 1:])) + lo


def _kmeans(x: np.ndarray, k: int, seed: int, n_init: int = 20) -> np.ndarray:
    import inspect

    from scipy.cluster.vq import kmeans2

    rng = np.random.default_rng(seed)
    key = "rng" if "rng" in inspect.signature(kmeans2).parameters else "seed"  # SciPy < 1.15: seed
    best, best_cost = None, np.inf
    for _ in range(n_init):
        centres, labels = kmeans2(x, k, iter=50, minit="++", **{key: rng})
        cost = float(((x - centres[labels]) ** 2).sum())
        if cost < best_cost and len(np.unique(labels)) == k:
            best, best_cost = labels, cost
    if best is None:  # every restart lost a cluster: keep the last one
        best = labels
    return best


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Renumber clusters 0..k-1 by decreasing size (ties: first member first)."""
    uniq, first, counts = np.unique(labels, return_index=True, return_counts=True)
    order = sorted(range(len(uniq)), key=lambda i: (-counts[i], first[i]))
    mapping = {uniq[i]: new for new, i in enumerate(order)}
    return np.array([mapping[v] for v in labels], dtype=np.int64)


def spectral_clustering(similarity: np.ndarray, *, k: int | None = None, max_k: int = MAX_K, min_k: int = 1,
                        seed: int = 0) -> Clustering:
    """Cluster neurons from their ``similarity`` (N, N); k from the eigengap unless given."""
    n = len(similarity)
    if n == 0:
        return Clustering(np.zeros(0, np.int64), 0, np.zeros(0), np.zeros((0, 0)))
    values, vectors = spectrum(similarity)
    if k is None:
        k = eigengap_k(values, max_k, min_k)
        if k == 1 and n > 2:
            log.warning(
                "the largest eigengap is after the first eigenvalue: one cluster. If the traces do form "
                "groups, the similarities are too uniform for this sigma: give the number of clusters, "
                "ask for at least 2, or use a smaller sigma"
            )
    if not 1 <= k <= n:
        raise DeepZError(f"the number of clusters must be between 1 and the {n} neurons, got {k}")
    labels = np.zeros(n, np.int64) if k == 1 else _relabel(_kmeans(vectors[:, :k], k, seed))
    log.info("spectral clustering: %d neurons, k = %d, sizes %s", n, k, np.bincount(labels).tolist())
    return Clustering(labels, int(k), values, vectors)


def adjusted_rand_index(a: np.ndarray, b: np.ndarray) -> float:
    """The adjusted Rand index of two labelings (1 = identical partitions, ~0 = chance)."""
    a, b = np.asarray(a).ravel(), np.asarray(b).ravel()
    if a.shape != b.shape:
        raise DeepZError(f"labelings differ in length: {a.size} and {b.size}")
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    table = np.zeros((ia.max(initial=-1) + 1, ib.max(initial=-1) + 1))
    np.add.at(table, (ia, ib), 1)

    def pairs(x: np.ndarray) -> float:
        return float((x * (x - 1) / 2).sum())

    index, rows, cols = pairs(table), pairs(table.sum(axis=1)), pairs(table.sum(axis=0))
    total = a.size * (a.size - 1) / 2
    expected = rows * cols / total if total else 0.0
    maximum = (rows + cols) / 2
    return 1.0 if maximum == expected else float((index - expected) / (maximum - expected))
