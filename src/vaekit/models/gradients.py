"""Keras layers with rewritten TensorFlow gradients: accurate bf16 bias sums, a fusable LeakyReLU.

Both rewrites give the gradient Keras gives, exactly or (bf16 bias sums) more accurately; on the
other backends, and wherever a rewrite does not apply, the layers run Keras's own ``call``.

**Bias gradients under mixed_bfloat16.** TensorFlow's CPU ``BiasAddGrad`` sums a bfloat16
gradient in a bfloat16 accumulator. Over a batch of feature maps (128 x 14 x 14 values per channel)
the running sum stops growing and the bias gradient comes out at 3-10% of its true value; over a
batch of 128 rows it is still off by up to 4%. Keras turns ``ops.add(outputs, bias)`` into
``tf.nn.bias_add``, so every bias of a bf16 model trained on that gradient (the encoder's
convolutions escaped only where oneDNN fused the bias gradient into its own kernel), and the
reference model ended 6 epochs 0.006 above float32. Computing in bfloat16 on TensorFlow,
:class:`Conv2D`, :class:`Conv2DTranspose` and :class:`Dense` add their bias with :func:`bias_add`,
whose gradient is a matrix product ``ones @ gradient``: it accumulates in float32, and is faster.

**LeakyReLU.** TensorFlow's ``LeakyReluGrad`` reads the activation's *input*, so grappler cannot
fuse ``Conv2D + BiasAdd + LeakyRelu`` into one oneDNN kernel in a training graph (it logs
``remapper failed ... LeakyReluGrad``). For a positive slope the output has the sign of the input,
so :class:`LeakyReLU` hands the output to ``LeakyReluGrad`` instead: the same gradient, bit for
bit, and the three ops fuse (float32 training steps of the reference model 7-12% faster).

Example:
    >>> import numpy as np
    >>> [round(float(v), 2) for v in LeakyReLU(negative_slope=0.3)(np.array([-1.0, 2.0]))]
    [-0.3, 2.0]
    >>> layer = Dense(3)
    >>> tuple(layer(np.ones((2, 4), "float32")).shape)
    (2, 3)
    >>> Dense.from_config(layer.get_config()).units
    3
"""

from __future__ import annotations

import keras
from keras import ops

SERIALIZABLE = keras.saving.register_keras_serializable(package="vaekit")


def _tensorflow_bias_add(x, bias):
    """``x + bias`` (bias over the last axis) with the bias gradient summed in float32."""
    import tensorflow as tf  # here, not at the top: only the TensorFlow backend needs it

    @tf.custom_gradient
    def add(x, bias):
        def gradient(upstream):
            rows = tf.reshape(upstream, (-1, tf.shape(upstream)[-1]))  # (N, C)
            ones = tf.ones((1, tf.shape(rows)[0]), rows.dtype)  # (1, N)
            # A matmul accumulates in float32 (oneDNN/AMX on CPU), unlike BiasAddGrad.
            return upstream, tf.reshape(tf.matmul(ones, rows), (-1,))

        return tf.nn.bias_add(x, bias), gradient

    return add(x, bias)


# Backends whose bf16 bias gradient needs the fix; JAX and PyTorch sum bf16 in float32 already.
BIAS_ADDS = {"tensorflow": _tensorflow_bias_add}


def bias_add(x, bias):
    """``x + bias`` over the last axis, with an accurate bf16 bias gradient on every backend.

    Example:
        >>> import numpy as np
        >>> np.array(bias_add(np.zeros((2, 3), "float32"), np.arange(3.0))).tolist()
        [[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]]
    """
    add = BIAS_ADDS.get(keras.backend.backend(), ops.add)
    return add(ops.convert_to_tensor(x), ops.cast(bias, ops.dtype(x)))


class AccurateBiasMixin:
    """Runs Keras's ``call``, except that a bf16 TensorFlow layer adds its bias by :func:`bias_add`.

    A subclass provides ``_linear(inputs)``: the layer's output before bias and activation.
    """

    def _accurate_bias(self) -> bool:
        return (
            getattr(self, "bias", None) is not None
            and self.compute_dtype == "bfloat16"
            and keras.backend.backend() in BIAS_ADDS
            and getattr(self, "data_format", "channels_last") == "channels_last"
        )

    def call(self, inputs, *args, **kwargs):
        if not self._accurate_bias():
            return super().call(inputs, *args, **kwargs)
        outputs = bias_add(self._linear(inputs), self.bias)
        return outputs if self.activation is None else self.activation(outputs)


@SERIALIZABLE
class Conv2D(AccurateBiasMixin, keras.layers.Conv2D):
    """``keras.layers.Conv2D`` with an accurate bf16 bias gradient (see the module docstring)."""

    def _linear(self, inputs):
        return self.convolution_op(inputs, self.kernel)


@SERIALIZABLE
class Conv2DTranspose(AccurateBiasMixin, keras.layers.Conv2DTranspose):
    """``keras.layers.Conv2DTranspose`` with an accurate bf16 bias gradient."""

    def _linear(self, inputs):
        return ops.conv_transpose(
            inputs,
            self.kernel,
            strides=list(self.strides),
            padding=self.padding,
            output_padding=self.output_padding,
            dilation_rate=self.dilation_rate,
            data_format=self.data_format,
        )


@SERIALIZABLE
class Dense(AccurateBiasMixin, keras.layers.Dense):
    """``keras.layers.Dense`` with an accurate bf16 bias gradient (not under LoRA/quantization)."""

    def _accurate_bias(self) -> bool:
        return super()._accurate_bias() and not self.lora_enabled and not self.quantization_mode

    def _linear(self, inputs):
        return ops.matmul(inputs, self.kernel)


def _tensorflow_leaky_relu(x, negative_slope: float):
    """``leaky_relu(x)`` whose gradient reads the output (same sign as the input for slope > 0)."""
    import tensorflow as tf  # here, not at the top: only the TensorFlow backend needs it

    @tf.custom_gradient
    def leaky_relu(x):
        y = tf.nn.leaky_relu(x, alpha=negative_slope)

        def gradient(upstream):
            return tf.raw_ops.LeakyReluGrad(gradients=upstream, features=y, alpha=negative_slope)

        return y, gradient

    return leaky_relu(x)


LEAKY_RELUS = {"tensorflow": _tensorflow_leaky_relu}


@SERIALIZABLE
class LeakyReLU(keras.layers.LeakyReLU):
    """``keras.layers.LeakyReLU`` whose TensorFlow gradient lets the convolution before it fuse.

    Args:
        negative_slope: slope for negative inputs; the rewrite needs it > 0 (0 falls back to Keras).
    """

    def call(self, inputs):
        leaky_relu = LEAKY_RELUS.get(keras.backend.backend())
        if leaky_relu is None or not self.negative_slope > 0:
            return super().call(inputs)
        return leaky_relu(inputs, float(self.negative_slope))
