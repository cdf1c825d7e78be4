"""The VAE's custom layers and the Keras losses of its two terms, in ``keras.ops``.

The terms themselves (the reconstruction from the decoder's logits and the weighted KL, in the
reference or the ELBO convention) are :mod:`vaekit.models.objective`'s, computed in float32 also
under mixed precision; the layers and losses here hand them to Keras in the four wirings.

Example:
    >>> import numpy as np
    >>> mu, log_var = np.zeros((4, 2), "float32"), np.zeros((4, 2), "float32")
    >>> layer = KLDivergenceLayer(kl_factor=1.0)
    >>> _ = layer([mu, log_var]); float(layer.losses[0])
    0.0
    >>> tuple(Sampling(seed=1)([mu, log_var]).shape)
    (4, 2)
"""

from __future__ import annotations

import keras
from keras import ops

from vaekit import backends
from vaekit.models import posterior
from vaekit.models.divergences import DIVERGENCES, divergence_term
from vaekit.models.objective import Objective, reconstruction_per_image

SERIALIZABLE = keras.saving.register_keras_serializable(package="vaekit")


@SERIALIZABLE
class Sampling(keras.layers.Layer):
    """Draws ``z = mu + exp(log_var / 2) * eps`` with ``eps ~ N(0, I)``.

    The noise comes from a ``keras.random.SeedGenerator`` whose state is a variable of this layer,
    so it is saved with the model and a resumed run continues the same noise stream.

    Args:
        seed: integer seed of the noise stream, or None for a random one.
    """

    def __init__(self, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        mu, log_var = inputs
        mu32, log_var32 = ops.cast(mu, "float32"), ops.cast(log_var, "float32")
        # One device's noise also where a replica holds part of the batch (vaekit.distribute).
        epsilon = backends.current.normal(ops.shape(mu), self.seed_generator)
        return ops.cast(mu32 + ops.exp(log_var32 / 2.0) * epsilon, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def _objective(values, kl_factor) -> Objective:
    return Objective.from_dict(values, kl_factor=kl_factor)


@SERIALIZABLE
class KLDivergenceLayer(keras.layers.Layer):
    """Adds the weighted KL term with ``add_loss`` and returns ``[mu, log_var]`` unchanged.

    This is the "layer" KL strategy: the loss lives in the encoder, so any model built on the
    encoder trains with it. With a divergence that reads the sample (``beta_tc``,
    :mod:`vaekit.models.divergences`) it takes and returns ``[mu, log_var, z]`` and adds that
    divergence's term instead.

    Args:
        kl_factor: weight of the KL term (>= 0) of the reference convention.
        objective: the :class:`~vaekit.models.objective.Objective` as a dict (None: the
            reference convention with ``kl_factor``). A KL schedule gives this layer a
            non-trainable ``kl_scale`` weight, the schedule's multiplier.
    """

    def __init__(self, kl_factor: float, objective: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        self.kl_factor = kl_factor
        self.objective = objective
        self._objective = _objective(objective, kl_factor)
        self.kl_scale = None

    def build(self, input_shape):
        if self._objective.scheduled:
            self.kl_scale = self.add_weight(
                shape=(), initializer="ones", trainable=False, name="kl_scale"
            )

    def call(self, inputs):
        # [mu, log_var], or [mu, log_var, z] for a divergence that reads the sample (beta_tc)
        mu, log_var, z = (*inputs, None)[:3]
        self.add_loss(divergence_term(self._objective, mu, log_var, z, scale=self.kl_scale))
        return list(inputs)

    @property
    def reads_sample(self) -> bool:
        return DIVERGENCES[self._objective.divergence].reads_sample

    def compute_output_shape(self, input_shape):
        return list(input_shape)

    def get_config(self):
        return {**super().get_config(), "kl_factor": self.kl_factor, "objective": self.objective}


@SERIALIZABLE
class KLLoss(keras.losses.Loss):
    """A Keras loss on the concatenated ``[mu, log_var]`` output; ``y_true`` is ignored.

    Used by the "multi_output" strategy. The output holds what :mod:`vaekit.models.posterior`
    lists (the sample, prior draws, ``log p(z)`` where the objective needs them); with a KL
    schedule it carries the schedule's multiplier as a last column, ``[..., scale]``. Each
    sample gets the batch's KL term (free bits act on the batch's mean KL per dimension, not on
    one image), so Keras's mean over the batch gives exactly the term the other wirings add.

    Args:
        kl_factor: weight of the KL term (>= 0) of the reference convention.
        objective: the :class:`~vaekit.models.objective.Objective` as a dict (None: reference).
    """

    def __init__(
        self, kl_factor: float, objective: dict | None = None, name: str = "kl_loss", **kwargs
    ):
        super().__init__(name=name, **kwargs)
        self.kl_factor = kl_factor
        self.objective = objective
        self._objective = _objective(objective, kl_factor)

    def call(self, y_true, y_pred):
        y_pred = ops.cast(y_pred, "float32")
        scale = None
        if self._objective.scheduled:
            scale = y_pred[:, -1]  # (B,), the same value in every row
            y_pred, scale = y_pred[:, :-1], ops.mean(scale)
        parts = posterior.split(self._objective, y_pred)
        term = divergence_term(self._objective, *parts[:4], scale, parts.log_prior)
        return term * ops.ones_like(parts.mu[:, 0])  # (B,)

    def get_config(self):
        return {**super().get_config(), "kl_factor": self.kl_factor, "objective": self.objective}


@SERIALIZABLE
class ReconstructionLoss(keras.losses.Loss):
    """``-log p(x | z)`` of each image from the decoder's logits, in the objective's convention.

    The per-pixel mean (reference) or the sum over pixels (elbo); Keras averages over the batch.

    Args:
        objective: the :class:`~vaekit.models.objective.Objective` as a dict (None: reference).
    """

    def __init__(self, objective: dict | None = None, name: str = "reconstruction", **kwargs):
        super().__init__(name=name, **kwargs)
        self.objective = objective
        self._objective = _objective(objective, 0.0)

    def call(self, y_true, y_pred):
        return reconstruction_per_image(self._objective, y_true, y_pred)

    def get_config(self):
        return {**super().get_config(), "objective": self.objective}


@SERIALIZABLE
class OneHotLabels(keras.layers.Layer):
    """A conditional model's labels as one vector: each column one-hot, side by side.

    Integer labels (B, F), column ``j`` in ``0 .. levels[j] - 1``, become (B, sum(levels)) in
    the layer's dtype. A class label is one column; the factors of ``shapes`` are five.

    Args:
        levels: the values each column takes (the classes, or each factor's levels).

    Example:
        >>> import numpy as np
        >>> np.asarray(OneHotLabels([2, 3])(np.array([[1, 2]]))).tolist()
        [[0.0, 1.0, 0.0, 0.0, 1.0]]
    """

    def __init__(self, levels, **kwargs):
        super().__init__(**kwargs)
        self.levels = [int(level) for level in levels]

    def call(self, labels):
        labels = ops.cast(labels, "int32")
        columns = [
            ops.one_hot(labels[:, j], level, dtype=self.compute_dtype)
            for j, level in enumerate(self.levels)
        ]
        return columns[0] if len(columns) == 1 else ops.concatenate(columns, axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], sum(self.levels))

    def get_config(self):
        return {**super().get_config(), "levels": list(self.levels)}


@SERIALIZABLE
class LogScale(keras.layers.Layer):
    """A learned log standard deviation per channel, appended to the logits: (B, H, W, 2C).

    The gaussian likelihood with ``gaussian_sigma: learned`` reads it from the training output.

    Args:
        channels: image channels.
    """

    def __init__(self, channels: int, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels
        self.log_sigma = None

    def build(self, input_shape):
        self.log_sigma = self.add_weight(
            shape=(self.channels,), initializer="zeros", trainable=True, name="log_sigma"
        )

    def call(self, logits):
        logits = ops.cast(logits, "float32")
        log_sigma = ops.broadcast_to(ops.cast(self.log_sigma, "float32"), ops.shape(logits))
        return ops.concatenate([logits, log_sigma], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 2 * input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}
