"""The objectives: likelihoods against closed forms, KL schedules, free bits, binarization, IWAE."""

import math

import keras
import numpy as np
import pytest
from support import gradient

from vaekit.config import Config
from vaekit.datasets.binarize import TEST_STREAM, TRAIN_STREAM, binarize_static
from vaekit.datasets.images import ArrayImages
from vaekit.datasets.pipeline import iterate, make_dataset
from vaekit.errors import ConfigError
from vaekit.models import likelihoods
from vaekit.models.objective import (
    Objective,
    iwae_bound,
    kl_per_dimension,
    kl_schedule_value,
    kl_term,
    log_weights,
    negative_elbo,
)
from vaekit.models.vae import VariationalAutoencoder

F32_EPS = float(np.finfo(np.float32).eps)


def closed_form_log_norm(eta):
    """log C of the continuous Bernoulli in float64, from its definition in lambda.

    ``C = 2 atanh(1 - 2 lambda) / (1 - 2 lambda)``; where lambda is within 1e-12 of 0 or 1
    (|eta| > 27) float64 loses that form to cancellation, and ``C = |eta| / tanh(|eta| / 2)`` is
    ``|eta|`` to 1e-11.
    """
    eta = np.asarray(eta, np.float64)
    lam = 1.0 / (1.0 + np.exp(-eta))
    x = 1.0 - 2.0 * lam
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.log(2.0 * np.arctanh(x) / x)
        value = np.where(np.abs(x) < 1e-12, math.log(2.0), value)
        return np.where(np.abs(eta) > 27.0, np.log(np.abs(eta)), value)


ETAS = [-30.0, -5.0, -1.0, -0.11, -0.1, -0.0999, -0.05, -1e-4, 0.0, 1e-4, 0.05, 0.0999, 0.1]
ETAS += [0.11, 1.0, 5.0, 30.0]


def test_continuous_bernoulli_normaliser_matches_its_closed_form_near_and_far_from_one_half():
    eta = np.array(ETAS, np.float32)
    got = np.asarray(likelihoods.continuous_bernoulli_log_norm(eta), np.float64)
    want = closed_form_log_norm(eta.astype(np.float64))
    # A handful of float32 operations on values of size <= log(30): a few ulps of the result.
    np.testing.assert_allclose(got, want, rtol=8 * F32_EPS, atol=8 * F32_EPS)
    assert got[ETAS.index(0.0)] == np.float32(math.log(2.0))


def test_continuous_bernoulli_is_a_density_and_its_gradient_is_finite_at_one_half():
    x = np.linspace(0.0, 1.0, 20001)
    for eta in (-4.0, -0.05, 0.0, 0.3, 6.0):
        logits = np.full_like(x, eta, dtype=np.float32)
        density = np.exp(np.asarray(likelihoods.continuous_bernoulli_log_prob(x, logits), float))
        # Trapezoid rule on a smooth density: its error (h^2 / 12 max|p''|) is far below 1e-5.
        area = float(np.sum((density[1:] + density[:-1]) / 2.0) * (x[1] - x[0]))
        assert area == pytest.approx(1.0, abs=1e-5), eta
    eta = np.array([0.0, 0.1, -0.1, 1e-5], np.float32)
    slope = gradient(likelihoods.continuous_bernoulli_log_norm, eta)
    # d/d eta of log C is eta / 6 + O(eta^3) near 0.
    np.testing.assert_allclose(slope, eta / 6.0, atol=1e-4)


def test_bernoulli_is_the_binary_cross_entropy_and_stays_finite_when_saturated():
    rng = np.random.default_rng(0)
    x = rng.random((4, 5)).astype(np.float32)
    logits = rng.normal(0, 3, (4, 5)).astype(np.float32)
    probabilities = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    bce = -(x * np.log(probabilities) + (1 - x) * np.log(1 - probabilities))
    got = -np.asarray(likelihoods.bernoulli_log_prob(x, logits))
    np.testing.assert_allclose(got, bce, rtol=1e-5, atol=1e-6)
    # No clipping: a confident wrong logit costs its full size, not log(1e-7).
    far = -np.asarray(likelihoods.bernoulli_log_prob(np.float32(1.0), np.float32(-60.0)))
    assert far == pytest.approx(60.0, rel=1e-6)


def test_gaussian_log_prob_matches_the_normal_density():
    x = np.array([0.2, 0.9], np.float32)
    logits = np.array([0.0, 2.0], np.float32)
    mean = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    sigma = 0.1
    want = -0.5 * np.log(2 * np.pi * sigma**2) - (x - mean) ** 2 / (2 * sigma**2)
    got = np.asarray(likelihoods.gaussian_log_prob(x, logits, np.float32(np.log(sigma))))
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_schedules_give_their_value_in_every_epoch():
    assert [kl_schedule_value("constant", e, 5) for e in range(5)] == [1.0] * 5
    linear = [kl_schedule_value("linear", e, 10, warmup_epochs=4) for e in range(6)]
    assert linear == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    # Fu et al.: 12 epochs, 3 cycles of 4 epochs, each rising over its first half.
    cyclical = [kl_schedule_value("cyclical", e, 12, cycles=3, ramp=0.5) for e in range(12)]
    assert cyclical == [0.0, 0.5, 1.0, 1.0] * 3


def test_free_bits_stop_the_gradient_of_dimensions_below_the_floor():
    mu = np.array([[0.05, 2.0], [-0.05, 1.0]], np.float32)
    log_var = np.zeros((2, 2), np.float32)
    objective = Objective("elbo", kl_weight=1.0, free_bits=0.5)
    slope = gradient(lambda m: kl_term(objective, m, log_var), mu)
    assert np.all(slope[:, 0] == 0.0)  # KL of dim 0 is 0.00125 < 0.5: held at the floor
    np.testing.assert_allclose(slope[:, 1], mu[:, 1] / 2.0)  # d mean_b(mu^2/2) / d mu
    kl = keras.ops.convert_to_numpy(kl_per_dimension(mu, log_var)).mean(axis=0)
    term = float(keras.ops.convert_to_numpy(kl_term(objective, mu, log_var)))
    assert term == pytest.approx(0.5 + kl[1], rel=1e-6)


def test_negative_elbo_is_the_summed_likelihood_plus_the_kl():
    rng = np.random.default_rng(1)
    images = (rng.random((3, 4, 4, 1)) < 0.5).astype(np.float32)
    logits = rng.normal(size=(3, 4, 4, 1)).astype(np.float32)
    mu, log_var = rng.normal(size=(3, 2)).astype(np.float32), np.zeros((3, 2), np.float32)
    p = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    nll = -(images * np.log(p) + (1 - images) * np.log(1 - p)).reshape(3, -1).sum(axis=1)
    kl = 0.5 * (mu.astype(np.float64) ** 2).sum(axis=1)
    got = float(negative_elbo(Objective("elbo"), images, logits, mu, log_var))
    assert got == pytest.approx(float(np.mean(nll + kl)), rel=1e-5)


def test_iwae_bound_is_a_log_mean_exp_that_lies_above_the_mean_log_weight():
    rng = np.random.default_rng(2)
    log_w = rng.normal(-100.0, 3.0, (5, 7)).astype(np.float32)
    got = np.asarray(iwae_bound(log_w), np.float64)
    want = np.log(np.mean(np.exp(log_w.astype(np.float64) + 100.0), axis=1)) - 100.0
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert np.all(got >= log_w.mean(axis=1) - 1e-4)  # Jensen: the bound tightens the ELBO


def test_log_weights_with_a_decoder_that_ignores_z_are_the_likelihood_when_q_is_the_prior():
    images = np.ones((2, 3, 3, 1), np.float32)
    logits = np.full((1, 3, 3, 1), 0.5, np.float32)
    epsilon = np.random.default_rng(3).normal(size=(2, 4, 2)).astype(np.float32)

    def decode(z):  # ignores z
        return np.repeat(logits, z.shape[0], axis=0)

    zeros = np.zeros((2, 2), np.float32)
    log_w = np.asarray(log_weights(Objective("elbo"), images, decode, zeros, zeros, epsilon))
    exact = 9 * -np.log1p(np.exp(-0.5))  # log p(x) = 9 log sigmoid(0.5)
    np.testing.assert_allclose(log_w, exact, rtol=1e-5)


def test_static_binarization_is_fixed_reproducible_and_has_the_right_mean():
    rng = np.random.default_rng(4)
    grey = ArrayImages(rng.integers(0, 256, (64, 8, 8, 1), dtype=np.uint8))
    first = binarize_static(grey, seed=5, stream=TRAIN_STREAM)
    again = binarize_static(grey, seed=5, stream=TRAIN_STREAM)
    assert np.array_equal(first.array, again.array)
    assert set(np.unique(first.array)) <= {0, 255}
    assert not np.array_equal(first.array, binarize_static(grey, 6, TRAIN_STREAM).array)
    assert not np.array_equal(first.array, binarize_static(grey, 5, TEST_STREAM).array)
    # Mean of 4096 Bernoulli draws: within 5 standard deviations of the mean intensity.
    p = grey.take(np.arange(64)).astype(np.float64)
    spread = math.sqrt(float(np.sum(p * (1 - p)))) / p.size
    assert abs(first.take(np.arange(64)).mean() - p.mean()) < 5 * spread


def test_dynamic_binarization_draws_per_epoch_and_resumes_exactly():
    grey = np.full((40, 4, 4, 1), 0.5, np.float32)

    def batches(first_epoch=0, first_step=0):
        data = make_dataset(
            grey, 8, seed=1, first_epoch=first_epoch, epochs=2, first_step=first_step,
            binarize_seed=9,
        )  # fmt: skip
        return [np.asarray(x) for x, _ in iterate(data)]

    full = batches()
    assert all(set(np.unique(b)) <= {0.0, 1.0} for b in full)
    assert not np.array_equal(full[0], full[5])  # a new sample every epoch
    np.testing.assert_array_equal(np.stack(batches(0, 3)), np.stack(full[3:]))
    np.testing.assert_array_equal(np.stack(full), np.stack(batches()))


def test_iwae_training_runs_and_reports_every_metric(mnist_small):
    x = (mnist_small[0][:64] > 0.5).astype(np.float32)
    objective = Objective("elbo", kl_weight=1.0, iw_samples=3)
    vae = VariationalAutoencoder(kl_strategy="train_step", seed=1, objective=objective)
    vae.compile(learning_rate=1e-3)
    logs = vae.fit(x, batch_size=32, epochs=2, verbose=0).history
    assert {"loss", "bce", "kl", "nelbo"} <= set(logs)
    assert all(np.isfinite(logs[key]).all() for key in logs)
    assert logs["loss"][-1] < logs["loss"][0]


def test_keras_example_architecture_has_its_hidden_dense_layer():
    config = Config.load("configs/keras_example.yaml")
    vae = VariationalAutoencoder.from_config(config.model)
    names = [layer.name for layer in vae.encoder.layers]
    assert "encoder_dense_0" in names and vae.encoder.get_layer("encoder_dense_0").units == 16
    assert "decoder_dense_act" in [layer.name for layer in vae.decoder.layers]
    assert vae.decoder.output.shape[1:] == (28, 28, 1)


@pytest.mark.parametrize(
    "settings, field",
    [
        ({"train": {"free_bits": 0.1}}, "train.free_bits"),
        ({"train": {"beta": 2.0}}, "train.beta"),
        ({"train": {"loss_convention": "elbo", "iw_samples": 5}}, "train.iw_samples"),
        (
            {"model": {"kl_strategy": "train_step"}, "train": {"iw_samples": 5}},
            "train.iw_samples",
        ),
        ({"data": {"train_on": "train+test"}}, "data.validation"),
        ({"model": {"likelihood": "poisson"}}, "model.likelihood"),
        ({"model": {"gaussian_sigma": 0}}, "model.gaussian_sigma"),
        ({"data": {"binarize": "yes"}}, "data.binarize"),
        ({"train": {"kl_schedule": "cosine"}}, "train.kl_schedule"),
    ],
)
def test_objective_settings_that_do_not_fit_are_refused_with_the_field(settings, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        Config.from_dict(settings)


def test_objective_round_trips_through_a_saved_model(tmp_path):
    objective = Objective("elbo", "gaussian", 0.3, kl_weight=2.0, kl_schedule="linear")
    vae = VariationalAutoencoder(kl_strategy="multi_output", seed=1, objective=objective)
    vae.compile()
    vae.model.kl_scale_variable.assign(0.25)
    vae.save(tmp_path / "m.keras")
    loaded = VariationalAutoencoder.load(tmp_path / "m.keras")
    assert loaded.model.objective == objective
    assert float(loaded.model.kl_scale_variable.numpy()) == 0.25
    assert tuple(loaded.model.targets(np.zeros((2, 28, 28, 1)))["posterior"].shape) == (2, 5)


def test_continuous_bernoulli_mean_is_the_mean_of_its_density():
    x = np.linspace(0.0, 1.0, 200001)
    lams = np.array([1e-4, 0.1, 0.4, 0.4995, 0.5, 0.5004, 0.502, 0.9, 0.99], np.float64)
    got = likelihoods.continuous_bernoulli_mean(lams)
    for lam, mean in zip(lams, got, strict=True):
        # p(x) proportional to lam^x (1 - lam)^(1 - x): integrate x p(x) by the trapezoid rule.
        density = np.exp(x * np.log(lam) + (1 - x) * np.log1p(-lam))
        weights = np.full_like(x, x[1] - x[0])
        weights[[0, -1]] /= 2
        want = np.sum(weights * x * density) / np.sum(weights * density)
        assert mean == pytest.approx(want, abs=1e-6), lam  # float32 result: 6e-8 relative
