"""Training log: ``training_log.csv``, TensorBoard scalars (``logs/``) and ``training_curves.png``.

One CSV row every ``log_every`` iterations (losses averaged over the rows' iterations) and at
every validation (with ``val_mae``). A resumed run keeps the rows up to its checkpoint and
drops the lost ones, so the CSV always describes one continuous run.
"""

from __future__ import annotations

import csv
import logging
import math
from pathlib import Path
from typing import Any

from deepz_fiji.io import write_csv

log = logging.getLogger(__name__)

LOG_FILE = "training_log.csv"
CURVES_FILE = "training_curves.png"
TENSORBOARD_DIR = "logs"
#: ``val_mae_dz_flipped``: validation MAE with the sign of every Δz flipped — clearly above
#: ``val_mae`` only once the network tells refocusing up from refocusing down.
COLUMNS = ("iteration", "phase", "g_loss", "g_adversarial", "train_mae", "d_loss", "val_mae",
           "val_mae_dz_flipped", "best_val_mae", "time_s")


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


class TrainingLog:
    """Rows of a run, written to CSV, TensorBoard and a PNG of the curves."""

    def __init__(self, model_folder: str | Path, *, resume_iteration: int | None = None,
                 tensorboard: bool = True):
        self.folder = Path(model_folder)
        self.rows: list[dict[str, Any]] = []
        csv_path = self.folder / LOG_FILE
        if resume_iteration is not None and csv_path.is_file():
            with open(csv_path, newline="", encoding="utf-8") as fh:
                self.rows = [r for r in csv.DictReader(fh) if _number(r.get("iteration")) <= resume_iteration]
        self._writer = None
        if tensorboard:
            try:
                import tensorboard as _  # noqa: F401  (tf.summary needs it; TF 2.21 no longer pulls it in)
            except ImportError:
                log.warning("tensorboard is not installed: no TensorBoard logs (pip install tensorboard)")
            else:
                import tensorflow as tf

                self._writer = tf.summary.create_file_writer(str(self.folder / TENSORBOARD_DIR))

    def record(self, row: dict[str, Any]) -> None:
        """Append a row (keys from :data:`COLUMNS`) and send its numbers to TensorBoard."""
        self.rows.append({key: row.get(key, "") for key in COLUMNS})
        if self._writer is not None:
            import tensorflow as tf

            with self._writer.as_default():
                for key, value in row.items():
                    if key not in ("iteration", "phase", "time_s") and isinstance(value, (int, float)):
                        tf.summary.scalar(key, value, step=int(row["iteration"]))

    def flush(self) -> None:
        """Rewrite the CSV and the curves PNG (atomically)."""
        if not self.rows:
            return
        write_csv(self.folder / LOG_FILE, self.rows)
        if self._writer is not None:
            self._writer.flush()
        try:
            plot_curves(self.rows, self.folder / CURVES_FILE)
        except Exception as exc:  # noqa: BLE001 - a plot must never stop training
            log.warning("could not draw the training curves: %s", exc)

    def close(self) -> None:
        self.flush()
        if self._writer is not None:
            self._writer.close()


def plot_curves(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Two panels: training losses, and validation MAE with the best point marked."""
    from deepz_fiji.plots import decorate, new_figure, save_png

    fig, (ax_loss, ax_val) = new_figure(1, 2, size=(10.0, 3.8))
    it = [_number(r["iteration"]) for r in rows]
    drawn = False
    for key, label in (("g_loss", "generator loss"), ("d_loss", "discriminator loss"),
                       ("train_mae", "training MAE")):
        pts = [(i, _number(r[key])) for i, r in zip(it, rows, strict=True) if _number(r[key]) > 0]
        if pts:
            ax_loss.plot(*zip(*pts, strict=True), label=label, linewidth=1, marker="." if len(pts) < 50 else None)
            drawn = True
    warmups = [i for i, r in zip(it, rows, strict=True) if r.get("phase") == "warmup"]
    if warmups:
        ax_loss.axvspan(0, max(warmups), color="0.9", label="MAE warm-up")
    if drawn:
        ax_loss.set_yscale("log")
    decorate(ax_loss, "iteration", "loss", "training", legend=drawn)
    val = [(i, _number(r["val_mae"])) for i, r in zip(it, rows, strict=True) if math.isfinite(_number(r["val_mae"]))]
    if val:
        ax_val.plot(*zip(*val, strict=True), marker="o", markersize=3, label="validation MAE")
        best = min(val, key=lambda p: p[1])
        ax_val.plot([best[0]], [best[1]], "r*", markersize=10, label=f"best {best[1]:.4g} @ {best[0]:.0f}")
    decorate(ax_val, "iteration", "MAE (normalised units)", "validation", legend=bool(val))
    return save_png(fig, path)
