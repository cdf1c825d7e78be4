"""The prior ``p(z)``: the standard normal, or the VampPrior, a mixture of learned posteriors.

``model.prior`` picks one:

- ``normal``: ``N(0, I)``; the KL term has its closed form (:mod:`.objective`).
- ``vamp`` (Tomczak and Welling 2018, "VAE with a VampPrior", eq. 9):
  ``p(z) = (1/K) sum_k q(z | u_k)``, the encoder's posteriors at ``K`` pseudo-inputs ``u_k``
  (``model.pseudo_inputs``), images learned with the rest of the model. As in the authors' code
  they start near ``N(0.05, 0.01)`` and pass through a hard tanh, ``min(max(u, 0), 1)``, so they
  stay images. The KL has no closed form: each image's term is the single-sample estimate
  ``log q(z|x) - log p(z)`` at its sampled ``z`` (their eq. 8), and the model computes
  ``log p(z)`` in its forward pass (the pseudo-inputs through the encoder), so that it travels in
  the model's ``posterior`` output to whichever loss reads it. ``vaekit evaluate`` uses the
  mixture's density in the importance weights, and ``generate`` draws ``z`` from it (a component
  at random, then its Gaussian).

Example:
    >>> import numpy as np
    >>> z = np.zeros((3, 2), "float32")
    >>> means, log_vars = np.zeros((4, 2), "float32"), np.zeros((4, 2), "float32")
    >>> np.round(np.asarray(mixture_log_prob(z, means, log_vars)), 4)  # four equal N(0, I)
    array([-1.8379, -1.8379, -1.8379], dtype=float32)
    >>> tuple(PseudoInputs(count=5, shape=(4, 4, 1)).images().shape)
    (5, 4, 4, 1)
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from vaekit.models.objective import log_normal

SERIALIZABLE = keras.saving.register_keras_serializable(package="vaekit")
# The pseudo-inputs' initial values, those of the VampPrior authors' MNIST runs.
PSEUDO_INPUT_MEAN, PSEUDO_INPUT_STDDEV = 0.05, 0.01


def mixture_log_prob(z, means, log_vars):
    """``log (1/K) sum_k N(z; means_k, exp(log_vars_k))`` of each row of ``z`` (B, D): (B,).

    ``means`` and ``log_vars`` are the K components, (K, D) each.
    """
    z = ops.cast(z, "float32")
    components = log_normal(z[:, None, :], means[None, :, :], log_vars[None, :, :])  # (B, K)
    count = ops.cast(ops.shape(means)[0], "float32")
    return ops.logsumexp(components, axis=1) - ops.log(count)


def mixture_log_prob_numpy(z, means, log_vars, chunk: int = 256) -> np.ndarray:
    """:func:`mixture_log_prob` in float64 NumPy, for any leading shape of ``z`` (..., D).

    Rows go ``chunk`` at a time, so memory is ``chunk x K x D`` floats whatever ``z`` holds.
    """
    z = np.asarray(z, np.float64)
    means, log_vars = np.asarray(means, np.float64), np.asarray(log_vars, np.float64)
    flat = z.reshape(-1, z.shape[-1])
    out = np.empty(len(flat))
    inverse = np.exp(-log_vars)
    constant = -0.5 * np.sum(math.log(2.0 * math.pi) + log_vars, axis=-1)  # (K,)
    for start in range(0, len(flat), chunk):
        rows = flat[start : start + chunk, None, :]  # (c, 1, D)
        components = constant - 0.5 * np.sum(np.square(rows - means) * inverse, axis=-1)
        top = components.max(axis=1, keepdims=True)
        total = np.log(np.sum(np.exp(components - top), axis=1)) + top[:, 0]
        out[start : start + chunk] = total - math.log(len(means))
    return out.reshape(z.shape[:-1])


@SERIALIZABLE
class PseudoInputs(keras.layers.Layer):
    """The VampPrior's ``K`` learned pseudo-inputs, images of the model's input shape.

    :meth:`images` gives them clipped to [0, 1] (the authors' hard tanh). The layer takes no
    input; the model builds it and calls :meth:`images`.

    Args:
        count: K, the mixture's components.
        shape: (H, W, C) of an image.
        seed: seed of their initial values (None: from Keras's global seed).
    """

    def __init__(self, count: int, shape, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.count, self.image_shape, self.seed = int(count), tuple(shape), seed
        self.values = self.add_weight(
            shape=(self.count, *self.image_shape),
            initializer=keras.initializers.RandomNormal(
                PSEUDO_INPUT_MEAN, PSEUDO_INPUT_STDDEV, seed=seed
            ),
            trainable=True,
            name="pseudo_inputs",
        )
        self.built = True

    def images(self):
        """The pseudo-inputs in [0, 1]: (K, H, W, C)."""
        return ops.clip(ops.cast(self.values, "float32"), 0.0, 1.0)

    def call(self, inputs=None):
        return self.images()

    def get_config(self):
        return {
            **super().get_config(),
            "count": self.count,
            "shape": list(self.image_shape),
            "seed": self.seed,
        }


def sample_mixture(means, log_vars, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` draws of the mixture: a component uniformly at random, then its Gaussian: (n, D)."""
    means, log_vars = np.asarray(means, np.float64), np.asarray(log_vars, np.float64)
    chosen = rng.integers(len(means), size=n)
    noise = rng.standard_normal((n, means.shape[1]))
    return (means[chosen] + np.exp(0.5 * log_vars[chosen]) * noise).astype(np.float32)
