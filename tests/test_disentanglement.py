"""Disentanglement scores: known answers on synthetic codes, hand-computed cases, and
``vaekit evaluate RUN --disentanglement`` on a tiny shapes run through the console script.

The tolerances come from the estimators' arithmetic on N drawn samples:

- plug-in mutual information between independent variables of A and B values is biased upward
  by about ``(A - 1)(B - 1) / (2 N)`` nats (Miller-Madow); it bounds what an unrelated latent
  shares with a factor, so a perfect code's MIG is at least ``1 - bias / H``, a noise code's at
  most ``bias / H`` (times 3 for the spread);
- a vote or an accuracy over N draws has standard deviation at most ``sqrt(1 / (4 N))``: five of
  them are allowed.
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from support import copy_run, ok, one_line, train_tiny, vaekit

from vaekit.evaluation import disentanglement as scoring
from vaekit.evaluation.factor_runs import format_scores

LEVELS = (3, 4, 5)
SAMPLES = 2000
SMALL = scoring.Settings.scaled(SAMPLES)


def grid(levels=LEVELS, repeats=20) -> np.ndarray:
    """Every factor combination, ``repeats`` times: the factors of a labelled set (N, F)."""
    return np.tile(np.array(list(itertools.product(*map(range, levels)))), (repeats, 1))


def perfect_code(factors, rng, extra=0) -> np.ndarray:
    """Latent j is factor j, rescaled; ``extra`` latents of pure noise. (No noise on the
    factors' latents: one would split a level that falls on a bin edge in two.)"""
    code = factors / np.max(factors, axis=0)
    return np.concatenate([code, rng.normal(size=(len(factors), extra))], axis=1)


def entropy(levels) -> np.ndarray:
    return np.log(np.array(levels, float))  # uniform factors


def bias(a, b, n=SAMPLES) -> float:
    return (a - 1) * (b - 1) / (2 * n)


def sigma(n) -> float:
    return math.sqrt(1 / (4 * n))


def test_mutual_information_matches_a_hand_computation():
    a = np.array([0, 0, 1, 1])
    b = np.array([0, 1, 0, 1])  # independent of a: 0 nats
    assert scoring._mutual_information(a, b) == pytest.approx(0.0, abs=1e-12)
    assert scoring._mutual_information(a, a) == pytest.approx(math.log(2))
    # p(a, b) = [[1/2, 0], [1/4, 1/4]]: I = 1/2 log 4/3 + 1/4 log 2/3 + 1/4 log 2 (with
    # p(a) = (1/2, 1/2), p(b) = (3/4, 1/4)).
    a, b = np.array([0, 0, 1, 1]), np.array([0, 0, 0, 1])
    expected = (
        0.5 * math.log((1 / 2) / (1 / 2 * 3 / 4))
        + 0.25 * math.log((1 / 4) / (1 / 2 * 3 / 4))
        + 0.25 * math.log((1 / 4) / (1 / 2 * 1 / 4))
    )
    assert scoring._mutual_information(a, b) == pytest.approx(expected)


def test_discretize_puts_each_level_of_a_factor_in_its_own_bin():
    values = np.repeat(np.arange(16.0), 3)[:, None]
    bins = scoring.discretize(values, 20)[:, 0]
    assert len(np.unique(bins)) == 16 and np.all(np.diff(bins) >= 0)


def test_mig_of_a_perfect_code_is_one_and_of_noise_about_zero():
    rng = np.random.default_rng(0)
    factors = grid()
    h = entropy(LEVELS)
    rows = rng.integers(len(factors), size=SAMPLES)
    perfect = scoring.mig(perfect_code(factors, rng)[rows], factors[rows])
    worst = max(bias(a, b) for a, b in itertools.permutations(LEVELS, 2))
    assert np.all(np.array(perfect["per_factor"]) >= 1 - 3 * worst / h)
    matrix = np.array(perfect["mutual_information"])
    assert np.allclose(np.diag(matrix), h, atol=0.02)  # the sampled entropies
    noise = scoring.mig(rng.normal(size=(SAMPLES, 4)), factors[rows])
    assert noise["score"] < 3 * bias(20, max(LEVELS)) / h.min()


def test_mig_of_a_redundant_code_is_zero():
    """Two latents carry the same factor: no gap between the best two, MIG 0 for it."""
    rng = np.random.default_rng(1)
    factors = grid()[:, :1]
    code = np.concatenate([factors, factors], axis=1) + rng.normal(0, 1e-3, (len(factors), 2))
    assert scoring.mig(code, factors)["score"] == pytest.approx(0.0, abs=1e-9)


def test_dci_from_hand_made_importance_matrices():
    assert scoring.dci_from_importance(np.eye(3)) == pytest.approx((1.0, 1.0))
    assert scoring.dci_from_importance(np.ones((3, 3))) == pytest.approx((0.0, 0.0), abs=1e-9)
    # Both latents explain factor 0 alone: each latent is disentangled (1), but factor 0 is
    # spread evenly over two latents (completeness 1 - log 2 / log 2 = 0).
    both = np.array([[1.0, 0.0], [1.0, 0.0]])
    assert scoring.dci_from_importance(both) == pytest.approx((1.0, 0.0), abs=1e-9)


def disjoint(rng, count, size=1000):
    """Train and test draws from two disjoint halves of ``count`` images."""
    order = rng.permutation(count)
    return rng.choice(order[: count // 2], size), rng.choice(order[count // 2 :], size)


def test_dci_of_a_perfect_code_and_of_noise():
    rng = np.random.default_rng(2)
    factors = grid()
    train, test = disjoint(rng, len(factors))
    code = perfect_code(factors, rng)
    perfect = scoring.dci(code[train], factors[train], code[test], factors[test])
    assert perfect["disentanglement"] > 0.99 and perfect["completeness"] > 0.99
    assert perfect["informativeness_test"] == 1.0
    noise = rng.normal(size=(len(factors), 3))
    result = scoring.dci(noise[train], factors[train], noise[test], factors[test])
    assert result["disentanglement"] < 0.1 and result["completeness"] < 0.1
    chance = np.mean([1 / level for level in LEVELS])
    assert abs(result["informativeness_test"] - chance) < 5 * sigma(1000)


def test_factor_vae_score_of_a_perfect_code_is_one_and_of_noise_chance():
    rng = np.random.default_rng(3)
    factors = grid()
    perfect = scoring.factor_vae(perfect_code(factors, rng, extra=2), factors, rng, SMALL)
    assert perfect["eval_accuracy"] == 1.0 and perfect["train_accuracy"] == 1.0
    assert perfect["active_latents"] == 5
    noise = scoring.factor_vae(rng.normal(size=(len(factors), 6)), factors, rng, SMALL)
    # Votes independent of the factor: the classifier is right for 1 / F of the eval batches.
    assert abs(noise["eval_accuracy"] - 1 / len(LEVELS)) < 5 * sigma(SMALL.votes_eval)


def test_factor_vae_score_ignores_collapsed_latents_and_is_undefined_without_any():
    rng = np.random.default_rng(4)
    factors = grid()
    collapsed = np.concatenate([perfect_code(factors, rng), np.zeros((len(factors), 4))], 1)
    result = scoring.factor_vae(collapsed, factors, rng, SMALL)
    assert result["active_latents"] == 3 and result["eval_accuracy"] == 1.0
    nothing = scoring.factor_vae(np.zeros((len(factors), 4)), factors, rng, SMALL)
    assert nothing["eval_accuracy"] is None and nothing["active_latents"] == 0
    assert "no active latent" in nothing["undefined"]


def test_sap_known_answers():
    rng = np.random.default_rng(5)
    binary = grid((2, 2, 2), repeats=250)
    train, test = disjoint(rng, len(binary))
    code = perfect_code(binary, rng)
    # Best latent always right, the second at chance (1/2): a gap of 1/2 per factor.
    discrete = scoring.sap(code[train], binary[train], code[test], binary[test])
    assert abs(discrete["score"] - 0.5) < 5 * sigma(1000)
    factors = grid()
    code = perfect_code(factors, rng)
    continuous = scoring.sap(code, factors, code, factors, continuous=True)
    assert continuous["score"] == pytest.approx(1.0, abs=1e-4)
    noise = rng.normal(size=(len(factors), 3))
    assert scoring.sap(noise, factors, noise, factors, continuous=True)["score"] < 0.02


def test_scores_record_seed_and_settings_and_repeat_exactly():
    rng = np.random.default_rng(6)
    factors = grid()
    code = perfect_code(factors, rng, extra=1)
    names = ("mig", "factor_vae")
    first = scoring.scores(code, factors, seed=7, settings=SMALL, names=names)
    again = scoring.scores(code, factors, seed=7, settings=SMALL, names=names)
    assert first == again
    assert first["seed"] == 7 and first["settings"]["votes_train"] == SAMPLES
    assert set(scoring.summary(first)) == {"mig", "factor_vae"}
    with pytest.raises(ValueError, match="expected some of mig, dci, factor_vae, sap"):
        scoring.scores(code, factors, names=("beta",))


@pytest.mark.slow
def test_evaluate_disentanglement_on_a_shapes_run(tmp_path):
    """A tiny shapes run trained by one process, scored by another through the console script."""
    four, stride = [4, 4, 4, 4], [2, 2, 2, 2]
    model = {
        "input_dim": [64, 64, 1],
        "z_dim": 4,
        "encoder_conv_filters": four,
        "encoder_conv_kernel_size": four,
        "encoder_conv_strides": stride,
        "decoder_conv_t_filters": [4, 4, 4, 1],
        "decoder_conv_t_kernel_size": four,
        "decoder_conv_t_strides": stride,
    }
    run = train_tiny(tmp_path / "shapes", {"model": model, "data": {"dataset": "shapes"}})
    result = ok(vaekit("evaluate", run, "--disentanglement", "--score-samples", 400))
    saved = json.loads((run / "disentanglement.json").read_text())
    # data.limit keeps the split's first 256 images, in grid order: all one shape.
    assert "shape" in saved["constant_factors"] and "x" in saved["factors"]
    names = saved["constant_factors"] + saved["factors"]
    assert sorted(names) == sorted(["shape", "scale", "rotation", "x", "y"])
    assert saved["images"] == 256 and saved["settings"]["votes_train"] == 400
    assert set(saved["summary"]) == {
        "mig", "dci_disentanglement", "dci_completeness", "dci_informativeness_test",
        "factor_vae", "sap",
    }  # fmt: skip
    assert np.array(saved["mig"]["mutual_information"]).shape == (4, len(saved["factors"]))
    for key, value in saved["summary"].items():  # a score without a value: None, and why
        assert 0.0 <= value <= 1.0 if value is not None else key in saved["undefined"], key
    assert format_scores(saved).splitlines()[0] in result.stdout
    assert (run / "plots" / "factor_information.png").stat().st_size > 0
    # The report and compare pages, each written by another process, show the scores.
    ok(vaekit("report", run, "--points", 50, "--grid", 4, "--quiet"))
    page = (run / "report.html").read_text()
    assert 'id="disentanglement"' in page and "FactorVAE score" in page
    assert 'alt="factor_information.png"' in page
    other = copy_run(run, tmp_path / "shapes_copy")  # compare takes two different folders
    ok(vaekit("compare", run, other, "--out", tmp_path / "compare.html"))
    compared = (tmp_path / "compare.html").read_text()
    section = compared.split("<h2>Disentanglement</h2>")[1].split("<h2>")[0]
    assert "FactorVAE score" in section and section.count("<img") == 2  # each run's heat map


def test_a_factor_with_one_value_is_left_out_and_named(tmp_path):
    rng = np.random.default_rng(8)
    factors = grid()
    factors[:, 1] = 2
    result = scoring.scores(perfect_code(factors, rng), factors, settings=SMALL, names=("mig",))
    assert result["scored_factors"] == [0, 2] and result["constant_factors"] == [1]
    assert len(result["mig"]["per_factor"]) == 2
    with pytest.raises(ValueError, match="no factor takes more than one value"):
        scoring.scores(np.zeros((5, 2)), np.zeros((5, 2)), names=("mig",))
    # The first images of a split in grid order are one shape: the command says it left it out.
    run = tmp_path / "run"
    saved = {"run": str(run), "split": "test", "images": 600, "seed": 0, "seconds": 1.0,
             "factors": ["x"], "constant_factors": ["shape"], "summary": {"mig": 0.5}}  # fmt: skip
    assert format_scores(saved).endswith("not scored (one value over these images): shape")


@pytest.mark.slow
def test_evaluate_disentanglement_without_factors_is_one_line(tiny_run):
    run = tiny_run  # an MNIST run (conftest's, shared): no ground-truth factors
    result = vaekit("evaluate", run, "--disentanglement")
    assert result.returncode == 2
    assert "has no ground-truth factors" in one_line(result)
    assert not (run / "disentanglement.json").exists()
    alone = vaekit("evaluate", run, "--score-samples", 100)
    assert alone.returncode == 2 and "only with --disentanglement" in one_line(alone)
    few = vaekit("evaluate", run, "--disentanglement", "--score-samples", 1)
    assert few.returncode == 2 and "expected an integer >= 2" in one_line(few)
    assert not (run / "evaluation.json").exists()


def test_the_report_section_shows_scores_per_factor_and_the_heat_map():
    from vaekit.report.html import render_page

    rng = np.random.default_rng(9)
    factors = grid()
    result = scoring.scores(perfect_code(factors, rng, extra=1), factors, settings=SMALL,
                            names=("mig", "factor_vae"))  # fmt: skip
    result.update(factors=["a", "b", "c"], split="test", summary=scoring.summary(result))
    with_scores = render_page(title="t", summary=[], config_text="", disentanglement=result)
    assert 'id="disentanglement"' in with_scores and "MIG per factor" in with_scores
    assert "<th>a</th><th>b</th><th>c</th>" in with_scores
    without = render_page(title="t", summary=[], config_text="")
    assert 'id="disentanglement"' not in without and "Disentanglement" not in without
    damaged = render_page(title="t", summary=[], config_text="", disentanglement="x is unreadable")
    assert "x is unreadable" in damaged and "--disentanglement" in damaged
