"""Receptive field of a generator, measured by pushing an impulse through it (StarDist-style).

The measured field tells tiled inference how much overlap a tile needs so that its kept centre
is exactly what the whole image would give.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Changes below this fraction of the peak change count as rounding noise.
RELATIVE_TOLERANCE = 1e-6


def theoretical_radius(depth: int) -> int:
    """Upper bound on the receptive-field radius (px) of the generator from its layer geometry."""
    radius, step = 0, 1
    for level in range(depth):
        if level:
            radius += step  # 2×2 max-pool, stride 2
            step *= 2
        radius += 2 * step  # two 3×3 convs
    for _ in range(depth - 1):
        step //= 2
        radius += step  # 3×3 transposed conv, stride 2: ±½ input pixel
        radius += 2 * step
    return radius + 1  # final 3×3 conv


def measure_receptive_field(predict: Callable[[np.ndarray], np.ndarray], depth: int,
                            *, seed: int = 0, batch: int = 4, channels: int = 2) -> int:
    """Full width (2·r + 1) of the region of the output an impulse in the input changes.

    ``predict`` maps (N, H, W, ``channels``) -> (N, H, W, 1) at sizes that are multiples of
    ``2 ** (depth - 1)``. The impulse sits on a random background (so no ReLU is silent
    everywhere) in the image channel, once at each alignment to the pooling grid (the reach of
    the max-pools depends on it); ``r`` is the largest distance from an impulse at which the
    output changes by more than ``RELATIVE_TOLERANCE`` of the largest change (float noise).
    """
    multiple = 2 ** (depth - 1)
    bound = theoretical_radius(depth)
    size = -(-(2 * (bound + multiple) + 1) // multiple) * multiple
    rng = np.random.default_rng(seed)
    base = np.zeros((1, size, size, channels), np.float32)
    base[..., 0] = rng.uniform(0.0, 1.0, (size, size))
    centres = [size // 2 - multiple // 2 + k for k in range(multiple)]
    radius = 0
    for start in range(0, multiple, batch):
        chunk = centres[start:start + batch]
        # the reference rides in the same batch: kernels may round differently per batch size
        x = np.repeat(base, len(chunk) + 1, axis=0)
        for i, c in enumerate(chunk, start=1):
            x[i, c, c, 0] += 1.0
        out = predict(x)[..., 0]
        for i, c in enumerate(chunk, start=1):
            diff = np.abs(out[i] - out[0])
            changed = np.argwhere(diff > RELATIVE_TOLERANCE * diff.max())
            if changed.size:
                radius = max(radius, int(np.max(np.abs(changed - c))))
    return 2 * radius + 1
