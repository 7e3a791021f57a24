"""PNG figures of an activity run (matplotlib through :mod:`deepz_fiji.plots`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepz_fiji.activity.result import ActivityResult, frame_times, neuron_positions_um
from deepz_fiji.plots import decorate, new_figure, save_png


def _cluster_colour(k: int) -> str:
    return f"C{k % 10}"


def neurons_by_depth(result: ActivityResult, path: Path) -> Path:
    """Maximum projection of the nuclei with every neuron's mask coloured by its depth (µm)."""
    labels, volume = result.segmentation.labels, result.nuclei_median
    pos = neuron_positions_um(result)
    fig, ax = new_figure(size=(6.4, 5.4))
    ax.imshow(volume.max(axis=0), cmap="gray")
    if len(pos):
        # the label seen from above: the one holding the brightest labelled voxel of each column
        brightest = np.argmax(np.where(labels > 0, volume, -np.inf), axis=0)
        top = np.take_along_axis(labels, brightest[None], axis=0)[0].astype(np.int64)
        depth = np.ma.masked_where(top == 0, pos[np.maximum(top, 1) - 1, 2])
        lo, hi = float(result.z_um[0]), float(result.z_um[-1])
        im = ax.imshow(depth, cmap="viridis", vmin=lo, vmax=hi, alpha=0.7, interpolation="nearest")
        fig.colorbar(im, ax=ax, label="Δz from the focal plane (µm)")
        px = result.pixel_um
        act = result.active
        ax.scatter(pos[act, 0] / px, pos[act, 1] / px, s=30, facecolors="none", edgecolors="red",
                   linewidths=0.8, label=f"active ({int(act.sum())})")
        if act.any():
            ax.legend(fontsize="small", loc="upper right")
    ax.set_title(f"{result.segmentation.n_neurons} neurons coloured by depth")
    ax.set_axis_off()
    return save_png(fig, path)


def traces_by_cluster(result: ActivityResult, path: Path) -> Path:
    """ΔF/F0 of the active neurons, stacked with an offset and grouped (coloured) by cluster."""
    idx = np.flatnonzero(result.active)
    cl = result.clustering
    order = idx[cl.order()] if len(idx) else idx
    labels = cl.labels[cl.order()] if len(idx) else np.zeros(0, int)
    dff = result.delta.dff[order]
    times = frame_times(result)
    x = times if times is not None else np.arange(result.traces.shape[1])
    fig, ax = new_figure(size=(7.5, min(2.0 + 0.28 * max(len(order), 1), 30.0)))
    offset = 1.2 * float(np.nanmax(np.abs(dff))) if dff.size and np.nanmax(np.abs(dff)) > 0 else 1.0
    for row, (neuron, k) in enumerate(zip(order, labels, strict=True)):
        y = len(order) - 1 - row
        ax.plot(x, dff[row] + y * offset, color=_cluster_colour(int(k)), linewidth=0.9)
        ax.text(x[0], y * offset, f"{neuron + 1} ", ha="right", va="center", fontsize=6)
    for k in range(cl.k):
        ax.plot([], [], color=_cluster_colour(k), label=f"cluster {k + 1} ({int((labels == k).sum())})")
    ax.set_yticks([])
    decorate(ax, "time (s)" if times is not None else "frame", f"ΔF/F0 (offset {offset:.2g} per neuron)",
             f"{len(order)} active neurons in {cl.k} clusters", legend=cl.k > 0)
    return save_png(fig, path)


def similarity_by_cluster(result: ActivityResult, path: Path) -> Path:
    """The similarity matrix of the active neurons reordered by cluster, and the spectrum."""
    cl = result.clustering
    fig, (ax, ax2) = new_figure(1, 2, size=(10.0, 4.6))
    if len(cl.labels):
        order = cl.order()
        im = ax.imshow(result.similarity[np.ix_(order, order)], cmap="magma", vmin=0, vmax=1,
                       interpolation="nearest")
        fig.colorbar(im, ax=ax, label="similarity S")
        for b in np.cumsum(cl.sizes())[:-1]:
            ax.axhline(b - 0.5, color="cyan", linewidth=0.8)
            ax.axvline(b - 0.5, color="cyan", linewidth=0.8)
        n = min(len(cl.eigenvalues), 15)
        ax2.plot(np.arange(1, n + 1), cl.eigenvalues[:n], marker="o")
        ax2.axvline(cl.k + 0.5, color="red", linestyle="--", label=f"largest gap: k = {cl.k}")
    ax.set_title(f"similarity of {len(cl.labels)} active neurons, by cluster")
    ax.set_xlabel("neuron (ordered by cluster)")
    decorate(ax2, "index", "eigenvalue λ of L v = λ D v", "spectrum", legend=len(cl.labels) > 0)
    return save_png(fig, path)


def write_figures(result: ActivityResult, out_dir: Path) -> dict[str, Path]:
    """The three PNGs of a run; returns {kind: path}."""
    out_dir = Path(out_dir)
    return {
        "neurons_by_depth": neurons_by_depth(result, out_dir / "neurons_by_depth.png"),
        "traces_by_cluster": traces_by_cluster(result, out_dir / "traces_by_cluster.png"),
        "similarity_by_cluster": similarity_by_cluster(result, out_dir / "similarity_by_cluster.png"),
    }
