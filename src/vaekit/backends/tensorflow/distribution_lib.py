"""TensorFlow's distribution: ``tf.distribute.MirroredStrategy`` over one machine's devices.

The model is built inside the strategy's scope, and Keras splits the ``tf.data`` batches over the
replicas. Keras divides its compiled and ``add_loss`` losses by the replicas (the gradients are
summed over them); the ``train_step`` wiring's loss is divided by :func:`replicas` in its step, and
each replica draws its rows of the noise of the whole batch (:func:`normal`), so a step equals one
device's on that batch.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from vaekit.backends.base import Distribution
from vaekit.errors import ConfigError


def replicas() -> int:
    """The replicas a step runs on (``tf.distribute``'s); 1 outside a strategy."""
    return tf.distribute.get_strategy().num_replicas_in_sync


def normal(shape, seed):
    """``keras.random.normal(shape)``; in a replica of ``n``, its rows of the noise of all ``n``.

    Each replica of a ``MirroredStrategy`` draws from the same seed state: drawing its own shape
    would give every replica the same noise, unlike one device. Drawing the whole batch's and
    keeping this replica's rows gives the noise of one device (the replicas' batches are equal).
    """
    context = tf.distribute.get_replica_context()
    count = replicas()
    if context is None or count == 1:
        return keras.random.normal(shape, seed=seed)
    rows = shape[0]
    noise = keras.random.normal((rows * count, *shape[1:]), seed=seed)
    start = tf.cast(context.replica_id_in_sync_group, tf.int32) * rows
    return noise[start : start + rows]


def split_cpu(count: int) -> None:
    """Split the CPU into ``count`` logical devices, before the runtime starts."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * count
        )
    except RuntimeError:  # the runtime started earlier in this process
        if len(tf.config.list_logical_devices("CPU")) != count:
            raise ConfigError(
                "train.cpu_devices: TensorFlow started earlier in this process with "
                f"{len(tf.config.list_logical_devices('CPU'))} CPU devices; set it in a new "
                "process"
            ) from None


def prepare_distribution(train, cluster) -> None:
    """Refuse several processes (Keras's fit does not run under MultiWorkerMirroredStrategy)."""
    if cluster.num_processes > 1:
        raise ConfigError(
            f"train.num_processes: {cluster.num_processes} processes ({cluster.source}), but "
            f"train.distribute=mirrored spans one machine: Keras {keras.__version__}'s fit does "
            "not run under tf.distribute.MultiWorkerMirroredStrategy (keras-team/keras#20585); "
            "train over machines with KERAS_BACKEND=jax and train.distribute=data_parallel"
        )


def mirrored(train, cluster):
    """``tf.distribute.MirroredStrategy`` over the GPUs in use, else the logical CPU devices."""
    devices = [d.name for d in tf.config.list_logical_devices("GPU")]
    devices = devices or [d.name for d in tf.config.list_logical_devices("CPU")]
    strategy = tf.distribute.MirroredStrategy(devices)
    return strategy.num_replicas_in_sync, strategy.scope


DISTRIBUTIONS = {
    "mirrored": Distribution(place=mirrored),
    "data_parallel": Distribution(
        why_not="keras.distribution's DataParallel spreads fit on JAX; TensorFlow's fit is "
        "spread by tf.distribute"
    ),
}
