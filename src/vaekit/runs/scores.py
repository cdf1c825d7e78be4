"""A run's disentanglement scores as a file: ``disentanglement.json`` and its heat map.

What the scores' writer (:mod:`vaekit.evaluation.factor_runs`) and their readers (the report,
``vaekit compare``) must agree on, kept here so that neither imports the other:

- the file's name, :data:`FILE_NAME`, and its heat map's, ``plots/``:data:`PLOT_NAME`;
- the scores a result holds, by key (:data:`SCORES`), and what the heat map is drawn from
  (:func:`heat_map`);
- the sample counts a result records under ``settings`` (:class:`Settings`, disentanglement_lib's
  by default: :data:`DEFAULTS`);
- why a score has no value (:data:`NO_ACTIVE_LATENT`, :data:`NO_IMPORTANCE`): the result holds
  null and the reason, never a number;
- when two results compare (:func:`settings_key`), and that said for people
  (:func:`describe_settings`).

Example:
    >>> result = {"dataset": "shapes", "split": "test", "images": 256, "factors": ["x", "y"],
    ...           "settings": DEFAULTS.to_dict()}
    >>> settings_key(result) == settings_key({**result, "seed": 1})  # the seed only redraws
    True
    >>> describe_settings(result).split("; ")
    ['shapes, test split, first 256 images', 'factors x, y',
     "disentanglement_lib's sample counts (10,000)"]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from vaekit.errors import VaekitError

FILE_NAME = "disentanglement.json"
PLOT_NAME = "factor_information.png"  # in the run's plots folder
SCORES = ("mig", "dci", "factor_vae", "sap")  # a result's scores, by key

# Why a score has no value: the result holds None and this reason, never a number.
NO_ACTIVE_LATENT = (
    "undefined: no active latent (every latent's standard deviation over the data is below "
    "prune_std {prune_std}, so none can vote)"
)
NO_IMPORTANCE = (
    "undefined: no latent is used by any factor's classifier (all importances 0, so no latent "
    "has a share to weight by)"
)

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


def heat_map(result: dict) -> tuple[list, list, list]:
    """What a result's heat map is drawn from: the MIG's mutual information matrix (latents x
    factors, nats), the factor names and their entropies (nats), for
    :func:`vaekit.plots.plot_factor_information`.

    Raises:
        KeyError, TypeError: a result without the MIG (or a hand-edited one).

    Example:
        >>> heat_map({"factors": ["x"], "mig": {"mutual_information": [[0.5]], "entropy": [0.7]}})
        ([[0.5]], ['x'], [0.7])
    """
    mig = result["mig"]
    return mig["mutual_information"], result["factors"], mig["entropy"]


def settings_key(result: dict) -> tuple:
    """What scores must share to be compared: the images (data set, split, count: the first of
    the split), the factors scored and the sample counts (the seed only redraws the samples).
    Results written before ``dataset`` was recorded have None in its place."""
    settings = result.get("settings")
    settings = tuple(sorted(settings.items())) if isinstance(settings, dict) else None
    return (
        result.get("dataset"),
        result.get("split"),
        result.get("images"),
        tuple(result.get("factors") or ()),
        settings,
    )


def describe_settings(result: dict) -> str:
    """:func:`settings_key` for people.

    Example:
        >>> describe_settings({"dataset": "shapes", "split": "test", "images": 256,
        ...     "factors": ["x", "y"], "constant_factors": ["shape"],
        ...     "settings": Settings.scaled(400).to_dict()})
        'shapes, test split, first 256 images; factors x, y (shape: one value); --score-samples 400'
    """
    dataset = result.get("dataset") or "data set not recorded"
    text = f"{dataset}, {result.get('split')} split, first {result.get('images')} images"
    text += "; factors " + ", ".join(map(str, result.get("factors") or ["not recorded"]))
    if result.get("constant_factors"):
        text += f" ({', '.join(map(str, result['constant_factors']))}: one value)"
    settings = result.get("settings")
    if not isinstance(settings, dict):
        return text + "; sample counts not recorded"
    if settings == DEFAULTS.to_dict():
        return text + "; disentanglement_lib's sample counts (10,000)"
    counts = settings.get("mig_samples")
    try:
        scaled = Settings.scaled(counts).to_dict()
    except (TypeError, VaekitError):
        scaled = None
    if settings == scaled:
        return text + f"; --score-samples {counts}"
    return text + "; sample counts " + ", ".join(f"{k} {v}" for k, v in settings.items())
