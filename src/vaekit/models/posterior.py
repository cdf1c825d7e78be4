"""What a VAE's ``posterior`` output holds: the columns its losses and metrics read.

Every wiring's model outputs ``posterior`` beside its reconstruction (on JAX a tensor kept on the
model between ``call`` and the loss would leak out of the compiled step), float32, one row per
image, in this order:

==============  ========  ==============================================================
``mu``          D         the posterior's mean
``log_var``     D         its log variance
``z``           D         the sample, where the divergence or the prior reads it
``prior``       D         as many draws of ``N(0, I)``, where the divergence needs them (mmd)
``log_prior``   1         ``log p(z)`` of the sample, for a prior without a closed-form KL
==============  ========  ==============================================================

Example:
    >>> import numpy as np
    >>> from vaekit.models.objective import Objective
    >>> objective = Objective(convention="elbo", prior="vamp")
    >>> columns(objective, z_dim=2)
    7
    >>> parts = split(objective, np.arange(7.0)[None])
    >>> parts.z.tolist(), parts.log_prior.tolist()
    ([[4.0, 5.0]], [6.0])
"""

from __future__ import annotations

from typing import NamedTuple

from vaekit.models.divergences import DIVERGENCES


class Posterior(NamedTuple):
    """The parts of a ``posterior`` output; those it does not hold are None."""

    mu: object
    log_var: object
    z: object = None
    prior: object = None
    log_prior: object = None


def holds(objective) -> tuple[bool, bool, bool]:
    """``(z, prior draws, log_prior)``: which optional parts the output holds."""
    divergence = DIVERGENCES[objective.divergence]
    sampled = objective.sampled_kl
    return divergence.reads_sample or sampled, divergence.draws_prior, sampled


def columns(objective, z_dim: int) -> int:
    """The output's width for latent size ``z_dim``."""
    sample, draws, log_prior = holds(objective)
    return z_dim * (2 + sample + draws) + log_prior


def split(objective, posterior, z_dim: int | None = None) -> Posterior:
    """The parts of ``posterior`` (B, :func:`columns`); ``z_dim`` is read off its width if None."""
    sample, draws, log_prior = holds(objective)
    if z_dim is None:
        z_dim = (int(posterior.shape[-1]) - log_prior) // (2 + sample + draws)
    pieces, start = {}, 0
    for name, present in (("mu", True), ("log_var", True), ("z", sample), ("prior", draws)):
        if present:
            pieces[name] = posterior[:, start : start + z_dim]
            start += z_dim
    if log_prior:
        pieces["log_prior"] = posterior[:, start]  # (B,)
    return Posterior(**pieces)
