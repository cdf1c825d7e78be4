"""vaekit.compat: the blog series' MyVariationalAutoencoder, an adapter over vaekit's VAE."""

import keras
import numpy as np
import pytest

from vaekit import ConfigError, VariationalAutoencoder
from vaekit.compat import ACTIVATIONS, SOLUTION_TYPES, MyVariationalAutoencoder

# The series' MNIST architecture, as its notebooks pass it.
REFERENCE = dict(
    input_dim=(28, 28, 1),
    encoder_conv_filters=[32, 64, 128],
    encoder_conv_kernel_size=[3, 3, 3],
    encoder_conv_strides=[1, 2, 2],
    decoder_conv_t_filters=[64, 32, 1],
    decoder_conv_t_kernel_size=[3, 3, 3],
    decoder_conv_t_strides=[2, 2, 1],
    z_dim=2,
)
# A smaller one where only the wiring matters, to keep the tests fast.
TINY = dict(REFERENCE, encoder_conv_filters=[4, 8], encoder_conv_kernel_size=[3, 3])
TINY.update(encoder_conv_strides=[2, 2], decoder_conv_t_filters=[4, 1])
TINY.update(decoder_conv_t_kernel_size=[3, 3], decoder_conv_t_strides=[2, 2])


@pytest.mark.parametrize("solution_type", [0, 1, 2, 3])
@pytest.mark.slow
def test_notebook_cells_run_for_every_solution_type(mnist_small, solution_type):
    x_train = mnist_small[0][:128]
    # The notebook's cells; only the import line differs from the series.
    MyVae = MyVariationalAutoencoder(  # noqa: N806 (the notebooks' name)
        **REFERENCE, solution_type=solution_type, act=0, fact=0.65e-4, seed=0
    )
    MyVae._build_enc()
    MyVae._build_dec()
    MyVae._build_VAE()
    MyVae.compile_for_KL_Layer(learning_rate=0.0005)
    history = MyVae.train_model_with_KL_Layer(x_train, batch_size=64, epochs=1, verbose=0)

    assert MyVae.model.name == f"vae_{SOLUTION_TYPES[solution_type]}"
    assert MyVae.solution_type == solution_type and MyVae.learning_rate == 0.0005
    assert {"bce", "kl", "loss", "nelbo"} <= set(history.history)
    assert np.isfinite(history.history["loss"][0])
    assert isinstance(history, keras.callbacks.History)
    # mu, log_var and z are the encoder's symbolic outputs, as in the reference code.
    assert all(keras.utils.is_keras_tensor(t) for t in (MyVae.mu, MyVae.log_var, MyVae.z))
    assert [MyVae.mu, MyVae.log_var, MyVae.z] == MyVae.encoder.outputs
    assert tuple(MyVae.mu.shape) == (None, 2)


def test_solution_types_follow_the_series_numbering():
    assert SOLUTION_TYPES == {0: "layer", 1: "multi_output", 2: "add_loss", 3: "train_step"}


@pytest.mark.parametrize(
    "act, layer_type, check",
    [
        (0, "LeakyReLU", lambda layer: layer.negative_slope == pytest.approx(0.3)),
        (1, "ReLU", lambda layer: True),
        (2, "Activation", lambda layer: layer.activation.__name__ == "selu"),
    ],
)
def test_act_selects_the_activation_layers(act, layer_type, check):
    MyVae = MyVariationalAutoencoder(**TINY, act=act, b_build_all=True)  # noqa: N806
    assert MyVae.act == act and MyVae.vae.config.activation == ACTIVATIONS[act]
    for part, name in ((MyVae.encoder, "encoder_act_0"), (MyVae.decoder, "decoder_act_0")):
        layer = part.get_layer(name)
        assert type(layer).__name__ == layer_type and check(layer)


def test_b_build_all_builds_everything_and_false_builds_nothing():
    built = MyVariationalAutoencoder(**TINY, solution_type=2, b_build_all=True)
    assert built.model.encoder is built.encoder and built.model.decoder is built.decoder
    assert built.model.name == "vae_add_loss"
    empty = MyVariationalAutoencoder(**TINY)
    assert (empty.encoder, empty.decoder, empty.model, empty.mu, empty.log_var) == (None,) * 5


def test_negative_fact_or_no_solution_type_keeps_the_constructors():
    MyVae = MyVariationalAutoencoder(**TINY, solution_type=0, fact=1e-3)  # noqa: N806
    MyVae._build_enc(fact=-1.0)
    assert (MyVae.fact, MyVae.solution_type) == (1e-3, 0)
    assert MyVae.encoder.get_layer("kl").kl_factor == 1e-3  # the KL layer got the constructor's
    MyVae._build_enc(solution_type=-1)  # the later reference versions' "keep" marker
    assert MyVae.vae.config.kl_strategy == "layer"


def test_build_enc_with_other_settings_rebuilds_and_keeps_the_config_consistent():
    MyVae = MyVariationalAutoencoder(**TINY, solution_type=0, fact=1e-3)  # noqa: N806
    MyVae._build_dec()
    decoder = MyVae.decoder
    MyVae._build_enc(solution_type=3, fact=5e-4)
    assert (MyVae.solution_type, MyVae.fact) == (3, 5e-4)
    config = MyVae.vae.config
    assert (config.kl_strategy, config.kl_factor, MyVae.vae.objective.kl_weight) == (
        "train_step",
        5e-4,
        5e-4,
    )
    assert MyVae.decoder is decoder  # independent of the wiring: kept
    MyVae._build_VAE()
    assert MyVae.model.name == "vae_train_step" and MyVae.model.kl_factor == 5e-4


# Two wirings keep this fast: the translation of the arguments is the same for all four, and the
# cell test above checks which wiring each solution_type builds. 1 and 3 are those whose numbers
# differ most from vaekit's own aliases (with dict targets and a custom train_step).
# Solution type 1 in make test-slow: the argument translation is the same for all four, and the
# notebook-cell test checks which wiring each number builds.
@pytest.mark.parametrize("solution_type", [pytest.param(1, marks=pytest.mark.slow), 3])
def test_trains_exactly_like_the_equivalent_variational_autoencoder(mnist_small, solution_type):
    """Same code path, same seeds: the losses and weights agree bit for bit."""
    x_train = mnist_small[0][:64]
    keras.utils.set_random_seed(0)  # the weight initialisers draw from the global seed
    MyVae = MyVariationalAutoencoder(  # noqa: N806
        **TINY, solution_type=solution_type, act=2, fact=1e-3, use_batch_norm=True, seed=1
    )
    MyVae._build_all()
    MyVae.compile_for_KL_Layer(1e-3)
    got = MyVae.train_model_with_KL_Layer(x_train, 32, 1, verbose=0).history

    keras.utils.set_random_seed(0)
    vae = VariationalAutoencoder(
        **TINY,
        kl_strategy=SOLUTION_TYPES[solution_type],
        activation="selu",
        kl_factor=1e-3,
        use_batch_norm=True,
        seed=1,
    )
    vae.compile(learning_rate=1e-3)
    want = vae.fit(x_train, batch_size=32, epochs=1, verbose=0).history

    assert got == want  # bit-identical: no tolerance needed
    for mine, theirs in zip(MyVae.model.weights, vae.model.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(solution_type=4), r"solution_type: got 4, expected one of 0 \(layer\), "),
        (dict(solution_type=-1), r"solution_type: got -1, expected one of 0 \(layer\), "),
        (dict(act=3), r"act: got 3, expected one of 0 \(leaky_relu\), 1 \(relu\), 2 \(selu\)$"),
        (dict(act=True), r"act: got True, expected one of 0 \(leaky_relu\)"),
        (dict(act="relu"), r"act: got 'relu', expected one of"),
        (dict(fact=-1.0), r"^fact: got -1.0"),  # vaekit's check, with the reference's name
        (dict(kl_factor=1.0), r"^kl_factor: set by the reference arguments"),
    ],
)
def test_bad_arguments_are_one_line_config_errors_naming_the_argument(arguments, message):
    with pytest.raises(ConfigError, match=message) as caught:
        MyVariationalAutoencoder(**TINY, **arguments)
    assert "\n" not in str(caught.value)


def test_bad_solution_type_in_build_enc_is_a_config_error():
    MyVae = MyVariationalAutoencoder(**TINY)  # noqa: N806
    with pytest.raises(ConfigError, match=r"^solution_type: got 7, expected one of 0 \(layer\)"):
        MyVae._build_enc(solution_type=7)
    with pytest.raises(RuntimeError, match=r"_build_enc\(\) and _build_dec\(\)"):
        MyVae._build_VAE()


def test_save_and_load_keep_the_interface(tmp_path, images):
    MyVae = MyVariationalAutoencoder(  # noqa: N806
        **TINY, solution_type=1, act=1, fact=2e-3, b_build_all=True, seed=0
    )
    MyVae.compile_for_KL_Layer(1e-3)
    MyVae.save(tmp_path / "vae.keras")
    loaded = MyVariationalAutoencoder.load(tmp_path / "vae.keras")
    assert (loaded.solution_type, loaded.act, loaded.fact) == (1, 1, 2e-3)
    np.testing.assert_array_equal(loaded.vae.encode(images), MyVae.vae.encode(images))
