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

Example:
    >>> from vaekit.config import ModelConfig
    >>> model = build_vae(ModelConfig(kl_strategy="multi_output"))
    >>> type(model).__name__
    'MultiOutputVAE'
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
from keras import ops

from vaekit import backends, choices
from vaekit.config import ModelConfig
from vaekit.models import posterior
from vaekit.models.architecture import build_decoder, build_encoder
from vaekit.models.divergences import DIVERGENCES, divergence_parts, divergence_term
from vaekit.models.layers import (
    SERIALIZABLE,
    KLDivergenceLayer,
    KLLoss,
    LogScale,
    ReconstructionLoss,
)
from vaekit.models.objective import (
    Objective,
    iwae_bound,
    log_weights,
    negative_elbo,
    reconstruction_per_image,
)
from vaekit.models.priors import PseudoInputs, mixture_log_prob
from vaekit.version import __version__


def _versions() -> dict:
    return {"vaekit": __version__, "keras": keras.__version__, "backend": keras.backend.backend()}


class BaseVAE(keras.Model):
    """Shared parts: encoder and decoder, the objective, the metric trackers, serialization.

    The model's output in training is the decoder's *logits* (the input of its sigmoid; with a
    learned gaussian sigma, the logits and log sigma side by side): the losses of
    :mod:`vaekit.models.objective` use them in their stable forms. ``decoder`` itself still gives
    images in [0, 1]. Besides ``loss``, ``bce`` (the reconstruction term in the run's convention)
    and ``kl`` (the weighted KL term), every wiring logs ``nelbo``, the negative ELBO in nats per
    image.

    A conditional model (``model_config["conditional"]``) takes ``(images, labels)``, labels
    (B, F) integers, and its encoder and decoder take the labels too; with the VampPrior
    (``objective["prior"] == "vamp"``) the model holds the pseudo-inputs
    (:class:`~vaekit.models.priors.PseudoInputs`) and computes ``log p(z)`` of its samples.

    Args:
        encoder: a model ``x -> [mu, log_var, z]``.
        decoder: a model ``z -> x_hat``.
        kl_factor: weight of the KL term (reference convention).
        model_config: the :class:`ModelConfig` as a dict, stored so a saved file can be rebuilt.
        versions: vaekit/Keras/backend versions of the file the model was loaded from (filled
            in when None); a saved file records those that write it.
        training_state: where training stood, in a checkpoint (see
            :mod:`vaekit.training.checkpoints`); None in a final model.
        objective: the :class:`~vaekit.models.objective.Objective` as a dict; None (a model saved
            before objectives existed) is the reference convention with ``kl_factor``.
    """

    strategy = ""

    def __init__(
        self,
        encoder,
        decoder,
        kl_factor,
        model_config=None,
        versions=None,
        training_state=None,
        objective=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.kl_factor = kl_factor
        self.model_config = model_config
        self.versions = versions or _versions()
        self.training_state = training_state
        self.objective = objective
        self.loss_settings = Objective.from_dict(objective, kl_factor=kl_factor)
        self.bce_tracker = keras.metrics.Mean(name="bce")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.nelbo_tracker = keras.metrics.Mean(name="nelbo")
        # A divergence other than the KL logs its parts (mi, tc, dwkl; mmd) and may draw from
        # the prior (its own stream: the sampling layer's seed would repeat its noise).
        self.divergence = DIVERGENCES[self.loss_settings.divergence]
        self.part_trackers = {}
        for part in self.divergence.part_names:
            self.part_trackers[part] = keras.metrics.Mean(name=part)
            setattr(self, f"{part}_tracker", self.part_trackers[part])
        settings = self.model_config or {}
        self.conditional = bool(settings.get("conditional"))
        self.prior_noise = None
        if self.divergence.draws_prior:
            seed = settings.get("seed")
            seed = None if seed is None else seed + 1
            self.prior_noise = keras.random.SeedGenerator(seed, name="prior_noise")
        self.pseudo_inputs = None
        if self.loss_settings.prior == "vamp":
            seed = settings.get("seed")
            self.pseudo_inputs = PseudoInputs(
                settings.get("pseudo_inputs", 500),
                encoder.inputs[0].shape[1:],
                seed=None if seed is None else seed + 2,
                name="pseudo_inputs",
            )
            # The encoder up to mu and log_var (no sampling noise drawn for the pseudo-inputs).
            gaussian = keras.Model(encoder.inputs[0], encoder.outputs[:2])
            object.__setattr__(self, "_gaussian_encoder", gaussian)
        # Variables only where the objective needs them: a model saved before objectives existed
        # has none, and loads as it was saved.
        self.kl_scale = None
        if self.loss_settings.scheduled and not self._kl_in_encoder:
            self.kl_scale = self.add_weight(
                shape=(), initializer="ones", trainable=False, name="kl_scale"
            )
        self.log_scale = None
        if self.loss_settings.learned_sigma:
            self.log_scale = LogScale(decoder.output.shape[-1], name="log_scale")
            self.log_scale.build(decoder.output.shape)
        # The decoder up to its sigmoid: the same layers and weights, not tracked a second time.
        logits = decoder.get_layer("decoder_output").input
        inputs = decoder.inputs if self.conditional else decoder.inputs[0]
        object.__setattr__(self, "_logits_decoder", keras.Model(inputs, logits))
        # The encoder and decoder are built functional models, so this model is built too. Saying
        # so matters for "train_step", which never calls the model: unbuilt, Keras would skip its
        # optimizer state on load.
        self.built = True

    _kl_in_encoder = False  # the "layer" wiring's KL layer holds the schedule's variable

    @classmethod
    def make_encoder(cls, config: ModelConfig, objective: Objective | None = None):
        return build_encoder(config)

    @classmethod
    def from_model_config(
        cls, config: ModelConfig, encoder=None, decoder=None, objective: Objective | None = None
    ):
        """Build the encoder and decoder (unless given) and wire them with this strategy."""
        objective = objective or Objective(kl_weight=config.kl_factor)
        objective = dataclasses.replace(objective, prior=config.prior)  # the model's own prior
        return cls(
            encoder=encoder if encoder is not None else cls.make_encoder(config, objective),
            decoder=decoder if decoder is not None else build_decoder(config),
            kl_factor=config.kl_factor,
            model_config=_plain(config),
            objective=objective.to_dict(),
            name=f"vae_{cls.strategy}",
        )

    @property
    def kl_scale_variable(self):
        """The variable holding the KL schedule's multiplier (None without a schedule)."""
        if self._kl_in_encoder:
            return self.encoder.get_layer("kl").kl_scale
        return self.kl_scale

    def split_inputs(self, inputs):
        """``(images, labels)`` of a model input; labels are None unless it is conditional."""
        if self.conditional:
            images, labels = inputs  # both tensors: a Keras call takes no mix of arrays and tensors
            return ops.convert_to_tensor(images), ops.convert_to_tensor(labels, "int32")
        return inputs, None

    def encode(self, images, labels=None, training=None):
        """``[mu, log_var, z]`` of a batch (with its labels, for a conditional model)."""
        return self.encoder([images, labels] if self.conditional else images, training=training)

    def call(self, inputs, training=None):
        images, labels = self.split_inputs(inputs)
        mu, log_var, z = self.encode(images, labels, training=training)
        return self.outputs_of(mu, log_var, z, training, self.draw_prior(z), labels)

    def log_prior(self, z):
        """``log p(z)`` of each sample (B,) under the VampPrior; None under ``N(0, I)``, whose KL
        is closed-form. The pseudo-inputs go through the encoder in inference mode."""
        if self.pseudo_inputs is None:
            return None
        means, log_vars = self._gaussian_encoder(self.pseudo_inputs.images(), training=False)
        return mixture_log_prob(z, ops.cast(means, "float32"), ops.cast(log_vars, "float32"))

    def prior_components(self):
        """The VampPrior's components ``(means, log_vars)``, (K, D) NumPy arrays each; None
        under ``N(0, I)``."""
        if self.pseudo_inputs is None:
            return None
        means, log_vars = self._gaussian_encoder(self.pseudo_inputs.images(), training=False)
        return tuple(np.asarray(ops.convert_to_numpy(v), np.float32) for v in (means, log_vars))

    def draw_prior(self, z):
        """As many draws of ``N(0, I)`` as ``z`` has rows, if the divergence needs them."""
        if self.prior_noise is None:
            return None
        return backends.current.normal(ops.shape(z), self.prior_noise)  # (B, D)

    def outputs_of(self, mu, log_var, z, training=None, prior=None, labels=None):
        """The model's output: what every loss and metric reads, and nothing kept on ``self``.

        ``reconstruction`` is :meth:`training_output`; ``posterior`` holds ``[mu, log_var]``
        and what else the objective reads (:mod:`vaekit.models.posterior`): the sample ``z``,
        the prior draws (zeros when building the losses), ``log p(z)``.
        """
        parts = [ops.cast(mu, "float32"), ops.cast(log_var, "float32")]
        sample, draws, log_prior = posterior.holds(self.loss_settings)
        if sample:
            parts.append(ops.cast(z, "float32"))
        if draws:
            parts.append(ops.zeros_like(parts[0]) if prior is None else ops.cast(prior, "float32"))
        if log_prior:
            parts.append(self.log_prior(z)[:, None])  # (B, 1)
        return {
            "reconstruction": self.training_output(z, training, labels),
            "posterior": ops.concatenate(parts, -1),
        }

    def training_output(self, z, training=None, labels=None):
        """What the losses read: the decoder's logits (and log sigma, when learned)."""
        inputs = [z, labels] if self.conditional else z
        logits = self._logits_decoder(inputs, training=training)
        return self.log_scale(logits) if self.log_scale is not None else logits

    @property
    def z_dim(self) -> int:
        return self.encoder.outputs[0].shape[-1]

    def posterior_parts(self, output) -> posterior.Posterior:
        """The parts of the ``posterior`` output (:mod:`vaekit.models.posterior`)."""
        return posterior.split(self.loss_settings, output, self.z_dim)

    @property
    def posterior_width(self) -> int:
        """Columns of the ``posterior`` output (before the multi_output schedule column)."""
        return posterior.columns(self.loss_settings, self.z_dim)

    @property
    def label_width(self) -> int:
        """Columns of a conditional model's labels (0 for an unconditional one)."""
        if not self.conditional:
            return 0
        return len((self.model_config or {}).get("condition_levels") or ())

    def build_losses(self) -> None:
        """Build the compiled losses from the outputs' shapes, before ``fit`` or ``evaluate``.

        Keras otherwise builds them from a batch it draws out of the data first
        (``Trainer._symbolic_build``): from a ``PyDataset`` (JAX, PyTorch) that draw ends an epoch
        of vaekit's stream, so training would start one epoch ahead, and a mid-epoch resume would
        lose the rest of its epoch. The outputs here come from the decoder alone (no noise drawn).
        """
        if self._compile_loss is None or self._compile_loss.built:
            return
        images = ops.zeros((1, *self.encoder.inputs[0].shape[1:]), "float32")
        zeros = ops.zeros((1, self.z_dim), "float32")
        labels = ops.zeros((1, self.label_width), "int32") if self.conditional else None
        outputs = self.outputs_of(zeros, zeros, zeros, training=False, labels=labels)
        self._compile_loss.build(*self.compiled_loss_inputs(images, outputs))

    def compiled_loss_inputs(self, images, outputs):
        """``(y_true, y_pred)`` of the compiled loss: the reconstruction's alone."""
        return self.targets(images), outputs["reconstruction"]

    def compile_arguments(self) -> dict:
        """The ``compile`` arguments this wiring needs besides the optimizer."""
        return {"loss": ReconstructionLoss(self.objective)}

    def targets(self, images):
        """The ``y`` that ``fit`` pairs with a batch of images."""
        return images

    def track(
        self, images, bce, kl, output=None, mu=None, log_var=None, z=None, prior=None,
        log_prior=None,
    ):  # fmt: skip
        # Weighted by batch size, as Keras weights its own "loss" tracker.
        batch_size = ops.shape(images)[0]
        self.bce_tracker.update_state(bce, sample_weight=batch_size)
        self.kl_tracker.update_state(kl, sample_weight=batch_size)
        if output is not None:
            nelbo = negative_elbo(self.loss_settings, images, output, mu, log_var, z, log_prior)
            self.nelbo_tracker.update_state(nelbo, sample_weight=batch_size)
        if self.part_trackers:
            parts = divergence_parts(self.loss_settings, mu, log_var, z, prior)
            for name, value in parts.items():
                self.part_trackers[name].update_state(value, sample_weight=batch_size)

    # Keras saves weights but not the state of random seed generators. Saving them here makes a
    # loaded model (or resumed run) continue the same sampling and dropout noise stream.
    def _noise_states(self):
        return [gen.state for layer in self._flatten_layers() for gen in layer._seed_generators]

    def save_own_variables(self, store):
        super().save_own_variables(store)
        for i, state in enumerate(self._noise_states()):
            store[f"noise_state_{i}"] = np.array(state)

    def load_own_variables(self, store):
        super().load_own_variables(
            {key: store[key] for key in store.keys() if not key.startswith("noise_state_")}
        )
        for i, state in enumerate(self._noise_states()):
            if f"noise_state_{i}" in store.keys():
                state.assign(store[f"noise_state_{i}"])

    def get_config(self):
        return {
            "name": self.name,
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "kl_factor": self.kl_factor,
            "model_config": self.model_config,
            "versions": _versions(),  # of the vaekit, Keras and backend writing this file
            "training_state": self.training_state,
            "objective": self.objective,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("trainable", None)
        config.pop("dtype", None)
        config.pop("training_state", None)  # a checkpoint's position: read from the file itself
        encoder = keras.saving.deserialize_keras_object(config.pop("encoder"))
        decoder = keras.saving.deserialize_keras_object(config.pop("decoder"))
        return cls(encoder=encoder, decoder=decoder, **config)


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
        term = divergence_term(self.loss_settings, mu, log_var, z, prior, self.kl_scale, log_prior)
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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.iw_noise = None
        if self.loss_settings.iw_samples > 1:
            seed = (self.model_config or {}).get("seed")
            self.iw_noise = keras.random.SeedGenerator(seed, name="iw_noise")

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
        bce = ops.mean(reconstruction_per_image(self.loss_settings, images, output))
        kl = divergence_term(self.loss_settings, mu, log_var, z, prior, self.kl_scale, log_prior)
        loss = bce + kl
        if self.iw_noise is not None:
            # The importance-weighted bound replaces the ELBO as the loss; bce and kl still
            # report the single-sample ELBO's terms.
            loss = -ops.mean(iwae_bound(self._log_weights(images, labels, mu, log_var, training)))
        # Regularisers a user adds to a layer still count, as they would under compile().
        return loss + sum(self.losses), bce, kl, output, mu, log_var, z, prior, log_prior

    def _log_weights(self, images, labels, mu, log_var, training):
        samples = self.loss_settings.iw_samples
        shape = (ops.shape(mu)[0], samples, ops.shape(mu)[-1])
        epsilon = backends.current.normal(shape, self.iw_noise)  # (B, K, D)
        repeated = None if labels is None else ops.repeat(labels, samples, axis=0)  # (B * K, F)
        return log_weights(
            self.loss_settings,
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
                "reconstruction": ReconstructionLoss(self.objective),
                "posterior": KLLoss(self.kl_factor, self.objective),
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
        kl = divergence_term(self.loss_settings, *parts[:4], self.kl_scale, parts.log_prior)
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


def build_vae(
    config: ModelConfig, encoder=None, decoder=None, objective: Objective | None = None
) -> BaseVAE:
    """Build the Keras VAE model of ``config.kl_strategy`` (with ``objective``'s loss)."""
    return STRATEGIES[config.kl_strategy].from_model_config(config, encoder, decoder, objective)


# Settings a model file leaves out while they have their defaults, so that a vaekit from before
# they existed still loads the model.
_NEWER_DEFAULTS = {
    "conditional": False,
    "condition": "class",
    "condition_levels": None,
    "prior": "normal",
    "pseudo_inputs": 500,
}


def _plain(config: ModelConfig) -> dict:
    values = dataclasses.asdict(config)
    values["input_dim"] = list(config.input_dim)
    for key, default in _NEWER_DEFAULTS.items():
        if values[key] == default:
            del values[key]
    return values
