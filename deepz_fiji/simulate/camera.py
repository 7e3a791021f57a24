"""An sCMOS camera: Poisson shot noise, Gaussian read noise, offset, gain, 16-bit output.

Defaults follow the paper's Hamamatsu ORCA-Flash4.0 v2: 0.46 e⁻/ADU (gain 2.17 ADU/e⁻),
~1.6 e⁻ rms read noise, an offset of 100 ADU; plus a uniform background of 50 photo-electrons
per pixel (autofluorescence, stray light).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from deepz_fiji.errors import DeepZError

log = logging.getLogger(__name__)

ADU_MAX = 65535


@dataclass(frozen=True)
class Camera:
    """Background (e⁻/pixel), read noise (e⁻ rms), offset (ADU) and gain (ADU per e⁻)."""

    background: float = 50.0
    read_noise: float = 1.6
    offset: float = 100.0
    gain: float = 2.17

    def __post_init__(self) -> None:
        for name in ("background", "read_noise", "offset", "gain"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise DeepZError(f"camera {name} must be a finite number, got {value!r}")
            if value < 0:
                raise DeepZError(f"camera {name} must not be negative, got {value}")
        if self.gain <= 0:
            raise DeepZError(f"camera gain (ADU per photo-electron) must be positive, got {self.gain}")
        if self.offset >= ADU_MAX:
            raise DeepZError(f"camera offset must be below {ADU_MAX} ADU, got {self.offset}")

    def expected_adu(self, signal_e: np.ndarray) -> np.ndarray:
        """The noiseless camera reading (float32 ADU, offset included, not clipped)."""
        return (self.offset + self.gain * (signal_e + self.background)).astype(np.float32)


def expose(
    signal_e: np.ndarray,
    camera: Camera,
    rng: np.random.Generator,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(noisy uint16 stack, noiseless float32 truth) from expected signal photo-electrons.

    Per pixel: N = Poisson(signal + background) + Normal(0, read_noise); ADU = offset + gain·N,
    rounded and clipped to 0 … 65535. The truth is offset + gain·(signal + background); a
    float32 ``signal_e`` is overwritten by it (saves a copy of the stack).
    """
    truth = np.asarray(signal_e, dtype=np.float32)
    stack = np.empty(truth.shape, dtype=np.uint16)
    planes = truth.reshape((-1,) + truth.shape[-2:])
    out = stack.reshape(planes.shape)
    saturated = 0
    for i, plane in enumerate(planes):
        adu = rng.poisson(plane.astype(np.float64) + camera.background).astype(np.float32)
        if camera.read_noise > 0:
            adu += camera.read_noise * rng.standard_normal(plane.shape, dtype=np.float32)
        adu *= camera.gain
        adu += camera.offset
        np.rint(adu, out=adu)
        saturated += int(np.count_nonzero(adu > ADU_MAX))
        np.clip(adu, 0, ADU_MAX, out=adu)
        out[i] = adu
        plane *= camera.gain
        plane += camera.offset + camera.gain * camera.background
        if progress is not None:
            progress(i + 1, len(planes))
    if saturated:
        log.warning("%d pixel(s) saturated at %d ADU; lower the photons or the gain", saturated, ADU_MAX)
    return stack, truth
