"""Small building blocks shared by the generator and the discriminator (Keras 3, TF backend)."""

from __future__ import annotations

import keras
import tensorflow as tf

#: Xavier (Glorot) uniform weights and biases of 0.1, as in the paper.
BIAS_INIT = 0.1


@keras.saving.register_keras_serializable(package="deepz")
class EdgePad2D(keras.layers.Layer):
    """Replicate (edge) padding of ``pad`` pixels on H and W (``SYMMETRIC`` of 1 = edge copy)."""

    def __init__(self, pad: int = 1, **kwargs):
        super().__init__(**kwargs)
        if pad != 1:
            raise ValueError("EdgePad2D supports a pad of 1 pixel (SYMMETRIC padding equals edge copy only then)")
        self.pad = pad

    def call(self, x):
        return tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")

    def compute_output_shape(self, shape):
        grow = lambda n: None if n is None else n + 2  # noqa: E731
        return (shape[0], grow(shape[1]), grow(shape[2]), shape[3])

    def get_config(self):
        return {**super().get_config(), "pad": self.pad}


@keras.saving.register_keras_serializable(package="deepz")
class ChannelZeroPad(keras.layers.Layer):
    """Zero-pad the channel axis up to ``channels`` (the residual of a down block).

    ``keep``: only the first ``keep`` input channels are carried (a generator's physics input
    channels then reach the first block through its convolutions only).
    """

    def __init__(self, channels: int, keep: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels
        self.keep = keep

    def call(self, x):
        if self.keep is not None:
            x = x[..., : self.keep]
        extra = self.channels - x.shape[-1]
        if extra < 0:
            raise ValueError(f"cannot zero-pad {x.shape[-1]} channels down to {self.channels}")
        return tf.pad(x, [[0, 0], [0, 0], [0, 0], [0, extra]]) if extra else x

    def compute_output_shape(self, shape):
        return (*shape[:-1], self.channels)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "keep": self.keep}


@keras.saving.register_keras_serializable(package="deepz")
class LeakyReLU(keras.layers.Layer):
    """``max(x, slope·x)`` — a leaky ReLU for 0 < slope < 1.

    Written as a maximum so TensorFlow's graph optimiser does not try (and fail, noisily) to
    fuse it into the convolution inside gradient tapes.
    """

    def __init__(self, slope: float = 0.01, **kwargs):
        super().__init__(**kwargs)
        if not 0 < slope < 1:
            raise ValueError(f"leaky ReLU slope must be between 0 and 1, got {slope}")
        self.slope = slope

    def call(self, x):
        return tf.maximum(x, self.slope * x)

    def get_config(self):
        return {**super().get_config(), "slope": self.slope}


@keras.saving.register_keras_serializable(package="deepz")
class ChannelGain(keras.layers.Layer):
    """Multiply channel ``channel`` of the input by a fixed ``gain`` (the others pass unchanged)."""

    def __init__(self, gain: float, channel: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.gain = float(gain)
        self.channel = int(channel)

    def call(self, x):
        scale = tf.one_hot(self.channel, tf.shape(x)[-1], on_value=self.gain, off_value=1.0, dtype=x.dtype)
        return x * scale

    def get_config(self):
        return {**super().get_config(), "gain": self.gain, "channel": self.channel}


def conv3x3(x, channels: int, name: str, *, strides: int = 1, activation=None):
    """Edge-pad one pixel, then a 'valid' 3×3 convolution (Xavier weights, bias 0.1)."""
    x = EdgePad2D(name=f"{name}_pad")(x)
    return keras.layers.Conv2D(
        channels, 3, strides=strides, padding="valid", activation=activation,
        kernel_initializer="glorot_uniform", bias_initializer=keras.initializers.Constant(BIAS_INIT),
        name=name,
    )(x)
