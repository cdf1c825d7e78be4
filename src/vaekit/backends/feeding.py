"""Batches fed from Python: a Keras ``PyDataset`` over a :class:`vaekit.datasets.pipeline.Feed`.

Every backend's ``fit`` reads a ``keras.utils.PyDataset``: it is the feeding of JAX and PyTorch
(the contract's default ``make_dataset``, :mod:`vaekit.backends.base`), while TensorFlow builds a
``tf.data`` pipeline (:mod:`vaekit.backends.tensorflow.feeding`). Both give the same images in the
same order. The data (:mod:`vaekit.datasets.pipeline`) says which images each batch holds and what
it becomes; this module only hands them to Keras, so the backends never import the data.
"""

from __future__ import annotations

import os

import keras
import numpy as np


def prefetch_depth() -> int:
    """Batches read from disk ahead of training (and decoded in parallel): one per core, >= 2."""
    return max(2, os.cpu_count() or 1)


class EpochBatches(keras.utils.PyDataset):
    """A feed's stream as a ``keras.utils.PyDataset`` (JAX and PyTorch; TensorFlow uses
    ``tf.data``).

    One epoch per pass, advanced at its end. Batches read from files are decoded by
    :func:`prefetch_depth` threads (Pillow and NumPy release the GIL), at most that many waiting:
    memory stays bounded by a few batches, whatever the number of images.
    """

    def __init__(self, feed):
        images, stream = feed.images, feed.stream
        ahead = 1 if images.in_memory else prefetch_depth()
        super().__init__(workers=ahead, max_queue_size=ahead)
        self.feed, self.images, self.stream, self.targets = feed, images, stream, feed.targets
        self.batch_size = stream.batch_size
        self.binarize_seed, self.labels = feed.binarize_seed, feed.labels
        self.epoch, self.end_epoch = stream.first_epoch, stream.epochs
        self.order = stream.order(self.epoch)
        self.skip = stream.first_step  # a mid-epoch resume starts its first pass further in
        self.fetched = set()  # the batches of this epoch handed out so far

    def __len__(self):
        return self.stream.steps - self.skip

    def __getitem__(self, index):
        self.fetched.add(index)
        index += self.skip
        indices = self.stream.batch(self.epoch, index, self.order)  # the whole batch's
        rows = self.stream.rows(len(indices))  # this process's part of it
        batch = self.images.take(indices[rows])
        if self.binarize_seed is not None:  # drawn for the whole batch: the same on any devices
            rng = np.random.default_rng(self.feed.binarize_key(self.epoch, index))
            uniform = rng.random((len(indices), *batch.shape[1:]), dtype=np.float32)[rows]
            batch = (uniform < batch).astype(np.float32)
        targets = keras.tree.map_structure(keras.ops.convert_to_numpy, self.targets(batch))
        if self.labels is not None:  # a conditional model's input: (images, labels)
            return (batch, self.labels[indices[rows]]), targets
        return batch, targets

    def on_epoch_end(self):
        # Keras also calls this where no epoch ended: its PyTorch and JAX trainers reset their
        # epoch iterator once before the first epoch (after drawing a batch to build the model,
        # where it is not built). Only an epoch whose every batch was handed out moves on.
        done = len(self.fetched) >= len(self)
        self.fetched = set()
        if not done:
            return
        self.skip = 0
        self.epoch += 1
        self.order = self.stream.order(self.epoch)
