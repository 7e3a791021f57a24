"""The Deep-Z discriminator (SPEC §3): six conv blocks, global average pool, two FC layers.

Block i: ``z_{i+1} = LReLU(CONV_i2(LReLU(CONV_i1(z_i))))`` with slope 0.01, the second conv with
stride 2; ``i1 = 48 … 1536``, ``i2 = 96 … 3072`` (doubling); then global average pooling →
FC 3072 → 3072 (LReLU) → FC 3072 → 1 → sigmoid. All widths scale with the model's ``width``.
Input: one image ``(N, H, W, 1)`` (a generator output or a target); output ``(N, 1)`` in (0, 1).
"""

from __future__ import annotations

import keras

from deepz_fiji.model.config import discriminator_widths
from deepz_fiji.model.layers import BIAS_INIT, LeakyReLU, conv3x3

LEAKY_SLOPE = 0.01


def build_discriminator(width: float = 1.0, blocks: int = 6, *, intensity_gain: float = 1.0,
                        name: str = "discriminator") -> keras.Model:
    """Build the discriminator for a width multiplier (its input scaled by the generator's gain)."""
    w = discriminator_widths(width, blocks)
    inputs = keras.Input(shape=(None, None, 1), name="image", dtype="float32")
    z = inputs if intensity_gain == 1 else keras.layers.Rescaling(intensity_gain, name="input_gain")(inputs)
    for i in range(blocks):
        z = conv3x3(z, w["i1"][i], f"block{i + 1}_conv1")
        z = LeakyReLU(LEAKY_SLOPE, name=f"block{i + 1}_lrelu1")(z)
        z = conv3x3(z, w["i2"][i], f"block{i + 1}_conv2", strides=2)
        z = LeakyReLU(LEAKY_SLOPE, name=f"block{i + 1}_lrelu2")(z)
    z = keras.layers.GlobalAveragePooling2D(name="pool")(z)
    dense = dict(kernel_initializer="glorot_uniform", bias_initializer=keras.initializers.Constant(BIAS_INIT))
    z = keras.layers.Dense(w["fc"], name="fc1", **dense)(z)
    z = LeakyReLU(LEAKY_SLOPE, name="fc1_lrelu")(z)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="score", **dense)(z)
    return keras.Model(inputs, outputs, name=name)
