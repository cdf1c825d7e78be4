"""The book's callbacks: a sample image every few batches, and the weights after every epoch.

:class:`~vaekit.compat.gdl.VariationalAutoencoder`'s ``train`` passes both to the vaekit run
(:func:`vaekit.training.run.train_model`) beside vaekit's own.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from PIL import Image

from vaekit.io import atomic_path


class BookSamples(keras.callbacks.Callback):
    """Every ``every`` batches, one image decoded from ``z ~ N(0, I)`` into ``images/`` as
    ``img_EPOCH_BATCH.jpg`` (the book's ``CustomCallback``; epochs counted from 1)."""

    def __init__(self, book, folder, every: int, initial_epoch: int = 0):
        super().__init__()
        self.book, self.folder, self.every = book, Path(folder), int(every)
        self.epoch = initial_epoch
        self.rng = np.random.default_rng(initial_epoch)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        if self.every < 1 or batch % self.every:
            return
        z = self.rng.standard_normal((1, self.book.z_dim)).astype("float32")
        image = np.clip(self.book.vae.decode(z)[0], 0.0, 1.0)
        pixels = np.round(image * 255).astype(np.uint8)
        picture = Image.fromarray(255 - pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
        self.folder.mkdir(parents=True, exist_ok=True)  # gray_r, as the book saves grey ones
        picture.save(self.folder / f"img_{self.epoch:03d}_{batch}.jpg")


class BookWeights(keras.callbacks.Callback):
    """The weights after every epoch: ``weights.weights.h5`` and
    ``weights-EPOCH-LOSS.weights.h5`` (the book's two ``ModelCheckpoint``s)."""

    def __init__(self, book, folder):
        super().__init__()
        self.book, self.folder = book, Path(folder)

    def on_epoch_end(self, epoch, logs=None):
        self.folder.mkdir(parents=True, exist_ok=True)
        loss = (logs or {}).get("loss", float("nan"))
        for name in (f"weights-{epoch + 1:03d}-{loss:.2f}.weights.h5", "weights.weights.h5"):
            with atomic_path(self.folder / name, suffix=".weights.h5") as temporary:
                self.book.vae.model.save_weights(temporary)  # Keras wants the suffix
