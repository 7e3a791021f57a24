"""Training options (:class:`TrainConfig`) with the paper's defaults (SPEC §3)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from deepz_fiji.errors import DeepZError
from deepz_fiji.refocus.precision import PRECISIONS

KEEP_CHOICES = ("best", "last")


@dataclass
class TrainConfig:
    """How to train. Counts are iterations; one GAN iteration = ``g_steps`` generator and
    ``d_steps`` discriminator updates (discriminator first), each on its own batch of
    ``batch`` pairs; one warm-up
    iteration = one MAE-only generator update.

    - ``iterations``: GAN iterations, run after ``warmup`` warm-up iterations.
    - ``patch``: training crop side (px; random crops when the shards are larger; ``None`` = the
      shard patch size, rounded down to the network's size multiple).
    - ``augment``: random flip/rot90 (``deepz_fiji.data.augment``, k = 0…4) per training pair.
    - ``augment_group``: how many transforms ``augment`` draws from: 5, the paper's (identity, three
      rotations, one flip), or 8, every symmetry of the square (also the mirrors of the rotations,
      which test-time augmentation averages over).
    - ``intensity_scale``: ``(low, high)`` or ``None``; each training pair's input image and
      target are multiplied by one factor drawn log-uniformly from this range. The DPM channel
      is not scaled. This makes the network tolerate the difference between a training stack's
      EDF-based normalisation and a single test image normalised on itself.
    - ``keep``: which generator the model folder gets: ``'best'`` (lowest validation MAE, the
      paper's choice) or ``'last'`` (the final one; for a GAN phase or a robustness fine-tune,
      whose gains the plain validation MAE does not measure).
    - ``val_samples``: validate on at most this many validation pairs (a fixed random subset;
      ``None`` = all).
    - ``shuffle_buffer``/``cycle_length``: pairs held for shuffling / shard files read at once.
    - ``max_seconds``: a time budget (training seconds, summed over resumes); the run validates,
      stops and exports when it is spent, however many iterations are left.
    - ``lr_drop_at_s``/``lr_drop_factor``: from this many training seconds on, both learning
      rates are multiplied by the factor (a last, calmer stretch of a time-budgeted run).
    - ``sharpen_weight``: loss weight (warm-up MAE) of the pairs whose target lies nearer their
      region's focal plane than their input (refocusing towards focus: the target is sharper);
      the other pairs weigh 1. 1 = the paper's unweighted loss.
    - ``val_every_s``: also validate (and checkpoint) when this many seconds passed since the last
      validation (for time-budgeted runs whose speed is not known in advance).
    - ``snapshots``: also keep the generator of every validation
      (``checkpoint/snapshots/iter-NNNNNNN.weights.h5``), so that a run's generators can be judged
      by benchmarks, not only its best by validation MAE.
    - ``physics_share``: with ``init_from`` a model without the new network's physics inputs, the
      share of each first-layer image weight moved onto each physics channel (0: zero weights there,
      the source's function exactly; 0.5: half of it, the same function where the blur equals the
      image, and a network that reads the new channel from the first step).
    - ``precision``: ``'float32'`` or ``'bfloat16'`` (convolutions in bfloat16 with float32 weights and
      accumulation, on CPUs with AVX512-BF16 or AMX: :mod:`deepz_fiji.refocus.precision`; about twice
      as fast there, ``benchmarks/train.py --precision float32 bfloat16``).
    """

    iterations: int = 1000
    warmup: int = 0
    batch: int = 20
    g_steps: int = 6
    d_steps: int = 3
    lr_g: float = 1e-4
    lr_d: float = 3e-5
    alpha: float = 0.02
    val_every: int = 50
    val_samples: int | None = None
    patch: int | None = None
    augment: bool = True
    augment_group: int = 5
    intensity_scale: tuple[float, float] | None = (0.5, 2.0)
    shuffle_buffer: int = 256
    cycle_length: int = 4
    seed: int = 0
    log_every: int = 10
    keep: str = "best"
    max_seconds: float | None = None
    val_every_s: float | None = None
    sharpen_weight: float = 1.0
    lr_drop_at_s: float | None = None
    lr_drop_factor: float = 0.25
    snapshots: bool = False
    physics_share: float = 0.0
    precision: str = "float32"

    def __post_init__(self) -> None:
        if isinstance(self.intensity_scale, list):
            self.intensity_scale = tuple(self.intensity_scale)
        self.validate()

    @property
    def total_iterations(self) -> int:
        return self.warmup + self.iterations

    def validate(self) -> None:
        def bad(name: str, why: str) -> DeepZError:
            return DeepZError(f"training option '{name}' {why}")

        minimums = {"iterations": 0, "warmup": 0, "batch": 1, "g_steps": 1, "d_steps": 0,
                    "val_every": 1, "shuffle_buffer": 1, "cycle_length": 1, "seed": 0, "log_every": 1}
        for key, low in minimums.items():
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise bad(key, f"must be an integer >= {low}, got {value!r}")
        if self.augment_group not in (5, 8) or isinstance(self.augment_group, bool):
            raise bad("augment_group", f"must be 5 (the paper's transforms) or 8 (every symmetry of the square), "
                      f"got {self.augment_group!r}")
        if not (isinstance(self.lr_drop_factor, (int, float)) and 0 < self.lr_drop_factor <= 1):
            raise bad("lr_drop_factor", f"must be in (0, 1], got {self.lr_drop_factor!r}")
        for key in ("lr_g", "lr_d", "alpha"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                    math.isfinite(value) and value >= 0):
                raise bad(key, f"must be a finite number >= 0, got {value!r}")
        for key in ("sharpen_weight", "max_seconds", "val_every_s", "lr_drop_at_s"):
            value = getattr(self, key)
            if value is None and key != "sharpen_weight":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
                unit = "" if key == "sharpen_weight" else " of seconds or unset"
                raise bad(key, f"must be a positive number{unit}, got {value!r}")
        for key in ("val_samples", "patch"):
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise bad(key, f"must be a positive integer or unset, got {value!r}")
        if self.total_iterations < 1:
            raise bad("iterations", "and warmup are both 0; train for at least one iteration")
        if isinstance(self.physics_share, bool) or not isinstance(self.physics_share, (int, float)) \
                or not 0 <= self.physics_share < 1:
            raise bad("physics_share", f"must be a number in [0, 1), got {self.physics_share!r}")
        if not isinstance(self.snapshots, bool):
            raise bad("snapshots", f"must be true or false, got {self.snapshots!r}")
        if self.precision not in PRECISIONS:
            raise bad("precision", f"must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.keep not in KEEP_CHOICES:
            raise bad("keep", f"must be one of {', '.join(KEEP_CHOICES)}, got {self.keep!r}")
        scale = self.intensity_scale
        if scale is not None and (len(scale) != 2 or not 0 < scale[0] <= scale[1]):
            raise bad("intensity_scale", f"must be (low, high) with 0 < low <= high, or None; got {scale!r}")

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        if self.intensity_scale is not None:
            out["intensity_scale"] = list(self.intensity_scale)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise DeepZError(f"unknown training option(s) {', '.join(unknown)}")
        return cls(**data)
