"""TensorFlow's step of the ``train_step`` wiring: one step of gradient descent on the model's
explicit loss, under ``tf.GradientTape``."""

from __future__ import annotations

import tensorflow as tf

from vaekit.backends.tensorflow.distribution_lib import replicas


def train_step(model, data):
    """One training step of :class:`~vaekit.models.strategies.TrainStepVAE`; returns the logs."""
    images = model.images_of(data)
    with tf.GradientTape() as tape:
        terms = model.loss_terms(images, training=True)
        # The replicas' gradients are summed: each one's loss counts 1/replicas of the batch.
        share = terms[0] / replicas() if replicas() > 1 else terms[0]
        scaled = model.optimizer.scale_loss(share)  # loss scaling under mixed_float16
    gradients = tape.gradient(scaled, model.trainable_weights)
    model.optimizer.apply_gradients(zip(gradients, model.trainable_weights, strict=True))
    return model.report(images, *terms)


def test_step(model, data):
    """One evaluation step; returns the logs."""
    images = model.images_of(data)
    return model.report(images, *model.loss_terms(images, training=False))
