"""Every custom layer and loss goes through the same checks (keras-hub style)."""

import keras
import numpy as np
import pytest

from vaekit.models.layers import KLDivergenceLayer, KLLoss, Sampling
from vaekit.models.objective import Objective, kl_term


def check_layer(tmp_path, layer, inputs):
    """Config round trip, symbolic and eager calls, and save/reload with equal outputs."""
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    symbolic = [keras.Input(x.shape[1:]) for x in inputs]
    outputs = layer(symbolic)
    model = keras.Model(symbolic, outputs)
    eager = model(inputs)
    path = tmp_path / f"{layer.name}.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    fresh = keras.Model.from_config(model.get_config())  # same seeds, untouched noise state
    fresh.set_weights(model.get_weights())
    for a, b in zip(
        keras.tree.flatten(reloaded(inputs)), keras.tree.flatten(fresh(inputs)), strict=True
    ):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-6)
    return eager


@pytest.fixture
def posterior():
    rng = np.random.default_rng(0)
    return [
        rng.normal(size=(8, 3)).astype("float32"),
        rng.normal(scale=0.3, size=(8, 3)).astype("float32"),
    ]


def test_sampling_layer(tmp_path, posterior):
    z = check_layer(tmp_path, Sampling(seed=11, name="sampling"), posterior)
    assert z.shape == (8, 3)
    mu, log_var = posterior
    # z is mu plus noise of standard deviation exp(log_var / 2): a few sigmas at most.
    assert np.all(np.abs((np.array(z) - mu) / np.exp(log_var / 2)) < 6)


def test_sampling_noise_is_seeded_and_has_unit_variance():
    mu, log_var = np.zeros((20000, 2), "float32"), np.zeros((20000, 2), "float32")
    first = np.array(Sampling(seed=5)([mu, log_var]))
    np.testing.assert_array_equal(first, np.array(Sampling(seed=5)([mu, log_var])))
    assert abs(first.mean()) < 0.03 and abs(first.std() - 1) < 0.03


def test_kl_layer_adds_the_reference_kl_and_passes_inputs_through(tmp_path, posterior):
    layer = KLDivergenceLayer(kl_factor=0.3, name="kl")
    outputs = check_layer(tmp_path, layer, posterior)
    for got, want in zip(outputs, posterior, strict=True):
        np.testing.assert_array_equal(np.array(got), want)
    layer(posterior)
    mu, log_var = posterior
    expected = 0.3 * -np.mean(1 + log_var - mu**2 - np.exp(log_var))
    np.testing.assert_allclose(float(layer.losses[0]), expected, rtol=1e-5)


def test_kl_loss_object_matches_kl_loss_and_round_trips(posterior):
    loss = KLLoss(kl_factor=0.7)
    assert KLLoss.from_config(loss.get_config()).get_config() == loss.get_config()
    mu, log_var = posterior
    value = loss(np.zeros((8, 6), "float32"), np.concatenate([mu, log_var], axis=-1))
    term = kl_term(Objective(kl_weight=0.7), mu, log_var)
    np.testing.assert_allclose(float(value), float(term), rtol=1e-6)
