"""JAX's step of the ``train_step`` wiring: stateless, ``(state, data) -> (logs, state)``.

It follows Keras's own (``keras/src/backend/jax/trainer.py``): the loss of the model's explicit
terms under a ``StatelessScope`` that maps every variable to its value in ``state``,
``jax.value_and_grad``, ``optimizer.stateless_apply``, and the metrics updated in a second scope.
Losses layers add with ``add_loss`` (a user's activity regularizer) are collected and kept.
"""

from __future__ import annotations

import jax
from keras import StatelessScope


def _values(scope, variables):
    return [
        value if (value := scope.get_current_value(v)) is not None else v.value for v in variables
    ]


def _loss(model, images, training, trainable, non_trainable, optimizer_variables=None):
    """The model's loss terms with its variables set to the given values (a pure function)."""
    mapping = [*zip(model.trainable_variables, trainable, strict=True)]
    mapping += zip(model.non_trainable_variables, non_trainable, strict=True)
    with StatelessScope(state_mapping=mapping, collect_losses=True) as scope:
        loss, *terms = model.loss_terms(images, training=training)
        loss = loss + sum(scope.losses)  # add_loss of a user's layers (an activity regularizer)
    non_trainable = _values(scope, model.non_trainable_variables)  # the noise seeds moved on
    scaled = loss
    if optimizer_variables is not None:  # loss scaling under mixed_float16
        mapping = list(zip(model.optimizer.variables, optimizer_variables, strict=True))
        with StatelessScope(state_mapping=mapping):
            scaled = model.optimizer.scale_loss(loss)
    return scaled, ((loss, *terms), non_trainable)


def _report(model, images, terms, metrics_variables):
    mapping = list(zip(model.metrics_variables, metrics_variables, strict=True))
    with StatelessScope(state_mapping=mapping) as scope:
        logs = model.report(images, *terms)
    return logs, _values(scope, model.metrics_variables)


def train_step(model, state, data):
    """One training step of :class:`~vaekit.models.strategies.TrainStepVAE`: ``(logs, state)``."""
    trainable, non_trainable, optimizer_variables, metrics_variables = state
    images = model.images_of(data)
    gradient_of = jax.value_and_grad(
        lambda t, n: _loss(model, images, True, t, n, optimizer_variables), has_aux=True
    )
    (_, (terms, non_trainable)), gradients = gradient_of(trainable, non_trainable)
    trainable, optimizer_variables = model.optimizer.stateless_apply(
        optimizer_variables, gradients, trainable
    )
    logs, metrics_variables = _report(model, images, terms, metrics_variables)
    return logs, (trainable, non_trainable, optimizer_variables, metrics_variables)


def test_step(model, state, data):
    """One evaluation step: ``(logs, state)``, the trainable variables unchanged."""
    trainable, non_trainable, metrics_variables = state
    images = model.images_of(data)
    _, (terms, non_trainable) = _loss(model, images, False, trainable, non_trainable)
    logs, metrics_variables = _report(model, images, terms, metrics_variables)
    return logs, (trainable, non_trainable, metrics_variables)
