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

#: Perturbation used by ``deepz train --init-from`` into a wider network: the shipped default
#: model widened to 0.375 moves by ~0.5 % of its mean output, enough for copies to drift apart.
TRAINING_NOISE = 0.01


def _spread(n_new: int, old: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``n_new`` indices covering every entry of ``old`` once, the rest drawn at random."""
    if n_new < len(old):
        raise DeepZError(f"cannot widen {len(old)} channels to {n_new}: the new width must not be smaller")
    return np.concatenate([old, rng.choice(old, n_new - len(old))]).astype(int)


class _Widener:
    def __init__(self, source: Any, target: Any, noise: float, rng: np.random.Generator):
        self.src = {layer.name: layer for layer in source.layers}
        self.dst = {layer.name: layer for layer in target.layers}
        self.noise, self.rng = noise, rng

    def channels(self, name: str) -> tuple[int, int]:
        """Output channels of layer ``name``: (in the wider network, in the source)."""
        return (int(self.dst[name].get_weights()[1].shape[0]), int(self.src[name].get_weights()[1].shape[0]))

    def free_map(self, name: str) -> np.ndarray:
        """Mapping of a layer whose output channels may copy any old channel."""
        n_new, n_old = self.channels(name)
        return _spread(n_new, np.arange(n_old), self.rng)

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
    work = _Widener(source, target, noise, np.random.default_rng(seed))
    g_in, n_in_old = np.arange(2), 2  # the image and DPM channels
    skips = []
    for k in range(1, depth + 1):
        mid = work.free_map(f"down{k}_conv1")
        n_new, n_old = work.channels(f"down{k}_conv2")
        # residual pairing: the first channels copy the block input's, the rest the old channels beyond it
        out = np.concatenate([g_in, _spread(n_new - len(g_in), np.arange(n_in_old, n_old), work.rng)])
        work.conv(f"down{k}_conv1", g_in, mid)
        work.conv(f"down{k}_conv2", mid, out)
        skips.append((out, n_old))
        g_in, n_in_old = out, n_old
    y = skips[-1][0]
    for k in reversed(range(1, depth)):
        work.conv(f"up{k}_upconv", y, y, transposed=True)
        skip, n_skip_old = skips[k - 1]
        mid, out = work.free_map(f"up{k}_conv1"), work.free_map(f"up{k}_conv2")
        work.conv(f"up{k}_conv1", np.concatenate([skip, n_skip_old + y]), mid)
        work.conv(f"up{k}_conv2", mid, out)
        y = out
    work.conv("output", y, np.arange(1))
