"""The VampPrior: its mixture density and sampled KL against direct computations, the estimator's
bound under it, its refusals, and a run that trains, saves, loads, evaluates and generates through
the console script.

Backend-neutral: ``make test-backends`` runs this file on JAX and PyTorch too.
"""

from __future__ import annotations

import json
import math

import keras
import numpy as np
import pytest
from support import ok, one_line, train_tiny, vaekit

from vaekit import VariationalAutoencoder
from vaekit.config import Config
from vaekit.errors import ConfigError
from vaekit.evaluation.estimators import estimate
from vaekit.models import priors
from vaekit.models.objective import Objective, kl_term


def direct_mixture(z, means, log_vars):
    """log (1/K) sum_k N(z; m_k, exp(v_k)), loop by loop in float64."""
    values = []
    for row in z:
        densities = [
            math.prod(
                math.exp(-0.5 * (x - m) ** 2 / math.exp(v)) / math.sqrt(2 * math.pi * math.exp(v))
                for x, m, v in zip(row, mean, log_var, strict=True)
            )
            for mean, log_var in zip(means, log_vars, strict=True)
        ]
        values.append(math.log(sum(densities) / len(means)))
    return np.array(values)


def components(seed=0, count=4, dims=3):
    rng = np.random.default_rng(seed)
    means = rng.normal(0, 1, (count, dims)).astype("float32")
    log_vars = rng.normal(-0.5, 0.3, (count, dims)).astype("float32")
    return means, log_vars


def test_the_mixture_density_matches_a_direct_computation():
    means, log_vars = components()
    z = np.random.default_rng(1).normal(size=(5, 3)).astype("float32")
    want = direct_mixture(z.astype(float), means.astype(float), log_vars.astype(float))
    got = keras.ops.convert_to_numpy(priors.mixture_log_prob(z, means, log_vars))
    # float32 log densities of size < 20, summed over 3 dimensions and 4 components: 1e-5 of 20.
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-4)
    np.testing.assert_allclose(priors.mixture_log_prob_numpy(z, means, log_vars), want, rtol=1e-12)


def test_a_mixture_of_standard_normals_is_the_standard_normal():
    z = np.random.default_rng(2).normal(size=(6, 2))
    zeros = np.zeros((5, 2))
    expected = -0.5 * np.sum(np.log(2 * np.pi) + z**2, axis=-1)
    np.testing.assert_allclose(priors.mixture_log_prob_numpy(z, zeros, zeros), expected, 1e-12)


def test_the_kl_term_is_the_sampled_kl_against_the_model_prior():
    rng = np.random.default_rng(3)
    mu, log_var = rng.normal(size=(4, 3)), rng.normal(-1, 0.2, (4, 3))
    z = mu + np.exp(log_var / 2) * rng.normal(size=mu.shape)
    log_prior = rng.normal(-4, 1, 4)
    log_q = -0.5 * np.sum(np.log(2 * np.pi) + log_var + (z - mu) ** 2 / np.exp(log_var), axis=-1)
    sampled = np.mean(log_q - log_prior)
    f32 = [v.astype("float32") for v in (mu, log_var, z, log_prior)]
    elbo = Objective("elbo", kl_weight=2.0, prior="vamp")
    reference = Objective(kl_weight=2.0, prior="vamp")
    for objective, want in ((elbo, 2.0 * sampled), (reference, 2.0 * sampled * 2 / 3)):
        got = float(keras.ops.convert_to_numpy(kl_term(objective, f32[0], f32[1], 0.5, *f32[2:])))
        assert got == pytest.approx(0.5 * want, rel=1e-5), objective.convention


def test_the_bound_under_a_prior_that_is_the_standard_normal_is_the_normal_one():
    """The same weights, so the same IWAE bound to float64 rounding; the sampled KL is within 5
    standard errors (estimated from its own samples) of the analytic one."""
    x = np.ones((2, 3))
    mu, log_var = np.array([[0.5, -1.0], [0.0, 2.0]]), np.array([[-1.0, 0.5], [0.0, -2.0]])

    def log_likelihood(images, z, labels=None):
        return -np.sum(np.square(z), axis=-1)  # any function of z will do

    def standard(z):
        return priors.mixture_log_prob_numpy(z, np.zeros((3, 2)), np.zeros((3, 2)))

    samples = 20000
    normal = estimate(log_likelihood, x, mu, log_var, samples, seed=1)
    mixture = estimate(log_likelihood, x, mu, log_var, samples, seed=1, log_prior=standard)
    np.testing.assert_allclose(mixture.iwae, normal.iwae, rtol=1e-9)
    np.testing.assert_allclose(mixture.reconstruction, normal.reconstruction, rtol=1e-12)
    rng = np.random.default_rng(0)
    for i in range(2):
        z = mu[i] + np.exp(log_var[i] / 2) * rng.normal(size=(samples, 2))
        log_q = -0.5 * np.sum(
            np.log(2 * np.pi) + log_var[i] + (z - mu[i]) ** 2 / np.exp(log_var[i]), -1
        )
        spread = np.std(log_q - standard(z)) / math.sqrt(samples)
        assert abs(mixture.kl[i] - normal.kl[i]) < 5 * spread


def test_sampling_the_mixture_picks_a_component_then_its_gaussian():
    means = np.array([[-10.0, 0.0], [10.0, 0.0]])
    log_vars = np.full((2, 2), -8.0)  # standard deviation 0.018
    z = priors.sample_mixture(means, log_vars, 4000, np.random.default_rng(0))
    near = np.abs(np.abs(z[:, 0]) - 10.0) < 0.1
    assert near.all() and abs(np.mean(z[:, 0] > 0) - 0.5) < 5 * 0.5 / math.sqrt(4000)


def test_the_pseudo_inputs_are_clipped_images_and_round_trip():
    layer = priors.PseudoInputs(count=6, shape=(4, 4, 1), seed=3, name="pseudo_inputs")
    images = keras.ops.convert_to_numpy(layer.images())
    assert images.shape == (6, 4, 4, 1) and images.min() >= 0 and images.max() <= 1
    # Drawn near the authors' N(0.05, 0.01): within 6 standard deviations.
    assert np.all(np.abs(images - priors.PSEUDO_INPUT_MEAN) < 6 * priors.PSEUDO_INPUT_STDDEV)
    clone = priors.PseudoInputs.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(clone.images()), images)


def test_a_vamp_model_saves_and_loads_its_pseudo_inputs(tmp_path):
    vae = VariationalAutoencoder(
        seed=4, kl_strategy="add_loss", prior="vamp", pseudo_inputs=5,
        objective={"convention": "elbo", "kl_weight": 1.0},
    )  # fmt: skip
    vae.model.pseudo_inputs.values.assign(np.full((5, 28, 28, 1), 0.3, "float32"))
    vae.save(tmp_path / "vamp.keras")
    loaded = VariationalAutoencoder.load(tmp_path / "vamp.keras")
    for mine, theirs in zip(
        loaded.model.prior_components(), vae.model.prior_components(), strict=True
    ):
        np.testing.assert_allclose(mine, theirs, rtol=1e-6)
    assert loaded.config.prior == "vamp" and loaded.objective.prior == "vamp"


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"model": {"prior": "vamp"}}, "model.kl_strategy layer does not go with it"),
        (
            {"model": {"prior": "vamp", "kl_strategy": "train_step", "conditional": True}},
            "model.conditional does not go with it",
        ),
        (
            {"model": {"prior": "vamp", "kl_strategy": "add_loss"},
             "train": {"loss_convention": "elbo", "divergence": "beta_tc"}},
            "train.divergence beta_tc does not go with it",
        ),
        (
            {"model": {"prior": "vamp", "kl_strategy": "train_step"},
             "train": {"loss_convention": "elbo", "free_bits": 0.5}},
            "train.free_bits does not go with it",
        ),
        ({"model": {"prior": "mixture"}}, "expected one of normal, vamp"),
    ],
)  # fmt: skip
def test_settings_the_vamp_prior_cannot_train_with_are_one_line(changes, words):
    with pytest.raises(ConfigError, match=words) as raised:
        Config.from_dict(changes)
    assert "\n" not in str(raised.value)


@pytest.mark.slow
def test_a_vamp_run_trains_evaluates_and_generates_in_new_processes(tmp_path):
    model = {"prior": "vamp", "pseudo_inputs": 12, "kl_strategy": "multi_output"}
    run = train_tiny(tmp_path / "vamp", {"model": model, "train": {"loss_convention": "elbo"}})
    assert (run / "plots" / "pseudo_inputs.png").is_file()
    ok(vaekit("evaluate", run, "--samples", 4, "--limit", 32, "--quiet"))
    result = json.loads((run / "evaluation.json").read_text())
    assert result["prior"] == "vamp"
    nats = result["nats_per_image"]
    assert math.isfinite(nats["iwae"]["mean"]) and nats["kl"]["mean"] is not None
    ok(vaekit("generate", run, "-n", 4, "--seed", 1, "--out", tmp_path / "samples.png"))
    changed = vaekit("train", "--resume", run, "--set", "model.prior=normal")
    assert changed.returncode == 2 and "model.prior" in one_line(changed)
