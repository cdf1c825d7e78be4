"""The names a config may choose from a registry: each tuple is the keys of the registry that
implements its choices, in the order the config's errors list them.

==================  ===========================  ==================================================
names               config field                 registry
==================  ===========================  ==================================================
``ACTIVATIONS``     ``model.activation``         :data:`vaekit.models.architecture.ACTIVATIONS`
``KL_STRATEGIES``   ``model.kl_strategy``        :data:`vaekit.models.strategies.STRATEGIES` (a
                                                 name's index is its integer alias)
``LIKELIHOODS``     ``model.likelihood``         :data:`vaekit.models.likelihoods.LIKELIHOODS`
                                                 and ``MEANS``
``KL_SCHEDULES``    ``train.kl_schedule``        :data:`vaekit.models.objective.SCHEDULES`
``DIVERGENCES``     ``train.divergence``         :data:`vaekit.models.divergences.DIVERGENCES`
``MMD_KERNELS``     ``train.mmd_kernel``         :data:`vaekit.models.divergences.KERNELS`
``DEVICES``         ``train.device``             each backend's ``AUTO_JIT``, and ``auto``
``DISTRIBUTIONS``   ``train.distribute``         each backend's ``DISTRIBUTIONS``, and ``none``
==================  ===========================  ==================================================

The registries are built with :func:`registry`, which refuses, as the module loads, keys that are
not these names; ``tests/test_choices.py`` holds the config and the backends to them. A new choice
is its name here and its entry in the registry.

This module imports nothing, so :mod:`vaekit.config`, which imports no Keras code (the registries'
modules do), can read it.

Example:
    >>> registry(("a", "b"), {"b": 2, "a": 1})
    {'a': 1, 'b': 2}
    >>> registry(("a", "b"), {"a": 1, "c": 3})
    Traceback (most recent call last):
    ...
    ValueError: a registry of a, b: b has no entry; c is not one of the names (vaekit.choices)
"""

from __future__ import annotations

ACTIVATIONS = ("leaky_relu", "relu", "selu")
KL_STRATEGIES = ("layer", "add_loss", "train_step", "multi_output")  # index = integer alias
LIKELIHOODS = ("bernoulli", "continuous_bernoulli", "gaussian")
KL_SCHEDULES = ("constant", "linear", "cyclical")
DIVERGENCES = ("kl", "beta_tc", "mmd")
MMD_KERNELS = ("imq", "rbf")
DEVICES = ("auto", "cpu", "gpu")
DISTRIBUTIONS = ("none", "data_parallel", "mirrored")


def registry(names: tuple[str, ...], entries: dict) -> dict:
    """``entries`` in the order of ``names``, if its keys are exactly ``names``; else a
    ``ValueError`` naming the names without an entry and the keys that are not names."""
    missing = [name for name in names if name not in entries]
    unknown = [str(key) for key in entries if key not in names]
    if missing or unknown:
        problems = [f"{', '.join(missing)} has no entry"] if missing else []
        problems += [f"{', '.join(unknown)} is not one of the names"] if unknown else []
        raise ValueError(
            f"a registry of {', '.join(names)}: {'; '.join(problems)} (vaekit.choices)"
        )
    return {name: entries[name] for name in names}
