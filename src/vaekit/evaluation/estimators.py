"""Monte Carlo estimates of a VAE's negative log-likelihood: the ELBO's terms and the IWAE bound.

For an image ``x`` with the Gaussian posterior ``q(z|x) = N(mu, diag(exp(log_var)))`` and ``K``
samples ``z_k ~ q(z|x)``, :func:`estimate` gives, in nats per image:

- ``reconstruction``: ``(1/K) sum_k -log p(x|z_k)``, the mean over the K samples: an unbiased
  estimate of ``E_q[-log p(x|z)]`` (summed over pixels);
- ``kl``: ``KL(q(z|x) || p(z))`` summed over the latent dimensions, in closed form for the
  ``N(0, I)`` prior; for a prior without one (the VampPrior, :mod:`vaekit.models.priors`) the
  mean over the K samples of ``log q(z_k|x) - log p(z_k)``, unbiased;
- ``nelbo``: ``reconstruction + kl``, the negative ELBO;
- ``iwae``: ``-log (1/K) sum_k w_k`` with ``w_k = p(x|z_k) p(z_k) / q(z_k|x)``: an upper bound on
  ``-log p(x)`` in expectation that tightens as K grows and is the negative ELBO in expectation at
  ``K = 1`` (Burda et al. 2016); with the exact posterior every ``w_k`` is ``p(x)``.

Memory stays bounded whatever K is: samples are drawn and decoded in chunks of at most
``max_points`` latent points, and the log-sum-exp runs across chunks (a running maximum and a
running sum of ``exp(log w - maximum)``, in float64 on the host).

A conditional model's likelihood is ``p(x | z, y)`` for the image's label ``y``, and the bound
is on ``-log p(x | y)``.

Noise: image ``i`` (its index in the evaluated set) draws its K samples, in order, from
``numpy.random.default_rng([seed, i])``, so a result is reproducible from ``(seed, K)`` and does not
depend on how images are batched or samples chunked. The densities ``log p(z)`` and ``log q(z|x)``
are evaluated in float64 at the float32 ``z`` the decoder sees.

Example:
    >>> x = np.array([[1.0, 0.0, 1.0]])  # one image of three pixels
    >>> def log_likelihood(images, z):  # Bernoulli(1/2) pixels: the decoder ignores z
    ...     return np.full(len(images), 3 * np.log(0.5))
    >>> result = estimate(log_likelihood, x, np.zeros((1, 2)), np.zeros((1, 2)), samples=100)
    >>> result.iwae.round(4), result.kl  # the posterior is the prior, the exact one: -log p(x)
    (array([2.0794]), array([0.]))
    >>> summary = result.summary()
    >>> round(summary["nelbo"]["mean"], 4), summary["nelbo"]["standard_error"]  # one image: none
    (2.0794, None)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import keras
import numpy as np

from vaekit.errors import VaekitError
from vaekit.models.objective import nll_per_image
from vaekit.models.priors import mixture_log_prob_numpy

LOG_2PI = math.log(2.0 * math.pi)
# Latent points decoded per call: 2048 MNIST images at the reference decoder's widest layer
# (28 x 28 x 32 floats each) take about 200 MB.
DEFAULT_MAX_POINTS = 2048

# log p(x | z) of images (N, ...) at latent points z (N, D), float32: shape (N,); for a
# conditional model it takes their labels (N, F) too, as a third argument
LogLikelihood = Callable[..., object]
# log p(z) of latent points (..., D), float64: shape (...)
LogPrior = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Estimates:
    """Per-image estimates in nats, each of shape (N,) (see the module docstring).

    Args:
        reconstruction: mean over the K samples of ``-log p(x|z_k)``.
        kl: ``KL(q(z|x) || p(z))``: analytic for ``N(0, I)``, else sampled.
        iwae: ``-log (1/K) sum_k w_k``.
    """

    reconstruction: np.ndarray
    kl: np.ndarray
    iwae: np.ndarray

    @property
    def nelbo(self) -> np.ndarray:
        """The negative ELBO of each image: ``reconstruction + kl``."""
        return self.reconstruction + self.kl

    def __len__(self) -> int:
        return len(self.iwae)

    @classmethod
    def concatenate(cls, parts: Sequence[Estimates]) -> Estimates:
        """The estimates of consecutive image batches as one."""
        return cls(
            *(
                np.concatenate([getattr(part, name) for part in parts])
                for name in ("reconstruction", "kl", "iwae")
            )
        )

    def summary(self) -> dict:
        """Mean and standard error over images (``std / sqrt(n)``; None for one image) of
        ``reconstruction``, ``kl``, ``nelbo``, ``iwae`` and ``nelbo_minus_iwae`` (whose paired
        standard error is much smaller than either term's)."""
        terms = {
            "reconstruction": self.reconstruction,
            "kl": self.kl,
            "nelbo": self.nelbo,
            "iwae": self.iwae,
            "nelbo_minus_iwae": self.nelbo - self.iwae,
        }
        return {name: mean_and_standard_error(values) for name, values in terms.items()}


def mean_and_standard_error(values: np.ndarray) -> dict:
    """``{"mean": ..., "standard_error": ...}`` of per-image values (floats; None if undefined)."""
    values = np.asarray(values, dtype=np.float64)
    mean = float(np.mean(values)) if len(values) else None
    error = float(np.std(values, ddof=1) / math.sqrt(len(values))) if len(values) > 1 else None
    return {"mean": mean, "standard_error": error}


def model_log_likelihood(model) -> LogLikelihood:
    """``log p(x|z)`` summed over pixels, of a vaekit model (a :class:`BaseVAE`), for
    :func:`estimate`: its decoder's output in training, read by its own likelihood."""

    def log_likelihood(images, z, labels=None):
        with warnings.catch_warnings():
            # The model's logits decoder is built on the decoder's list of one input; Keras warns
            # about the structure on each new batch shape when it gets that one tensor.
            warnings.filterwarnings("ignore", message="The structure of `inputs`")
            output = model.training_output(z, training=False, labels=labels)  # logits (& sigma)
        return -nll_per_image(model.objective, images, output)

    return log_likelihood


def standard_normal_log_prob(z) -> np.ndarray:
    """``log N(z; 0, I)`` summed over the last axis, float64."""
    return _log_normal(np.asarray(z, np.float64), 0.0, 0.0)


def model_log_prior(model) -> LogPrior | None:
    """``log p(z)`` of a vaekit model's prior for :func:`estimate`: None for ``N(0, I)`` (whose
    KL is analytic), else its VampPrior's mixture (the components computed once, here)."""
    components = model.prior_components()
    if components is None:
        return None
    return lambda z: mixture_log_prob_numpy(z, *components)


def estimate(
    log_likelihood: LogLikelihood,
    images,
    mu,
    log_var,
    samples: int,
    seed: int = 0,
    indices: Sequence[int] | None = None,
    max_points: int = DEFAULT_MAX_POINTS,
    progress: Callable[[int], None] | None = None,
    labels=None,
    log_prior: LogPrior | None = None,
) -> Estimates:
    """Reconstruction, KL and IWAE estimates of a batch of images (see the module docstring).

    Args:
        log_likelihood: ``(images (N, ...), z (N, D) float32) -> log p(x|z)`` of shape (N,), a
            NumPy array or a backend tensor; e.g. :func:`model_log_likelihood`.
        images: (B, ...) float32.
        mu, log_var: the posterior of each image, (B, D).
        samples: K >= 1.
        seed: the noise's seed.
        indices: each image's index in the evaluated set, which keys its noise (default 0..B-1).
        max_points: at most this many latent points per ``log_likelihood`` call (at least one
            image's sample).
        progress: called after each call with the number of latent points it decoded.
        labels: a conditional model's label rows (B, F), passed to ``log_likelihood``.
        log_prior: ``log p(z)`` (None: ``N(0, I)``, whose KL is then analytic).

    Returns:
        :class:`Estimates` of the B images.
    """
    if samples < 1:
        raise VaekitError(f"samples: got {samples}, expected an integer >= 1")
    if max_points < 1:
        raise VaekitError(f"max_points: got {max_points}, expected an integer >= 1")
    images = np.asarray(images, dtype=np.float32)
    mu, log_var = (np.asarray(v, dtype=np.float64) for v in (mu, log_var))
    indices = np.arange(len(images)) if indices is None else np.asarray(indices)
    analytic = log_prior is None
    kl = 0.5 * np.sum(np.square(mu) + np.exp(log_var) - log_var - 1.0, axis=-1)  # (B,)
    reconstruction, iwae, sampled_kl = (np.empty(len(images)) for _ in range(3))
    for start in range(0, len(images), max_points):  # images in groups of at most max_points
        group = slice(start, start + max_points)
        generators = [np.random.default_rng([seed, int(i)]) for i in indices[group]]
        reconstruction[group], iwae[group], sampled_kl[group] = _group(
            log_likelihood,
            images[group],
            mu[group],
            log_var[group],
            samples,
            generators,
            max_points,
            progress,
            None if labels is None else np.asarray(labels)[group],
            log_prior or standard_normal_log_prob,
        )
    return Estimates(reconstruction, kl if analytic else sampled_kl, iwae)


def _group(
    log_likelihood, images, mu, log_var, samples, generators, max_points, progress=None,
    labels=None, log_prior=None,
):  # fmt: skip
    """``(reconstruction, iwae, sampled kl)`` of n <= max_points images, decoding chunks of
    their samples."""
    count, dims = mu.shape
    chunk = max(1, min(samples, max_points // count))  # samples per image per call
    sigma = np.exp(0.5 * log_var)
    running_max = np.full(count, -np.inf)  # max_k log w_k so far
    running_sum = np.zeros(count)  # sum_k exp(log w_k - running_max)
    nll_sum, kl_sum = np.zeros(count), np.zeros(count)
    repeated = {}  # each image's copies, side by side, per chunk size (the last may be shorter)
    for done in range(0, samples, chunk):
        size = min(chunk, samples - done)
        epsilon = np.stack([rng.standard_normal((size, dims)) for rng in generators])  # (n, c, D)
        z = (mu[:, None, :] + sigma[:, None, :] * epsilon).astype(np.float32)  # what is decoded
        if size not in repeated:  # (n * c, ...) images, and (n * c, F) labels or None
            copies = None if labels is None else np.repeat(labels, size, axis=0)
            repeated[size] = (np.repeat(images, size, axis=0), copies)
        copies, copied_labels = repeated[size]
        points = z.reshape(count * size, dims)
        if copied_labels is None:
            values = log_likelihood(copies, points)
        else:
            values = log_likelihood(copies, points, copied_labels)
        log_px = np.asarray(keras.ops.convert_to_numpy(values), np.float64).reshape(count, size)
        z = z.astype(np.float64)
        log_pz = (log_prior or standard_normal_log_prob)(z)  # (n, c)
        log_qz = _log_normal(z, mu[:, None, :], log_var[:, None, :])
        kl_sum += np.sum(log_qz - log_pz, axis=-1)
        log_w = log_px + log_pz - log_qz  # (n, c)
        running_max_before = running_max
        running_max = np.maximum(running_max, np.max(log_w, axis=-1))
        # Shift by the maximum so far (0 while every weight is 0, which keeps exp() defined).
        shift = np.where(np.isneginf(running_max), 0.0, running_max)
        running_sum = running_sum * np.exp(running_max_before - shift) + np.sum(
            np.exp(log_w - shift[:, None]), axis=-1
        )
        nll_sum -= np.sum(log_px, axis=-1)
        if progress is not None:
            progress(count * size)
    with np.errstate(divide="ignore"):  # every weight 0: log 0 = -inf, an infinite estimate
        iwae = -(shift + np.log(running_sum) - math.log(samples))
    return nll_sum / samples, iwae, kl_sum / samples


def _log_normal(z, mu, log_var):
    """``log N(z; mu, diag(exp(log_var)))``, summed over the last axis."""
    return -0.5 * np.sum(LOG_2PI + log_var + np.square(z - mu) * np.exp(-log_var), axis=-1)
