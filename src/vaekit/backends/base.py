"""The backend contract: every member a backend package offers, in one place.

Each backend is a package (:mod:`vaekit.backends.tensorflow`, :mod:`~vaekit.backends.jax`,
:mod:`~vaekit.backends.torch`) whose ``__init__`` exposes every name of :data:`MEMBERS`, and
:data:`vaekit.backends.current` is the one in use: vaekit calls ``backends.current.barrier(...)``
and never asks whether a backend has a member. This module declares them, as
``keras/src/trainers/trainer.py`` declares what each ``keras/src/backend/*/trainer.py`` fills in:

- a member marked ``@abc.abstractmethod``, or a constant with a type and no value, has no neutral
  default: every backend defines its own;
- the others are the neutral defaults (a barrier that does nothing, a peer check that says no),
  which a backend with nothing to do imports from here by name.

``tests/test_backend_contract.py`` checks that every backend offers every member, with a signature
the contract's callers can call.

Example:
    >>> MEMBERS[:4]
    ('NAME', 'AUTO_JIT', 'STEPS_PER_EXECUTION', 'DISTRIBUTIONS')
    >>> barrier("checkpoint"), peer_lost(RuntimeError("connection reset")), replicas()
    (None, False, 1)
    >>> Distribution(why_not="TensorFlow's graphs only").supported
    False
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import keras

from vaekit.backends.feeding import EpochBatches


@dataclass(frozen=True)
class Distribution:
    """How a backend runs one value of ``train.distribute`` (:mod:`vaekit.distribute`).

    Args:
        place: spreads a run: ``place(train, cluster)`` returns ``(devices, scope)``, the devices
            of all processes and a function returning the context to build the model in; None
            where this backend cannot.
        why_not: where it cannot, the upstream reason, said in the refusal ("" for none).
    """

    place: Callable | None = None
    why_not: str = ""

    @property
    def supported(self) -> bool:
        return self.place is not None


# Constants.
NAME: str
"""The Keras backend's name: "tensorflow", "jax" or "torch"."""

AUTO_JIT: dict[str, bool]
"""What ``train.jit_compile: auto`` means on each device, ``{"cpu": ..., "gpu": ...}``."""

STEPS_PER_EXECUTION: str | None = None
"""None where Keras runs any ``steps_per_execution`` on this backend; else the upstream issue
that lifts its limit of 1 (:func:`vaekit.backends.check_steps_per_call`)."""

DISTRIBUTIONS: dict[str, Distribution]
"""Each value of ``train.distribute`` other than ``none``: how this backend spreads it, or why it
cannot."""

bias_add: Callable | None = None
"""``bias_add(x, bias)``: ``x + bias`` with a rewritten gradient (:mod:`vaekit.models.gradients`),
or None where Keras's own gradient is right."""

leaky_relu: Callable | None = None
"""``leaky_relu(x, negative_slope)`` with a rewritten gradient, or None for Keras's own."""


# The train_step wiring's step (vaekit.models.strategies.TrainStepVAE).
@abc.abstractmethod
def train_step(model, *arguments):
    """One training step of ``model``, a :class:`~vaekit.models.strategies.TrainStepVAE`.

    ``arguments`` are those of Keras's own ``train_step`` on this backend: ``(data,)``, and the
    step returns the logs; on JAX ``(state, data)``, and it returns ``(logs, state)``.
    """


@abc.abstractmethod
def test_step(model, *arguments):
    """One evaluation step of ``model``: the arguments and result of :func:`train_step`."""


# Devices and threads.
@abc.abstractmethod
def configure(train) -> dict:
    """Apply ``train``'s device settings (a ``TrainConfig``) before the runtime starts; returns
    ``{"device": "cpu" or "gpu"}``, the device used. Refuses a GPU it cannot see (ConfigError)."""


@abc.abstractmethod
def gpus() -> list:
    """The GPUs this backend sees, as ``(name, (major, minor) compute capability)`` pairs."""


@abc.abstractmethod
def no_gpu_reason() -> str:
    """Why this backend sees no GPU, for the user (called only where it sees none)."""


@abc.abstractmethod
def threads() -> dict:
    """This backend's thread pools and their settings, by name, for the hardware summary."""


# Distribution (vaekit.distribute).
@abc.abstractmethod
def split_cpu(count: int) -> None:
    """Make the CPU ``count`` devices before the runtime starts (``train.cpu_devices``), or refuse
    where this backend cannot (ConfigError)."""


def prepare_distribution(train, cluster) -> None:
    """Before the runtime starts, for a supported ``train.distribute``: join the ``cluster``'s
    other processes, or refuse several. Default: nothing (one process)."""


def release_distribution() -> None:
    """Back to one device after a spread run. Default: nothing to undo."""


@contextlib.contextmanager
def alone():
    """The context for what process 0 does by itself while the others train on (writing a
    checkpoint; :func:`vaekit.distribute.alone`). Default: nothing changes."""
    yield


def barrier(name: str) -> None:
    """Wait until every process of the run reaches ``name``. Default: nothing (one process)."""


def replicas() -> int:
    """The replicas a step runs on, which divide its loss (their gradients are summed).
    Default: 1, one program over all devices."""
    return 1


def normal(shape, seed):
    """Standard normal noise of ``shape`` from ``seed`` (a ``keras.random.SeedGenerator``), the
    noise of one device whatever the replicas. Default: ``keras.random.normal``."""
    return keras.random.normal(shape, seed=seed)


def peer_lost(error: BaseException) -> bool:
    """Whether ``error`` is a collective that failed because another process is gone.
    Default: no."""
    return False


def stop_lost(message: str) -> None:
    """End this process of a spread run with one line, ``message`` naming the process that is
    gone. Default: exit with that line."""
    raise SystemExit(f"vaekit: error: {message}; this process stops too")


def set_lost_hint(hint: str) -> None:
    """What :func:`stop_lost` tells the user to do next (the run's resume command). Default:
    nothing kept (only a backend that watches its processes stops with a hint)."""


# Feeding.
def make_dataset(feed):
    """The batches of ``feed`` (a :class:`vaekit.datasets.pipeline.Feed`), in a form this
    backend's ``fit`` reads. Default: a Keras ``PyDataset``
    (:class:`~vaekit.backends.feeding.EpochBatches`), which every backend reads."""
    return EpochBatches(feed)


# The contract, in the order above.
MEMBERS = (
    "NAME",
    "AUTO_JIT",
    "STEPS_PER_EXECUTION",
    "DISTRIBUTIONS",
    "bias_add",
    "leaky_relu",
    "train_step",
    "test_step",
    "configure",
    "gpus",
    "no_gpu_reason",
    "threads",
    "split_cpu",
    "prepare_distribution",
    "release_distribution",
    "alone",
    "barrier",
    "replicas",
    "normal",
    "peer_lost",
    "stop_lost",
    "set_lost_hint",
    "make_dataset",
)
