"""TensorBoard logs of a run (``train.tensorboard: true``), with Keras's own callback.

``RUN_DIR/tensorboard/`` gets Keras's :class:`keras.callbacks.TensorBoard` logs (every epoch's
``loss``, ``bce``, ``kl``, ``nelbo`` and their validation values, under ``train/`` and
``validation/``) and, every ``train.tensorboard_images_every`` epochs and after the last one, two
image grids under ``images/``: test images above their reconstructions, and samples decoded from
fixed ``z ~ N(0, I)``. See them with ``tensorboard --logdir RUN_DIR/tensorboard``.

TensorBoard's writer is the ``tensorboard`` package (``pip install 'vaekit[tensorboard]'``), and its
summaries are TensorFlow's, so the logs need TensorFlow installed whatever the Keras backend.

Example:
    >>> available() in (True, False)
    True
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import keras
import numpy as np

from vaekit.errors import ConfigError

INSTALL = "pip install 'vaekit[tensorboard]'"


def available() -> bool:
    """Whether the ``tensorboard`` and ``tensorflow`` packages are installed."""
    return all(importlib.util.find_spec(name) is not None for name in ("tensorboard", "tensorflow"))


def check() -> None:
    """Raise a :class:`ConfigError` naming the install command when the logs cannot be written."""
    if not available():
        raise ConfigError(f"train.tensorboard: needs the tensorboard package; {INSTALL}")


def grid(images: np.ndarray, columns: int) -> np.ndarray:
    """Images (N, H, W, C) tiled into one (rows * H, columns * W, C) image, blank cells black."""
    count, height, width, channels = images.shape
    rows = -(-count // columns)
    canvas = np.zeros((rows * height, columns * width, channels), np.float32)
    for i, image in enumerate(images):
        row, column = divmod(i, columns)
        canvas[row * height : (row + 1) * height, column * width : (column + 1) * width] = image
    return canvas


class ImageSummaries(keras.callbacks.Callback):
    """Writes the reconstruction and sample grids every ``every`` epochs and after the last one.

    Args:
        log_dir: the run's ``tensorboard`` folder; the images go to its ``images`` subfolder.
        vae: the :class:`~vaekit.models.vae.VariationalAutoencoder` being trained.
        originals: a few test images (N, H, W, C) in [0, 1].
        every: epochs between two grids.
        epochs: the run's last epoch (its grid is always written).
        seed: seed of the sampled latent points (the same each time, so grids compare).
        labels: a conditional model's label rows of ``originals``.
    """

    def __init__(
        self, log_dir, vae, originals, every: int, epochs: int, seed: int = 0, labels=None
    ):
        super().__init__()
        self.log_dir = Path(log_dir) / "images"
        self.vae, self.originals = vae, np.asarray(originals, np.float32)
        self.labels = labels
        self.every, self.epochs, self.seed = every, epochs, seed
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every and epoch + 1 != self.epochs:
            return
        import tensorflow as tf  # here, not at the top: summaries are TensorFlow's on any backend

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(str(self.log_dir))
        reconstructions = self.vae.reconstruct(self.originals, labels=self.labels)
        pairs = np.concatenate([self.originals, reconstructions])
        samples = self.vae.generate(16, seed=self.seed)
        step = epoch + 1
        with self._writer.as_default(step=step):
            tf.summary.image("reconstructions", grid(pairs, len(self.originals))[None], step=step)
            tf.summary.image("samples", grid(samples, 4)[None], step=step)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def callbacks(
    log_dir, vae, test, every: int, epochs: int, seed: int = 0, images: bool = True
) -> list:
    """Keras's TensorBoard callback and (with ``images``) :class:`ImageSummaries` for a run.

    A run spread over several processes has no image summaries: they would predict on process 0
    alone, while a prediction spans every process.
    """
    check()
    scalars = keras.callbacks.TensorBoard(str(log_dir), write_graph=False, update_freq="epoch")
    if not images:
        return [scalars]
    count = min(8, len(test))
    shown = np.linspace(0, len(test) - 1, count).astype(int)
    labels = vae.label_rows(test.subset(shown))  # a conditional model's, else None
    summaries = ImageSummaries(log_dir, vae, test.take(shown), every, epochs, seed, labels)
    return [scalars, summaries]
