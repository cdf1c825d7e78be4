"""The four disentanglement scores of a code against factors, as disentanglement_lib defines them.

Each takes codes ``(N, D)`` and integer factors ``(N, F)`` already drawn (which images each score
is computed on is :mod:`.disentanglement_draws`' job; :func:`.disentanglement.scores` runs them
together) and returns its score with what is behind it: :func:`mig` (with its helpers
:func:`discretize`, :func:`mutual_information_matrix`, :func:`entropies`), :func:`dci` (and
:func:`dci_from_importance`), :func:`sap` and :func:`factor_vae`. A score without a value is None,
with ``undefined`` saying why (:mod:`vaekit.runs.scores`' reasons). DCI and SAP's discrete
classifiers need scikit-learn, the optional ``metrics`` extra.

Example:
    >>> mutual_information(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]))  # independent
    0.0
    >>> [round(value, 6) for value in dci_from_importance(np.eye(2))]  # one factor per latent
    [1.0, 1.0]
"""

from __future__ import annotations

import math

import numpy as np

from vaekit.errors import VaekitError
from vaekit.runs.scores import DEFAULTS, NO_ACTIVE_LATENT, NO_IMPORTANCE, Settings

MISSING_SKLEARN = (
    "the DCI and SAP scores need scikit-learn (gradient-boosted trees, linear SVMs): "
    "pip install 'vaekit[metrics]'"
)


def discretize(codes: np.ndarray, bins: int = 20) -> np.ndarray:
    """Each latent (column) in ``bins`` equal-width bins over its range: integers (N, D)."""
    out = np.zeros(codes.shape, np.int64)
    for j in range(codes.shape[1]):
        edges = np.histogram(codes[:, j], bins)[1]
        out[:, j] = np.digitize(codes[:, j], edges[:-1])
    return out


def mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """The plug-in mutual information of two integer sequences, in nats."""
    _, a = np.unique(a, return_inverse=True)
    _, b = np.unique(b, return_inverse=True)
    joint = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(joint, (a, b), 1.0)
    joint /= len(a)
    outer = joint.sum(axis=1, keepdims=True) * joint.sum(axis=0, keepdims=True)
    seen = joint > 0
    return float(np.sum(joint[seen] * np.log(joint[seen] / outer[seen])))


def mutual_information_matrix(discrete_codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """``I(latent d; factor f)`` in nats for integer codes (N, D) and factors (N, F): (D, F)."""
    return np.array(
        [[mutual_information(codes, factor) for factor in factors.T] for codes in discrete_codes.T]
    )


def entropies(factors: np.ndarray) -> np.ndarray:
    """Each factor's entropy in nats: (F,)."""
    return np.array([mutual_information(column, column) for column in factors.T])


def mig(codes: np.ndarray, factors: np.ndarray, bins: int = 20) -> dict:
    """The mutual information gap of codes (N, D) against integer factors (N, F).

    Returns ``score``, ``per_factor`` (each factor's normalised gap), ``mutual_information``
    (the (D, F) matrix in nats behind it) and ``entropy`` (each factor's, in nats). A factor
    with one value over the codes has no entropy to divide by: its gap and the score are None,
    and ``undefined`` says why.
    """
    matrix = mutual_information_matrix(discretize(codes, bins), factors)
    ordered = np.sort(matrix, axis=0)[::-1]  # per factor, the latents' MI from largest
    second = ordered[1] if len(ordered) > 1 else np.zeros(matrix.shape[1])
    entropy = entropies(factors)
    result = {"mutual_information": matrix.tolist(), "entropy": entropy.tolist()}
    if np.any(entropy <= 0):
        flat = [f for f in range(len(entropy)) if entropy[f] <= 0]
        gaps = [None if f in flat else float((ordered[0][f] - second[f]) / entropy[f])
                for f in range(len(entropy))]  # fmt: skip
        why = f"factor column {', '.join(map(str, flat))} takes one value: no entropy"
        return {"score": None, "per_factor": gaps, **result, "undefined": why}
    per_factor = (ordered[0] - second) / entropy
    return {"score": float(np.mean(per_factor)), "per_factor": per_factor.tolist(), **result}


def _entropy(p: np.ndarray, base: int) -> np.ndarray:
    """Entropy of each column of non-negative weights (normalised), in log base ``base``."""
    p = p / p.sum(axis=0, keepdims=True)
    return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=0) / math.log(
        base
    )


def dci_from_importance(importance: np.ndarray) -> tuple[float | None, float | None]:
    """``(disentanglement, completeness)`` of an importance matrix (D latents, F factors);
    ``(None, None)`` where no latent has any importance (their weights, each latent's share of
    the total, are 0 / 0)."""
    latents, factors = importance.shape
    if importance.sum() == 0:
        return None, None
    # disentanglement_lib adds 1e-11 before the entropies (a latent no tree uses is uniform).
    per_latent = np.ones(latents) if factors == 1 else 1 - _entropy(importance.T + 1e-11, factors)
    latent_share = importance.sum(axis=1) / importance.sum()
    per_factor = np.ones(factors) if latents == 1 else 1 - _entropy(importance + 1e-11, latents)
    factor_share = importance.sum(axis=0) / importance.sum()
    return float(np.sum(per_latent * latent_share)), float(np.sum(per_factor * factor_share))


def _sklearn():
    try:  # function-level: scikit-learn is the optional 'metrics' extra
        import sklearn.ensemble
        import sklearn.svm
    except ImportError as error:
        raise VaekitError(MISSING_SKLEARN) from error
    return sklearn


def dci(train_codes, train_factors, test_codes, test_factors, seed: int = 0) -> dict:
    """DCI from one gradient-boosted classifier per factor (scikit-learn's defaults).

    Returns ``disentanglement``, ``completeness``, ``informativeness_train`` and
    ``informativeness_test`` (mean accuracies over factors) and ``importance`` ((D, F)).
    """
    sklearn = _sklearn()
    importance = np.zeros((train_codes.shape[1], train_factors.shape[1]))
    train_accuracy, test_accuracy = [], []
    for f in range(train_factors.shape[1]):
        model = sklearn.ensemble.GradientBoostingClassifier(random_state=seed)
        model.fit(train_codes, train_factors[:, f])
        importance[:, f] = np.abs(model.feature_importances_)
        train_accuracy.append(np.mean(model.predict(train_codes) == train_factors[:, f]))
        test_accuracy.append(np.mean(model.predict(test_codes) == test_factors[:, f]))
    disentanglement, completeness = dci_from_importance(importance)
    result = {
        "disentanglement": disentanglement,
        "completeness": completeness,
        "informativeness_train": float(np.mean(train_accuracy)),
        "informativeness_test": float(np.mean(test_accuracy)),
        "importance": importance.tolist(),
    }
    if disentanglement is None:
        result["undefined"] = NO_IMPORTANCE
    return result


def sap(train_codes, train_factors, test_codes, test_factors, continuous: bool = False) -> dict:
    """The SAP score; ``matrix`` is its (D, F) predictability matrix."""
    latents, factors = train_codes.shape[1], train_factors.shape[1]
    matrix = np.zeros((latents, factors))
    sklearn = None if continuous else _sklearn()
    for d in range(latents):
        for f in range(factors):
            if continuous:
                # disentanglement_lib: cov^2 / (var_latent var_factor), 0 for a constant latent.
                covariance = np.cov(train_codes[:, d], train_factors[:, f], ddof=1)
                if covariance[0, 0] > 1e-12:
                    matrix[d, f] = covariance[0, 1] ** 2 / (covariance[0, 0] * covariance[1, 1])
                continue
            model = sklearn.svm.LinearSVC(C=0.01, class_weight="balanced")
            model.fit(train_codes[:, d : d + 1], train_factors[:, f])
            matrix[d, f] = np.mean(model.predict(test_codes[:, d : d + 1]) == test_factors[:, f])
    ordered = np.sort(matrix, axis=0)[::-1]
    second = ordered[1] if latents > 1 else np.zeros(factors)
    return {"score": float(np.mean(ordered[0] - second)), "matrix": matrix.tolist()}


def factor_vae(codes, factors, rng: np.random.Generator, settings: Settings = DEFAULTS) -> dict:
    """The FactorVAE score over a labelled set's codes (N, D) and factors (N, F).

    Returns ``train_accuracy``, ``eval_accuracy`` (the score), ``active_latents`` and ``votes``
    (the (F, D) training vote counts). Without an active latent no latent can vote: the score is
    undefined, the accuracies None and ``undefined`` says why.
    """
    variance = np.var(codes[rng.integers(len(codes), size=settings.variance_samples)], 0, ddof=1)
    active = np.sqrt(variance) >= settings.prune_std
    result = {"active_latents": int(active.sum())}
    if not active.any():
        why = NO_ACTIVE_LATENT.format(prune_std=settings.prune_std)
        return {**result, "train_accuracy": None, "eval_accuracy": None, "votes": None,
                "undefined": why}  # fmt: skip
    # Per factor and value, the images that have it: a fixed-factor batch draws among them.
    members = [
        {value: np.flatnonzero(column == value) for value in np.unique(column)}
        for column in factors.T
    ]
    active_index = np.flatnonzero(active)

    def votes(count: int) -> np.ndarray:
        table = np.zeros((factors.shape[1], codes.shape[1]), np.int64)
        for _ in range(count):
            f = rng.integers(factors.shape[1])
            pool = members[f][factors[rng.integers(len(factors)), f]]
            batch = codes[pool[rng.integers(len(pool), size=settings.batch_size)]]
            ratio = np.var(batch, axis=0, ddof=1)[active] / variance[active]
            table[f, active_index[np.argmin(ratio)]] += 1
        return table

    train, evaluation = votes(settings.votes_train), votes(settings.votes_eval)
    classifier = np.argmax(train, axis=0)  # each latent's factor
    columns = np.arange(codes.shape[1])
    return {
        **result,
        "train_accuracy": float(train[classifier, columns].sum() / train.sum()),
        "eval_accuracy": float(evaluation[classifier, columns].sum() / evaluation.sum()),
        "votes": train.tolist(),
    }
