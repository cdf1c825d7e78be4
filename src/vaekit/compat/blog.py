"""The blog series' ``MyVariationalAutoencoder``, as a thin adapter over vaekit's VAE.

Readers of the "Variational Autoencoder with Tensorflow" blog series can run the series'
notebook cells with only the import line changed: :class:`MyVariationalAutoencoder` takes the
reference constructor's arguments and offers its methods (``_build_enc``, ``_build_dec``,
``_build_VAE``, ``_build_all``, ``compile_for_KL_Layer``, ``train_model_with_KL_Layer``) and
attributes (``encoder``, ``decoder``, ``model``, ``mu``, ``log_var``). Everything is done by the
wrapped :class:`~vaekit.models.vae.VariationalAutoencoder`, exposed as ``.vae``; this module only
translates names.

How the reference's integers map to vaekit's names (registries below):

=================  ==================================================================
``act``            0 ``leaky_relu`` (slope 0.3, as tf.keras 2), 1 ``relu``, 2 ``selu``
``solution_type``  the series' numbering: 0 ``layer`` (KL layer in the encoder),
                   1 ``multi_output`` (mu and log_var passed on as model outputs),
                   2 ``add_loss`` (``model.add_loss()``), 3 ``train_step``
                   (``GradientTape`` in a custom ``train_step``)
=================  ==================================================================

Note that ``solution_type`` follows the blog, not the integer aliases of vaekit's own
``kl_strategy`` (0 layer, 1 add_loss, 2 train_step, 3 multi_output). All four wirings train on the
same loss, ``bce + fact * KL`` in the reference convention, and log ``loss``, ``bce``, ``kl`` and
``nelbo`` (``multi_output`` also its two outputs' losses); so ``compile_for_KL_Layer`` and
``train_model_with_KL_Layer`` work for every ``solution_type``, not only for 0 as in the
reference code.

Differences from the reference code a reader may meet:

- the encoder outputs ``[mu, log_var, z]`` and the decoder maps ``z`` to an image for every
  ``solution_type`` (the reference encoders output ``z`` or ``[z, mu, log_var]``);
- ``_build_enc()`` without arguments keeps the constructor's ``solution_type`` and ``fact``; a
  different one rebuilds the wrapped VAE with it, keeping the decoder already built, and from
  then on ``solution_type``/``fact`` (and ``.vae.config``) report the new values;
- ``mu``, ``log_var`` and ``z`` are the encoder's symbolic outputs, read from the current encoder;
  ``encoder``, ``decoder`` and ``model`` are those of ``.vae`` (None until built);
- invalid ``act`` or ``solution_type`` raise :class:`~vaekit.errors.ConfigError` (one line, naming
  the argument and the valid values) instead of ``sys.exit()``; so do other bad arguments, named
  as this constructor names them (``fact``, not ``kl_factor``);
- extra keyword arguments (``seed``, ``dropout_rate``, ``likelihood``, ...) go to
  :class:`~vaekit.models.vae.VariationalAutoencoder`; ``save``/``load`` are vaekit's.

Example (a notebook's cells, on a few MNIST images):
    >>> from vaekit import datasets
    >>> from vaekit.compat import MyVariationalAutoencoder
    >>> (x_train, y_train), (x_test, y_test) = datasets.load("mnist", limit=64)
    >>> MyVae = MyVariationalAutoencoder(
    ...     input_dim=(28, 28, 1),
    ...     encoder_conv_filters=[32, 64, 128], encoder_conv_kernel_size=[3, 3, 3],
    ...     encoder_conv_strides=[1, 2, 2],
    ...     decoder_conv_t_filters=[64, 32, 1], decoder_conv_t_kernel_size=[3, 3, 3],
    ...     decoder_conv_t_strides=[2, 2, 1],
    ...     z_dim=2, solution_type=3, act=0, fact=0.65e-4, seed=0)
    >>> MyVae._build_enc()
    >>> MyVae._build_dec()
    >>> MyVae._build_VAE()
    >>> MyVae.vae.config.kl_strategy, tuple(MyVae.mu.shape)
    ('train_step', (None, 2))
    >>> MyVae.compile_for_KL_Layer(learning_rate=0.0005)
    >>> history = MyVae.train_model_with_KL_Layer(x_train, batch_size=32, epochs=1, verbose=0)
    >>> sorted(history.history)
    ['bce', 'kl', 'loss', 'nelbo']
    >>> MyVae.encoder.predict(x_test[:5], verbose=0)[0].shape  # mu of 5 images
    (5, 2)
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from pathlib import Path

import numpy as np

from vaekit import datasets
from vaekit.errors import ConfigError, DataError
from vaekit.models.vae import VariationalAutoencoder

# The reference's integer codes -> vaekit's names.
ACTIVATIONS = {0: "leaky_relu", 1: "relu", 2: "selu"}
SOLUTION_TYPES = {0: "layer", 1: "multi_output", 2: "add_loss", 3: "train_step"}  # blog order

# vaekit's names of the settings this adapter names differently; these are not accepted as extra
# keyword arguments, since the reference arguments already set them.
_RENAMED = {"activation": "act", "kl_factor": "fact", "kl_strategy": "solution_type"}
_RESERVED = (*_RENAMED, "build", "objective")


def _code(argument: str, value, registry: dict) -> str:
    """The vaekit name of the reference's integer ``value`` of ``argument``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value not in registry:
        valid = ", ".join(f"{code} ({name})" for code, name in registry.items())
        raise ConfigError(f"{argument}: got {value!r}, expected one of {valid}")
    return registry[value]


def _negative(value) -> bool:
    """The reference's "keep the current value" marker: a negative number."""
    return isinstance(value, int | float) and not isinstance(value, bool) and value < 0


def _count(name: str, value, minimum: int) -> int:
    """``value`` if it is an integer >= ``minimum``, else a one-line ConfigError naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ConfigError(f"{name}: got {value!r}, expected an integer >= {minimum}")
    return int(value)


def _reference_code(name: str, registry: dict) -> int:
    return next(code for code, value in registry.items() if value == name)


def _renamed(error: ConfigError) -> ConfigError:
    """``error`` with vaekit's field names (``model.kl_factor``) replaced by this adapter's."""
    message = str(error)
    for vaekit_name, reference_name in _RENAMED.items():
        message = message.replace(f"model.{vaekit_name}", reference_name)
    return ConfigError(message.replace("model.", ""))


class MyVariationalAutoencoder:
    """The reference ``MyVariationalAutoencoder`` interface over a ``VariationalAutoencoder``.

    Args:
        input_dim: image shape (H, W, C).
        encoder_conv_filters, encoder_conv_kernel_size, encoder_conv_strides: one entry per
            encoder Conv2D layer.
        decoder_conv_t_filters, decoder_conv_t_kernel_size, decoder_conv_t_strides: one entry per
            decoder Conv2DTranspose layer.
        z_dim: latent dimensions.
        solution_type: the KL wiring, 0 to 3 in the series' numbering (see :data:`SOLUTION_TYPES`).
        act: the activation, 0 LeakyReLU, 1 ReLU, 2 SELU (see :data:`ACTIVATIONS`).
        fact: the KL factor (``kl_factor``).
        use_batch_norm, use_dropout: regularisation after each convolution.
        b_build_all: build encoder, decoder and model now (:meth:`_build_all`).
        **options: further arguments of ``VariationalAutoencoder`` (``seed``, ``dropout_rate``,
            ``likelihood``, ...), except those the reference arguments set.

    Raises:
        ConfigError: an invalid argument, named as here (e.g. ``act: got 3, expected ...``).

    Example:
        >>> MyVae = MyVariationalAutoencoder((28, 28, 1), [8], [3], [2], [1], [3], [2], z_dim=2,
        ...                                  solution_type=1, act=1, b_build_all=True)
        >>> MyVae.vae.config.kl_strategy, MyVae.vae.config.activation, MyVae.model.name
        ('multi_output', 'relu', 'vae_multi_output')
    """

    def __init__(
        self,
        input_dim,
        encoder_conv_filters,
        encoder_conv_kernel_size,
        encoder_conv_strides,
        decoder_conv_t_filters,
        decoder_conv_t_kernel_size,
        decoder_conv_t_strides,
        z_dim,
        solution_type=0,
        act=0,
        fact=0.65e-4,
        use_batch_norm=False,
        use_dropout=False,
        b_build_all=False,
        **options,
    ):
        taken = sorted(set(options) & set(_RESERVED))
        if taken:
            raise ConfigError(
                f"{taken[0]}: set by the reference arguments (act, fact, solution_type, "
                "b_build_all); not accepted as an extra keyword argument"
            )
        self.vae = self._make_vae(
            input_dim=tuple(input_dim),
            encoder_conv_filters=encoder_conv_filters,
            encoder_conv_kernel_size=encoder_conv_kernel_size,
            encoder_conv_strides=encoder_conv_strides,
            decoder_conv_t_filters=decoder_conv_t_filters,
            decoder_conv_t_kernel_size=decoder_conv_t_kernel_size,
            decoder_conv_t_strides=decoder_conv_t_strides,
            z_dim=z_dim,
            kl_strategy=_code("solution_type", solution_type, SOLUTION_TYPES),
            activation=_code("act", act, ACTIVATIONS),
            kl_factor=fact,
            use_batch_norm=use_batch_norm,
            use_dropout=use_dropout,
            **options,
        )
        self.b_build_all = b_build_all
        self.learning_rate = None  # set by compile_for_KL_Layer, as in the reference
        if b_build_all:
            self._build_all()

    @staticmethod
    def _make_vae(**arguments) -> VariationalAutoencoder:
        try:
            return VariationalAutoencoder(**arguments, build=False)
        except ConfigError as error:
            raise _renamed(error) from None

    @classmethod
    def from_vae(cls, vae: VariationalAutoencoder) -> MyVariationalAutoencoder:
        """Wrap an existing ``VariationalAutoencoder`` (built or not) in this interface."""
        adapter = cls.__new__(cls)
        adapter.vae, adapter.b_build_all, adapter.learning_rate = vae, False, None
        return adapter

    # The reference's settings, read from the wrapped VAE's config: one source of truth.
    @property
    def solution_type(self) -> int:
        return _reference_code(self.vae.config.kl_strategy, SOLUTION_TYPES)

    @property
    def act(self) -> int:
        return _reference_code(self.vae.config.activation, ACTIVATIONS)

    @property
    def fact(self) -> float:
        return self.vae.config.kl_factor

    @property
    def z_dim(self) -> int:
        return self.vae.config.z_dim

    @property
    def input_dim(self) -> tuple:
        return tuple(self.vae.config.input_dim)

    # The built parts, those of the wrapped VAE.
    @property
    def encoder(self):
        return self.vae.encoder

    @property
    def decoder(self):
        return self.vae.decoder

    @property
    def model(self):
        return self.vae.model

    @property
    def mu(self):
        """The encoder's symbolic ``mu`` output (a Keras tensor), None before ``_build_enc``."""
        return self._encoder_output(0)

    @property
    def log_var(self):
        """The encoder's symbolic ``log_var`` output, None before ``_build_enc``."""
        return self._encoder_output(1)

    @property
    def z(self):
        """The encoder's symbolic sampled ``z`` output, None before ``_build_enc``."""
        return self._encoder_output(2)

    def _encoder_output(self, index: int):
        return None if self.encoder is None else self.encoder.outputs[index]

    # Building, in the reference's steps.
    def _build_enc(self, solution_type=None, fact=-1.0) -> None:
        """Build the encoder; a ``solution_type`` or ``fact`` (>= 0) other than the current ones
        rebuilds the wrapped VAE with them (the decoder already built is kept, the model is not).

        ``solution_type`` None or negative, or ``fact`` negative, keep the current value.
        """
        config = self.vae.config
        strategy, kl_factor = config.kl_strategy, config.kl_factor
        if not (solution_type is None or _negative(solution_type)):
            strategy = _code("solution_type", solution_type, SOLUTION_TYPES)
        if not _negative(fact):
            kl_factor = fact  # checked, and named "fact" in errors, by _make_vae
        if (strategy, kl_factor) != (config.kl_strategy, config.kl_factor):
            decoder = self.vae.decoder
            arguments = dataclasses.asdict(config)
            arguments.update(kl_strategy=strategy, kl_factor=kl_factor)
            self.vae = self._make_vae(**arguments)
            self.vae.decoder = decoder  # z -> image: independent of the KL wiring and factor
        self.vae.build_encoder()

    def _build_dec(self) -> None:
        """Build the decoder ``z -> image``."""
        self.vae.build_decoder()

    def _build_VAE(self) -> None:
        """Wire encoder and decoder into ``model`` with the ``solution_type``'s KL wiring."""
        if self.encoder is None or self.decoder is None:
            raise RuntimeError("call _build_enc() and _build_dec() before _build_VAE()")
        self.vae.build_model()

    def _build_all(self) -> None:
        """Build encoder, decoder and model in one step."""
        self._build_enc()
        self._build_dec()
        self._build_VAE()

    # Training.
    def compile_for_KL_Layer(self, learning_rate) -> None:
        """Compile ``model`` with Adam at ``learning_rate``, for any ``solution_type``.

        Raises:
            ConfigError: ``learning_rate`` is not a finite number > 0.
        """
        number = isinstance(learning_rate, numbers.Real) and not isinstance(learning_rate, bool)
        if not (number and math.isfinite(learning_rate) and learning_rate > 0):
            raise ConfigError(f"learning_rate: got {learning_rate!r}, expected a finite number > 0")
        self.learning_rate = learning_rate
        self.vae.compile(learning_rate=learning_rate)

    def train_model_with_KL_Layer(
        self, x_train, batch_size, epochs, initial_epoch=0, **fit_options
    ):
        """Train on images ``x_train`` (shuffled); returns the Keras ``History``.

        ``fit_options`` (``verbose``, ``callbacks``, ``validation_data``, ``seed``, ...) go to
        :meth:`VariationalAutoencoder.fit <vaekit.models.vae.VariationalAutoencoder.fit>`.

        Raises:
            ConfigError: ``batch_size``, ``epochs`` or ``initial_epoch`` is not an integer in
                range (``initial_epoch`` < ``epochs``).
            DataError: ``x_train`` is not images of ``input_dim``'s shape.
            RuntimeError: the model was not compiled (:meth:`compile_for_KL_Layer`).
        """
        if self.model is None or not self.model.compiled:
            raise RuntimeError("compile_for_KL_Layer(learning_rate) before training")
        batch_size = _count("batch_size", batch_size, 1)
        epochs = _count("epochs", epochs, 1)
        initial_epoch = _count("initial_epoch", initial_epoch, 0)
        if initial_epoch >= epochs:
            raise ConfigError(
                f"initial_epoch: got {initial_epoch}, but epochs is {epochs}: training goes from "
                "epoch initial_epoch to epochs; use epochs > initial_epoch"
            )
        if not isinstance(x_train, datasets.ImageData):
            shape = datasets.validate_images(np.asarray(x_train), "x_train").shape[1:]
            if shape != self.input_dim:
                raise DataError(
                    f"x_train: images of shape {shape}, but input_dim is {self.input_dim}; make "
                    "them agree"
                )
        return self.vae.fit(
            x_train,
            batch_size=batch_size,
            epochs=epochs,
            initial_epoch=initial_epoch,
            **fit_options,
        )

    # Saving: vaekit's .keras files, which hold the config needed to rebuild the model.
    def save(self, path: str | Path) -> None:
        """Save the model (and optimizer state, if compiled) to a ``.keras`` file; an existing
        file there is replaced, as Keras's ``model.save`` replaces it (whole: never half
        written)."""
        self.vae.save(path)

    @classmethod
    def load(cls, path: str | Path, compile: bool = True) -> MyVariationalAutoencoder:
        """Load a file written by :meth:`save` (or by ``VariationalAutoencoder.save``)."""
        return cls.from_vae(VariationalAutoencoder.load(path, compile=compile))
