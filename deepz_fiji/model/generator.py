"""The Deep-Z generator: a U-Net with residual down blocks (SPEC §2).

Input ``(N, H, W, 2)`` = (normalised image, Δz / dpm_scale_um), followed by the config's physics
input channels if any (``physics_inputs``: ``blur``, the image convolved with the nominal PSF at
Δz); output ``(N, H, W, 1)``. Physics channels enter the first down block through its
convolutions only (its residual carries the first two channels), so a model initialised from one
without them, with zero weights on them, computes the same function.
H and W must be multiples of ``2 ** (depth - 1)`` (the max-pools); :class:`DeepZModel` pads
other sizes by edge replication and crops back.

- Down block k: ``x_{k+1} = x_k + ReLU(CONV_k2(ReLU(CONV_k1(x_k))))``, the residual zero-padded
  on channels; 2×2 max-pool (stride 2) between down blocks.
- Up block k: ``y_k = ReLU(CONV_k4(ReLU(CONV_k3(CAT(x_{k+1}, up(y_{k+1}))))))`` with
  ``y_depth = x_{depth+1}`` (the bottom down block's output).
- Up-convolution ``up``: a 3×3 transposed convolution, stride 2, ``'same'`` padding, linear,
  that keeps the channel count of the tensor it up-samples (768 → 768, 384 → 384, …). The
  paper does not state this count; this choice reproduces both figures it does state:
  ≈ 25.6 M parameters and ≈ 686 k multiply-adds per output pixel.
- Last layer: 3×3 convolution 48 → 1, linear.
- Every 3×3 convolution is edge-padded by one pixel ('valid' conv after); Xavier weights,
  biases 0.1.

``intensity_gain`` g ≠ 1 multiplies the image channel by g on the way in and the output by 1/g
on the way out, so inputs and outputs stay in normalised units while the layers work on
signals g times larger. A fixed reparametrisation (no weights): with the paper's normalisation
(1 % of the foreground above 1), defocused, sparse signal is ~0.01 and Adam's per-step weight
changes swamp it; training then learns |Δz| but not its sign. g = 1 is the paper's network.
"""

from __future__ import annotations

import keras

from deepz_fiji.model.config import ModelConfig, generator_widths
from deepz_fiji.model.layers import BIAS_INIT, ChannelGain, ChannelZeroPad, conv3x3


def build_generator(width: float = 1.0, depth: int = 5, *, intensity_gain: float = 1.0,
                    physics_channels: int = 0, name: str = "generator") -> keras.Model:
    """Build the generator for a width multiplier, a number of down blocks, an intensity gain and
    a number of physics input channels (in image units, after the DPM channel)."""
    w = generator_widths(width, depth)
    inputs = keras.Input(shape=(None, None, 2 + physics_channels), name="input", dtype="float32")
    x = inputs if intensity_gain == 1 else ChannelGain(intensity_gain, 0, name="input_gain")(inputs)
    for c in range(physics_channels):
        if intensity_gain != 1:
            x = ChannelGain(intensity_gain, 2 + c, name=f"input_gain_physics{c + 1}")(x)
    skips = []
    for k in range(depth):
        if k:
            x = keras.layers.MaxPooling2D(2, strides=2, name=f"down{k + 1}_pool")(x)
        h = conv3x3(x, w["k1"][k], f"down{k + 1}_conv1", activation="relu")
        h = conv3x3(h, w["k2"][k], f"down{k + 1}_conv2", activation="relu")
        x = keras.layers.Add(name=f"down{k + 1}_residual")(
            [ChannelZeroPad(w["k2"][k], keep=2 if physics_channels and not k else None,
                            name=f"down{k + 1}_zeropad")(x), h]
        )
        skips.append(x)
    y = skips[-1]
    for k in reversed(range(depth - 1)):
        y = keras.layers.Conv2DTranspose(
            y.shape[-1], 3, strides=2, padding="same", name=f"up{k + 1}_upconv",
            kernel_initializer="glorot_uniform", bias_initializer=keras.initializers.Constant(BIAS_INIT),
        )(y)
        y = keras.layers.Concatenate(name=f"up{k + 1}_concat")([skips[k], y])
        y = conv3x3(y, w["k3"][k], f"up{k + 1}_conv1", activation="relu")
        y = conv3x3(y, w["k4"][k], f"up{k + 1}_conv2", activation="relu")
    outputs = conv3x3(y, 1, "output")
    if intensity_gain != 1:
        outputs = keras.layers.Rescaling(1.0 / intensity_gain, name="output_gain")(outputs)
    return keras.Model(inputs, outputs, name=name)


def generator_for(config: ModelConfig) -> keras.Model:
    """The (untrained) generator described by a model config."""
    return build_generator(config.width, config.depth, intensity_gain=config.intensity_gain,
                           physics_channels=len(config.physics_inputs))


def macs_per_pixel(width: float = 1.0, depth: int = 5) -> float:
    """Multiply-adds per output pixel of the generator (analytic; the paper quotes ≈ 686 k)."""
    w = generator_widths(width, depth)
    total, c_in = 0.0, 2
    for k in range(depth):
        area = 4.0**-k
        total += 9 * area * (c_in * w["k1"][k] + w["k1"][k] * w["k2"][k])
        c_in = w["k2"][k]
    c_up = w["k2"][-1]
    for k in reversed(range(depth - 1)):
        area = 4.0**-k
        total += 9 * area * c_up * c_up / 4  # transposed conv: 9·c² per input pixel = out/4
        total += 9 * area * ((w["k2"][k] + c_up) * w["k3"][k] + w["k3"][k] * w["k4"][k])
        c_up = w["k4"][k]
    return total + 9 * c_up
