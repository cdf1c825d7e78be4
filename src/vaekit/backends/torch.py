"""PyTorch: ``backward()`` for the ``train_step`` wiring, ``torch`` device set-up, Python feeding.

Keras's PyTorch trainer runs eagerly by default (``jit_compile=True`` is ``torch.compile``, which
vaekit leaves to the user: see docs/backends.md), and refuses ``steps_per_execution > 1``. Batches
come from :class:`vaekit.datasets.pipeline.EpochBatches` (a ``keras.utils.PyDataset``); PyTorch
sums bfloat16 in float32 already, so no gradient is rewritten here.

Example:
    >>> NAME, AUTO_JIT["cpu"], STEPS_PER_EXECUTION
    ('torch', False, 'keras-team/keras#23234')
"""

from __future__ import annotations

import contextlib

import keras
import torch

NAME = "torch"
# jit_compile "auto": eager on PyTorch (Keras's own default there).
AUTO_JIT = {"cpu": False, "gpu": False}
# Keras up to 3.15 refuses steps_per_execution > 1 on PyTorch ("must be 1 with the PyTorch
# backend"); keras-team/keras#23234 lifts that in a later release.
STEPS_PER_EXECUTION = "keras-team/keras#23234"
bias_add = None  # PyTorch's bias gradient of a bfloat16 layer is summed in float32
leaky_relu = None


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
    images = model.images_of(data)
    with torch.no_grad():
        terms = model.loss_terms(images, training=False)
    return model.report(images, *terms)


def configure(train) -> dict:
    """Apply ``train``'s device settings; returns the device used."""
    from vaekit.errors import ConfigError

    if train.device == "gpu" and not torch.cuda.is_available():
        raise ConfigError(f"train.device: got 'gpu', but {no_gpu_reason()}; use cpu or auto")
    if train.threads:
        torch.set_num_threads(train.threads)
    return {"device": "gpu" if torch.cuda.is_available() and train.device != "cpu" else "cpu"}


def gpus() -> list:
    return [
        (torch.cuda.get_device_name(i), torch.cuda.get_device_capability(i))
        for i in range(torch.cuda.device_count())
    ]


def no_gpu_reason() -> str:
    if torch.version.cuda is None:
        return f"PyTorch {torch.__version__} is a CPU build (no CUDA)"
    return (
        f"PyTorch is built with CUDA {torch.version.cuda} but finds no GPU "
        "(driver, CUDA_VISIBLE_DEVICES)"
    )


def threads() -> dict:
    return {
        "torch intra-op": torch.get_num_threads(),
        "torch inter-op": torch.get_num_interop_threads(),
    }


# Distribution: none in released Keras (vaekit.distribute refuses it in one line).
DISTRIBUTIONS = {
    "data_parallel": f"Keras {keras.__version__} has no keras.distribution for PyTorch; it is "
    "in progress upstream, keras-team/keras#23418",
    "mirrored": None,
}


alone = contextlib.nullcontext  # one process


def split_cpu(count: int) -> None:
    from vaekit.errors import ConfigError

    raise ConfigError(
        "train.cpu_devices: PyTorch has no logical CPU devices; leave it null (it splits the CPU "
        "for KERAS_BACKEND=jax or tensorflow)"
    )


def replicas() -> int:
    return 1


def normal(shape, seed):
    return keras.random.normal(shape, seed=seed)


def make_dataset(*arguments):
    """The batches of :func:`vaekit.datasets.pipeline.make_dataset`, as a Keras ``PyDataset``."""
    from vaekit.datasets.pipeline import EpochBatches

    return EpochBatches(*arguments)
