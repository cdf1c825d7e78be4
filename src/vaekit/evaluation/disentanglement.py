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

import math
from dataclasses import asdict, dataclass

import numpy as np

from vaekit.errors import VaekitError

MISSING_SKLEARN = (
    "the DCI and SAP scores need scikit-learn (gradient-boosted trees, linear SVMs): "
    "pip install 'vaekit[metrics]'"
)
# Why a score has no value: the result holds None and this reason, never a number.
NO_ACTIVE_LATENT = (
    "undefined: no active latent (every latent's standard deviation over the data is below "
    "prune_std {prune_std}, so none can vote)"
)
NO_IMPORTANCE = (
    "undefined: no latent is used by any factor's classifier (all importances 0, so no latent "
    "has a share to weight by)"
)
# The chance vaekit accepts that a score's draws show one value of a factor (MIG then has no
# entropy to divide by, a DCI or SAP classifier one class to learn): the least sample count is
# the smallest that keeps the chance below this.
ONE_VALUE_CHANCE = 1e-6
DRAWING = ("mig", "dci", "sap")  # the scores whose draws must show two values of each factor


LEAST = {  # each sample count's least value: a variance (ddof=1) needs two draws
    "mig_samples": 1,
    "bins": 1,
    "train_samples": 1,
    "test_samples": 1,
    "batch_size": 2,
    "votes_train": 1,
    "votes_eval": 1,
    "variance_samples": 2,
}


@dataclass(frozen=True)
class Settings:
    """The sample counts and settings of the four scores (disentanglement_lib's defaults).

    Args:
        mig_samples: codes MIG is computed on (``num_train``).
        bins: equal-width bins each latent is discretised into for MIG.
        train_samples, test_samples: codes the DCI and SAP predictors train and are tested on.
        batch_size: images per fixed-factor batch of the FactorVAE score.
        votes_train, votes_eval: fixed-factor batches that train and test its classifier.
        variance_samples: codes its per-latent variance over the data is estimated from.
        prune_std: latents with a smaller standard deviation over the data do not vote.
        continuous_factors: SAP from squared correlations instead of linear SVMs.
    """

    mig_samples: int = 10_000
    bins: int = 20
    train_samples: int = 10_000
    test_samples: int = 5_000
    batch_size: int = 64
    votes_train: int = 10_000
    votes_eval: int = 5_000
    variance_samples: int = 10_000
    prune_std: float = 0.05
    continuous_factors: bool = False

    def __post_init__(self):
        # Each count at its least: two draws for a variance (ddof=1), one for the rest.
        for name, lowest in LEAST.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < lowest:
                raise VaekitError(
                    f"Settings.{name}: got {value!r}, expected an integer >= {lowest}"
                )
        if not isinstance(self.prune_std, int | float) or not self.prune_std >= 0:
            raise VaekitError(f"Settings.prune_std: got {self.prune_std!r}, expected a number >= 0")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def scaled(cls, samples: int, **changes) -> Settings:
        """disentanglement_lib's counts with ``samples`` in place of 10,000 (half for the tests).

        Example:
            >>> Settings.scaled(2000).test_samples, Settings.scaled(2000).votes_eval
            (1000, 1000)
        """
        half = max(1, samples // 2)
        return cls(
            mig_samples=samples,
            train_samples=samples,
            test_samples=half,
            votes_train=samples,
            votes_eval=half,
            variance_samples=samples,
            **changes,
        )


DEFAULTS = Settings()


def discretize(codes: np.ndarray, bins: int = 20) -> np.ndarray:
    """Each latent (column) in ``bins`` equal-width bins over its range: integers (N, D)."""
    out = np.zeros(codes.shape, np.int64)
    for j in range(codes.shape[1]):
        edges = np.histogram(codes[:, j], bins)[1]
        out[:, j] = np.digitize(codes[:, j], edges[:-1])
    return out


def _mutual_information(a: np.ndarray, b: np.ndarray) -> float:
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
        [[_mutual_information(codes, factor) for factor in factors.T] for codes in discrete_codes.T]
    )


def entropies(factors: np.ndarray) -> np.ndarray:
    """Each factor's entropy in nats: (F,)."""
    return np.array([_mutual_information(column, column) for column in factors.T])


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


SCORES = ("mig", "dci", "factor_vae", "sap")


def minimum_samples(factors: np.ndarray, names: tuple[str, ...] = SCORES) -> int:
    """The least ``--score-samples`` for these factors (N, F), each taking two values or more.

    MIG divides by a factor's entropy over its draws, and DCI and SAP train a classifier per
    factor on theirs: each needs two values of every factor among its draws. Drawn uniformly
    with replacement, n draws show one value of a factor whose values have frequencies ``p``
    with chance ``sum(p ** n)``; the least count is the smallest n that keeps the sum over the
    factors and those scores below :data:`ONE_VALUE_CHANCE`. The FactorVAE score needs 2 (a
    variance). A factor of few, uneven values needs the most.

    Example:
        >>> minimum_samples(np.array([[0], [1]] * 50))  # a fair coin: 3 x 2 x 2**-n <= 1e-6
        23
        >>> minimum_samples(np.array([[0], [1]] * 50), names=("factor_vae",))
        2
    """
    drawing = sum(name in names for name in DRAWING)
    if not drawing:
        return 2
    frequencies = [np.unique(column, return_counts=True)[1] / len(column) for column in factors.T]

    def chance(n: int) -> float:
        return drawing * sum(float(np.sum(p**n)) for p in frequencies)

    low, high = 1, 2  # chance(low) > bound >= chance(high), found by doubling, then halving
    while chance(high) > ONE_VALUE_CHANCE:
        low, high = high, 2 * high
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if chance(middle) > ONE_VALUE_CHANCE else (low, middle)
    return max(high, 2)


def _draw(count: int, factors, seed: int, settings: Settings, names, labels) -> dict:
    """Each score's image indices (they depend on the image count and the seed, not on the
    codes), checked to show two values of every factor; refused with a line that says what to
    change where they cannot. ``labels`` name the factors' columns in the messages."""
    generators = dict(
        zip(SCORES, map(np.random.default_rng, np.random.SeedSequence(seed).spawn(4)), strict=True)
    )
    least = minimum_samples(factors, names)
    given = min(
        [settings.mig_samples] * ("mig" in names)
        + [settings.train_samples] * ("dci" in names or "sap" in names)
        + [settings.variance_samples] * ("factor_vae" in names)
    )
    if given < least:
        raise VaekitError(
            f"--score-samples: got {given:,}; on these {count:,} images the scores need at least "
            f"{least:,} (MIG, DCI and SAP need two values of every factor among their draws; "
            "fewer draws show one value too often)"
        )

    def one_valued(rows) -> str | None:
        flat = [labels[f] for f in range(factors.shape[1]) if np.ptp(factors[rows, f]) == 0]
        return None if not flat else ", ".join(flat)

    draws = {"factor_vae": generators["factor_vae"]}
    if "mig" in names:
        draws["mig"] = generators["mig"].integers(count, size=settings.mig_samples)
        flat = one_valued(draws["mig"])
        if flat is not None:
            raise VaekitError(
                f"--seed: the MIG's {settings.mig_samples:,} draws of seed {seed} show one value "
                f"of {flat} (a chance below {ONE_VALUE_CHANCE:g}): give another "
                "--seed or more --score-samples"
            )
    for name in ("dci", "sap"):
        if name not in names:
            continue
        rng = generators[name]
        # Train and test draws from disjoint images, in the counts' proportion: on a finite
        # set, a test image also drawn for training would reward a code that merely tells
        # images apart (disentanglement_lib's 737,280 dSprites images rarely repeat).
        order = rng.permutation(count)
        share = settings.train_samples / (settings.train_samples + settings.test_samples)
        cut = round(count * share)
        where = f"--limit: {name.upper()} trains on {share:.0%} of the images and tests on the rest"
        if not 0 < cut < count:
            empty = "train" if cut == 0 else "test"
            raise VaekitError(f"{where}; of these {count:,}, none is left to {empty} on")
        flat = one_valued(order[:cut])
        if flat is not None:
            raise VaekitError(
                f"{where}; of these {count:,}, the training part shows one value of {flat}: "
                "score more images"
            )
        train = rng.choice(order[:cut], size=settings.train_samples)
        test = rng.choice(order[cut:], size=settings.test_samples)
        flat = one_valued(train)
        if flat is not None:
            raise VaekitError(
                f"--seed: {name.upper()}'s {settings.train_samples:,} training draws of seed "
                f"{seed} show one value of {flat} (a chance below "
                f"{ONE_VALUE_CHANCE:g}): give another --seed or more --score-samples"
            )
        draws[name] = (train, test)
    return draws


def varying_factors(factors: np.ndarray) -> tuple[list[int], list[int]]:
    """The columns of the factors that take more than one value, and those that take one.

    Raises:
        VaekitError: no factor takes more than one value (nothing to score).
    """
    varying = [f for f in range(factors.shape[1]) if np.ptp(factors[:, f]) > 0]
    if not varying:
        raise VaekitError("no factor takes more than one value over these images: nothing to score")
    return varying, [f for f in range(factors.shape[1]) if f not in varying]


def check_draws(
    factors: np.ndarray,
    seed: int = 0,
    settings: Settings = DEFAULTS,
    names=SCORES,
    factor_names: tuple[str, ...] | None = None,
) -> None:
    """What :func:`scores` refuses for these factors (N, F), checked before any code exists:
    no factor that varies, fewer samples than :func:`minimum_samples`, or draws of this seed
    that show one value of a factor (named by ``factor_names``, else by column).

    Example:
        >>> coin = np.array([[0], [1]] * 50)
        >>> check_draws(coin, settings=Settings.scaled(2))
        Traceback (most recent call last):
        ...
        vaekit.errors.VaekitError: --score-samples: got 2; on these 100 images the scores need \
at least 23 (MIG, DCI and SAP need two values of every factor among their draws; fewer draws \
show one value too often)
    """
    factors = np.asarray(factors, np.int64)
    varying, _ = varying_factors(factors)
    _draw(len(factors), factors[:, varying], seed, settings, names, _labels(varying, factor_names))


def _labels(columns, factor_names=None) -> list[str]:
    """How messages name the factors of these columns."""
    if factor_names is None:
        return [f"factor column {f}" for f in columns]
    return [f"factor {factor_names[f]!r}" for f in columns]


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
    draws = _draw(len(codes), factors, seed, settings, names, _labels(varying))
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
