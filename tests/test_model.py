"""VariationalAutoencoder: building, shapes, save/load round trips and continued training."""

from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import STRATEGIES

from vaekit import ConfigError, ModelFileError, VariationalAutoencoder
from vaekit.config import ModelConfig
from vaekit.models.objective import Objective
from vaekit.models.strategies import STRATEGIES as MODEL_CLASSES

# A train_step model (elbo, 3 importance samples) of 8x8 images, trained two steps and saved by
# vaekit before the model's settings were typed (issue 28), with its encodings and decodings.
BEFORE_TYPED = Path(__file__).parent / "data" / "model_before_issue28"


def test_reference_architecture_layers_and_shapes():
    vae = VariationalAutoencoder(seed=0)
    names = [layer.name for layer in vae.encoder.layers]
    assert [n for n in names if n.startswith("encoder_conv_")] == [
        f"encoder_conv_{i}" for i in range(3)
    ]
    assert vae.encoder.get_layer("encoder_conv_1").strides == (2, 2)
    assert [tuple(o.shape) for o in vae.encoder.outputs] == [(None, 2)] * 3
    assert tuple(vae.decoder.output.shape) == (None, 28, 28, 1)
    assert vae.decoder.get_layer("decoder_dense").units == 7 * 7 * 128
    # Trainable parameters of the reference model (encoder 101,636 + decoder 101,505).
    assert vae.model.count_params() == vae.encoder.count_params() + vae.decoder.count_params()


def test_build_in_separate_steps_like_the_reference_code():
    vae = VariationalAutoencoder(z_dim=3, build=False)
    assert vae.model is None
    encoder, decoder = vae.build_encoder(), vae.build_decoder()
    model = vae.build_model()
    assert model.encoder is encoder and model.decoder is decoder
    vae.summary()  # summary() works on all three


def test_decoder_shape_mismatch_names_the_setting_to_change():
    with pytest.raises(ConfigError, match=r"multiply to 8.* to 4.*\(56, 56, 1\).*\(28, 28, 1\)"):
        VariationalAutoencoder(decoder_conv_t_strides=[2, 2, 2])
    with pytest.raises(ConfigError, match=r"the last is 3, but model.input_dim has 1 channel"):
        VariationalAutoencoder(decoder_conv_t_filters=[64, 32, 3])


@pytest.mark.parametrize("activation", ["relu", "selu", "leaky_relu"])
def test_options_build_the_documented_layers(activation):
    vae = VariationalAutoencoder(
        activation=activation, use_batch_norm=True, use_dropout=True, dropout_rate=0.1, seed=0
    )
    kinds = {type(layer).__name__ for layer in vae.encoder.layers + vae.decoder.layers}
    assert "BatchNormalization" in kinds
    assert ("AlphaDropout" if activation == "selu" else "Dropout") in kinds
    conv = vae.encoder.get_layer("encoder_conv_0")
    expected = "LecunNormal" if activation == "selu" else "GlorotUniform"
    assert type(conv.kernel_initializer).__name__ == expected


def test_encode_decode_generate_shapes(images):
    vae = VariationalAutoencoder(z_dim=3, seed=0)
    assert vae.encode(images).shape == (32, 3)
    assert vae.decode(np.zeros((5, 3))).shape == (5, 28, 28, 1)
    assert vae.reconstruct(images[:4]).shape == (4, 28, 28, 1)
    samples = vae.generate(6, seed=1)
    assert samples.shape == (6, 28, 28, 1) and 0 <= samples.min() and samples.max() <= 1
    np.testing.assert_array_equal(samples, vae.generate(6, seed=1))
    np.testing.assert_array_equal(vae.encode(images), vae.encode(images))  # mu: deterministic
    assert not np.array_equal(vae.encode(images, sample=True), vae.encode(images))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_save_load_round_trip_then_continued_training(tmp_path, images, strategy):
    vae = VariationalAutoencoder(kl_strategy=strategy, seed=4)
    vae.compile(learning_rate=1e-3)
    vae.fit(images, batch_size=16, epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    vae.save(path)
    loaded = VariationalAutoencoder.load(path)
    assert loaded.config == vae.config
    assert type(loaded.model) is type(vae.model)
    np.testing.assert_array_equal(loaded.encode(images), vae.encode(images))
    z = np.random.default_rng(0).standard_normal((8, 2)).astype("float32")
    np.testing.assert_array_equal(loaded.decode(z), vae.decode(z))
    # Optimizer state and the sampling noise stream come back: one more step agrees exactly.
    assert loaded.model.optimizer.iterations.numpy() == vae.model.optimizer.iterations.numpy()
    for original, restored in zip(
        vae.model.optimizer.variables, loaded.model.optimizer.variables, strict=True
    ):
        np.testing.assert_array_equal(np.array(original), np.array(restored))
    targets = vae.model.targets(images)
    expected = vae.model.train_on_batch(images, targets, return_dict=True)
    got = loaded.model.train_on_batch(images, loaded.model.targets(images), return_dict=True)
    for key in ("loss", "bce", "kl"):
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-6)


def test_a_model_saved_before_its_settings_were_typed_loads_as_it_was():
    saved = np.load(BEFORE_TYPED / "outputs.npz")
    vae = VariationalAutoencoder.load(BEFORE_TYPED / "model.keras")
    assert isinstance(vae.model.model_config, ModelConfig) and vae.model.model_config.seed == 5
    assert vae.config == vae.model.model_config and vae.config.input_dim == (8, 8, 1)
    assert vae.model.objective == Objective(convention="elbo", kl_weight=1.0, iw_samples=3)
    assert vae.model.iw_noise is not None and vae.model.optimizer.iterations.numpy() == 2
    np.testing.assert_allclose(vae.encode(saved["x"]), saved["mu"], atol=1e-5)
    np.testing.assert_allclose(vae.decode(saved["z"]), saved["decoded"], atol=1e-5)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_config_of_an_earlier_vaekit_builds_the_same_model(strategy):
    """Before issue 28 a model's config held no Keras base keys (``trainable``, ``dtype``), and a
    file from before a setting existed leaves it out: its default (ModelConfig's) applies."""
    vae = VariationalAutoencoder(kl_strategy=strategy, z_dim=3, kl_factor=0.01, seed=4)
    config = vae.model.get_config()
    assert {"name", "trainable", "dtype"} <= set(config)  # Keras's own config, then vaekit's
    earlier = {key: config[key] for key in ("name", "encoder", "decoder", "kl_factor")}
    newer = ("likelihood", "gaussian_sigma", "encoder_dense_units", "decoder_dense_activation")
    earlier["model_config"] = {
        key: value for key, value in config["model_config"].items() if key not in newer
    }
    earlier["versions"] = {"vaekit": "0.1.0", "keras": "3.0.0", "backend": "tensorflow"}
    model = MODEL_CLASSES[strategy].from_config({**earlier, "training_state": None})
    assert model.model_config == vae.config and model.objective == vae.model.objective
    assert model.versions["keras"] == "3.0.0" and model.built
    assert model.get_config()["model_config"] == config["model_config"]
    model.set_weights(vae.model.get_weights())  # the same variables, in the same order
    z = np.random.default_rng(0).standard_normal((4, 3)).astype("float32")
    np.testing.assert_array_equal(model.decoder.predict(z, verbose=0), vae.decode(z))


def test_save_requires_keras_suffix(tmp_path):
    with pytest.raises(ModelFileError, match=r"\.keras"):
        VariationalAutoencoder(seed=0).save(tmp_path / "model.h5")


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04truncated"])
def test_loading_a_damaged_file_is_a_clear_error(tmp_path, content):
    path = tmp_path / "model.keras"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match="model.keras"):
        VariationalAutoencoder.load(path)


def test_loading_a_foreign_keras_model_is_a_clear_error(tmp_path):
    inputs = keras.Input((3,))
    keras.Model(inputs, keras.layers.Dense(1)(inputs)).save(tmp_path / "other.keras")
    with pytest.raises(ModelFileError, match="not a vaekit model"):
        VariationalAutoencoder.load(tmp_path / "other.keras")
