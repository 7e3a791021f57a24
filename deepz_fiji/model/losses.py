"""LS-GAN losses of Deep-Z (SPEC §3), written exactly as in the paper.

With N images in a batch, ``D(·)`` the discriminator score in (0, 1) and ``MAE`` the per-image
mean absolute error over pixels:

- ``L_G = 1/(2N) Σ [D(G(x)) − 1]² + α · 1/(2N) Σ MAE(G(x), z)``, α = 0.02
- ``L_D = 1/(2N) Σ D(G(x))² + 1/(2N) Σ [D(z) − 1]²``
"""

from __future__ import annotations

import tensorflow as tf

ALPHA = 0.02


def per_image_mae(pred: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    """Mean absolute error of each image in the batch, shape ``(N,)``."""
    diff = tf.abs(tf.cast(pred, tf.float32) - tf.cast(target, tf.float32))
    return tf.reduce_mean(tf.reshape(diff, [tf.shape(diff)[0], -1]), axis=1)


def _half_mean(values: tf.Tensor) -> tf.Tensor:
    """``1/(2N) Σ values`` over the batch."""
    values = tf.reshape(tf.cast(values, tf.float32), [-1])
    return tf.reduce_sum(values) / (2.0 * tf.cast(tf.size(values), tf.float32))


def generator_loss(d_fake: tf.Tensor, pred: tf.Tensor, target: tf.Tensor,
                   alpha: float = ALPHA) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """``(L_G, adversarial term, batch-mean MAE)``; ``d_fake`` = D(G(x)), shape (N, 1).

    ``L_G = adversarial + α · MAE / 2`` (the paper's 1/(2N) Σ over per-image MAEs).
    """
    adversarial = _half_mean(tf.square(d_fake - 1.0))
    mae_images = per_image_mae(pred, target)
    return adversarial + alpha * _half_mean(mae_images), adversarial, tf.reduce_mean(mae_images)


def discriminator_loss(d_fake: tf.Tensor, d_real: tf.Tensor) -> tf.Tensor:
    """``L_D`` from D(G(x)) and D(z), each shape (N, 1)."""
    return _half_mean(tf.square(d_fake)) + _half_mean(tf.square(d_real - 1.0))
