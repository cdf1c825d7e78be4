"""JAX: a stateless ``train_step`` for the ``train_step`` wiring, XLA by default, Python feeding.

Keras's JAX trainer is stateless: a step is ``(state, data) -> (logs, state)``, compiled by XLA
(``jax.jit``). The ``train_step`` wiring's step here follows Keras's own
(``keras/src/backend/jax/trainer.py``): the loss of the model's explicit terms under a
``StatelessScope`` that maps every variable to its value in ``state``, ``jax.value_and_grad``,
``optimizer.stateless_apply``, and the metrics updated in a second scope. Losses layers add with
``add_loss`` (a user's activity regularizer) are collected and kept. Batches come from
:class:`vaekit.datasets.pipeline.EpochBatches`; JAX sums bfloat16 in float32 already.

Distribution (:mod:`vaekit.distribute`): ``keras.distribution.DataParallel`` over every device of
every process. XLA computes each step on the global batch, so losses, metrics and the sampling
noise are those of one device with that batch; each process hands Keras its own rows of the batch
(``auto_shard_dataset`` off: Keras shards only ``tf.data``), and Keras assembles the global array.
Processes join with ``keras.distribution.initialize`` (``jax.distributed``); JAX's coordination
service notices a process whose heartbeats stop after 100 s (JAX's default, which Keras does not
expose) and aborts the others with a C++ stack trace; :func:`_watch` notices it within 30 s and
stops them with one line naming that process.

Example:
    >>> NAME, AUTO_JIT["cpu"]
    ('jax', True)
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time

import jax
import keras
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


# Distribution (vaekit.distribute).
def split_cpu(count: int) -> None:
    """Make JAX see ``count`` CPU devices (``jax_num_cpu_devices``), before it starts."""
    from vaekit.errors import ConfigError

    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError:  # JAX already started in this process: its devices stay
        if len(jax.devices("cpu")) != count:
            raise ConfigError(
                f"train.cpu_devices: JAX started earlier in this process with "
                f"{len(jax.devices('cpu'))} CPU devices; set it in a new process"
            ) from None


def prepare_distribution(train, cluster) -> None:
    """Before JAX starts: join the other processes (``keras.distribution.initialize``)."""
    if cluster.num_processes > 1 and not jax.distributed.is_initialized():
        keras.distribution.initialize(
            cluster.coordinator_address, cluster.num_processes, cluster.process_id
        )
        _watch(cluster)


def data_parallel(train, cluster):
    """``keras.distribution.DataParallel`` over every device of every process."""
    devices = keras.distribution.list_devices("cpu" if train.device == "cpu" else None)
    distribution = keras.distribution.DataParallel(devices=devices)
    distribution.auto_shard_dataset = False  # vaekit's stream gives each process its own rows
    keras.distribution.set_distribution(distribution)
    return len(devices), contextlib.nullcontext


DISTRIBUTIONS = {
    "data_parallel": data_parallel,
    "mirrored": "tf.distribute strategies run TensorFlow's graphs only",
}


def release_distribution() -> None:
    keras.distribution.set_distribution(None)


@contextlib.contextmanager
def alone():
    """No distribution while this process works by itself (see vaekit.distribute.alone)."""
    distribution = keras.distribution.distribution()
    keras.distribution.set_distribution(None)
    try:
        yield
    finally:
        keras.distribution.set_distribution(distribution)


def barrier(name: str) -> None:
    from jax.experimental import multihost_utils

    multihost_utils.sync_global_devices(name)


# What the watch says when a process is gone; vaekit.training.run adds how to resume.
lost_hint = ["continue from the newest complete checkpoint with vaekit train --resume RUN_DIR on "
             "every process"]  # fmt: skip


def peer_lost(error: BaseException) -> bool:
    """Whether ``error`` is a collective that failed because another process is gone."""
    words = ("Connection closed by peer", "Connection reset by peer", "heartbeat", "NCCL")
    return isinstance(error, jax.errors.JaxRuntimeError) and any(w in str(error) for w in words)


def stop_lost(message: str) -> None:
    """End this process of a spread run with one line (skipping JAX's shutdown barrier, which
    would wait for the process that is gone)."""
    me = jax.process_index()
    print(f"vaekit: error: {message}; this process (process {me}) stops too; {lost_hint[0]}",
          file=sys.stderr, flush=True)  # fmt: skip
    os._exit(1)


STALE_SECONDS = 30.0  # a process whose beat has not moved for this long is gone


def _watch(cluster, every: float = 2.0) -> None:
    """A daemon thread that ends this process with one line once another one is gone.

    Without it, a process whose peer died waits in a collective until JAX's coordination service
    notices the missing heartbeats (100 s) and aborts it with a C++ stack trace. Each process
    counts up a key of its own in that service's key-value store every ``every`` seconds and
    reads the others': one whose count has not moved for :data:`STALE_SECONDS` is gone, and a
    coordinator that does not answer is gone. (The store is reached through ``jax.distributed``'s
    client: JAX has no public call for it; where it is missing, nothing is watched and JAX's own
    message stands.)
    """
    try:
        from jax._src import distributed

        client = distributed.global_state.client
        client.key_value_set, client.key_value_try_get  # noqa: B018  (in the JAX in use?)
    except (ImportError, AttributeError):
        return
    me, everyone = cluster.process_id, range(cluster.num_processes)

    def watch() -> None:
        seen = {p: (None, time.monotonic()) for p in everyone if p != me}
        beat, unanswered = 0, 0.0
        while True:
            beat += 1
            try:
                client.key_value_set(f"vaekit/beat/{me}", str(beat), allow_overwrite=True)
                counts = {p: _try_get(client, f"vaekit/beat/{p}") for p in seen}
                unanswered = 0.0
            except Exception:  # noqa: BLE001  (the coordinator does not answer)
                unanswered += every
                if unanswered >= STALE_SECONDS:
                    where = cluster.coordinator_address or "its address"
                    stop_lost(f"process 0 (the coordinator, at {where}) does not answer")
                time.sleep(every)
                continue
            now = time.monotonic()
            for process, count in counts.items():
                last, since = seen[process]
                if count != last:
                    seen[process] = (count, now)
                elif now - since >= STALE_SECONDS * (1 if last is not None else 10):
                    stop_lost(f"process {process} of the run's {cluster.num_processes} stopped "
                         f"(no sign of it for {STALE_SECONDS:.0f} s)")  # fmt: skip
            time.sleep(every)

    threading.Thread(target=watch, name="vaekit-process-watch", daemon=True).start()


def _try_get(client, key: str):
    try:
        return client.key_value_try_get(key)
    except Exception as error:  # noqa: BLE001
        if "NOT_FOUND" in str(error) or "not found" in str(error).lower():
            return None  # that process has not beaten yet
        raise


def replicas() -> int:
    return 1  # one program over all devices: Keras's losses need no division


def normal(shape, seed):
    return keras.random.normal(shape, seed=seed)


def make_dataset(*arguments):
    """The batches of :func:`vaekit.datasets.pipeline.make_dataset`, as a Keras ``PyDataset``."""
    from vaekit.datasets.pipeline import EpochBatches

    return EpochBatches(*arguments)
