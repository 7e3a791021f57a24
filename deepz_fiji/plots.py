"""Small matplotlib helpers for figures written as PNG files (Agg, no display, no pyplot state).

Figures are built on :class:`matplotlib.figure.Figure` with an Agg canvas, so nothing here
touches the global pyplot backend or needs a display, and they are written atomically through
:func:`deepz_fiji.io.atomic_path` (a crash never leaves a half-written PNG).

Typical use::

    fig, ax = new_figure()
    ax.plot(x, y)
    save_png(fig, "out.png")

or one call: :func:`line_plot`, :func:`histogram_plot`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deepz_fiji.errors import DeepZError
from deepz_fiji.io import atomic_path

log = logging.getLogger(__name__)


def new_figure(
    nrows: int = 1,
    ncols: int = 1,
    *,
    size: tuple[float, float] | None = None,
    sharex: bool = False,
) -> tuple[Any, Any]:
    """A Figure with an Agg canvas and its axes (one Axes, or an array for several panels)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if size is None:
        size = (5.0 * ncols, 3.2 * nrows + 0.6)
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, sharex=sharex, squeeze=True)
    return fig, axes


def save_png(fig: Any, path: str | os.PathLike, *, dpi: int = 120) -> Path:
    """Write ``fig`` to ``path`` as PNG, atomically; returns the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    log.info("wrote %s", path)
    return path


def line_plot(
    path: str | os.PathLike,
    x: Sequence[float],
    series: Mapping[str, Sequence[float]],
    *,
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
) -> Path:
    """One panel of lines with markers, one per ``series`` item (label -> y values), as PNG."""
    fig, ax = new_figure()
    for label, y in series.items():
        ax.plot(np.asarray(x), np.asarray(y, dtype=float), marker="o", markersize=3, label=label)
    decorate(ax, xlabel, ylabel, title, legend=len(series) > 1)
    return save_png(fig, path)


def histogram_plot(
    path: str | os.PathLike,
    values: Mapping[str, Sequence[float]],
    *,
    bins: int | Sequence[float] | None = None,
    xlabel: str = "",
    title: str = "",
    show_median: bool = True,
) -> Path:
    """Overlaid histograms on shared bins, one per ``values`` item (label -> samples), as PNG.

    The legend gives n and (with ``show_median``) the median of each set; the median is also
    drawn as a dashed line. Bins default to ~sqrt(n) bins spanning all sets.
    """
    arrays = {k: np.asarray(v, dtype=float).ravel() for k, v in values.items()}
    arrays = {k: v[np.isfinite(v)] for k, v in arrays.items()}
    everything = np.concatenate([v for v in arrays.values()] or [np.empty(0)])
    if everything.size == 0:
        raise DeepZError("nothing to plot: every value set is empty; check that measurements succeeded")
    if bins is None:
        n_max = max(v.size for v in arrays.values())
        bins = int(np.clip(np.sqrt(n_max), 5, 50))
    if np.isscalar(bins):
        lo, hi = float(everything.min()), float(everything.max())
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        bins = np.linspace(lo, hi, int(bins) + 1)
    fig, ax = new_figure()
    for i, (label, v) in enumerate(arrays.items()):
        colour = f"C{i}"
        text = f"{label} (n={v.size}"
        if show_median and v.size:
            med = float(np.median(v))
            text += f", median {med:.3g}"
            ax.axvline(med, color=colour, linestyle="--", linewidth=1)
        ax.hist(v, bins=bins, alpha=0.5, color=colour, label=text + ")")
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    decorate(ax, xlabel, "count", title, legend=True)
    return save_png(fig, path)


def decorate(ax: Any, xlabel: str = "", ylabel: str = "", title: str = "", *, legend: bool = False) -> None:
    """Axis labels, title, optional legend and a light grid on ``ax``."""
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if legend:
        ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
