"""The reference VAE as a user would write it by hand in plain Keras 3, without vaekit.

A baseline for ``python -m benchmarks.throughput`` (implementation ``plain-keras``): the same
layers, loss and optimizer as configs/mnist_seed.yaml, trained with ``model.fit`` on NumPy arrays.

Example:
    >>> import numpy as np
    >>> x_train = np.random.default_rng(0).random((256, 28, 28, 1), dtype="float32")
    >>> model = build_vae()  # the reference architecture
    >>> history = model.fit(x_train, x_train, batch_size=128, epochs=1, verbose=0)
    >>> sorted(history.history)
    ['loss']
"""

from __future__ import annotations

import math

import keras
from keras import layers, ops


class Sampling(layers.Layer):
    """z = mu + exp(log_var / 2) * eps, eps ~ N(0, I)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(0)

    def call(self, inputs):
        mu, log_var = inputs
        epsilon = keras.random.normal(ops.shape(mu), seed=self.seed_generator)
        return mu + ops.exp(log_var / 2) * epsilon


class KLDivergence(layers.Layer):
    """Adds kl_factor * -mean(1 + log_var - mu^2 - exp(log_var)) to the model's loss."""

    def __init__(self, kl_factor, **kwargs):
        super().__init__(**kwargs)
        self.kl_factor = kl_factor

    def call(self, inputs):
        mu, log_var = inputs
        kl = -ops.mean(1 + log_var - ops.square(mu) - ops.exp(log_var))
        self.add_loss(self.kl_factor * kl)
        return inputs


def build_vae(
    input_shape=(28, 28, 1),
    encoder_filters=(32, 64, 128),
    encoder_kernels=(3, 3, 3),
    encoder_strides=(1, 2, 2),
    decoder_filters=(64, 32, 1),
    decoder_kernels=(3, 3, 3),
    decoder_strides=(2, 2, 1),
    z_dim=2,
    kl_factor=2e-4,
    learning_rate=5e-4,
):
    """The compiled VAE model ``x -> x_hat``; train it with ``model.fit(x, x, ...)``."""
    # Encoder: Conv2D blocks, then the two heads and the sampled z.
    inputs = keras.Input(shape=input_shape)
    x = inputs
    encoder_layers = zip(encoder_filters, encoder_kernels, encoder_strides, strict=True)
    for filters, kernel, stride in encoder_layers:
        x = layers.Conv2D(filters, kernel, strides=stride, padding="same")(x)
        x = layers.LeakyReLU(negative_slope=0.3)(x)
    shape_before_flattening = tuple(x.shape[1:])  # (h, w, c)
    x = layers.Flatten()(x)
    mu = layers.Dense(z_dim)(x)
    log_var = layers.Dense(z_dim)(x)
    mu, log_var = KLDivergence(kl_factor)([mu, log_var])
    z = Sampling()([mu, log_var])
    encoder = keras.Model(inputs, z, name="encoder")

    # Decoder: Dense back to the feature map, then Conv2DTranspose blocks, sigmoid at the end.
    latent = keras.Input(shape=(z_dim,))
    x = layers.Dense(math.prod(shape_before_flattening))(latent)
    x = layers.Reshape(shape_before_flattening)(x)
    decoder_layers = list(zip(decoder_filters, decoder_kernels, decoder_strides, strict=True))
    for i, (filters, kernel, stride) in enumerate(decoder_layers):
        x = layers.Conv2DTranspose(filters, kernel, strides=stride, padding="same")(x)
        if i < len(decoder_layers) - 1:
            x = layers.LeakyReLU(negative_slope=0.3)(x)
    outputs = layers.Activation("sigmoid")(x)
    decoder = keras.Model(latent, outputs, name="decoder")

    model = keras.Model(inputs, decoder(encoder(inputs)), name="vae")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy")
    return model
