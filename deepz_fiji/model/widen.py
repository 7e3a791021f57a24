"""Function-preserving widening of a trained generator (Net2WiderNet, Chen et al. 2016).

A generator of width w is copied into one of the same depth and a larger width w' so that the
wider network computes the same function: every new channel is a copy of an old one, and the
weights reading a copied channel are divided by its number of copies. Fine-tuning then starts
from the trained model with more capacity. ``noise`` adds a small random perturbation (relative
to each layer's weight spread) so that copies of one channel can learn different things.

The residual of a down block adds its input channel ``j`` to output channel ``j`` (the input is
zero-padded on channels), so output channel ``j`` must copy the same old channel as input
channel ``j``, and channels beyond the input's count must copy old channels that had no
residual. The mapping below keeps both.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepz_fiji.errors import DeepZError

#: Perturbation used by ``deepz train --init-from`` into a wider network: the output moves by
#: ~0.5 % of its mean magnitude, enough for copies of one channel to drift apart in training.
TRAINING_NOISE = 0.01


def _spread(n_new: int, old: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``n_new`` indices covering every entry of ``old`` once, the rest drawn at random."""
    if n_new < len(old):
        raise DeepZError(f"cannot widen {len(old)} channels to {n_new}: the new width must not be smaller")
    return np.concatenate([old, rng.choice(old, n_new - len(old))]).astype(int)


def _down_map(n_new: int, n_old: int, residual: np.ndarray, n_res_old: int, rng: np.random.Generator) -> np.ndarray:
    """Old channel of each new output channel of a down block whose input has mapping ``residual``."""
    rest = _spread(n_new - len(residual), np.arange(n_res_old, n_old), rng)
    return np.concatenate([residual, rest])


class _Widener:
    def __init__(self, source: Any, target: Any, noise: float, rng: np.random.Generator):
        self.src = {layer.name: layer for layer in source.layers}
        self.dst = {layer.name: layer for layer in target.layers}
        self.noise, self.rng = noise, rng

    def conv(self, name: str, gin: np.ndarray, gout: np.ndarray, *, transposed: bool = False) -> None:
        """Copy layer ``name`` for input mapping ``gin`` and output mapping ``gout`` (new → old)."""
        kernel, bias = (np.asarray(w) for w in self.src[name].get_weights())
        if transposed:  # Conv2DTranspose kernels are (h, w, out, in)
            kernel = kernel.transpose(0, 1, 3, 2)
        copies = np.bincount(gin, minlength=kernel.shape[2])[gin]
        new = kernel[:, :, gin][:, :, :, gout] / copies[None, None, :, None]
        if self.noise:
            new = new + self.rng.normal(0.0, self.noise * float(kernel.std()), new.shape)
        if transposed:
            new = new.transpose(0, 1, 3, 2)
        expected = tuple(self.dst[name].get_weights()[0].shape)
        if new.shape != expected:
            raise DeepZError(f"widening layer {name}: built {new.shape}, the wider network needs {expected}")
        self.dst[name].set_weights([new.astype(np.float32), bias[gout].astype(np.float32)])


def widen_generator(source: Any, target: Any, depth: int, *, noise: float = 0.0, seed: int = 0) -> None:
    """Set the weights of ``target`` (a wider generator of the same depth) from ``source``.

    Both are Keras generators built by :func:`deepz_fiji.model.generator.build_generator`. With
    ``noise = 0`` the two compute the same output up to float rounding.
    """
    rng = np.random.default_rng(seed)
    work = _Widener(source, target, noise, rng)

    def channels(model: dict, name: str) -> int:
        return int(model[name].get_weights()[1].shape[0])

    g_in = np.arange(2)  # the image and DPM channels
    skips = []
    n_in_old = 2
    for k in range(1, depth + 1):
        mid = _spread(channels(work.dst, f"down{k}_conv1"), np.arange(channels(work.src, f"down{k}_conv1")), rng)
        out = _down_map(channels(work.dst, f"down{k}_conv2"), channels(work.src, f"down{k}_conv2"), g_in, n_in_old,
                        rng)
        work.conv(f"down{k}_conv1", g_in, mid)
        work.conv(f"down{k}_conv2", mid, out)
        skips.append((out, channels(work.src, f"down{k}_conv2")))
        g_in, n_in_old = out, channels(work.src, f"down{k}_conv2")
    y = skips[-1][0]
    for k in reversed(range(1, depth)):
        work.conv(f"up{k}_upconv", y, y, transposed=True)
        skip, n_skip_old = skips[k - 1]
        cat = np.concatenate([skip, n_skip_old + y])
        mid = _spread(channels(work.dst, f"up{k}_conv1"), np.arange(channels(work.src, f"up{k}_conv1")), rng)
        out = _spread(channels(work.dst, f"up{k}_conv2"), np.arange(channels(work.src, f"up{k}_conv2")), rng)
        work.conv(f"up{k}_conv1", cat, mid)
        work.conv(f"up{k}_conv2", mid, out)
        y = out
    work.conv("output", y, np.arange(1))
