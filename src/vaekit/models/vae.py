"""``VariationalAutoencoder``: the user-facing convolutional VAE, in the reference code's terms.

Example (the reference workflow on a small MNIST subset):
    >>> from vaekit import VariationalAutoencoder, datasets
    >>> (x_train, y_train), (x_test, y_test) = datasets.load("mnist", limit=256)
    >>> vae = VariationalAutoencoder(
    ...     input_dim=(28, 28, 1),
    ...     encoder_conv_filters=[32, 64, 128], encoder_conv_kernel_size=[3, 3, 3],
    ...     encoder_conv_strides=[1, 2, 2],
    ...     decoder_conv_t_filters=[64, 32, 1], decoder_conv_t_kernel_size=[3, 3, 3],
    ...     decoder_conv_t_strides=[2, 2, 1],
    ...     z_dim=2, kl_factor=2e-4, kl_strategy="layer", build=False)
    >>> encoder = vae.build_encoder()
    >>> decoder = vae.build_decoder()
    >>> model = vae.build_model()
    >>> vae.compile(learning_rate=5e-4)
    >>> history = vae.fit(x_train, batch_size=128, epochs=1, verbose=0)
    >>> sorted(history.history)
    ['bce', 'kl', 'loss', 'nelbo']
    >>> vae.encode(x_test[:5]).shape
    (5, 2)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import numpy as np

from vaekit import backends, distribute
from vaekit.config import ModelConfig, build_section
from vaekit.datasets.pipeline import (
    batch_sizes,
    check_steps_per_execution,
    make_dataset,
    steps_per_epoch,
)
from vaekit.errors import DataError, ModelFileError
from vaekit.io import atomic_path
from vaekit.models import conditions
from vaekit.models.architecture import build_decoder
from vaekit.models.divergences import DIVERGENCES
from vaekit.models.likelihoods import MEANS
from vaekit.models.objective import Objective
from vaekit.models.priors import sample_mixture
from vaekit.models.saving import load_model
from vaekit.models.strategies import STRATEGIES, build_model


class VariationalAutoencoder:
    """A configurable convolutional VAE whose KL term can be wired four ways.

    Args:
        input_dim: image shape (H, W, C).
        encoder_conv_filters, encoder_conv_kernel_size, encoder_conv_strides: one entry per
            encoder Conv2D layer.
        decoder_conv_t_filters, decoder_conv_t_kernel_size, decoder_conv_t_strides: one entry per
            decoder Conv2DTranspose layer; the decoder must give ``input_dim`` back.
        z_dim: latent dimensions.
        activation: "leaky_relu", "relu" or "selu".
        kl_factor: weight of the KL term (>= 0).
        kl_strategy: "layer", "add_loss", "train_step" or "multi_output" (or 0, 1, 2, 3).
        use_batch_norm, use_dropout, dropout_rate: optional regularisation after each conv.
        seed: seed of the sampling noise and dropout (None: random).
        encoder_dense_units: hidden Dense layers between the convolutions and mu/log_var.
        decoder_dense_activation: apply the activation after the decoder's first Dense.
        likelihood: "bernoulli", "continuous_bernoulli" or "gaussian" (see
            :mod:`vaekit.models.likelihoods`).
        gaussian_sigma: the gaussian likelihood's standard deviation, or "learned".
        conditional: a conditional VAE: every method that encodes or decodes takes ``labels``
            too (:mod:`vaekit.models.conditions`).
        condition: the label of a conditional model: "class" or "factors".
        condition_levels: the values each label column takes: ``[classes]``, or each factor's
            levels.
        prior: "normal" (``N(0, I)``) or "vamp" (the VampPrior, :mod:`vaekit.models.priors`).
        pseudo_inputs: the VampPrior's K pseudo-inputs.
        objective: the loss (:class:`~vaekit.models.objective.Objective`, or its dict); None is
            the reference convention with ``kl_factor`` and ``likelihood``.
        build: build encoder, decoder and model now; with False call :meth:`build_encoder`,
            :meth:`build_decoder` and :meth:`build_model` yourself, as the reference code did.

    Raises:
        ConfigError: an invalid argument, or a decoder output shape that differs from input_dim.
    """

    def __init__(
        self,
        input_dim=(28, 28, 1),
        encoder_conv_filters=(32, 64, 128),
        encoder_conv_kernel_size=(3, 3, 3),
        encoder_conv_strides=(1, 2, 2),
        decoder_conv_t_filters=(64, 32, 1),
        decoder_conv_t_kernel_size=(3, 3, 3),
        decoder_conv_t_strides=(2, 2, 1),
        z_dim=2,
        activation="leaky_relu",
        kl_factor=2e-4,
        kl_strategy="layer",
        use_batch_norm=False,
        use_dropout=False,
        dropout_rate=0.25,
        seed=None,
        encoder_dense_units=(),
        decoder_dense_activation=False,
        likelihood="bernoulli",
        gaussian_sigma="learned",
        conditional=False,
        condition="class",
        condition_levels=None,
        prior="normal",
        pseudo_inputs=500,
        objective=None,
        build=True,
    ):
        arguments = {k: v for k, v in locals().items() if k not in ("self", "build", "objective")}
        arguments = {k: list(v) if isinstance(v, tuple) else v for k, v in arguments.items()}
        self.config = build_section("model", ModelConfig, arguments)
        self.config.validate_shapes()
        if isinstance(objective, dict):
            objective = Objective(**objective)
        objective = objective or Objective(
            likelihood=self.config.likelihood,
            gaussian_sigma=self.config.gaussian_sigma,
            kl_weight=self.config.kl_factor,
        )
        self.objective = dataclasses.replace(objective, prior=self.config.prior)
        self.encoder = self.decoder = self.model = None
        if build:
            self.build_encoder()
            self.build_decoder()
            self.build_model()

    @classmethod
    def from_config(
        cls, config: ModelConfig, build: bool = True, objective: Objective | None = None
    ) -> VariationalAutoencoder:
        """Create from a :class:`ModelConfig` (e.g. ``Config.load(path).model``)."""
        values = dataclasses.asdict(config)
        return cls(**values, objective=objective, build=build)

    # Building, in the reference's three steps.
    def build_encoder(self):
        """Build ``self.encoder``: ``x -> [mu, log_var, z]`` (``[x, labels] -> ...`` for a
        conditional model)."""
        self.encoder = STRATEGIES[self.config.kl_strategy].make_encoder(self.config, self.objective)
        return self.encoder

    def build_decoder(self):
        """Build ``self.decoder``: ``z -> x_hat`` (``[z, labels] -> x_hat`` for a conditional
        model)."""
        self.decoder = build_decoder(self.config)
        return self.decoder

    def build_model(self):
        """Wire encoder and decoder into ``self.model`` with the chosen KL strategy."""
        if self.encoder is None or self.decoder is None:
            raise RuntimeError("call build_encoder() and build_decoder() before build_model()")
        self.model = build_model(self.config, self.encoder, self.decoder, self.objective)
        return self.model

    # Training.
    def compile(self, learning_rate: float = 5e-4, **kwargs) -> None:
        """Compile with Adam; extra keyword arguments go to ``keras.Model.compile``."""
        self._require_model()
        kwargs.setdefault("optimizer", keras.optimizers.Adam(learning_rate=learning_rate))
        self.model.compile(**self.model.compile_arguments(), **kwargs)

    def fit(
        self,
        x,
        batch_size=128,
        epochs=1,
        initial_epoch=0,
        validation_data=None,
        callbacks=None,
        shuffle=True,
        seed=0,
        verbose="auto",
        initial_step=0,
        binarize_seed=None,
        labels=None,
    ):
        """Train on images ``x``; returns the Keras ``History``.

        ``x`` is an (N, H, W, C) array (float32 in [0, 1], or uint8 0..255) or an image set of
        :mod:`vaekit.datasets` (streamed from disk for a folder); so is ``validation_data``.
        A conditional model also needs ``labels`` (see :meth:`label_rows`; an image set's own
        are used when left out) and ``validation_data`` as ``(x, labels)`` or an image set.

        Batches are streamed (see :mod:`vaekit.datasets.pipeline`): epoch ``e`` sees the permutation
        drawn from ``(seed, e)``, so a run resumed with ``initial_epoch`` sees the same order.
        ``initial_step`` resumes inside ``initial_epoch``: its first batches are skipped, and that
        partial epoch runs as a ``fit`` of its own before the remaining epochs.
        ``validation_data`` may also be ``(x, y)``, of which ``x`` is used. ``binarize_seed``
        (not None) trains on a fresh binary sample of every batch (dynamic binarization, see
        :mod:`vaekit.datasets.binarize`).
        """
        self._require_model(trains=True)
        self.model.build_losses()
        per_execution = self.model.steps_per_execution or 1
        used = distribute.active().usable(len(x), batch_size)  # spread over devices: cut evenly
        check_steps_per_execution(used, batch_size, per_execution, initial_step)
        self._check_batches(used, batch_size, "x")
        rows = self.label_rows(x, labels, "x")
        validation = None
        if validation_data is not None:
            images, given = validation_data, None
            if isinstance(validation_data, tuple):
                images, given = validation_data[0], validation_data[1]
            self._check_batches(len(images), batch_size, "validation_data")
            validation = make_dataset(
                images,
                batch_size,
                targets=self.model.targets,
                shuffle=False,
                labels=self.label_rows(images, given, "validation_data"),
            )
        steps = steps_per_epoch(used, batch_size)
        history = None
        # (first epoch, end epoch, batches to skip): a partial epoch first, then whole ones.
        phases = [(initial_epoch, epochs, 0)]
        if initial_step:
            phases = [
                (initial_epoch, initial_epoch + 1, initial_step),
                (initial_epoch + 1, epochs, 0),
            ]
        for first, end, skip in phases:
            if first >= end:
                continue
            data = make_dataset(
                x,
                batch_size,
                targets=self.model.targets,
                shuffle=shuffle,
                seed=seed,
                first_epoch=first,
                epochs=end,
                first_step=skip,
                binarize_seed=binarize_seed,
                labels=rows,
            )
            history = self.model.fit(
                data,
                epochs=end,
                initial_epoch=first,
                steps_per_epoch=steps - skip,
                validation_data=validation,
                callbacks=callbacks,
                verbose=verbose,
                shuffle=False,
            )  # the pipeline shuffles
        return history

    def evaluate(self, x, batch_size=128, verbose=0, labels=None) -> dict:
        """Mean ``loss``, ``bce``, ``kl`` and ``nelbo`` (nats per image) over images ``x``
        (with their ``labels``, for a conditional model)."""
        self._require_model(trains=True)
        self.model.build_losses()
        rows = self.label_rows(x, labels, "x")
        data = make_dataset(x, batch_size, targets=self.model.targets, shuffle=False, labels=rows)
        logs = self.model.evaluate(data, verbose=verbose, return_dict=True)
        return {key: float(logs[key]) for key in ("loss", "bce", "kl", "nelbo")}

    # Using the model.
    def encode(self, x, sample: bool = False, batch_size: int = 256, labels=None) -> np.ndarray:
        """Latent means ``mu`` of images ``x`` (or sampled ``z`` with ``sample=True``).

        ``x`` is an (N, H, W, C) array or an image set (:mod:`vaekit.datasets.images`), read a
        batch at a time; a conditional model also takes their ``labels`` (an image set's own
        when left out).
        """
        mu, _, z = self._encoded(x, batch_size, labels)
        return z if sample else mu

    def posterior(self, x, batch_size: int = 256, labels=None) -> tuple[np.ndarray, np.ndarray]:
        """``(mu, log_var)`` of the Gaussian posterior of each image of ``x``."""
        mu, log_var, _ = self._encoded(x, batch_size, labels)
        return mu, log_var

    def _encoded(self, x, batch_size: int, labels=None):
        # Arrays and image sets alike go through the pipeline: one kind of input, so Keras traces
        # its predict function once (and then once more for any batch size), not per call.
        if not hasattr(x, "take_raw"):
            x = np.asarray(x)
            x = x if x.dtype in (np.uint8, np.float32) else x.astype(np.float32)
        rows = self.label_rows(x, labels, "x")
        batches = make_dataset(x, batch_size, shuffle=False, spread=False, labels=rows)
        return self.encoder.predict(batches, verbose=0)

    def decode(self, z, batch_size: int = 256, labels=None) -> np.ndarray:
        """Images decoded from latent points ``z`` (N, z_dim), in one batched pass; a
        conditional model decodes them with ``labels`` (see :meth:`label_rows`).

        Each image is the likelihood's mean: the decoder's sigmoid output for ``bernoulli`` and
        ``gaussian``, its continuous-Bernoulli mean for ``continuous_bernoulli``.
        """
        z = np.asarray(z, dtype="float32")
        rows = self.label_rows(z, labels, "z")
        inputs = z if rows is None else [z, rows]
        probabilities = self.decoder.predict(inputs, batch_size=batch_size, verbose=0)
        return MEANS[self.config.likelihood](probabilities)

    def reconstruct(self, x, batch_size: int = 256, labels=None) -> np.ndarray:
        """Decode the sampled ``z`` of images ``x`` (with their labels, if conditional)."""
        rows = self.label_rows(x, labels, "x")
        z = self.encode(x, sample=True, batch_size=batch_size, labels=rows)
        return self.decode(z, batch_size, labels=rows)

    def sample_prior(self, n: int, seed: int | None = None) -> np.ndarray:
        """``n`` latent points drawn from the prior: ``N(0, I)``, or the VampPrior's mixture."""
        rng = np.random.default_rng(seed)
        components = self.model.prior_components() if self.model is not None else None
        if components is not None:
            return sample_mixture(*components, n, rng)
        return rng.standard_normal((n, self.config.z_dim)).astype("float32")

    def generate(self, n: int, seed: int | None = None, labels=None) -> np.ndarray:
        """``n`` images decoded from ``z`` drawn from the prior; ``seed`` makes them
        reproducible. A conditional model generates them with ``labels`` (one for all, or one
        per image); left out, each class in turn (other factors drawn at random)."""
        z = self.sample_prior(n, seed)
        if self.config.conditional and labels is None:
            labels = conditions.cycle(self.config, n, np.random.default_rng(seed))
        return self.decode(z, labels=labels)

    def label_rows(self, x, labels=None, what: str = "labels") -> np.ndarray | None:
        """A conditional model's label rows (N, F) int32 for ``x`` (N images or latent points):
        ``labels`` as given (one label for all, (N,) classes, (N, F) rows), or else the image
        set's own; None for an unconditional model.

        Raises:
            DataError: labels for an unconditional model, none for a conditional one, or labels
                that do not fit the model's classes or factor levels.
        """
        if not self.config.conditional:
            if labels is not None:
                raise DataError("labels: this model is not conditional (model.conditional false)")
            return None
        given = labels is not None
        if labels is None:
            labels = conditions.labels_of(x, self.config)
        if labels is None:
            raise DataError(
                f"{what}: a conditional model needs labels ({self.config.condition}): pass "
                "labels=..., or an image set that has them"
            )
        if given:  # the message names the argument that holds the labels
            what = "labels" if what in ("x", "z") else what
        else:
            what = f"{what}'s own labels"
        return conditions.check_labels(labels, self.config, len(x), what)

    def _check_batches(self, count: int, batch_size: int, what: str) -> None:
        """Refuse batches of ``count`` images too small for the model's divergence (the MMD of one
        code is undefined; see :data:`vaekit.models.divergences.DIVERGENCES`), the last one too."""
        name = self.model.objective.divergence
        smallest = DIVERGENCES[name].smallest_batch
        least = min(batch_sizes(count, batch_size))
        if least < smallest:
            raise DataError(
                f"batch_size: {batch_size} leaves the {count} images of {what} a batch of "
                f"{least}, but the divergence {name} needs batches of at "
                f"least {smallest} images ({DIVERGENCES[name].why}); choose a batch_size that "
                f"leaves no smaller batch"
            )

    # Saving.
    def save(self, path: str | Path) -> None:
        """Save model, config and (if compiled) optimizer state to a ``.keras`` file, atomically."""
        self._require_model()
        path = Path(path)
        if path.suffix != ".keras":
            raise ModelFileError(f"{path}: a model file must end in .keras")
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            # A compiled model that never trained: build the optimizer's slots, so the file
            # holds the full optimizer state and loads without Keras's mismatch warning.
            optimizer.build(self.model.trainable_variables)
        with atomic_path(path) as temporary:
            self.model.save(temporary)

    @classmethod
    def load(cls, path: str | Path, compile: bool = True) -> VariationalAutoencoder:
        """Load a model written by :meth:`save` (with its optimizer state when compiled)."""
        return cls.from_keras_model(load_model(path, compile=compile))

    @classmethod
    def from_keras_model(cls, model) -> VariationalAutoencoder:
        """Wrap a built vaekit Keras model (e.g. a loaded checkpoint); its config comes along."""
        vae = cls.from_config(model.model_config, build=False, objective=model.objective)
        vae.model, vae.encoder, vae.decoder = model, model.encoder, model.decoder
        return vae

    def summary(self) -> None:
        """Print the encoder, decoder and full model summaries."""
        for part in (self.encoder, self.decoder, self.model):
            if part is not None:
                part.summary()

    def _require_model(self, trains: bool = False):
        if self.model is None:
            raise RuntimeError("build the model first (build=True, or build_model())")
        if trains:
            backends.check_steps_per_call(self.model.steps_per_execution or 1)
