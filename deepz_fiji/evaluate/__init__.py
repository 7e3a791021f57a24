"""Scoring refocused planes against two physics baselines (numpy only).

A **row** is one refocusing task (sample, optics, SNR, direction, Δz) with the RMSE and SSIM of
the model's output and of two baselines against the truth: the **input plane** itself, and the
**physics blur**, the input convolved with the model's own nominal PSF at Δz
(:func:`physics_blur`). A row is *won* when the output's RMSE is at most 0.8× the better
baseline's and its SSIM is above both; *harmless* when its RMSE is at most 1.05× the better
baseline's. **Learning** rows (a blur cannot know the answer) are to be won; every row is to be
harmless. Used by ``benchmarks/generalization.py`` and, later, model cards.
"""

from deepz_fiji.evaluate.baselines import nominal_optics, nominal_psf_plane, physics_blur
from deepz_fiji.evaluate.report import (
    markdown_table,
    read_rows_csv,
    summarize,
    summary_line,
    write_rows_csv,
)
from deepz_fiji.evaluate.rows import CLASSES, HARMLESS_RMSE, WIN_RMSE, Row, score_row

__all__ = [
    "CLASSES",
    "HARMLESS_RMSE",
    "WIN_RMSE",
    "Row",
    "markdown_table",
    "nominal_optics",
    "nominal_psf_plane",
    "physics_blur",
    "read_rows_csv",
    "score_row",
    "summarize",
    "summary_line",
    "write_rows_csv",
]
