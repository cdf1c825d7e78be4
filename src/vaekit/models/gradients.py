"""Keras layers whose gradients a backend may rewrite: accurate bf16 bias sums, a fusable LeakyReLU.

The rewrites are the backend's own (:mod:`vaekit.backends.tensorflow` has both, and says why);
they give the gradient Keras gives, exactly or (bf16 bias sums) more accurately. On the other
backends, and wherever a rewrite does not apply, the layers run Keras's own ``call``.

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

from vaekit import backends

SERIALIZABLE = keras.saving.register_keras_serializable(package="vaekit")


def bias_add(x, bias):
    """``x + bias`` over the last axis, with an accurate bf16 bias gradient on every backend.

    Example:
        >>> import numpy as np
        >>> np.array(bias_add(np.zeros((2, 3), "float32"), np.arange(3.0))).tolist()
        [[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]]
    """
    add = backends.current.bias_add or ops.add
    return add(ops.convert_to_tensor(x), ops.cast(bias, ops.dtype(x)))


class AccurateBiasMixin:
    """Runs Keras's ``call``, except that a bf16 TensorFlow layer adds its bias by :func:`bias_add`.

    A subclass provides ``_linear(inputs)``: the layer's output before bias and activation.
    """

    def _accurate_bias(self) -> bool:
        return (
            getattr(self, "bias", None) is not None
            and self.compute_dtype == "bfloat16"
            and backends.current.bias_add is not None
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


@SERIALIZABLE
class LeakyReLU(keras.layers.LeakyReLU):
    """``keras.layers.LeakyReLU`` whose TensorFlow gradient lets the convolution before it fuse.

    Args:
        negative_slope: slope for negative inputs; the rewrite needs it > 0 (0 falls back to Keras).
    """

    def call(self, inputs):
        leaky_relu = backends.current.leaky_relu
        if leaky_relu is None or not self.negative_slope > 0:
            return super().call(inputs)
        return leaky_relu(inputs, float(self.negative_slope))
