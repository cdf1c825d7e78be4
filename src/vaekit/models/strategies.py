"""The four ways of wiring the KL loss into a VAE, one Keras model class each.

All four compute exactly the same ``loss = bce + kl`` (see :mod:`vaekit.models.layers`) and log
``loss``, ``bce`` and ``kl``; they differ only in where Keras learns about the KL term:

=================  ==========================================================================
``layer`` (0)      a :class:`~.layers.KLDivergenceLayer` inside the encoder calls ``add_loss``
``add_loss`` (1)   the VAE model's own ``call`` calls ``add_loss``; no dedicated layer
``train_step`` (2) a custom ``train_step``/``test_step`` computes both terms and applies gradients
``multi_output``   a second model output ``[mu, log_var]`` with :class:`~.layers.KLLoss`
(3)                as its Keras loss; the first output's loss is the BCE
=================  ==========================================================================

What they share is :class:`~vaekit.models.base.BaseVAE`'s (re-exported here); :data:`STRATEGIES`
names the four classes and :func:`build_model` builds one.

Example:
    >>> from vaekit.config import ModelConfig
    >>> model = build_model(ModelConfig(kl_strategy="multi_output"))
    >>> type(model).__name__
    'MultiOutputVAE'
"""

from __future__ import annotations

import keras
from keras import ops

from vaekit import backends, choices
from vaekit.config import ModelConfig
from vaekit.models.architecture import build_encoder
from vaekit.models.base import BaseVAE
from vaekit.models.divergences import DIVERGENCES, divergence_term
from vaekit.models.layers import SERIALIZABLE, KLDivergenceLayer, KLLoss, ReconstructionLoss
from vaekit.models.objective import Objective, iwae_bound, log_weights, reconstruction_per_image

__all__ = [
    "STRATEGIES", "AddLossVAE", "BaseVAE", "LayerKLVAE", "MultiOutputVAE", "TrainStepVAE",
    "build_model",
]  # fmt: skip


class _AddedLossVAE(BaseVAE):
    """Wirings whose KL term reaches Keras through ``add_loss``: Keras adds ``self.losses``.

    The compiled loss is the reconstruction's alone, on the ``reconstruction`` output.
    """

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        reconstruction = y_pred["reconstruction"]
        total = super().compute_loss(x, y, reconstruction, sample_weight, training=training)
        # Exactly the KL term: no other layer adds a loss. Python's sum, not ops.sum: Keras first
        # traces this method with add_loss losses dropped, and PyTorch cannot stack an empty list
        # (keras-team/keras#19430).
        kl = sum(self.losses)
        bce = _whole(total) - kl
        images, _ = self.split_inputs(x)
        self.track(images, bce, kl, reconstruction, *self.posterior_parts(y_pred["posterior"]))
        return total


@SERIALIZABLE
class LayerKLVAE(_AddedLossVAE):
    """Strategy "layer": the encoder's :class:`KLDivergenceLayer` adds the KL term."""

    strategy = "layer"
    _kl_in_encoder = True

    @classmethod
    def make_encoder(cls, config: ModelConfig, objective: Objective | None = None):
        objective = objective or Objective(kl_weight=config.kl_factor)
        if DIVERGENCES[objective.divergence].draws_prior:
            raise ValueError(
                f"divergence {objective.divergence!r}: kl_strategy 'layer' cannot carry it (the "
                "encoder's KL layer sees no prior draws); use add_loss, train_step or multi_output"
            )
        if config.prior != "normal":
            raise ValueError(
                f"prior {config.prior!r}: kl_strategy 'layer' cannot carry it (the encoder's KL "
                "layer cannot encode the pseudo-inputs); use add_loss, train_step or multi_output"
            )
        layer = KLDivergenceLayer(config.kl_factor, objective=objective.to_dict(), name="kl")
        return build_encoder(config, kl_layer=layer)


@SERIALIZABLE
class AddLossVAE(_AddedLossVAE):
    """Strategy "add_loss": the model's ``call`` adds the KL term itself."""

    strategy = "add_loss"

    def call(self, inputs, training=None):
        images, labels = self.split_inputs(inputs)
        mu, log_var, z = self.encode(images, labels, training=training)
        prior = self.draw_prior(z)
        outputs = self.outputs_of(mu, log_var, z, training, prior, labels)
        log_prior = self.posterior_parts(outputs["posterior"]).log_prior
        term = divergence_term(self.objective, mu, log_var, z, prior, self.kl_scale, log_prior)
        self.add_loss(term)
        return outputs


@SERIALIZABLE
class TrainStepVAE(BaseVAE):
    """Strategy "train_step": explicit BCE + KL in a custom ``train_step`` and ``test_step``.

    The loss is :meth:`loss_terms`, in ``keras.ops``; the step around it is the backend's own
    (:mod:`vaekit.backends`): ``tf.GradientTape`` on TensorFlow, ``backward()`` on PyTorch, and
    on JAX a stateless ``(state, data) -> (logs, state)`` step with ``jax.value_and_grad``.
    """

    strategy = "train_step"

    def build(self, input_shape=None):
        # Its own tracker and noise here: Keras takes no new state once the model is built.
        super().build(input_shape)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.iw_noise = None
        if self.objective.iw_samples > 1:
            self.iw_noise = keras.random.SeedGenerator(self.model_config.seed, name="iw_noise")

    @property
    def metrics(self):
        trackers = [self.loss_tracker, self.bce_tracker, self.kl_tracker, self.nelbo_tracker]
        return trackers + list(self.part_trackers.values())

    def compile_arguments(self) -> dict:
        return {"loss": None}

    def loss_terms(self, inputs, training):
        """``(loss, bce, kl, output, mu, log_var, z, prior, log_prior)`` of a batch (prior: its
        draws of the prior, or None; log_prior: ``log p(z)`` under a VampPrior, or None)."""
        images, labels = self.split_inputs(inputs)
        mu, log_var, z = self.encode(images, labels, training=training)
        output = self.training_output(z, training=training, labels=labels)
        prior = self.draw_prior(z)
        log_prior = self.log_prior(z)
        bce = ops.mean(reconstruction_per_image(self.objective, images, output))
        kl = divergence_term(self.objective, mu, log_var, z, prior, self.kl_scale, log_prior)
        loss = bce + kl
        if self.iw_noise is not None:
            # The importance-weighted bound replaces the ELBO as the loss; bce and kl still
            # report the single-sample ELBO's terms.
            loss = -ops.mean(iwae_bound(self._log_weights(images, labels, mu, log_var, training)))
        # Regularisers a user adds to a layer still count, as they would under compile().
        return loss + sum(self.losses), bce, kl, output, mu, log_var, z, prior, log_prior

    def _log_weights(self, images, labels, mu, log_var, training):
        samples = self.objective.iw_samples
        shape = (ops.shape(mu)[0], samples, ops.shape(mu)[-1])
        epsilon = backends.current.normal(shape, self.iw_noise)  # (B, K, D)
        repeated = None if labels is None else ops.repeat(labels, samples, axis=0)  # (B * K, F)
        return log_weights(
            self.objective,
            images,
            lambda z: self.training_output(z, training=training, labels=repeated),
            mu,
            log_var,
            epsilon,
        )

    # Keras calls train_step(data) on TensorFlow and PyTorch, train_step(state, data) on JAX.
    def train_step(self, *arguments):
        return backends.current.train_step(self, *arguments)

    def test_step(self, *arguments):
        return backends.current.test_step(self, *arguments)

    @staticmethod
    def images_of(data):
        """The model input ``x`` of a batch ``(x, y)``: its images, or ``(images, labels)``."""
        return data[0] if isinstance(data, tuple | list) else data

    def report(
        self, inputs, loss, bce, kl, output, mu, log_var, z=None, prior=None, log_prior=None
    ):
        """Update the metrics with one batch's terms; returns the logs."""
        images, _ = self.split_inputs(inputs)
        self.loss_tracker.update_state(loss, sample_weight=ops.shape(images)[0])
        self.track(images, bce, kl, output, mu, log_var, z, prior, log_prior)
        return {m.name: m.result() for m in self.metrics}


@SERIALIZABLE
class MultiOutputVAE(BaseVAE):
    """Strategy "multi_output": outputs ``reconstruction`` and ``posterior`` (``[mu, log_var]``).

    The BCE is the first output's Keras loss and :class:`KLLoss` the second's.
    """

    strategy = "multi_output"

    def outputs_of(self, mu, log_var, z, training=None, prior=None, labels=None):
        outputs = super().outputs_of(mu, log_var, z, training, prior, labels)
        if self.kl_scale is not None:  # the schedule's multiplier rides along to KLLoss
            posterior = outputs["posterior"]
            scale = ops.ones_like(posterior[:, :1]) * ops.cast(self.kl_scale, "float32")
            outputs["posterior"] = ops.concatenate([posterior, scale], axis=-1)  # (B, 2 D + 1)
        return outputs

    def compile_arguments(self) -> dict:
        return {
            "loss": {
                "reconstruction": ReconstructionLoss(self.objective.to_dict()),
                "posterior": KLLoss(self.kl_factor, self.objective.to_dict()),
            }
        }

    def targets(self, images):
        # KLLoss ignores y_true; Keras still wants one target per output.
        width = self.posterior_width + (self.kl_scale is not None)
        dummy = ops.zeros((ops.shape(images)[0], width), dtype="float32")
        return {"reconstruction": images, "posterior": dummy}

    def compiled_loss_inputs(self, images, outputs):
        return self.targets(images), outputs  # both outputs have their loss

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        total = super().compute_loss(x, y, y_pred, sample_weight, training=training)
        parts = self.posterior_parts(y_pred["posterior"])
        kl = divergence_term(self.objective, *parts[:4], self.kl_scale, parts.log_prior)
        images, _ = self.split_inputs(x)
        self.track(images, _whole(total) - kl, kl, y_pred["reconstruction"], *parts)
        return total


def _whole(total):
    """Keras's total loss as one device's: under ``tf.distribute`` Keras divides its compiled and
    ``add_loss`` losses by the replicas (their gradients are summed), not ``self.losses``."""
    count = backends.current.replicas()
    return total * count if count > 1 else total


STRATEGIES = choices.registry(
    choices.KL_STRATEGIES,
    {cls.strategy: cls for cls in (LayerKLVAE, AddLossVAE, TrainStepVAE, MultiOutputVAE)},
)


def build_model(
    config: ModelConfig, encoder=None, decoder=None, objective: Objective | None = None
) -> BaseVAE:
    """Build the Keras VAE model of ``config.kl_strategy`` (with ``objective``'s loss).

    (:func:`vaekit.training.run.build_vae` builds the compiled wrapper of a whole run.)
    """
    return STRATEGIES[config.kl_strategy].from_model_config(config, encoder, decoder, objective)
