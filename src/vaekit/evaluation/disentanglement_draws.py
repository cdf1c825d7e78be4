"""Which images each disentanglement score is computed on, and what is refused before any code.

A "sample" of a score is a draw of an image index (see :mod:`.disentanglement`):
:func:`draw` gives each score its own indices, from its own generator spawned from the seed, so
they depend on the image count and the seed, never on the codes. Each score's draws must show two
values of every factor (MIG divides by a factor's entropy, DCI and SAP train a classifier per
factor): :func:`minimum_samples` is the least count that makes one value unlikely
(:data:`ONE_VALUE_CHANCE`), and :func:`check_draws` refuses, before a model is loaded, what
:func:`.disentanglement.scores` would refuse. A factor with one value over the images is left out
(:func:`varying_factors`).

Example:
    >>> varying_factors(np.array([[0, 1], [0, 2]]))  # the first column takes one value
    ([1], [0])
"""

from __future__ import annotations

import numpy as np

from vaekit.errors import VaekitError
from vaekit.runs.scores import DEFAULTS, SCORES, Settings

# The chance vaekit accepts that a score's draws show one value of a factor (MIG then has no
# entropy to divide by, a DCI or SAP classifier one class to learn): the least sample count is
# the smallest that keeps the chance below this.
ONE_VALUE_CHANCE = 1e-6
DRAWING = ("mig", "dci", "sap")  # the scores whose draws must show two values of each factor


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


def draw(count: int, factors, seed: int, settings: Settings, names, labels) -> dict:
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
    draw(
        len(factors),
        factors[:, varying],
        seed,
        settings,
        names,
        factor_labels(varying, factor_names),
    )


def factor_labels(columns, factor_names=None) -> list[str]:
    """How messages name the factors of these columns."""
    if factor_names is None:
        return [f"factor column {f}" for f in columns]
    return [f"factor {factor_names[f]!r}" for f in columns]
