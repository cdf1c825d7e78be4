"""Builds the encoder and decoder of the convolutional VAE from a :class:`ModelConfig`.

The layout follows the reference ``VariationalAutoencoder`` of "Generative Deep Learning":

- encoder: per layer Conv2D(padding="same") -> [BatchNorm] -> activation -> [Dropout];
  Flatten; Dense ``mu`` and Dense ``log_var``; then a :class:`~vaekit.models.layers.Sampling` layer.
- decoder: Dense(prod(shape before flattening)) -> Reshape -> Conv2DTranspose(padding="same")
  layers, each but the last followed by [BatchNorm] -> activation -> [Dropout], the last by a
  sigmoid.

Conv2D, Conv2DTranspose, Dense and LeakyReLU are the versions in :mod:`vaekit.models.gradients`:
Keras's layers with the same outputs and gradients, rewritten on TensorFlow to fuse and to keep
bf16 bias gradients accurate.

Example:
    >>> from vaekit.config import ModelConfig
    >>> encoder = build_encoder(ModelConfig())
    >>> [tuple(output.shape) for output in encoder.outputs]
    [(None, 2), (None, 2), (None, 2)]
    >>> build_decoder(ModelConfig()).output.shape
    (None, 28, 28, 1)
"""

from __future__ import annotations

import math

import keras
from keras import layers

from vaekit import choices
from vaekit.config import ModelConfig
from vaekit.models import gradients
from vaekit.models.layers import OneHotLabels, Sampling

# model.activation: name -> the layer, given the layer's name. LeakyReLU keeps the slope of the
# reference code (tf.keras 2 default alpha=0.3); Keras 3's default would be 0.2 and silently change
# the model.
ACTIVATIONS = choices.registry(
    choices.ACTIVATIONS,
    {
        "leaky_relu": lambda name: gradients.LeakyReLU(negative_slope=0.3, name=name),
        "relu": lambda name: layers.ReLU(name=name),
        "selu": lambda name: layers.Activation("selu", name=name),
    },
)


def _dropout(config: ModelConfig, layer_name: str, seed: int | None):
    # SELU's self-normalisation needs AlphaDropout; the others use plain Dropout.
    cls = layers.AlphaDropout if config.activation == "selu" else layers.Dropout
    return cls(config.dropout_rate, seed=seed, name=layer_name)


def _block(x, config: ModelConfig, prefix: str, index: int, seed: int | None):
    """[BatchNorm] -> activation -> [Dropout] after a convolution."""
    if config.use_batch_norm:
        x = layers.BatchNormalization(name=f"{prefix}_bn_{index}")(x)
    x = ACTIVATIONS[config.activation](f"{prefix}_act_{index}")(x)
    if config.use_dropout:
        x = _dropout(config, f"{prefix}_dropout_{index}", seed)(x)
    return x


def _initializer(config: ModelConfig) -> str:
    return "lecun_normal" if config.activation == "selu" else "glorot_uniform"


def _layer_seed(config: ModelConfig, offset: int) -> int | None:
    return None if config.seed is None else config.seed + offset


def label_input(config: ModelConfig, prefix: str):
    """A conditional model's label input (B, F) of integers, and its one-hot vector."""
    levels = config.condition_levels
    if not levels:
        raise ValueError(
            "model.condition_levels: a conditional model needs the classes (e.g. [10]) or each "
            "factor's levels; vaekit train reads them from the data"
        )
    labels = keras.Input(shape=(len(levels),), dtype="int32", name=f"{prefix}_label")
    return labels, OneHotLabels(levels, name=f"{prefix}_one_hot")(labels)


def build_encoder(config: ModelConfig, kl_layer=None):
    """The encoder ``x -> [mu, log_var, z]`` as a ``keras.Model`` named "encoder".

    A conditional model's encoder takes ``[x, labels]`` (labels (B, F) integers), their one-hot
    vector joined to the flattened features.

    Args:
        config: the model configuration.
        kl_layer: optional layer applied to ``[mu, log_var]`` (to ``[mu, log_var, z]``, after
            the sampling, when its ``reads_sample``) that returns them unchanged; the "layer"
            KL strategy passes its :class:`~vaekit.models.layers.KLDivergenceLayer` here.
    """
    inputs = keras.Input(shape=tuple(config.input_dim), name="encoder_input")
    x = inputs
    convs = zip(
        config.encoder_conv_filters,
        config.encoder_conv_kernel_size,
        config.encoder_conv_strides,
        strict=True,
    )
    for i, (filters, kernel_size, strides) in enumerate(convs):
        x = gradients.Conv2D(
            filters,
            kernel_size,
            strides=strides,
            padding="same",
            kernel_initializer=_initializer(config),
            name=f"encoder_conv_{i}",
        )(x)
        x = _block(x, config, "encoder", i, _layer_seed(config, 100 + i))
    x = layers.Flatten(name="encoder_flatten")(x)  # (B, h * w * c)
    if config.conditional:
        labels, one_hot = label_input(config, "encoder")
        x = layers.Concatenate(name="encoder_condition")([x, one_hot])  # (B, h * w * c + L)
    for i, units in enumerate(config.encoder_dense_units):
        x = gradients.Dense(units, name=f"encoder_dense_{i}")(x)
        x = ACTIVATIONS[config.activation](f"encoder_dense_act_{i}")(x)
    mu = gradients.Dense(config.z_dim, name="mu")(x)
    log_var = gradients.Dense(config.z_dim, name="log_var")(x)
    if kl_layer is not None and not kl_layer.reads_sample:
        mu, log_var = kl_layer([mu, log_var])
    z = Sampling(seed=config.seed, name="z")([mu, log_var])  # (B, z_dim)
    if kl_layer is not None and kl_layer.reads_sample:  # beta_tc: the KL layer reads z too
        mu, log_var, z = kl_layer([mu, log_var, z])
    model_inputs = [inputs, labels] if config.conditional else inputs
    return keras.Model(model_inputs, [mu, log_var, z], name="encoder")


def build_decoder(config: ModelConfig):
    """The decoder ``z -> image`` (sigmoid output in [0, 1]) as a ``keras.Model``; a conditional
    model's takes ``[z, labels]``, the labels' one-hot vector joined to ``z``."""
    shape = config.encoder_conv_shape()
    inputs = keras.Input(shape=(config.z_dim,), name="decoder_input")
    x, model_inputs = inputs, inputs
    if config.conditional:
        labels, one_hot = label_input(config, "decoder")
        x = layers.Concatenate(name="decoder_condition")([inputs, one_hot])  # (B, D + L)
        model_inputs = [inputs, labels]
    x = gradients.Dense(math.prod(shape), name="decoder_dense")(x)
    if config.decoder_dense_activation:
        x = ACTIVATIONS[config.activation]("decoder_dense_act")(x)
    x = layers.Reshape(shape, name="decoder_reshape")(x)  # (B, h, w, c)
    convs = list(
        zip(
            config.decoder_conv_t_filters,
            config.decoder_conv_t_kernel_size,
            config.decoder_conv_t_strides,
            strict=True,
        )
    )
    for i, (filters, kernel_size, strides) in enumerate(convs):
        x = gradients.Conv2DTranspose(
            filters,
            kernel_size,
            strides=strides,
            padding="same",
            kernel_initializer=_initializer(config),
            name=f"decoder_conv_t_{i}",
        )(x)
        if i < len(convs) - 1:
            x = _block(x, config, "decoder", i, _layer_seed(config, 200 + i))
    # The sigmoid runs in float32 so that mixed precision keeps the loss comparable.
    outputs = layers.Activation("sigmoid", dtype="float32", name="decoder_output")(x)
    return keras.Model(model_inputs, outputs, name="decoder")
