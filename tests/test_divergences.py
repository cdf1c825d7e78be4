"""The divergences that stand in for the KL term: beta-TCVAE's split and InfoVAE's MMD, against
direct computations on small inputs, their refusals, and training through the console script.

Backend-neutral: ``make test-backends`` runs this file on JAX and PyTorch too.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from pathlib import Path

import keras
import numpy as np
import pytest
from support import ok, one_line, train_tiny, vaekit, write_config

from vaekit.config import Config
from vaekit.errors import ConfigError
from vaekit.models import divergences

# float32 sums of a few dozen log densities (|value| < 50): a relative 1e-5 is ~100 u.
RTOL = 1e-5


def normal_log_density(z, mu, log_var):
    return -0.5 * (math.log(2 * math.pi) + log_var + (z - mu) ** 2 / math.exp(log_var))


def direct_beta_tc(mu, log_var, z, n):
    """Chen et al. (2018) eq. 2's terms with minibatch-weighted sampling, loop by loop (float64)."""
    m, d = z.shape
    mi = tc = dwkl = 0.0
    for i in range(m):
        joint = [
            sum(normal_log_density(z[i, k], mu[j, k], log_var[j, k]) for k in range(d))
            for j in range(m)
        ]
        log_q_x = joint[i]
        log_q = math.log(sum(math.exp(v) for v in joint)) - math.log(n * m)
        log_product = sum(
            math.log(sum(math.exp(normal_log_density(z[i, k], mu[j, k], log_var[j, k]))
                         for j in range(m))) - math.log(n * m)
            for k in range(d)
        )  # fmt: skip
        log_p = sum(normal_log_density(z[i, k], 0.0, 0.0) for k in range(d))
        mi += (log_q_x - log_q) / m
        tc += (log_q - log_product) / m
        dwkl += (log_product - log_p) / m
    return {"mi": mi, "tc": tc, "dwkl": dwkl}


def direct_mmd(x, y, kernel):
    """Gretton et al. (2012) eq. 3, the unbiased MMD^2, loop by loop."""
    c = 2.0 * x.shape[1]

    def k(a, b):
        distance = float(np.sum((a - b) ** 2))
        return c / (c + distance) if kernel == "imq" else math.exp(-distance / c)

    m = len(x)
    within = sum(k(x[i], x[j]) + k(y[i], y[j]) for i, j in itertools.permutations(range(m), 2))
    across = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return within / (m * (m - 1)) - 2 * across / m**2


def small_posterior(seed=0, batch=5, dims=3):
    rng = np.random.default_rng(seed)
    mu = rng.normal(0, 1, (batch, dims)).astype("float32")
    log_var = rng.normal(-1, 0.5, (batch, dims)).astype("float32")
    z = (mu + np.exp(log_var / 2) * rng.normal(size=mu.shape)).astype("float32")
    return mu, log_var, z


def value(tensor) -> float:
    return float(keras.ops.convert_to_numpy(tensor))


def test_beta_tc_parts_match_a_direct_computation():
    mu, log_var, z = small_posterior()
    got = divergences.beta_tc_parts(mu, log_var, z, dataset_size=1000)
    want = direct_beta_tc(mu.astype(float), log_var.astype(float), z.astype(float), 1000)
    for name in ("mi", "tc", "dwkl"):
        assert value(got[name]) == pytest.approx(want[name], rel=RTOL, abs=1e-4), name


def test_beta_tc_parts_sum_to_the_sampled_kl():
    """I + TC + dimension-wise KL = mean_i log q(z_i|x_i) - log p(z_i), whatever N is."""
    mu, log_var, z = small_posterior(1, batch=8, dims=4)
    sampled_kl = np.mean(
        [
            sum(normal_log_density(z[i, k], mu[i, k], log_var[i, k])
                - normal_log_density(z[i, k], 0.0, 0.0) for k in range(4))
            for i in range(8)
        ]
    )  # fmt: skip
    for n in (10, 60000):
        parts = divergences.beta_tc_parts(mu, log_var, z, dataset_size=n)
        total = sum(value(v) for v in parts.values())
        assert total == pytest.approx(sampled_kl, rel=RTOL, abs=1e-4)


def test_beta_tc_weighs_only_the_total_correlation():
    from vaekit.models.objective import Objective

    mu, log_var, z = small_posterior(2)
    parts = {k: value(v) for k, v in divergences.beta_tc_parts(mu, log_var, z, 500).items()}
    objective = Objective("elbo", kl_weight=6.0, divergence="beta_tc", dataset_size=500)
    term = value(divergences.divergence_term(objective, mu, log_var, z, scale=0.5))
    assert term == pytest.approx(0.5 * (parts["mi"] + 6.0 * parts["tc"] + parts["dwkl"]), RTOL)


@pytest.mark.parametrize("kernel", ["imq", "rbf"])
def test_mmd_matches_a_direct_computation(kernel):
    rng = np.random.default_rng(3)
    x = rng.normal(0.5, 1.0, (6, 3)).astype("float32")
    y = rng.normal(0.0, 1.0, (6, 3)).astype("float32")
    got = value(divergences.mmd(x, y, kernel))
    assert got == pytest.approx(direct_mmd(x.astype(float), y.astype(float), kernel), abs=1e-6)


def test_mmd_tells_the_prior_from_a_shifted_code():
    """Unbiased: about 0 (either sign) between two prior samples; clearly positive when shifted.
    The estimate's standard deviation is O(1 / m) for m samples: 5 / m allowed."""
    rng = np.random.default_rng(4)
    m = 200
    same = value(divergences.mmd(rng.normal(size=(m, 4)), rng.normal(size=(m, 4))))
    shifted = value(divergences.mmd(rng.normal(2.0, 1.0, (m, 4)), rng.normal(size=(m, 4))))
    assert abs(same) < 5 / m and shifted > 0.1


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"train": {"divergence": "beta_tc"}}, "needs train.loss_convention elbo"),
        (
            {"train": {"divergence": "mmd", "loss_convention": "elbo"},
             "model": {"kl_strategy": "layer"}},
            "model.kl_strategy layer cannot carry it",
        ),
        (
            {"train": {"divergence": "beta_tc", "loss_convention": "elbo", "free_bits": 0.1}},
            "apply to divergence kl",
        ),
        (
            {"train": {"divergence": "beta_tc", "loss_convention": "elbo",
                       "distribute": "mirrored"}},
            "train.distribute mirrored splits it",
        ),
        ({"train": {"divergence": "tc"}}, "expected one of kl, beta_tc, mmd"),
    ],
)  # fmt: skip
def test_settings_a_divergence_cannot_train_with_are_one_line(changes, words):
    with pytest.raises(ConfigError, match=words) as raised:
        Config.from_dict(changes)
    assert "\n" not in str(raised.value)


def rows(run):
    with open(run / "metrics.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
@pytest.mark.parametrize(
    "divergence, strategy, parts",
    [("beta_tc", "layer", ("mi", "tc", "dwkl")), ("mmd", "multi_output", ("mmd",))],
)
def test_a_divergence_trains_saves_loads_and_evaluates_in_new_processes(
    tmp_path, divergence, strategy, parts
):
    train = {"loss_convention": "elbo", "divergence": divergence, "beta": 4.0}
    run = train_tiny(
        tmp_path / divergence,
        {"train": train, "model": {"kl_strategy": strategy}, "data": {"binarize": "static"}},
    )
    last = rows(run)[-1]
    for part in parts:
        assert math.isfinite(float(last[part])) and math.isfinite(float(last[f"val_{part}"]))
    assert last["mi" if divergence == "mmd" else "mmd"] == ""
    evaluated = ok(vaekit("evaluate", run, "--samples", 4, "--limit", 32, "--quiet"))
    result = json.loads((run / "evaluation.json").read_text())
    assert math.isfinite(result["nats_per_image"]["iwae"]["mean"]), evaluated.stdout
    # The saved model carries its divergence: a resume may not change it.
    changed = vaekit("train", "--resume", run, "--set", "train.divergence=kl")
    assert changed.returncode == 2 and "train.divergence" in one_line(changed)


def test_the_console_script_refuses_a_divergence_without_the_elbo(tmp_path):
    config = write_config(tmp_path, {"train": {"divergence": "mmd"}})
    result = vaekit("train", "--config", config, "--out", tmp_path / "run")
    assert result.returncode == 2 and "needs train.loss_convention elbo" in one_line(result)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("count, batch_size", [(8, 1), (65, 64)])
def test_fit_refuses_batches_the_mmd_cannot_use(mnist_small, count, batch_size):
    """The Python API's ``fit`` checks what ``vaekit train`` checks: a batch of one image, the
    last one included, has no MMD (0 / 0), and training on it would log NaN."""
    from vaekit import VariationalAutoencoder
    from vaekit.errors import DataError
    from vaekit.models.objective import Objective

    objective = Objective(convention="elbo", divergence="mmd", mmd_weight=1.0)
    vae = VariationalAutoencoder(
        z_dim=2, encoder_conv_filters=[4, 4, 4], decoder_conv_t_filters=[4, 4, 1],
        kl_strategy="multi_output", objective=objective,
    )  # fmt: skip
    vae.compile()
    with pytest.raises(DataError, match="a batch of 1, but the divergence mmd needs") as raised:
        vae.fit(mnist_small[0][:count], batch_size=batch_size, verbose=0)
    assert "\n" not in str(raised.value)


def test_the_mmd_column_has_no_unit_and_may_be_negative():
    """The unbiased MMD^2 estimate between two samples of the prior itself is below 0 about half
    the time (its mean is 0), so metrics.csv's mmd column cannot be nats; the README says so."""
    rng = np.random.default_rng(0)
    estimates = [value(divergences.mmd(rng.normal(size=(64, 4)), rng.normal(size=(64, 4))))
                 for _ in range(20)]  # fmt: skip
    assert min(estimates) < 0 < max(estimates)
    readme = " ".join((Path(__file__).parents[1] / "README.md").read_text().split())
    row = readme.split("| `metrics.csv` |", 1)[1].split("|", 1)[0]
    assert "mi, tc and dwkl in nats" in row and "mmd" in row.split("in nats", 1)[1]
    assert "no unit" in row.split("mmd", 1)[1]
