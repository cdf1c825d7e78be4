"""``vaekit.evaluation`` and ``vaekit evaluate``: the estimators against known answers, then runs.

The estimators are checked on models whose ``log p(x)`` is known in closed form: a linear-Gaussian
model (``x | z ~ N(W z + b, s^2 I)`` with orthogonal columns in ``W``, so that its posterior is a
diagonal Gaussian a VAE encoder can match exactly) and decoders that ignore ``z``. Monte Carlo
claims ("in expectation") are checked at four standard errors, computed from the same draws, on
fixed seeds; exact claims at the rounding of the arithmetic involved. Then whole runs: one written
by vaekit before this module existed (``tests/data/run_before_issue10``) and one trained now, each
evaluated by the installed console script in a new process.
"""

import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from support import VAEKIT

from vaekit import VariationalAutoencoder
from vaekit.cli import main
from vaekit.config import Config
from vaekit.datasets.binarize import TEST_STREAM, TRAIN_STREAM, binarize_static
from vaekit.errors import VaekitError
from vaekit.evaluation import (
    estimate,
    evaluate_images,
    evaluate_run,
    format_table,
)
from vaekit.runs.lock import RunLock
from vaekit.training import run as runs

OLD_RUN = Path(__file__).parent / "data" / "run_before_issue10"
LOG_2PI = math.log(2.0 * math.pi)
FLOAT32_EPS = 2.0**-24  # unit roundoff of float32
SIGMAS = 4.0  # Monte Carlo claims hold within this many standard errors
TINY_MODEL = {"encoder_conv_filters": [4, 4, 4], "decoder_conv_t_filters": [4, 4, 1], "seed": 1}


class LinearGaussian:
    """``z ~ N(0, I_D)``, ``x | z ~ N(W z + b, s^2 I_P)``; ``W``'s columns are orthogonal.

    Then ``p(x) = N(b, W W^T + s^2 I)`` and ``p(z | x)`` is the diagonal Gaussian of
    :meth:`posterior`.
    """

    def __init__(self, pixels=6, scales=(2.0, 0.7), noise=0.5, seed=0):
        rng = np.random.default_rng(seed)
        basis, _ = np.linalg.qr(rng.standard_normal((pixels, pixels)))
        self.weights = basis[:, : len(scales)] * np.asarray(scales)  # (P, D)
        self.bias = rng.standard_normal(pixels)
        self.noise = noise

    def sample(self, count, seed):
        rng = np.random.default_rng(seed)
        z = rng.standard_normal((count, self.weights.shape[1]))
        return (
            z @ self.weights.T
            + self.bias
            + self.noise * rng.standard_normal((count, len(self.bias)))
        )

    def log_likelihood(self, images, z):
        mean = np.asarray(z, np.float64) @ self.weights.T + self.bias
        squares = np.square((np.asarray(images, np.float64) - mean) / self.noise)
        return -0.5 * np.sum(LOG_2PI + 2.0 * math.log(self.noise) + squares, axis=-1)

    def log_marginal(self, images):
        covariance = self.weights @ self.weights.T + self.noise**2 * np.eye(len(self.bias))
        _, log_det = np.linalg.slogdet(covariance)
        centred = np.asarray(images, np.float64) - self.bias
        mahalanobis = np.sum(centred * np.linalg.solve(covariance, centred.T).T, axis=-1)
        return -0.5 * (len(self.bias) * LOG_2PI + log_det + mahalanobis)

    def posterior(self, images):
        """The exact ``(mu, log_var)`` of ``p(z | x)``."""
        precision = 1.0 + np.sum(np.square(self.weights), axis=0) / self.noise**2  # (D,)
        centred = np.asarray(images, np.float64) - self.bias
        mu = (centred @ self.weights) / self.noise**2 / precision
        return mu, np.broadcast_to(-np.log(precision), mu.shape)


def gaussian_kl(mu_q, log_var_q, mu_p, log_var_p):
    """``KL(N(mu_q, var_q) || N(mu_p, var_p))`` of diagonal Gaussians, summed over the last axis."""
    ratio = np.exp(log_var_q - log_var_p)
    shift = np.square(mu_q - mu_p) / np.exp(log_var_p)
    return 0.5 * np.sum(ratio + shift - 1.0 - np.log(ratio), axis=-1)


def standard_error(values):
    return np.std(values, ddof=1) / math.sqrt(len(values))


def assert_near_zero_in_expectation(values, what):
    """The mean of independent draws is within SIGMAS standard errors of 0."""
    mean, error = np.mean(values), standard_error(values)
    assert abs(mean) <= SIGMAS * error, f"{what}: mean {mean:.4g}, standard error {error:.3g}"


def assert_positive_in_expectation(values, what):
    """The mean of independent draws is more than SIGMAS standard errors above 0."""
    mean, error = np.mean(values), standard_error(values)
    assert mean > SIGMAS * error, f"{what}: mean {mean:.4g}, standard error {error:.3g}"


@pytest.fixture(scope="module")
def linear():
    model = LinearGaussian()
    images = model.sample(4000, seed=1).astype(np.float32)  # images are float32, as estimate's
    return model, images, model.log_marginal(images)


@pytest.fixture(scope="module")
def mismatched(linear):
    """An encoder that is off: its mean half the posterior's std away, its variance doubled."""
    model, images, _ = linear
    mu, log_var = model.posterior(images)
    return mu + 0.5 * np.exp(0.5 * log_var), log_var + math.log(2.0)


# The estimators on closed-form models.


@pytest.mark.parametrize("samples", [1, 50])
def test_with_the_exact_posterior_iwae_is_minus_log_p_x_for_every_k(linear, samples):
    model, images, log_px = linear
    mu, log_var = model.posterior(images)
    result = estimate(model.log_likelihood, images, mu, log_var, samples, max_points=64)
    # Every log-weight is log p(x) whatever z is (z is float32, log q is evaluated at that very z),
    # so only float64 rounding of terms of tens of nats separates them: ~1e-14, not 1e-9.
    np.testing.assert_allclose(result.iwae, -log_px, rtol=0, atol=1e-9)
    # The bound is tight: KL(q || p(z|x)) = 0, so the negative ELBO is -log p(x) in expectation.
    assert_near_zero_in_expectation(result.nelbo + log_px, "negative ELBO - (-log p(x))")


def test_k_1_is_the_negative_elbo_in_expectation_and_with_the_same_noise(linear, mismatched):
    model, images, _ = linear
    mu, log_var = mismatched
    seed = 7
    result = estimate(model.log_likelihood, images, mu, log_var, samples=1, seed=seed)
    assert_near_zero_in_expectation(result.iwae - result.nelbo, "iwae(K=1) - negative ELBO")
    # With the same noise (image i's z from default_rng([seed, i])), -log w = -log p(x|z) + log
    # q(z|x) - log p(z): the ELBO's terms with the KL as its one-sample estimate.
    epsilon = np.stack([np.random.default_rng([seed, i]).standard_normal(2) for i in range(4000)])
    z = (mu + np.exp(0.5 * log_var) * epsilon).astype(np.float32).astype(np.float64)
    log_q = -0.5 * np.sum(LOG_2PI + log_var + np.square(z - mu) / np.exp(log_var), axis=-1)
    log_p = -0.5 * np.sum(LOG_2PI + np.square(z), axis=-1)
    np.testing.assert_allclose(result.reconstruction, -model.log_likelihood(images, z), rtol=1e-12)
    np.testing.assert_allclose(result.iwae, result.reconstruction + log_q - log_p, rtol=1e-12)


def test_the_negative_elbo_exceeds_minus_log_p_x_by_the_posterior_kl(linear, mismatched):
    model, images, log_px = linear
    mu, log_var = mismatched
    result = estimate(model.log_likelihood, images, mu, log_var, samples=20, max_points=10**6)
    true_mu, true_log_var = model.posterior(images)
    gap = gaussian_kl(mu, log_var, true_mu, true_log_var)  # about 0.56 nats an image
    np.testing.assert_allclose(result.kl, gaussian_kl(mu, log_var, 0.0, 0.0), rtol=1e-12)
    assert_near_zero_in_expectation(result.nelbo + log_px - gap, "negative ELBO - truth - KL")


def test_the_bound_tightens_as_k_grows_and_stays_above_the_truth(linear, mismatched):
    model, images, log_px = linear
    mu, log_var = mismatched
    gaps = {
        k: estimate(model.log_likelihood, images, mu, log_var, k, max_points=10**6).iwae + log_px
        for k in (1, 10, 100)
    }  # iwae - (-log p(x)) of each image
    assert_positive_in_expectation(gaps[1] - gaps[10], "iwae(1) - iwae(10)")
    assert_positive_in_expectation(gaps[10] - gaps[100], "iwae(10) - iwae(100)")
    assert np.mean(gaps[100]) > -SIGMAS * standard_error(gaps[100])  # still a bound on -log p(x)


def test_memory_stays_bounded_and_chunks_and_batches_change_nothing(linear, mismatched):
    model, images, _ = linear
    images, mu, log_var = images[:40], mismatched[0][:40], mismatched[1][:40]
    largest = []

    def recording(points, z):
        largest.append(len(z))
        return model.log_likelihood(points, z)

    whole = estimate(model.log_likelihood, images, mu, log_var, samples=50, max_points=10**6)
    chunked = estimate(recording, images, mu, log_var, samples=50, max_points=16)
    assert max(largest) <= 16 and len(largest) > 50  # K = 50 > max_points: many small calls
    halves = [
        estimate(recording, images[part], mu[part], log_var[part], 50, indices=np.arange(40)[part])
        for part in (slice(0, 13), slice(13, 40))
    ]
    # The same noise reaches the same images: only float64 summation order differs.
    for name in ("reconstruction", "kl", "iwae"):
        np.testing.assert_allclose(getattr(chunked, name), getattr(whole, name), rtol=1e-12)
        joined = np.concatenate([getattr(half, name) for half in halves])
        np.testing.assert_allclose(joined, getattr(whole, name), rtol=1e-12)


def test_the_log_sum_exp_holds_where_every_weight_underflows():
    # p(x|z) = exp(-1e5) whatever z, and q is the prior: w_k = exp(-1e5), 0 in any float.
    images = np.zeros((3, 4), np.float32)
    result = estimate(
        lambda x, z: np.full(len(x), -1e5), images, np.zeros((3, 2)), np.zeros((3, 2)), 300,
        max_points=100,
    )  # fmt: skip
    np.testing.assert_allclose(result.iwae, 1e5, rtol=1e-14)


def test_bad_sample_counts_are_refused():
    with pytest.raises(VaekitError, match="samples: got 0"):
        estimate(
            lambda x, z: np.zeros(len(x)), np.zeros((1, 2)), np.zeros((1, 1)), np.zeros((1, 1)), 0
        )


# A real vaekit model whose decoder ignores z and whose encoder returns the prior: exact again.


@pytest.mark.filterwarnings(
    "ignore:The structure of `inputs`"
)  # training_output(z), as Keras calls it
def test_a_vaekit_model_with_an_exact_posterior_gets_its_log_likelihood(mnist_small):
    vae = VariationalAutoencoder(**TINY_MODEL)
    model = vae.model
    for name in ("mu", "log_var"):  # q(z|x) = N(0, I) = p(z) = p(z|x), as p(x|z) ignores z
        layer = model.encoder.get_layer(name)
        layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    dense = model.decoder.get_layer("decoder_dense")
    kernel, bias = dense.get_weights()
    dense.set_weights([np.zeros_like(kernel), np.random.default_rng(0).normal(size=bias.shape)])
    images = np.asarray(mnist_small[2][:6])

    result = evaluate_images(model, images, samples=30, batch_size=4, max_points=32, verbose=0)

    # The truth in float64 from the decoder's (float32) logits, the same for every z.
    logits = np.asarray(model.training_output(np.zeros((6, 2), np.float32)), np.float64)
    terms = (images * logits - np.logaddexp(0.0, logits)).reshape(6, -1)  # log p per pixel
    truth = -np.sum(terms, axis=-1)
    # nll_per_image sums 784 float32 terms: at most 784 * eps32 * sum |terms| apart (summation),
    # plus a few roundings of each term.
    tolerance = (terms.shape[1] + 4) * FLOAT32_EPS * np.sum(np.abs(terms), axis=-1)
    assert np.all(np.abs(result.iwae - truth) <= tolerance)
    assert np.all(np.abs(result.nelbo - truth) <= tolerance)
    np.testing.assert_array_equal(result.kl, 0.0)


# Run folders.


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A run trained now: 256 MNIST images, 3 epochs, binarized (static), the ELBO in nats."""
    config = Config.from_dict(
        {
            "model": TINY_MODEL,
            "data": {"dataset": "mnist", "limit": 256, "binarize": "static"},
            "train": {
                "epochs": 3,
                "batch_size": 64,
                "learning_rate": 0.01,  # to learn something in 12 steps
                "seed": 3,
                "loss_convention": "elbo",
            },
        }
    )
    return runs.train(config, tmp_path_factory.mktemp("runs") / "run", verbose=0).path


def vaekit(*arguments):
    """The installed console script in a new process; returns the completed process."""
    return subprocess.run(
        [VAEKIT, *map(str, arguments)], capture_output=True, text=True, timeout=600
    )


def check_result(result: dict, samples: int, images: int) -> None:
    """What every evaluation.json holds, consistently."""
    assert result["samples"] == samples and result["split"] == "test"
    assert result["images"] == images and result["seed"] == 0
    terms = result["nats_per_image"]
    for term in terms.values():
        assert math.isfinite(term["mean"]) and term["standard_error"] > 0
    nelbo, kl = terms["nelbo"]["mean"], terms["kl"]["mean"]
    assert nelbo == pytest.approx(terms["reconstruction"]["mean"] + kl, rel=1e-12)
    # IWAE <= negative ELBO in expectation: their paired difference is not significantly negative.
    gap = terms["nelbo_minus_iwae"]
    assert gap["mean"] > -SIGMAS * gap["standard_error"]
    assert 0 < terms["iwae"]["mean"] <= nelbo + SIGMAS * gap["standard_error"]
    assert result["seconds"] > 0 and set(result["versions"]) >= {"vaekit", "keras", "backend"}


@pytest.mark.slow
def test_a_run_written_before_this_module_evaluates_in_a_new_process(tmp_path):
    run = tmp_path / "old"
    shutil.copytree(OLD_RUN, run)
    done = vaekit("evaluate", run, "--samples", 20)  # with its progress bar
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "vaekit: warning" not in done.stderr

    result = json.loads((run / "evaluation.json").read_text())
    check_result(result, samples=20, images=256)  # data.limit 256: its first 256 test images
    assert result["likelihood"] == "bernoulli" and result["loss_convention"] == "reference"
    assert result["binarization"] == "none" and result["binarization_seed"] is None
    # Keras's reference terms: the KL in closed form both ways, kl_factor * 2 * mean_d KL_d, equal
    # to float32 rounding; bce is one z's per-pixel reconstruction, K's mean's within its spread.
    terms, metrics = result["nats_per_image"], result["training_metrics"]
    assert metrics["kl"] == pytest.approx(2e-4 * 2 * terms["kl"]["mean"] / 2, rel=1e-5)
    reconstruction = terms["reconstruction"]
    assert (
        abs(metrics["bce"] * 784 - reconstruction["mean"])
        < SIGMAS * reconstruction["standard_error"]
    )
    assert metrics["loss"] == pytest.approx(metrics["bce"] + metrics["kl"], rel=1e-5)
    printed = done.stdout
    assert format_table(result) in printed
    assert f"written to {run / 'evaluation.json'}" in printed
    assert "IWAE" in printed and "note: a bernoulli likelihood on grey-level images" in printed
    assert "iwae:" in printed  # the progress bar


@pytest.mark.slow
def test_a_run_trained_now_evaluates_in_a_new_process(tiny_run, tmp_path):
    run, out = tmp_path / "run", tmp_path / "elsewhere" / "result.json"
    shutil.copytree(tiny_run, run)
    done = vaekit("evaluate", run, "--samples", 12, "--limit", 40, "--out", out, "--quiet")
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    check_result(result, samples=12, images=40)
    assert result["likelihood"] == "bernoulli" and result["loss_convention"] == "elbo"
    assert result["binarization"] == "static" and result["binarization_seed"] == 3
    # In nats (the elbo convention), Keras's kl is the mean KL summed over latent dimensions.
    metrics, terms = result["training_metrics"], result["nats_per_image"]
    assert metrics["kl"] == pytest.approx(terms["kl"]["mean"], rel=1e-5)
    assert done.stdout.startswith(f"{run}: test split, 40 images, K = 12 importance samples")
    assert "note:" not in done.stdout  # binary images: these are log-likelihoods
    assert not (run / "evaluation.json").exists()  # --out elsewhere


def test_the_api_evaluates_the_fixed_binary_sample_reproducibly(tiny_run, tmp_path):
    first = evaluate_run(tiny_run, samples=6, limit=24, batch_size=24, verbose=0)
    assert json.loads((tiny_run / "evaluation.json").read_text()) == first
    # Another batch size: the same noise for each image; float32 rounding in the decoder differs
    # with the batch's shape, ~1e-7 relative on each of 784 terms: well within 1e-5.
    again = evaluate_run(
        tiny_run, samples=6, limit=24, batch_size=5, out=tmp_path / "a.json", verbose=0
    )
    other_seed = evaluate_run(
        tiny_run, samples=6, limit=24, seed=1, out=tmp_path / "b.json", verbose=0
    )
    for name, term in first["nats_per_image"].items():
        assert again["nats_per_image"][name]["mean"] == pytest.approx(term["mean"], rel=1e-5)
    assert other_seed["nats_per_image"]["iwae"]["mean"] != first["nats_per_image"]["iwae"]["mean"]

    # The images are the binary sample training validates on, not the grey levels.
    config = Config.load(tiny_run / "config.yaml")
    data = runs.load_data(config)
    binary = binarize_static(data.test.subset(slice(0, 24)), config.train.seed, TEST_STREAM)
    model = runs.load_run_model(runs.RunFolder(tiny_run)).model
    expected = evaluate_images(model, binary.take(np.arange(24)), samples=6, verbose=0)
    iwae = first["nats_per_image"]["iwae"]["mean"]
    assert iwae == pytest.approx(np.mean(expected.iwae), rel=1e-5)
    grey = evaluate_images(model, data.source.test.take(np.arange(24)), samples=6, verbose=0)
    # (log p(x|z) is linear in x: grey levels agree with binary samples only in expectation.)
    assert np.mean(grey.iwae) != pytest.approx(iwae, rel=1e-5)


@pytest.mark.slow
def test_the_train_split_of_a_dynamically_binarized_run_is_one_fixed_sample(tiny_run, tmp_path):
    config = Config.load(tiny_run / "config.yaml")
    config.data.binarize = "dynamic"  # training draws a new sample each batch; evaluation: one
    config.train.epochs = 1
    run = runs.train(config, tmp_path / "dynamic", verbose=0).path
    result = evaluate_run(run, samples=4, split="train", limit=16, verbose=0)
    assert result["split"] == "train" and result["binarization"] == "dynamic"

    grey = runs.load_data(config).train.subset(slice(0, 16))
    binary = binarize_static(grey, config.train.seed, TRAIN_STREAM).take(np.arange(16))
    assert set(np.unique(binary)) == {0.0, 1.0}
    model = runs.load_run_model(runs.RunFolder(run)).model
    expected = evaluate_images(model, binary, samples=4, verbose=0).summary()
    for name, term in expected.items():  # float32 rounding apart, at most (see above)
        assert result["nats_per_image"][name]["mean"] == pytest.approx(term["mean"], rel=1e-5)
    unbinarized = evaluate_images(model, grey, samples=4, verbose=0)
    assert np.mean(unbinarized.iwae) != pytest.approx(expected["iwae"]["mean"], rel=1e-5)


def test_a_locked_run_is_refused_unless_the_result_goes_elsewhere(tiny_run, tmp_path):
    with RunLock(tiny_run, "vaekit train"):
        with pytest.raises(VaekitError, match="in use by process"):
            evaluate_run(tiny_run, samples=2, limit=2, verbose=0)
        result = evaluate_run(tiny_run, samples=2, limit=2, out=tmp_path / "r.json", verbose=0)
    assert result["images"] == 2


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--samples", "0"], "--samples: got 0, expected an integer >= 1"),
        (["--limit", "0"], "--limit: got 0, expected an integer >= 1"),
        (["--max-points", "-3"], "--max-points: got -3, expected an integer >= 1"),
    ],
)
def test_bad_flags_are_one_line_errors(tiny_run, arguments, message, capsys):
    assert main(["evaluate", str(tiny_run), *arguments]) == 2
    assert capsys.readouterr().err == f"vaekit: error: {message}\n"
