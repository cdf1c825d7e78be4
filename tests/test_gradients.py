"""vaekit.models.gradients: Keras's layers and outputs, with gradients that are exact or better."""

import keras
import numpy as np
import pytest
from conftest import needs_bf16

from vaekit.models import gradients

tf = pytest.importorskip("tensorflow")
pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="the rewrites are TensorFlow gradients"
)

# (vaekit class, Keras class, constructor arguments, input shape): shaped like the reference model,
# where a bias sums 128 x 14 x 14 gradient values per channel.
LAYERS = [
    (
        gradients.Conv2D,
        keras.layers.Conv2D,
        {"filters": 8, "kernel_size": 3, "padding": "same"},
        (128, 14, 14, 4),
    ),
    (
        gradients.Conv2DTranspose,
        keras.layers.Conv2DTranspose,
        {"filters": 8, "kernel_size": 3, "strides": 2, "padding": "same"},
        (128, 7, 7, 4),
    ),
    (gradients.Dense, keras.layers.Dense, {"units": 8}, (128, 16)),
]


def _gradients(layer, inputs, upstream):
    """Output and gradients (input, kernel, bias) of ``sum(layer(inputs) * upstream)``."""
    x = tf.constant(inputs)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        objective = tf.reduce_sum(tf.cast(y, "float32") * upstream)
    grads = tape.gradient(objective, [x, layer.kernel.value, layer.bias.value])
    return [np.array(tf.cast(t, "float32")) for t in [y, *grads]]


# bfloat16 keeps 8 significant bits: rounding to it moves a value by at most U times itself.
U = 2.0**-8
FLOAT32_U = 2.0**-24


@needs_bf16
@pytest.mark.parametrize(("cls", "keras_cls", "kwargs", "shape"), LAYERS)
def test_bf16_layer_is_keras_but_sums_its_bias_gradient_in_float32(cls, keras_cls, kwargs, shape):
    """Outputs, input and kernel gradients are Keras's bf16 ones; the bias gradient is accurate.

    The bias gradient sums the upstream gradient g over N positions. g reaches the layer rounded
    to bfloat16 (error <= U|g|); the matrix product ``ones @ g`` multiplies by exactly 1 and adds
    in float32 (error <= N * 2^-24 * sum|g| in any order); the sum is rounded to bfloat16 (<= U
    times it). So each element is within (2U + N * 2^-24) * sum|g|, plus second-order terms, of
    the float32 layer's bias gradient, whether bfloat16 is native or emulated. TensorFlow 2.21's
    own BiasAddGrad, which adds in bfloat16, is off by up to 200 U * sum|g| on these feature maps.
    """
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=shape).astype("float32")
    reference = cls(**kwargs)
    reference.build(shape)
    out_shape = reference.compute_output_shape(shape)
    # A small positive upstream gradient, as the BCE of a mostly-dark image gives.
    upstream = rng.normal(1e-3, 1e-3, size=out_shape).astype("float32")
    want = _gradients(reference, inputs, upstream)[3]
    ours, theirs = (
        cls(**kwargs, dtype="mixed_bfloat16"),
        keras_cls(**kwargs, dtype="mixed_bfloat16"),
    )
    for layer in (ours, theirs):
        layer.build(shape)
        layer.set_weights(reference.get_weights())
    got, keras_got = _gradients(ours, inputs, upstream), _gradients(theirs, inputs, upstream)
    names = ["output", "input gradient", "kernel gradient"]
    for name, a, b in zip(names, got[:3], keras_got[:3], strict=True):
        np.testing.assert_array_equal(a, b, err_msg=name)

    terms = int(np.prod(out_shape[:-1]))
    allowed = (2 * U + terms * FLOAT32_U) * (1 + 4 * U) * np.abs(upstream).reshape(terms, -1).sum(0)
    assert np.all(np.abs(got[3] - want) <= allowed)


@pytest.mark.parametrize(("cls", "keras_cls", "kwargs", "shape"), LAYERS)
def test_float32_layer_computes_exactly_what_keras_computes(cls, keras_cls, kwargs, shape):
    rng = np.random.default_rng(1)
    inputs = rng.normal(size=shape).astype("float32")
    ours, theirs = cls(**kwargs), keras_cls(**kwargs)
    ours.build(shape)
    theirs.build(shape)
    theirs.set_weights(ours.get_weights())
    upstream = rng.normal(size=ours.compute_output_shape(shape)).astype("float32")
    for a, b in zip(
        _gradients(ours, inputs, upstream), _gradients(theirs, inputs, upstream), strict=True
    ):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", ["float32", "mixed_bfloat16"])
def test_leaky_relu_output_and_gradient_are_keras_bit_for_bit(dtype):
    rng = np.random.default_rng(2)
    inputs = rng.normal(size=(64, 9, 9, 5)).astype("float32")
    inputs[0, 0, 0] = 0.0  # the kink: both pick the slope side
    upstream = rng.normal(size=inputs.shape).astype("float32")
    results = []
    for layer in (
        gradients.LeakyReLU(negative_slope=0.3, dtype=dtype),
        keras.layers.LeakyReLU(negative_slope=0.3, dtype=dtype),
    ):
        x = tf.constant(inputs)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            objective = tf.reduce_sum(tf.cast(y, "float32") * upstream)
        results.append([np.array(tf.cast(y, "float32")), np.array(tape.gradient(objective, x))])
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)


def test_leaky_relu_without_a_positive_slope_is_keras():
    layer = gradients.LeakyReLU(negative_slope=0.0)
    x = tf.constant([-2.0, 0.0, 3.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
    np.testing.assert_array_equal(np.array(y), [0.0, 0.0, 3.0])
    np.testing.assert_array_equal(np.array(tape.gradient(y, x)), [0.0, 0.0, 1.0])


@pytest.mark.parametrize(
    "layer",
    [cls(**kwargs, name=f"layer_{i}") for i, (cls, _, kwargs, _) in enumerate(LAYERS)]
    + [gradients.LeakyReLU(negative_slope=0.3, name="leaky")],
    ids=lambda layer: type(layer).__name__,
)
def test_layers_round_trip_through_config_and_keras_files(tmp_path, layer):
    assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()
    shape = {"Dense": (4, 16), "LeakyReLU": (4, 5)}.get(type(layer).__name__, (4, 7, 7, 4))
    inputs = keras.Input(shape[1:])
    model = keras.Model(inputs, layer(inputs))
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert type(reloaded.layers[-1]) is type(layer)
    x = np.random.default_rng(3).normal(size=shape).astype("float32")
    np.testing.assert_array_equal(np.array(reloaded(x)), np.array(model(x)))
