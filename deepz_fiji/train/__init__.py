"""Training Deep-Z generators (TensorFlow; SPEC §3).

- :func:`train` — warm-up + LS-GAN loop with validation, checkpoints, resume, transfer learning.
- :class:`TrainConfig` — options with the paper's defaults; :class:`TrainResult`.
- :func:`write_toy_dataset` — a tiny synthetic dataset folder for tests and benchmarks.

TensorFlow is imported when training starts, not on import.
"""

from deepz_fiji.train.loop import TrainResult, train
from deepz_fiji.train.options import TrainConfig
from deepz_fiji.train.toy import write_toy_dataset

__all__ = ["TrainConfig", "TrainResult", "train", "write_toy_dataset"]
