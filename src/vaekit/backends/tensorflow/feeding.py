"""TensorFlow's feeding: ``tf.data``, with the epoch's order and each batch's gather in the input
graph. It gives the batches of :class:`vaekit.backends.feeding.EpochBatches`, the other backends'
feeding: the same images in the same order (dynamic binarization draws its samples with
TensorFlow's own generator).
"""

from __future__ import annotations

import tensorflow as tf

from vaekit.backends.feeding import prefetch_depth


def _loader(feed):
    """A function from a batch of indices to the float32 images, in TensorFlow ops."""
    images = feed.images

    def scaled(batch):
        return tf.cast(batch, tf.float32) / 255.0 if batch.dtype == tf.uint8 else batch

    if images.in_memory:
        source = tf.constant(images.array)  # one copy, shared by every epoch

        def gather(indices):
            return scaled(tf.gather(source, indices))  # (B, H, W, C)

        return gather
    dtype = tf.as_dtype(feed.raw_dtype)

    def read(indices):  # files (or a memory map): only this batch is read
        batch = tf.numpy_function(images.take_raw, [indices], dtype, stateful=False)
        return scaled(tf.ensure_shape(batch, [None, *images.shape]))

    return read


def make_dataset(feed):
    """The batches of ``feed`` (a :class:`vaekit.datasets.pipeline.Feed`) as a
    ``tf.data.Dataset`` (whole batches: ``tf.distribute`` splits them over the replicas)."""
    images, stream, targets = feed.images, feed.stream, feed.targets
    load = _loader(feed)
    label_rows = None if feed.labels is None else tf.constant(feed.labels)  # (N, F) int32

    def batches_of_epoch(epoch):
        order = tf.numpy_function(lambda e: stream.order(int(e)), [epoch], tf.int64, stateful=False)
        order = tf.ensure_shape(order, [stream.used])
        batches = tf.data.Dataset.from_tensor_slices(order).batch(stream.batch_size)
        return batches.enumerate().map(lambda step, indices: (epoch, step, indices))

    def to_example(epoch, step, indices):
        batch = load(indices)  # (B, H, W, C) float32
        if feed.binarize_seed is not None:  # a Bernoulli sample of this batch: (seed, epoch, step)
            key = tf.stack([tf.constant(feed.binarize_seed, tf.int64) * 1_000_003 + epoch, step])
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
