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

from vaekit.config import ModelConfig
from vaekit.errors import ConfigError
from vaekit.models.architecture import build_decoder, build_encoder
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
    kl_term,
    log_weights,
    negative_elbo,
    reconstruction_per_image,
)
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
    backends = ("tensorflow",)  # the Keras backends this wiring trains on today

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
        object.__setattr__(self, "_logits_decoder", keras.Model(decoder.inputs[0], logits))
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

    def call(self, inputs, training=None):
        mu, log_var, z = self.encoder(inputs, training=training)
        self._remember_posterior(mu, log_var)
        return self.training_output(z, training=training)

    def training_output(self, z, training=None):
        """What the losses read: the decoder's logits (and log sigma, when learned)."""
        logits = self._logits_decoder(z, training=training)
        return self.log_scale(logits) if self.log_scale is not None else logits

    def _remember_posterior(self, mu, log_var):
        # compute_loss, called with this call's output in the same step, reads them for the
        # "nelbo" metric; set around Keras's attribute tracking, since they are tensors.
        object.__setattr__(self, "_posterior", (mu, log_var))

    def compile_arguments(self) -> dict:
        """The ``compile`` arguments this wiring needs besides the optimizer."""
        return {"loss": ReconstructionLoss(self.objective)}

    def targets(self, images):
        """The ``y`` that ``fit`` pairs with a batch of images."""
        return images

    def _track(self, images, bce, kl, output=None, mu=None, log_var=None):
        # Weighted by batch size, as Keras weights its own "loss" tracker.
        batch_size = ops.shape(images)[0]
        self.bce_tracker.update_state(bce, sample_weight=batch_size)
        self.kl_tracker.update_state(kl, sample_weight=batch_size)
        if output is not None:
            nelbo = negative_elbo(self.loss_settings, images, output, mu, log_var)
            self.nelbo_tracker.update_state(nelbo, sample_weight=batch_size)

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
    """Wirings whose KL term reaches Keras through ``add_loss``: Keras adds ``self.losses``."""

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        total = super().compute_loss(x, y, y_pred, sample_weight, training=training)
        kl = ops.sum(self.losses)  # exactly the KL term: no other layer adds a loss
        self._track(x, total - kl, kl, y_pred, *self._posterior)
        return total


@SERIALIZABLE
class LayerKLVAE(_AddedLossVAE):
    """Strategy "layer": the encoder's :class:`KLDivergenceLayer` adds the KL term."""

    strategy = "layer"
    _kl_in_encoder = True

    @classmethod
    def make_encoder(cls, config: ModelConfig, objective: Objective | None = None):
        objective = (objective or Objective(kl_weight=config.kl_factor)).to_dict()
        layer = KLDivergenceLayer(config.kl_factor, objective=objective, name="kl")
        return build_encoder(config, kl_layer=layer)


@SERIALIZABLE
class AddLossVAE(_AddedLossVAE):
    """Strategy "add_loss": the model's ``call`` adds the KL term itself."""

    strategy = "add_loss"

    def call(self, inputs, training=None):
        mu, log_var, z = self.encoder(inputs, training=training)
        self._remember_posterior(mu, log_var)
        self.add_loss(kl_term(self.loss_settings, mu, log_var, self.kl_scale))
        return self.training_output(z, training=training)


@SERIALIZABLE
class TrainStepVAE(BaseVAE):
    """Strategy "train_step": explicit BCE + KL in a custom ``train_step`` and ``test_step``.

    Gradients come from ``tf.GradientTape`` on TensorFlow and ``backward()`` on PyTorch.
    """

    strategy = "train_step"
    backends = ("tensorflow", "torch")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.iw_noise = None
        if self.loss_settings.iw_samples > 1:
            seed = (self.model_config or {}).get("seed")
            self.iw_noise = keras.random.SeedGenerator(seed, name="iw_noise")

    @property
    def metrics(self):
        return [self.loss_tracker, self.bce_tracker, self.kl_tracker, self.nelbo_tracker]

    def compile_arguments(self) -> dict:
        return {"loss": None}

    def _loss_terms(self, images, training):
        """``(loss, bce, kl, output, mu, log_var)`` of a batch."""
        mu, log_var, z = self.encoder(images, training=training)
        output = self.training_output(z, training=training)
        bce = ops.mean(reconstruction_per_image(self.loss_settings, images, output))
        kl = kl_term(self.loss_settings, mu, log_var, self.kl_scale)
        loss = bce + kl
        if self.iw_noise is not None:
            # The importance-weighted bound replaces the ELBO as the loss; bce and kl still
            # report the single-sample ELBO's terms.
            loss = -ops.mean(iwae_bound(self._log_weights(images, mu, log_var, training)))
        # Regularisers a user adds to a layer still count, as they would under compile().
        extra = ops.sum(self.losses) if self.losses else 0.0
        return loss + extra, bce, kl, output, mu, log_var

    def _log_weights(self, images, mu, log_var, training):
        samples = self.loss_settings.iw_samples
        shape = (ops.shape(mu)[0], samples, ops.shape(mu)[-1])
        epsilon = keras.random.normal(shape, seed=self.iw_noise)  # (B, K, D)
        return log_weights(
            self.loss_settings,
            images,
            lambda z: self.training_output(z, training=training),
            mu,
            log_var,
            epsilon,
        )

    def train_step(self, data):
        images = data[0] if isinstance(data, tuple | list) else data
        gradients, terms = _GRADIENTS[keras.backend.backend()](self, images)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights, strict=True))
        return self._report(images, *terms)

    def test_step(self, data):
        images = data[0] if isinstance(data, tuple | list) else data
        return self._report(images, *self._loss_terms(images, training=False))

    def _report(self, images, loss, bce, kl, output, mu, log_var):
        self.loss_tracker.update_state(loss, sample_weight=ops.shape(images)[0])
        self._track(images, bce, kl, output, mu, log_var)
        return {m.name: m.result() for m in self.metrics}


def _tensorflow_gradients(model, images):
    import tensorflow as tf  # here, not at the top: only the TensorFlow backend needs it

    with tf.GradientTape() as tape:
        losses = model._loss_terms(images, training=True)
        scaled = model.optimizer.scale_loss(losses[0])  # loss scaling under mixed_float16
    return tape.gradient(scaled, model.trainable_weights), losses


def _torch_gradients(model, images):
    model.zero_grad()
    losses = model._loss_terms(images, training=True)
    model.optimizer.scale_loss(losses[0]).backward()
    return [variable.value.grad for variable in model.trainable_weights], losses


def _jax_gradients(model, images):
    raise NotImplementedError(
        "model.kl_strategy: 'train_step' supports the tensorflow and torch backends; "
        "use 'layer', 'add_loss' or 'multi_output' on jax"
    )


_GRADIENTS = {"tensorflow": _tensorflow_gradients, "torch": _torch_gradients, "jax": _jax_gradients}


@SERIALIZABLE
class MultiOutputVAE(BaseVAE):
    """Strategy "multi_output": outputs ``reconstruction`` and ``posterior`` (``[mu, log_var]``).

    The BCE is the first output's Keras loss and :class:`KLLoss` the second's.
    """

    strategy = "multi_output"

    def call(self, inputs, training=None):
        mu, log_var, z = self.encoder(inputs, training=training)
        parts = [ops.cast(mu, "float32"), ops.cast(log_var, "float32")]
        if self.kl_scale is not None:  # the schedule's multiplier rides along to KLLoss
            parts.append(ops.ones_like(parts[0][:, :1]) * self.kl_scale)
        posterior = ops.concatenate(parts, axis=-1)  # (B, 2 * z_dim [+ 1])
        return {"reconstruction": self.training_output(z, training), "posterior": posterior}

    def compile_arguments(self) -> dict:
        return {
            "loss": {
                "reconstruction": ReconstructionLoss(self.objective),
                "posterior": KLLoss(self.kl_factor, self.objective),
            }
        }

    def targets(self, images):
        # KLLoss ignores y_true; Keras still wants one target per output.
        width = 2 * self.encoder.outputs[0].shape[-1] + (self.kl_scale is not None)
        dummy = ops.zeros((ops.shape(images)[0], width), dtype="float32")
        return {"reconstruction": images, "posterior": dummy}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        total = super().compute_loss(x, y, y_pred, sample_weight, training=training)
        z_dim = self.encoder.outputs[0].shape[-1]
        mu, log_var = y_pred["posterior"][:, :z_dim], y_pred["posterior"][:, z_dim : 2 * z_dim]
        kl = kl_term(self.loss_settings, mu, log_var, self.kl_scale)
        self._track(x, total - kl, kl, y_pred["reconstruction"], mu, log_var)
        return total


STRATEGIES = {cls.strategy: cls for cls in (LayerKLVAE, AddLossVAE, TrainStepVAE, MultiOutputVAE)}


def check_backend(strategy: str, backend: str | None = None) -> None:
    """Raise a :class:`ConfigError` if wiring ``strategy`` does not train on ``backend`` yet.

    The message names the backend, the wiring and what does train. On PyTorch the wirings that go
    through Keras's ``compute_loss`` fail inside Keras; on JAX none trains yet.

    Example:
        >>> check_backend("train_step", "torch")
        >>> check_backend("layer", "torch")
        Traceback (most recent call last):
        ...
        vaekit.errors.ConfigError: model.kl_strategy: 'layer' does not train on the torch ...
    """
    backend = backend or keras.backend.backend()
    if backend in STRATEGIES[strategy].backends:
        return
    working = _wirings(backend)
    if working:
        raise ConfigError(
            f"model.kl_strategy: {strategy!r} does not train on the {backend} backend "
            f"(KERAS_BACKEND={backend}) yet; use kl_strategy {' or '.join(working)}, or "
            f"KERAS_BACKEND=tensorflow, where {', '.join(_wirings('tensorflow'))} train"
        )
    others = "; ".join(
        f"{other}: {', '.join(_wirings(other))}"
        for other in ("tensorflow", "torch", "jax")
        if other != backend and _wirings(other)
    )
    raise ConfigError(
        f"KERAS_BACKEND={backend}: no kl_strategy trains on the {backend} backend yet; "
        f"use another backend (what trains there: {others})"
    )


def _wirings(backend: str) -> list[str]:
    return [name for name, cls in STRATEGIES.items() if backend in cls.backends]


def build_vae(
    config: ModelConfig, encoder=None, decoder=None, objective: Objective | None = None
) -> BaseVAE:
    """Build the Keras VAE model of ``config.kl_strategy`` (with ``objective``'s loss)."""
    return STRATEGIES[config.kl_strategy].from_model_config(config, encoder, decoder, objective)


def _plain(config: ModelConfig) -> dict:
    values = dataclasses.asdict(config)
    values["input_dim"] = list(config.input_dim)
    return values
