"""PyTorch's step of the ``train_step`` wiring: ``backward()`` and ``optimizer.apply``, eager."""

from __future__ import annotations

import torch


def train_step(model, data):
    """One training step of :class:`~vaekit.models.strategies.TrainStepVAE`; returns the logs."""
    images = model.images_of(data)
    model.zero_grad()
    terms = model.loss_terms(images, training=True)
    model.optimizer.scale_loss(terms[0]).backward()
    weights = model.trainable_weights
    gradients = [variable.value.grad for variable in weights]
    with torch.no_grad():
        model.optimizer.apply(gradients, weights)
    return model.report(images, *terms)


def test_step(model, data):
    """One evaluation step, without gradients; returns the logs."""
    images = model.images_of(data)
    with torch.no_grad():
        terms = model.loss_terms(images, training=False)
    return model.report(images, *terms)
