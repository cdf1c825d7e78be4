"""Streams training batches: one index permutation per epoch, a batch of images per step, prefetch.

This module says which images each batch holds and what it becomes (a :class:`Feed`); each
backend feeds them its own way (``make_dataset`` of :mod:`vaekit.backends`): ``tf.data`` on
TensorFlow, a ``PyDataset`` (:class:`vaekit.backends.feeding.EpochBatches`) on JAX and PyTorch;
both give the same images in the same order (dynamic binarization draws its samples with each
one's own generator).

The data set is never copied per epoch: each epoch only draws a permutation of the indices (from
``(seed, epoch)``, so it is reproducible and a resumed run sees the same order, whatever the
source), and each batch gathers its images by index: from the one array in memory (uint8 scaled to
[0, 1] per batch), or, for files and memory maps, read and decoded for that batch alone, several
batches at once in parallel. So memory does not grow with the number of images on disk.

Example:
    >>> import numpy as np
    >>> images = np.random.default_rng(0).random((10, 4, 4, 1), dtype="float32")
    >>> batches = make_dataset(images, batch_size=4, seed=0, epochs=1)
    >>> [tuple(batch[0].shape) for batch in batches]
    [(4, 4, 4, 1), (4, 4, 4, 1), (2, 4, 4, 1)]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np

from vaekit import backends, distribute
from vaekit.backends.feeding import EpochBatches
from vaekit.datasets.binarize import dynamic_seed
from vaekit.datasets.images import ArrayImages, Images
from vaekit.errors import ConfigError


def epoch_order(n: int, seed: int, epoch: int, shuffle: bool = True) -> np.ndarray:
    """The image order of one epoch: a permutation drawn from ``(seed, epoch)``, or 0..n-1."""
    if not shuffle:
        return np.arange(n, dtype=np.int64)
    return np.random.default_rng([seed, epoch]).permutation(n).astype(np.int64)


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Batches in one epoch; the last one may be smaller."""
    return math.ceil(n / batch_size)


def batch_sizes(count: int, batch_size: int) -> set[int]:
    """The sizes of the batches ``count`` images make: whole ones, and a last, smaller one.

    >>> sorted(batch_sizes(65, 64)), sorted(batch_sizes(10, 64))
    ([1, 64], [10])
    """
    return {min(batch_size, count)} | ({count % batch_size} if count % batch_size else set())


def check_steps_per_execution(n: int, batch_size: int, per_execution: int, first_step: int = 0):
    """Raise a ``ConfigError`` unless ``per_execution`` steps divide every pass evenly.

    Keras runs ``steps_per_execution`` steps per call and does not shorten the last call of an
    epoch; on this stream of batches (all epochs in one) a longer call would take the next epoch's
    first batches, so each pass (an epoch, and the rest of one after a mid-epoch resume) must be a
    multiple of it.

    Example:
        >>> check_steps_per_execution(600, 100, 3)
        >>> check_steps_per_execution(600, 100, 4)
        Traceback (most recent call last):
        ...
        vaekit.errors.ConfigError: train.steps_per_execution: got 4, which does not divide ...
    """
    steps = steps_per_epoch(n, batch_size)
    passes = {steps: f"the {steps} steps of an epoch ({n} images in batches of {batch_size})"}
    if first_step:
        passes[steps - first_step] = f"the {steps - first_step} steps left of the resumed epoch"
    for count, what in passes.items():
        if count % per_execution:
            divisors = [d for d in range(1, min(count, 64) + 1) if count % d == 0]
            raise ConfigError(
                f"train.steps_per_execution: got {per_execution}, which does not divide {what}; "
                f"use one of {', '.join(map(str, divisors))}"
            )


def as_images(images) -> Images:
    """An image set, or an (N, H, W, C) array (uint8 0..255 or float32 in [0, 1]) wrapped as one."""
    return images if hasattr(images, "take_raw") else ArrayImages(np.asarray(images))


def make_dataset(
    images,
    batch_size: int,
    *,
    targets: Callable | None = None,
    shuffle: bool = True,
    seed: int = 0,
    first_epoch: int = 0,
    epochs: int = 1,
    first_step: int = 0,
    binarize_seed: int | None = None,
    spread: bool = True,
    labels: np.ndarray | None = None,
):
    """Batches ``(x, y)`` for epochs ``first_epoch .. epochs - 1``, for ``model.fit``.

    Args:
        images: an image set (:mod:`vaekit.datasets.images`) or an (N, H, W, C) array.
        batch_size: images per batch.
        targets: maps a batch of images to the ``y`` the model trains on (identity if None).
        shuffle: draw a fresh permutation each epoch.
        seed: seed of the permutations.
        first_epoch, epochs: the epochs to produce; pass ``steps_per_epoch`` to ``fit``.
        first_step: batches of ``first_epoch`` already done (a mid-epoch resume skips them).
        binarize_seed: not None: dynamic binarization, a fresh Bernoulli sample of every batch
            drawn from ``(binarize_seed, epoch, step)`` (see :mod:`vaekit.datasets.binarize`).
        spread: for a run spread over devices (:mod:`vaekit.distribute`), cut and shard the
            batches as it trains on them; False gives every image (encoding, predicting).
        labels: a conditional model's label rows (N, F), one per image: then ``x`` is
            ``(images, labels)`` (:mod:`vaekit.models.conditions`).
    """
    targets = targets or (lambda x: x)
    images = as_images(images)
    placement = distribute.active() if spread else distribute.Placement()
    stream = Stream(
        len(images), batch_size, shuffle, seed, first_epoch, epochs, first_step, placement
    )
    if labels is not None:
        labels = np.asarray(labels, np.int32)
        if len(labels) != len(images):
            raise ValueError(f"labels: {len(labels)} rows for {len(images)} images")
    return backends.current.make_dataset(Feed(images, stream, targets, binarize_seed, labels))


class Stream:
    """The batches of indices of :func:`make_dataset`: which images, in which order, and, where
    the run is spread over devices (:mod:`vaekit.distribute`), which of them this process reads.

    Each epoch trains on its first :attr:`used` images of the order (the last batch cut to split
    evenly over the devices); :attr:`rows` is this process's part of every batch.

    Example:
        >>> stream = Stream(10, 4, shuffle=False, seed=0, first_epoch=0, epochs=1, first_step=0)
        >>> stream.steps, stream.batch(0, 2).tolist()
        (3, [8, 9])
    """

    def __init__(
        self, n, batch_size, shuffle, seed, first_epoch, epochs, first_step, placement=None
    ):
        self.placement = placement or distribute.Placement()
        self.n, self.batch_size, self.shuffle, self.seed = n, batch_size, shuffle, seed
        self.first_epoch, self.epochs, self.first_step = first_epoch, epochs, first_step
        self.used = self.placement.usable(n, batch_size)
        self.steps = steps_per_epoch(self.used, batch_size)

    def order(self, epoch: int) -> np.ndarray:
        """The epoch's image order, cut to the images it trains on."""
        return epoch_order(self.n, self.seed, epoch, self.shuffle)[: self.used]

    def batch(self, epoch: int, step: int, order: np.ndarray | None = None) -> np.ndarray:
        """The indices of one whole (global) batch."""
        order = self.order(epoch) if order is None else order
        return order[step * self.batch_size : (step + 1) * self.batch_size]

    def rows(self, count: int) -> slice:
        """This process's rows of a batch of ``count`` images (all of them with one process)."""
        return self.placement.shard(count)


@dataclass(frozen=True, eq=False)
class Feed:
    """What a backend's ``make_dataset`` turns into batches: the images, their order, what each
    batch becomes (the targets, the labels, a dynamic binarization's sample).

    Args:
        images: an image set (:mod:`vaekit.datasets.images`).
        stream: which images each batch holds (:class:`Stream`).
        targets: maps a batch of images to the ``y`` the model trains on.
        binarize_seed: not None: dynamic binarization from ``(binarize_seed, epoch, step)``.
        labels: a conditional model's label rows (N, F) int32, or None.
    """

    images: Images
    stream: Stream
    targets: Callable
    binarize_seed: int | None = None
    labels: np.ndarray | None = None

    @property
    def raw_dtype(self) -> np.dtype:
        """The dtype of ``images.take_raw``: an array's own, else uint8 (decoded files)."""
        return (
            self.images.array.dtype if isinstance(self.images, ArrayImages) else np.dtype("uint8")
        )

    def binarize_key(self, epoch: int, step: int) -> list[int]:
        """The seed of a NumPy generator for batch ``step`` of ``epoch``'s binary sample."""
        return dynamic_seed(self.binarize_seed, epoch, step)


def iterate(dataset):
    """Every ``(x, y)`` of a :func:`make_dataset` stream as NumPy arrays, all its epochs, on any
    backend (Keras's ``fit`` reads a ``PyDataset`` one epoch per pass; this reads them all).

    Example:
        >>> import numpy as np
        >>> data = make_dataset(np.zeros((3, 2, 2, 1), "float32"), batch_size=2, epochs=2)
        >>> [len(x) for x, _ in iterate(data)]
        [2, 1, 2, 1]
    """
    if not isinstance(dataset, EpochBatches):  # tf.data
        for x, y in dataset:
            yield np.asarray(x), keras.tree.map_structure(np.asarray, y)
        return
    while dataset.epoch < dataset.end_epoch:
        for index in range(len(dataset)):
            yield dataset[index]
        dataset.on_epoch_end()
