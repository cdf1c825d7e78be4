"""JAX: a stateless ``train_step`` for the ``train_step`` wiring, XLA by default, Python feeding.

Keras's JAX trainer is stateless: a step is ``(state, data) -> (logs, state)``, compiled by XLA
(``jax.jit``). The ``train_step`` wiring's step here follows Keras's own
(``keras/src/backend/jax/trainer.py``): the loss of the model's explicit terms under a
``StatelessScope`` that maps every variable to its value in ``state``, ``jax.value_and_grad``,
``optimizer.stateless_apply``, and the metrics updated in a second scope. Losses layers add with
``add_loss`` (a user's activity regularizer) are collected and kept. Batches come from
:class:`vaekit.datasets.pipeline.EpochBatches`; JAX sums bfloat16 in float32 already.

Example:
    >>> NAME, AUTO_JIT["cpu"]
    ('jax', True)
"""

from __future__ import annotations

import os

import jax
from keras import StatelessScope

NAME = "jax"
# jit_compile "auto": XLA on every device (eager JAX runs op by op, many times slower).
AUTO_JIT = {"cpu": True, "gpu": True}
STEPS_PER_EXECUTION = None  # Keras loops over single compiled steps
bias_add = None  # XLA sums a bfloat16 bias gradient in float32
leaky_relu = None


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
    trainable, non_trainable, metrics_variables = state
    images = model.images_of(data)
    _, (terms, non_trainable) = _loss(model, images, False, trainable, non_trainable)
    logs, metrics_variables = _report(model, images, terms, metrics_variables)
    return logs, (trainable, non_trainable, metrics_variables)


def configure(train) -> dict:
    """Check ``train``'s device against what JAX sees; returns the device used."""
    from vaekit.errors import ConfigError

    has_gpu = any(d.platform == "gpu" for d in jax.devices())
    if train.device == "gpu" and not has_gpu:
        raise ConfigError(f"train.device: got 'gpu', but {no_gpu_reason()}; use cpu or auto")
    if train.device == "cpu" and has_gpu:
        jax.config.update("jax_default_device", jax.devices("cpu")[0])
    return {"device": "gpu" if has_gpu and train.device != "cpu" else "cpu"}


def gpus() -> list:
    found = []
    for device in jax.devices():
        if device.platform == "gpu":
            capability = getattr(device, "compute_capability", None)
            major_minor = tuple(int(p) for p in str(capability).split(".")) if capability else None
            found.append((device.device_kind, major_minor))
    return found


def no_gpu_reason() -> str:
    return (
        f"JAX {jax.__version__} runs on {jax.default_backend()} only "
        "(a GPU needs jax[cuda12] or jax[cuda13]: 'vaekit[jax-cuda]')"
    )


def threads() -> dict:
    return {"XLA_FLAGS": os.environ.get("XLA_FLAGS", "(none)")}


def make_dataset(*arguments):
    """The batches of :func:`vaekit.datasets.pipeline.make_dataset`, as a Keras ``PyDataset``."""
    from vaekit.datasets.pipeline import EpochBatches

    return EpochBatches(*arguments)
