"""One scored refocusing task (a row) and the won / harmless verdicts."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from deepz_fiji.errors import DeepZError
from deepz_fiji.metrics import rmse, ssim

#: A row is won when the output's RMSE is at most this fraction of the better baseline's (and
#: its SSIM is above both baselines').
WIN_RMSE = 0.8
#: A row is harmless when the output's RMSE is at most this multiple of the better baseline's.
HARMLESS_RMSE = 1.05
#: ``learning``: a blur cannot know the answer (towards focus, thick samples, surfaces); ``blur``:
#: the physics blur is close to exact (thin or sparse samples defocused away from focus).
CLASSES = ("learning", "blur")


@dataclass(frozen=True)
class Row:
    """Labels of a task and the RMSE/SSIM of the output and of both baselines against the truth.

    ``input_um`` is where the input plane lies relative to the sample's in-focus plane, ``dz_um``
    the refocusing distance (the truth lies at ``input_um + dz_um``).
    """

    model: str
    split: str
    sample: str
    optics: str
    snr: str
    direction: str
    cls: str
    input_um: float
    dz_um: float
    rmse_output: float
    rmse_input: float
    rmse_blur: float
    ssim_output: float
    ssim_input: float
    ssim_blur: float

    def __post_init__(self) -> None:
        if self.cls not in CLASSES:
            raise DeepZError(f"row class must be one of {', '.join(CLASSES)}, got {self.cls!r}")

    @property
    def best_baseline_rmse(self) -> float:
        return min(self.rmse_input, self.rmse_blur)

    @property
    def ratio(self) -> float:
        """Output RMSE ÷ the better baseline's (below 1: the model helps)."""
        best = self.best_baseline_rmse
        return self.rmse_output / best if best > 0 else (0.0 if self.rmse_output == 0 else float("inf"))

    @property
    def won(self) -> bool:
        return self.ratio <= WIN_RMSE and self.ssim_output > max(self.ssim_input, self.ssim_blur)

    @property
    def harmless(self) -> bool:
        return self.ratio <= HARMLESS_RMSE

    def as_dict(self) -> dict:
        """The fields plus ``ratio``, ``won`` and ``harmless`` (for CSV)."""
        return {**dataclasses.asdict(self), "ratio": self.ratio, "won": self.won, "harmless": self.harmless}


def score_row(output: np.ndarray, truth: np.ndarray, input_plane: np.ndarray, blur: np.ndarray, **labels) -> Row:
    """Score ``output`` and both baselines against ``truth`` (all (Y, X), the same units)."""
    scores = {}
    for name, image in (("output", output), ("input", input_plane), ("blur", blur)):
        scores[f"rmse_{name}"] = rmse(image, truth)
        scores[f"ssim_{name}"] = ssim(image, truth)
    return Row(**labels, **scores)
