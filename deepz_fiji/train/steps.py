"""Compiled (``tf.function``) update steps and validation for the Deep-Z GAN."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from deepz_fiji.model.losses import discriminator_loss, generator_loss, per_image_mae
from deepz_fiji.train.pipeline import network_input


class GanSteps:
    """Warm-up, generator and discriminator updates on ``(image, target, dz_um)`` batches."""

    def __init__(self, generator: Any, discriminator: Any, g_optimizer: Any, d_optimizer: Any,
                 *, alpha: float, dpm_scale_um: float):
        self.generator = generator
        self.discriminator = discriminator
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        self.alpha = float(alpha)
        self.dpm_scale_um = float(dpm_scale_um)

    def _apply(self, optimizer: Any, tape: tf.GradientTape, loss: tf.Tensor, model: Any) -> None:
        variables = model.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))

    @tf.function(reduce_retracing=True)
    def warmup(self, image, target, dz_um, weight=None) -> dict[str, tf.Tensor]:
        """One MAE-only generator update (before the GAN starts); ``weight``: per pair (B,), or equal."""
        x = network_input(image, dz_um, self.dpm_scale_um)
        with tf.GradientTape() as tape:
            pred = self.generator(x, training=True)
            maes = per_image_mae(pred, target[..., None])
            mae = tf.reduce_mean(maes)
            loss = mae if weight is None else tf.reduce_sum(weight * maes) / tf.reduce_sum(weight)
        self._apply(self.g_optimizer, tape, loss, self.generator)
        return {"g_loss": loss, "train_mae": mae}

    @tf.function(reduce_retracing=True)
    def generator_step(self, image, target, dz_um, weight=None) -> dict[str, tf.Tensor]:
        """One update of ``L_G = 1/(2N) Σ [D(G(x)) − 1]² + α · 1/(2N) Σ MAE`` (pair weights not used)."""
        x = network_input(image, dz_um, self.dpm_scale_um)
        with tf.GradientTape() as tape:
            pred = self.generator(x, training=True)
            d_fake = self.discriminator(pred, training=True)
            loss, adversarial, mae = generator_loss(d_fake, pred, target[..., None], self.alpha)
        self._apply(self.g_optimizer, tape, loss, self.generator)
        return {"g_loss": loss, "g_adversarial": adversarial, "train_mae": mae}

    @tf.function(reduce_retracing=True)
    def discriminator_step(self, image, target, dz_um, weight=None) -> dict[str, tf.Tensor]:
        """One update of ``L_D = 1/(2N) Σ D(G(x))² + 1/(2N) Σ [D(z) − 1]²``."""
        x = network_input(image, dz_um, self.dpm_scale_um)
        pred = self.generator(x, training=False)
        with tf.GradientTape() as tape:
            d_fake = self.discriminator(pred, training=True)
            d_real = self.discriminator(target[..., None], training=True)
            loss = discriminator_loss(d_fake, d_real)
        self._apply(self.d_optimizer, tape, loss, self.discriminator)
        return {"d_loss": loss}

    @tf.function(reduce_retracing=True)
    def _predict_mae(self, image, target, dz_um) -> tf.Tensor:
        pred = self.generator(network_input(image, dz_um, self.dpm_scale_um), training=False)
        return per_image_mae(pred, target[..., None])

    def validate(self, images: np.ndarray, targets: np.ndarray, dz_um: np.ndarray, batch: int) -> float:
        """Mean over validation pairs of the per-pair MAE of the generator."""
        maes = [self._predict_mae(images[s:s + batch], targets[s:s + batch], dz_um[s:s + batch]).numpy()
                for s in range(0, len(dz_um), batch)]
        return float(np.mean(np.concatenate(maes)))
