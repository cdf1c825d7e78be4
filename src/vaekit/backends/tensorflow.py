"""TensorFlow: ``tf.GradientTape`` for the ``train_step`` wiring, ``tf.data`` feeding, ``tf.config``
device set-up, and two rewritten gradients that make TensorFlow's CPU kernels faster and exact.

**Bias gradients under mixed_bfloat16** (:func:`bias_add`). TensorFlow's CPU ``BiasAddGrad`` sums
a bfloat16 gradient in a bfloat16 accumulator. Over a batch of feature maps (128 x 14 x 14 values
per channel) the running sum stops growing and the bias gradient comes out at 3-10% of its true
value; over a batch of 128 rows it is still off by up to 4%. Keras turns ``ops.add(outputs,
bias)`` into ``tf.nn.bias_add``, so every bias of a bf16 model trained on that gradient, and the
reference model ended 6 epochs 0.006 above float32. :func:`bias_add`'s gradient is a matrix product
``ones @ gradient``: it accumulates in float32, and is faster. JAX and PyTorch sum bf16 in float32
already (their modules have no ``bias_add``).

**LeakyReLU** (:func:`leaky_relu`). TensorFlow's ``LeakyReluGrad`` reads the activation's *input*,
so grappler cannot fuse ``Conv2D + BiasAdd + LeakyRelu`` into one oneDNN kernel in a training
graph. For a positive slope the output has the sign of the input, so the gradient here hands the
output to ``LeakyReluGrad`` instead: the same gradient, bit for bit, and the three ops fuse
(float32 training steps of the reference model 7-12% faster).

**Distribution** (:mod:`vaekit.distribute`): ``tf.distribute.MirroredStrategy``; the model is
built inside its scope, ``tf.data`` batches are split over the replicas by Keras. Keras divides
its compiled and ``add_loss`` losses by the replicas (the gradients are summed over them); the
``train_step`` wiring's loss is divided here (:func:`replicas`), and each replica draws its rows
of the noise of the whole batch (:func:`normal`), so a step equals one device's on that batch.

Example:
    >>> import numpy as np
    >>> np.array(bias_add(np.zeros((2, 3), "float32"), np.arange(3.0, dtype="float32"))).tolist()
    [[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]]
"""

from __future__ import annotations

import contextlib
import os
import warnings

import keras
import tensorflow as tf

NAME = "tensorflow"
# jit_compile "auto": XLA measured slower than graph mode for the reference model on our CPUs
# (docs/benchmarks.md), and faster on GPUs.
AUTO_JIT = {"cpu": False, "gpu": True}
STEPS_PER_EXECUTION = None  # any number: the steps run in one tf.function call


# The train_step wiring: one step of gradient descent on the model's explicit loss.
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
    images = model.images_of(data)
    return model.report(images, *model.loss_terms(images, training=False))


# Devices and threads.
def configure(train) -> dict:
    """Apply ``train``'s device settings (before the runtime starts); returns the device used."""
    from vaekit.errors import ConfigError

    gpus = tf.config.list_physical_devices("GPU")
    if train.device == "gpu" and not gpus:
        raise ConfigError("train.device: got 'gpu', but TensorFlow sees no GPU; use cpu or auto")
    use_gpu = bool(gpus) and train.device != "cpu"
    try:
        if not use_gpu and gpus:
            tf.config.set_visible_devices([], "GPU")
        if use_gpu and train.gpu_memory_limit_mb:
            limit = tf.config.LogicalDeviceConfiguration(memory_limit=train.gpu_memory_limit_mb)
            tf.config.set_logical_device_configuration(gpus[0], [limit])
        elif use_gpu:
            for gpu in gpus:
                tf.config.experimental.set_memory_growth(gpu, True)
        if train.threads:
            tf.config.threading.set_intra_op_parallelism_threads(train.threads)
            tf.config.threading.set_inter_op_parallelism_threads(min(train.threads, 2))
    except RuntimeError as error:  # the runtime started earlier in this process
        warnings.warn(f"device settings kept as they were: {error}", stacklevel=4)
    return {"device": "gpu" if use_gpu else "cpu"}


def gpus() -> list:
    """The GPUs TensorFlow sees, as ``(name, (major, minor) compute capability)``."""
    found = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        found.append((details.get("device_name", gpu.name), details.get("compute_capability")))
    return found


def no_gpu_reason() -> str:
    """Why TensorFlow sees no GPU (called only when it sees none)."""
    if not tf.test.is_built_with_cuda():
        return "this TensorFlow is built without CUDA (tensorflow-cpu); 'vaekit[tensorflow-cuda]'"
    return "TensorFlow is built with CUDA but finds no GPU (driver, CUDA_VISIBLE_DEVICES)"


def threads() -> dict:
    def shown(count: int):
        return count or "0 (one per core)"

    return {
        "tensorflow intra-op": shown(tf.config.threading.get_intra_op_parallelism_threads()),
        "tensorflow inter-op": shown(tf.config.threading.get_inter_op_parallelism_threads()),
        "oneDNN (TF_ENABLE_ONEDNN_OPTS)": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "on (default)"),
    }


# Distribution (vaekit.distribute).
alone = contextlib.nullcontext  # one process


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
    from vaekit.errors import ConfigError

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
    """Refuse several processes (see DISTRIBUTIONS)."""
    from vaekit.errors import ConfigError

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
    "mirrored": mirrored,
    "data_parallel": "keras.distribution's DataParallel spreads fit on JAX; TensorFlow's fit is "
    "spread by tf.distribute",
}


def release_distribution() -> None:
    pass  # a strategy holds no global state: a model built outside its scope runs on one device


def barrier(name: str) -> None:
    pass  # one process


# Feeding: tf.data, with the epoch's order and each batch's gather in the input graph.
def _loader(images):
    """A function from a batch of indices to the float32 images, in TensorFlow ops."""
    from vaekit.datasets.images import ArrayImages

    def scaled(batch):
        return tf.cast(batch, tf.float32) / 255.0 if batch.dtype == tf.uint8 else batch

    if images.in_memory:
        source = tf.constant(images.array)  # one copy, shared by every epoch

        def gather(indices):
            return scaled(tf.gather(source, indices))  # (B, H, W, C)

        return gather
    dtype = tf.as_dtype(images.array.dtype) if isinstance(images, ArrayImages) else tf.uint8

    def read(indices):  # files (or a memory map): only this batch is read
        batch = tf.numpy_function(images.take_raw, [indices], dtype, stateful=False)
        return scaled(tf.ensure_shape(batch, [None, *images.shape]))

    return read


def make_dataset(images, stream, targets, binarize_seed, labels=None):
    """The batches of :func:`vaekit.datasets.pipeline.make_dataset` as a ``tf.data.Dataset``
    (whole batches: ``tf.distribute`` splits them over the replicas)."""
    from vaekit.datasets.pipeline import prefetch_depth

    load = _loader(images)
    label_rows = None if labels is None else tf.constant(labels)  # (N, F) int32

    def batches_of_epoch(epoch):
        order = tf.numpy_function(lambda e: stream.order(int(e)), [epoch], tf.int64, stateful=False)
        order = tf.ensure_shape(order, [stream.used])
        batches = tf.data.Dataset.from_tensor_slices(order).batch(stream.batch_size)
        return batches.enumerate().map(lambda step, indices: (epoch, step, indices))

    def to_example(epoch, step, indices):
        batch = load(indices)  # (B, H, W, C) float32
        if binarize_seed is not None:  # a Bernoulli sample of this batch, from (seed, epoch, step)
            key = tf.stack([tf.constant(binarize_seed, tf.int64) * 1_000_003 + epoch, step])
            uniform = tf.random.stateless_uniform(tf.shape(batch), seed=key)
            batch = tf.cast(uniform < batch, tf.float32)
        if label_rows is not None:  # a conditional model's input: (images, labels)
            return (batch, tf.gather(label_rows, indices)), targets(batch)
        return batch, targets(batch)

    # Batches read from disk are decoded a few at a time, and only a few wait: tf.data's autotuner
    # would otherwise grow its buffers with the run (hundreds of MB of decoded 64x64x3 batches).
    ahead = tf.data.AUTOTUNE if images.in_memory else prefetch_depth()
    # One process: a strategy splits each batch over its replicas, nothing to shard over workers.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return (
        tf.data.Dataset.range(stream.first_epoch, stream.epochs)
        .with_options(options)
        .flat_map(batches_of_epoch)
        .skip(stream.first_step)  # skips index batches only: nothing is gathered for them
        .map(to_example, num_parallel_calls=ahead, deterministic=True)
        .prefetch(ahead)
        # flat_map hides the length; state it so Keras knows where an evaluation pass ends.
        .apply(
            tf.data.experimental.assert_cardinality(
                stream.steps * (stream.epochs - stream.first_epoch) - stream.first_step
            )
        )
    )


# Rewritten gradients (see the module docstring).
def bias_add(x, bias):
    """``x + bias`` (bias over the last axis) with the bias gradient summed in float32."""

    @tf.custom_gradient
    def add(x, bias):
        def gradient(upstream):
            rows = tf.reshape(upstream, (-1, tf.shape(upstream)[-1]))  # (N, C)
            ones = tf.ones((1, tf.shape(rows)[0]), rows.dtype)  # (1, N)
            # A matmul accumulates in float32 (oneDNN/AMX on CPU), unlike BiasAddGrad.
            return upstream, tf.reshape(tf.matmul(ones, rows), (-1,))

        return tf.nn.bias_add(x, bias), gradient

    return add(x, bias)


def leaky_relu(x, negative_slope: float):
    """``leaky_relu(x)`` whose gradient reads the output (same sign as the input for slope > 0)."""

    @tf.custom_gradient
    def activation(x):
        y = tf.nn.leaky_relu(x, alpha=negative_slope)

        def gradient(upstream):
            return tf.raw_ops.LeakyReluGrad(gradients=upstream, features=y, alpha=negative_slope)

        return y, gradient

    return activation(x)
