"""A vaekit model's estimates over an image set, read a batch at a time, with a progress bar.

Each batch of images is encoded once (``model.encoder``: the posterior's ``mu`` and ``log_var``),
then its samples are decoded by :func:`~vaekit.evaluation.estimators.estimate` in chunks of at most
``max_points`` latent points. Image ``i`` of the set draws its noise from ``(seed, i)``, so the
batch size changes nothing but float32 rounding.

Example:
    >>> import vaekit
    >>> vae = vaekit.VariationalAutoencoder(
    ...     encoder_conv_filters=[4, 4, 4], decoder_conv_t_filters=[4, 4, 1], seed=0
    ... )
    >>> images = np.zeros((3, 28, 28, 1), "float32")
    >>> result = evaluate_images(vae.model, images, samples=8, batch_size=2, verbose=0)
    >>> len(result), bool(np.all(result.nelbo >= 0))
    (3, True)
"""

from __future__ import annotations

import sys
import time

import keras
import numpy as np

from vaekit.datasets.pipeline import as_images
from vaekit.evaluation.estimators import (
    DEFAULT_MAX_POINTS,
    Estimates,
    estimate,
    model_log_likelihood,
    model_log_prior,
)
from vaekit.resources import format_seconds


def posterior(model, images: np.ndarray, labels=None) -> tuple[np.ndarray, np.ndarray]:
    """``(mu, log_var)`` of a batch of images (and, for a conditional model, their label rows)
    under a vaekit model, float32 (B, D) each."""
    mu, log_var, _ = model.encode(images, labels, training=False)
    return tuple(np.asarray(keras.ops.convert_to_numpy(v), np.float32) for v in (mu, log_var))


def evaluate_images(
    model,
    images,
    samples: int,
    batch_size: int = 128,
    seed: int = 0,
    max_points: int = DEFAULT_MAX_POINTS,
    verbose: int = 1,
    labels=None,
) -> Estimates:
    """Per-image reconstruction, KL and IWAE estimates (nats) of a vaekit model over ``images``.

    A conditional model's estimates are of ``-log p(x | y)``, with ``labels`` (N, F) rows; under
    a VampPrior the KL and the importance weights use its mixture.

    Args:
        model: a vaekit Keras model (``VariationalAutoencoder.model``).
        images: an (N, H, W, C) array (float32 in [0, 1] or uint8) or an image set of
            :mod:`vaekit.datasets`; binarize it first if the model was trained on binary images.
        samples: K, importance samples per image.
        batch_size: images encoded at a time.
        seed: the noise's seed.
        max_points: at most this many latent points decoded at a time.
        verbose: 1 shows a progress bar (``keras.utils.Progbar``), 0 nothing.
        labels: a conditional model's label rows (N, F).
    """
    images = as_images(images)
    likelihood = model_log_likelihood(model)
    log_prior = model_log_prior(model)
    total = len(images) * samples
    if verbose:
        print(
            f"evaluating {len(images):,} images x K = {samples:,} samples: {total:,} latent "
            f"points, decoded {min(max_points, total):,} at a time",
            file=sys.stderr,
            flush=True,
        )
    # Progress counts latent points (what costs time), after every decoding call: with a large K
    # one batch of images is many calls, and its first update comes within a second.
    bar = keras.utils.Progbar(total, verbose=verbose, unit_name="point")
    timing = _Timing(total, verbose)
    parts = []
    for start in range(0, len(images), batch_size):
        indices = np.arange(start, min(start + batch_size, len(images)))
        batch = images.take(indices)  # (B, H, W, C) float32
        rows = None if labels is None else np.asarray(labels)[indices]
        mu, log_var = posterior(model, batch, rows)

        def progress(points):
            bar.add(points)
            timing.add(points)

        part = estimate(
            likelihood, batch, mu, log_var, samples, seed, indices, max_points, progress,
            rows, log_prior,
        )  # fmt: skip
        parts.append(part)
        bar.add(0, values=[("iwae", float(np.mean(part.iwae)))])
    return Estimates.concatenate(parts)


class _Timing:
    """Says, a second into the evaluation, how long the whole of it will take: timed from the end
    of the first decoding call, whose time is mostly tracing the decoder."""

    def __init__(self, total: int, verbose: int):
        self.total, self.verbose, self.done = total, verbose, 0
        self.started, self.first, self.said = None, 0, not verbose

    def add(self, points: int) -> None:
        self.done += points
        if self.started is None:
            self.started, self.first = time.perf_counter(), self.done
            return
        elapsed = time.perf_counter() - self.started
        if self.said or elapsed < 1.0 or self.done >= self.total:
            return
        self.said = True
        rate = (self.done - self.first) / elapsed
        if rate > 0:
            left = (self.total - self.done) / rate
            print(
                f"\nabout {format_seconds(left)} more at {rate:,.0f} latent points a "
                f"second on this machine (--limit N or a smaller --samples K take less)",
                file=sys.stderr,
                flush=True,
            )
