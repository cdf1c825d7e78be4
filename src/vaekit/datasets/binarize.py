"""Binarized images: each pixel of intensity p in [0, 1] becomes 1 with probability p, else 0.

``data.binarize`` chooses how (as in the VAE literature on binarized MNIST):

- ``static``: one fixed sample of every image, drawn once (:func:`binarize_static`). Image ``i``
  of a set gets the sample of ``numpy.random.default_rng([seed, stream, i])``, whatever order or
  batch it is read in, so the sample is reproducible from the recorded seed.
- ``dynamic``: a fresh sample of every batch, every epoch (Burda et al. 2015): the pipeline draws it
  from ``(seed, epoch, step)`` (:mod:`vaekit.datasets.pipeline`), so a resumed run draws the same.

Validation and test images are always one fixed sample (``static``), so evaluations compare.

Example:
    >>> import numpy as np
    >>> from vaekit.datasets.images import ArrayImages
    >>> grey = ArrayImages(np.full((2, 2, 2, 1), 128, np.uint8))
    >>> binary = binarize_static(grey, seed=0, stream=TEST_STREAM)
    >>> sorted(np.unique(binary.take([0, 1])).tolist())
    [0.0, 1.0]
    >>> np.array_equal(binary.take([1]), binarize_static(grey, 0, TEST_STREAM).take([1]))
    True
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from vaekit.datasets.images import ArrayImages, Images, to_float

# One noise stream per split, so image i of each gets different noise (dynamic binarization of
# training batches uses stream 2, see dynamic_seed).
TRAIN_STREAM, TEST_STREAM, HELD_OUT_STREAM = 0, 1, 3


def sample(batch: np.ndarray, seeds) -> np.ndarray:
    """Bernoulli samples (uint8 0 or 255) of a batch, image ``j`` from ``default_rng(seeds[j])``."""
    probabilities = to_float(batch)
    out = np.empty(batch.shape, np.uint8)
    for j, seed in enumerate(seeds):
        uniform = np.random.default_rng(seed).random(batch.shape[1:], dtype=np.float32)
        out[j] = np.where(uniform < probabilities[j], 255, 0)
    return out


@dataclass(frozen=True, eq=False)
class BinarizedImages:
    """A fixed binary sample of an image set, drawn a batch at a time as it is read.

    Args:
        images: the grey-level set.
        seed: the sample's seed.
        stream: :data:`TRAIN_STREAM` or :data:`TEST_STREAM`.
        positions: the index of each image in the set the sample was keyed on (after a subset).
    """

    images: Images
    seed: int
    stream: int
    positions: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.images)

    @property
    def shape(self):
        return self.images.shape

    @property
    def labels(self):
        return self.images.labels

    @property
    def factors(self):
        return getattr(self.images, "factors", None)

    @property
    def in_memory(self) -> bool:
        return False

    def take_raw(self, indices) -> np.ndarray:
        indices = np.asarray(indices)
        keys = indices if self.positions is None else self.positions[indices]
        return sample(self.images.take_raw(indices), [[self.seed, self.stream, k] for k in keys])

    def take(self, indices) -> np.ndarray:
        return to_float(self.take_raw(indices))

    def subset(self, indices) -> BinarizedImages:
        keys = np.arange(len(self))[indices]
        keys = keys if self.positions is None else self.positions[keys]
        return dataclasses.replace(self, images=self.images.subset(indices), positions=keys)


def binarize_static(images: Images, seed: int, stream: int, chunk: int = 4096) -> Images:
    """One fixed binary sample of ``images``: in memory (uint8 0/255) when the set is in memory,
    else drawn per batch as it is read (:class:`BinarizedImages`)."""
    lazy = BinarizedImages(images, seed, stream)
    if not images.in_memory:
        return lazy
    array = np.empty((len(images), *images.shape), np.uint8)
    for start in range(0, len(images), chunk):
        indices = np.arange(start, min(start + chunk, len(images)))
        array[start : start + chunk] = lazy.take_raw(indices)
    return ArrayImages(array, labels=images.labels, factors=getattr(images, "factors", None))


def dynamic_seed(seed: int, epoch: int, step: int) -> list[int]:
    """The seed of batch ``step`` of ``epoch`` under dynamic binarization (the NumPy path)."""
    return [seed, 2, epoch, step]
