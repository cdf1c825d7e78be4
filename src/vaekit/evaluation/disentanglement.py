"""Disentanglement scores of a code against ground-truth factors, as disentanglement_lib has them.

The four scores of Locatello et al. (2019), "Challenging common assumptions in the unsupervised
learning of disentangled representations", with disentanglement_lib's definitions and default
sample counts (``disentanglement_lib/evaluation/metrics/{mig,dci,factor_vae,sap_score}.py``):

==============  ===========================================================================
``mig``         Mutual information gap (Chen et al. 2018): each latent discretised into 20
                equal-width bins; per factor, the gap between the two latents sharing most
                information with it, divided by the factor's entropy; averaged over factors.
``dci``         Disentanglement, completeness, informativeness (Eastwood and Williams 2018):
                a gradient-boosted tree classifier per factor; the importance matrix
                ``R[latent, factor]``; disentanglement ``1 - H_F(R[d, :])`` weighted by each
                latent's share of importance, completeness ``1 - H_D(R[:, f])`` weighted by
                each factor's share; informativeness is the classifiers' accuracy.
``factor_vae``  FactorVAE score (Kim and Mnih 2018): batches of 64 with one factor held fixed;
                the latent (of those with standard deviation >= 0.05) whose variance,
                divided by its variance over the data, is smallest votes for that factor; the
                accuracy of the majority-vote classifier on new batches.
``sap``         Separated attribute predictability (Kumar et al. 2018): per latent and factor
                the test accuracy of a linear SVM on that one latent (discrete factors) or
                the squared correlation (continuous); per factor the gap between the best two
                latents, averaged.
==============  ===========================================================================

disentanglement_lib draws its samples from the generative process (a factor tuple, then its
image). Here the code of every image of a labelled set is computed once, and a "sample" is a
draw of an image index: with replacement, uniformly (``mig``, ``dci``, ``sap``, the variance of
``factor_vae``), or among the images whose factor ``k`` equals the value of a drawn image
(``factor_vae``'s fixed-factor batches); the DCI and SAP predictors train and test on draws from
two disjoint parts of the set. On a set that is the full factor grid (``shapes``) this
is disentanglement_lib's sampling; on any other labelled set it samples the set's own
distribution. Each score draws from its own seed (spawned from ``seed``), so one score's draws do
not depend on which others run.

Known answers: a code whose latent ``j`` is factor ``j`` scores 1 on MIG, DCI disentanglement,
completeness and informativeness, the FactorVAE score, and SAP on continuous factors. SAP on
discrete factors (disentanglement_lib's default, and its published dSprites figures) is the gap
between two accuracies, so even a perfect code scores less: with two balanced levels a factor's
best latent predicts it always and the second at chance, a gap of 1/2; a linear SVM on one
latent cannot pick out a middle level of a factor with more, so a perfect code's SAP on
``shapes`` is low too (0.20). A code independent of the factors scores about 0 on MIG, SAP and
DCI disentanglement, and chance on the FactorVAE score (``1 / F`` for F equally likely factors).
The tests check these, and hand-computed cases.

Where a score is not defined, it says so and gives no number. Too few samples for the factors
(each score's draws must show two values of every factor: MIG divides by a factor's entropy,
DCI and SAP train a classifier per factor) are refused before any code is read, naming the least
count (:func:`minimum_samples`). A score without a value is None in the result and in
:func:`summary`, and :func:`undefined` gives the reason: the FactorVAE score of a code with no
active latent (none can vote), DCI's disentanglement and completeness where no latent has any
importance (their weights are 0 / 0). MIG of a constant code is 0 and SAP's gap of one is 0:
defined, both saying the code holds nothing about the factors.

This module runs the scores together (:func:`scores`, :func:`summary`, :func:`undefined`) and
offers every name of them. The scores themselves are in :mod:`.disentanglement_metrics`, the
draws and what is refused before any code in :mod:`.disentanglement_draws`, and what a result
records (the sample counts, :class:`Settings`; why a score is undefined) in
:mod:`vaekit.runs.scores`, where the report reads it too.

Example:
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 4, size=(2000, 2))
    >>> perfect = factors.astype("float32")  # latent j is factor j
    >>> mig(perfect, factors)["score"] > 0.99  # 1, less the plug-in estimate's bias
    True
    >>> noise = rng.normal(size=(2000, 2))
    >>> mig(noise, factors)["score"] < 0.02
    True
"""

from __future__ import annotations

import numpy as np

from vaekit.errors import VaekitError
from vaekit.evaluation.disentanglement_draws import (
    DRAWING,
    ONE_VALUE_CHANCE,
    check_draws,
    draw,
    factor_labels,
    minimum_samples,
    varying_factors,
)
from vaekit.evaluation.disentanglement_metrics import (
    MISSING_SKLEARN,
    dci,
    dci_from_importance,
    discretize,
    entropies,
    factor_vae,
    mig,
    mutual_information,
    mutual_information_matrix,
    sap,
)
from vaekit.runs.scores import (
    DEFAULTS,
    LEAST,
    NO_ACTIVE_LATENT,
    NO_IMPORTANCE,
    SCORES,
    Settings,
)

_mutual_information = mutual_information  # its name before the split, which tests use

__all__ = [
    "DEFAULTS", "DRAWING", "LEAST", "MISSING_SKLEARN", "NO_ACTIVE_LATENT", "NO_IMPORTANCE",
    "ONE_VALUE_CHANCE", "SCORES", "Settings", "check_draws", "dci", "dci_from_importance",
    "discretize", "entropies", "factor_vae", "mig", "minimum_samples", "mutual_information",
    "mutual_information_matrix", "sap", "scores", "summary", "undefined", "varying_factors",
]  # fmt: skip


def scores(
    codes: np.ndarray,
    factors: np.ndarray,
    seed: int = 0,
    settings: Settings = DEFAULTS,
    names: tuple[str, ...] = SCORES,
) -> dict:
    """All four scores of a labelled set: codes (N, D) of its N images and factors (N, F).

    Each score draws image indices with its own generator, spawned from ``seed`` (see the module
    docstring); the result records the seed and the settings. A factor that takes one value over
    the images is left out: ``scored_factors`` and ``constant_factors`` list their columns. Too
    few samples for the factors (:func:`minimum_samples`) are refused before any score is
    computed; a score without a value (no active latent for the FactorVAE score) is None, and
    :func:`undefined` says why.

    Example:
        >>> rng = np.random.default_rng(1)
        >>> factors = rng.integers(0, 3, size=(500, 2))
        >>> codes = factors + rng.normal(0, 0.01, factors.shape)
        >>> small = Settings(mig_samples=500, votes_train=200, votes_eval=100,
        ...                  variance_samples=500)
        >>> result = scores(codes, factors, settings=small, names=("mig", "factor_vae"))
        >>> result["mig"]["score"] > 0.98, result["factor_vae"]["eval_accuracy"]
        (True, 1.0)
    """
    codes = np.asarray(codes, np.float64)
    factors = np.asarray(factors, np.int64)
    if codes.ndim != 2 or factors.ndim != 2 or len(codes) != len(factors):
        raise ValueError(f"codes {codes.shape}, factors {factors.shape}: expected (N, D), (N, F)")
    unknown = sorted(set(names) - set(SCORES))
    if unknown:
        raise VaekitError(f"scores {unknown}: expected some of {', '.join(SCORES)}")
    # A factor with one value over these images has no entropy to explain: left out, and named.
    varying, constant = varying_factors(factors)
    factors = factors[:, varying]
    draws = draw(len(codes), factors, seed, settings, names, factor_labels(varying))
    if not np.all(np.isfinite(codes)):
        raise VaekitError(
            "the codes (posterior means) hold NaN or infinity: the model diverged; nothing to score"
        )
    result = {
        "seed": seed,
        "settings": settings.to_dict(),
        "images": len(codes),
        "scored_factors": varying,
        "constant_factors": constant,
    }
    if "mig" in names:
        rows = draws["mig"]
        result["mig"] = mig(codes[rows], factors[rows], settings.bins)
    for name in ("dci", "sap"):
        if name in names:
            train, test = draws[name]
            split = (codes[train], factors[train], codes[test], factors[test])
            if name == "dci":
                result[name] = dci(*split, seed=seed)
            else:
                result[name] = sap(*split, settings.continuous_factors)
    if "factor_vae" in names:
        result["factor_vae"] = factor_vae(codes, factors, draws["factor_vae"], settings)
    return result


def summary(result: dict) -> dict:
    """The headline numbers of :func:`scores`' result, by name (None where undefined)."""
    values = {}
    if "mig" in result:
        values["mig"] = result["mig"]["score"]
    if "dci" in result:
        for key in ("disentanglement", "completeness", "informativeness_test"):
            values[f"dci_{key}"] = result["dci"][key]
    if "factor_vae" in result:
        values["factor_vae"] = result["factor_vae"]["eval_accuracy"]
    if "sap" in result:
        values["sap"] = result["sap"]["score"]
    return values


def undefined(result: dict) -> dict:
    """Why each headline number of :func:`summary` that is None has no value, by name.

    Example:
        >>> undefined({"factor_vae": {"eval_accuracy": None, "undefined": "no active latent"}})
        {'factor_vae': 'no active latent'}
    """
    reasons = {}
    for score, keys in (("mig", ("mig",)), ("dci", ("dci_disentanglement", "dci_completeness")),
                        ("factor_vae", ("factor_vae",)), ("sap", ("sap",))):  # fmt: skip
        why = (result.get(score) or {}).get("undefined")
        if why:
            reasons.update(dict.fromkeys(keys, why))
    return reasons
