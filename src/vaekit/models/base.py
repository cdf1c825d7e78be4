"""``BaseVAE``: what the four KL wirings of :mod:`vaekit.models.strategies` share.

The encoder and decoder, the objective, the metric trackers and serialization. The model's
settings are typed: a :class:`~vaekit.config.ModelConfig` (the one source of their defaults) and
an :class:`~vaekit.models.objective.Objective`; its Keras config writes them as dicts, and
:meth:`BaseVAE.from_config` reads the dicts of files written before or since.

Example:
    >>> from vaekit.config import ModelConfig
    >>> from vaekit.models.strategies import build_model
    >>> model = build_model(ModelConfig(kl_strategy="add_loss", z_dim=3))
    >>> isinstance(model, BaseVAE), model.model_config.z_dim, model.objective.convention
    (True, 3, 'reference')
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
from keras import ops

from vaekit import backends
from vaekit.config import ModelConfig
from vaekit.models import posterior
from vaekit.models.architecture import build_decoder, build_encoder
from vaekit.models.divergences import DIVERGENCES, divergence_parts
from vaekit.models.layers import LogScale, ReconstructionLoss
from vaekit.models.objective import Objective, negative_elbo
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

    A conditional model (``model_config.conditional``) takes ``(images, labels)``, labels
    (B, F) integers, and its encoder and decoder take the labels too; with the VampPrior
    (``objective.prior == "vamp"``) the model holds the pseudo-inputs
    (:class:`~vaekit.models.priors.PseudoInputs`) and computes ``log p(z)`` of its samples.

    Args:
        encoder: a model ``x -> [mu, log_var, z]``.
        decoder: a model ``z -> x_hat``.
        kl_factor: weight of the KL term (reference convention).
        model_config: the :class:`ModelConfig` the model was built from, saved with it so a
            file can be rebuilt (None: its defaults).
        versions: vaekit/Keras/backend versions of the file the model was loaded from (filled
            in when None); a saved file records those that write it.
        objective: the :class:`~vaekit.models.objective.Objective` it trains with; None (a model
            saved before objectives existed) is the reference convention with ``kl_factor``.
    """

    strategy = ""

    def __init__(
        self,
        encoder,
        decoder,
        kl_factor,
        model_config=None,
        versions=None,
        objective=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.kl_factor = kl_factor
        self.model_config = model_config or ModelConfig()
        self.versions = versions or _versions()
        self.objective = objective or Objective(kl_weight=kl_factor)
        self.bce_tracker = keras.metrics.Mean(name="bce")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.nelbo_tracker = keras.metrics.Mean(name="nelbo")
        # A divergence other than the KL logs its parts (mi, tc, dwkl; mmd) and may draw from
        # the prior (its own stream: the sampling layer's seed would repeat its noise).
        self.divergence = DIVERGENCES[self.objective.divergence]
        self.part_trackers = {}
        for part in self.divergence.part_names:
            self.part_trackers[part] = keras.metrics.Mean(name=part)
            setattr(self, f"{part}_tracker", self.part_trackers[part])
        self.conditional = self.model_config.conditional
        seed = self.model_config.seed
        self.prior_noise = None
        if self.divergence.draws_prior:
            self.prior_noise = keras.random.SeedGenerator(
                None if seed is None else seed + 1, name="prior_noise"
            )
        self.pseudo_inputs = None
        self._gaussian_encoder = None
        if self.objective.prior == "vamp":
            self.pseudo_inputs = PseudoInputs(
                self.model_config.pseudo_inputs,
                encoder.inputs[0].shape[1:],
                seed=None if seed is None else seed + 2,
                name="pseudo_inputs",
            )
            # The encoder up to mu and log_var (no sampling noise drawn for the pseudo-inputs):
            # the encoder's own layers and weights, which Keras counts and saves once.
            self._gaussian_encoder = keras.Model(
                encoder.inputs[0], encoder.outputs[:2], name="gaussian_encoder"
            )
        self.log_scale = None
        if self.objective.learned_sigma:
            self.log_scale = LogScale(decoder.output.shape[-1], name="log_scale")
        # The decoder up to its sigmoid: the same layers and weights, as above.
        logits = decoder.get_layer("decoder_output").input
        inputs = decoder.inputs if self.conditional else decoder.inputs[0]
        self._logits_decoder = keras.Model(inputs, logits, name="logits_decoder")
        # The encoder and decoder are built functional models, so this model is built now, not
        # at its first call. That matters for "train_step", which never calls the model:
        # unbuilt, Keras would skip its optimizer state on load.
        self.build()

    def build(self, input_shape=None):
        """Create the model's own state: the KL schedule's variable and the learned sigma (the
        encoder and decoder come built). Called once, by the constructor."""
        # Variables only where the objective needs them: a model saved before objectives existed
        # has none, and loads as it was saved.
        self.kl_scale = None
        if self.objective.scheduled and not self._kl_in_encoder:
            self.kl_scale = self.add_weight(
                shape=(), initializer="ones", trainable=False, name="kl_scale"
            )
        if self.log_scale is not None:
            self.log_scale.build(self.decoder.output.shape)

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
            model_config=config,
            objective=objective,
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
        sample, draws, log_prior = posterior.holds(self.objective)
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
        return posterior.split(self.objective, output, self.z_dim)

    @property
    def posterior_width(self) -> int:
        """Columns of the ``posterior`` output (before the multi_output schedule column)."""
        return posterior.columns(self.objective, self.z_dim)

    @property
    def label_width(self) -> int:
        """Columns of a conditional model's labels (0 for an unconditional one)."""
        if not self.conditional:
            return 0
        return len(self.model_config.condition_levels or ())

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
        return {"loss": ReconstructionLoss(self.objective.to_dict())}

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
            nelbo = negative_elbo(self.objective, images, output, mu, log_var, z, log_prior)
            self.nelbo_tracker.update_state(nelbo, sample_weight=batch_size)
        if self.part_trackers:
            parts = divergence_parts(self.objective, mu, log_var, z, prior)
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
        """Keras's config of the model plus its own, the settings as dicts (JSON in a file)."""
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "kl_factor": self.kl_factor,
            "model_config": _plain(self.model_config),
            "versions": _versions(),  # of the vaekit, Keras and backend writing this file
            "objective": self.objective.to_dict(),
        }

    @classmethod
    def from_config(cls, config):
        """The model of :meth:`get_config`'s dict, or of a file written by an earlier vaekit
        (settings it leaves out have their defaults; no objective is the reference one)."""
        config = dict(config)
        # The loading process's precision policy applies, not that of the process that saved.
        config.pop("dtype", None)
        # Files before issue 28 kept where training stood in the model's config; it is beside
        # the model now (vaekit.runs.checkpoints), and read from there.
        config.pop("training_state", None)
        encoder = keras.saving.deserialize_keras_object(config.pop("encoder"))
        decoder = keras.saving.deserialize_keras_object(config.pop("decoder"))
        model_config = model_config_of(config.pop("model_config", None))
        kl_factor = config.pop("kl_factor")
        objective = Objective.from_dict(config.pop("objective", None), kl_factor=kl_factor)
        return cls(
            encoder=encoder,
            decoder=decoder,
            kl_factor=kl_factor,
            model_config=model_config,
            objective=objective,
            **config,
        )


# Settings a model file leaves out while they have their defaults, so that a vaekit from before
# they existed still loads the model.
_NEWER_DEFAULTS = {
    "conditional": False,
    "condition": "class",
    "condition_levels": None,
    "prior": "normal",
    "pseudo_inputs": 500,
}


def model_config_of(values: dict | None) -> ModelConfig:
    """The :class:`ModelConfig` a model file records as a dict: the keys it leaves out (settings
    newer than the file, or left out at their defaults) take :class:`ModelConfig`'s defaults."""
    values = dict(values or {})
    if "input_dim" in values:
        values["input_dim"] = tuple(values["input_dim"])
    return ModelConfig(**values)


def _plain(config: ModelConfig) -> dict:
    """``config`` as a model file records it (see :data:`_NEWER_DEFAULTS`)."""
    values = dataclasses.asdict(config)
    values["input_dim"] = list(config.input_dim)
    for key, default in _NEWER_DEFAULTS.items():
        if values[key] == default:
            del values[key]
    return values
