"""What stands in for the KL term: the KL itself, the beta-TCVAE decomposition, or InfoVAE's MMD.

``train.divergence`` picks one (:data:`DIVERGENCES`); each wiring adds what it returns where it
adds the KL term today (:mod:`vaekit.models.strategies`), and logs its parts: ``mi``, ``tc``
and ``dwkl`` in nats; ``mmd``, a squared kernel distance, has no unit, and its unbiased
estimate is negative whenever the batch's codes sit closer to the prior's draws than those draws
to each other (near 0, where ``q(z)`` matches the prior).

- ``kl``: ``KL(q(z|x) || N(0, I))``, weighted by the KL weight (:func:`.objective.kl_term`).
- ``beta_tc`` (Chen et al. 2018, "Isolating sources of disentanglement in VAEs", eq. 2): the
  KL's average over the data splits into the index-code mutual information, the total
  correlation and the dimension-wise KL,
  ``E_x KL(q(z|x) || p(z)) = I_q(x; z) + KL(q(z) || prod_j q(z_j)) + sum_j KL(q(z_j) || p(z_j))``,
  and the loss weighs them ``alpha = 1``, ``beta = train.beta``, ``gamma = 1``. ``q(z)`` and the
  ``q(z_j)`` are estimated by minibatch-weighted sampling (their eq. S6): for the batch's
  samples ``z_i``, ``log q(z_i) ~ logsumexp_j log q(z_i | x_j) - log(N M)`` with ``M`` the batch
  and ``N`` the training set's size, the same per dimension for ``log q(z_ij)``, as the authors'
  code (rtqichen/beta-tcvae) computes it. The estimate is biased: where the posteriors of a
  batch overlap it puts up to ``log N`` into the MI and takes it from the others (the three still
  sum to the sampled KL, ``log q(z_i|x_i) - log p(z_i)``, whatever ``N``).
- ``mmd`` (Zhao et al. 2019, "InfoVAE", eq. 6 with ``D = MMD``): ``(1 - alpha) KL + (alpha +
  lambda - 1) MMD(q(z) || p(z))``, here ``train.beta x KL + train.mmd_weight x MMD``; ``beta 0``
  is the MMD-VAE. MMD^2 is the unbiased estimate of Gretton et al. (2012, eq. 3) between the
  batch's samples ``z_i`` and as many prior draws ``p_i``; the kernel is the inverse multiquadric
  ``C / (C + |x - y|^2)`` with ``C = 2 D`` (Tolstikhin et al. 2018, "Wasserstein auto-encoders",
  for a unit-variance prior in D dimensions), or the RBF ``exp(-|x - y|^2 / C)``.

The batch estimates couple the images of a batch, so a divergence other than ``kl`` needs the
whole batch on one computation (one device, or JAX's ``data_parallel``, which compiles one
program over all devices), not TensorFlow's per-replica ``mirrored`` losses. They also need
batches of :attr:`Divergence.smallest_batch` images, which every batch of an epoch (its last,
smaller one too) is checked against before training (:mod:`vaekit.runs.data`):

- ``mmd``: 2. The unbiased estimate averages the kernel over pairs of distinct codes, dividing
  by ``B (B - 1)``: with one code it is 0 / 0, a NaN.
- ``beta_tc``: 2. With one image the sums over the batch hold only ``j = i``, so ``log q(z) =
  log q(z|x) - log N`` and ``mi = log N``, ``tc = (D - 1) log N`` whatever the codes: constants
  without a gradient, and ``beta`` weighs nothing. From two images on both depend on how the
  codes overlap (between ``log N`` and ``log NM`` for the MI). Likewise with ``D = 1`` latent
  dimension ``tc`` is 0 at any batch, so :mod:`vaekit.config` refuses ``model.z_dim 1``.

Example:
    >>> import numpy as np
    >>> mu, log_var = np.zeros((4, 2), "float32"), np.zeros((4, 2), "float32")
    >>> z = np.array([[0., 0.], [1., 0.], [0., 1.], [1., 1.]], "float32")
    >>> parts = beta_tc_parts(mu, log_var, z, dataset_size=4)
    >>> sorted(parts)
    ['dwkl', 'mi', 'tc']
    >>> total = sum(float(v) for v in parts.values())  # the sampled KL: log q(z|x) - log p(z)
    >>> round(total, 5)
    0.0
    >>> round(float(parts["mi"]), 4)  # log N: the estimator's bias where the q(z|x) overlap
    1.3863
    >>> one = beta_tc_parts(mu[:1], log_var[:1], z[:1], dataset_size=4)  # a batch of one image
    >>> round(float(one["mi"]), 4), round(float(one["tc"]), 4)  # log N and (D - 1) log N
    (1.3863, 1.3863)
    >>> DIVERGENCES["mmd"].smallest_batch, DIVERGENCES["beta_tc"].smallest_batch
    (2, 2)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from keras import ops

from vaekit import choices
from vaekit.models.objective import LOG_2PI, kl_per_dimension, kl_term, log_normal
from vaekit.models.objective import log_standard_normal as log_prior


def log_density_matrix(z, mu, log_var):
    """``log q(z_i,d | x_j)`` for every pair of the batch, per dimension: (B, B, D)."""
    z, mu, log_var = (ops.cast(v, "float32") for v in (z, mu, log_var))
    z, mu, log_var = z[:, None, :], mu[None, :, :], log_var[None, :, :]
    return -0.5 * (LOG_2PI + log_var + ops.square(z - mu) * ops.exp(-log_var))


def beta_tc_parts(mu, log_var, z, dataset_size: int) -> dict:
    """The batch's estimates of ``mi``, ``tc`` and ``dwkl`` in nats (scalars; see above)."""
    batch = ops.cast(ops.shape(z)[0], "float32")
    log_nm = ops.log(batch * float(dataset_size))
    matrix = log_density_matrix(z, mu, log_var)  # (B, B, D)
    log_q_given_x = log_normal(z, mu, log_var)  # (B,), the diagonal
    log_q = ops.logsumexp(ops.sum(matrix, axis=-1), axis=1) - log_nm  # (B,)
    log_product = ops.sum(ops.logsumexp(matrix, axis=1) - log_nm, axis=-1)  # (B,)
    return {
        "mi": ops.mean(log_q_given_x - log_q),
        "tc": ops.mean(log_q - log_product),
        "dwkl": ops.mean(log_product - log_prior(z)),
    }


def _squared_distances(a, b):
    """``|a_i - b_j|^2``: (B, B)."""
    return ops.sum(ops.square(a[:, None, :] - b[None, :, :]), axis=-1)


KERNELS = choices.registry(  # name: k(squared distance, C)
    choices.MMD_KERNELS,
    {
        "imq": lambda distances, c: c / (c + distances),
        "rbf": lambda distances, c: ops.exp(-distances / c),
    },
)


def mmd(z, prior, kernel: str = "imq"):
    """The unbiased MMD^2 estimate between samples ``z`` and prior draws ``prior`` (B, D) each."""
    z, prior = ops.cast(z, "float32"), ops.cast(prior, "float32")
    count = ops.cast(ops.shape(z)[0], "float32")
    c = 2.0 * float(z.shape[-1])
    k = KERNELS[kernel]
    within = k(_squared_distances(z, z), c) + k(_squared_distances(prior, prior), c)
    off_diagonal = (ops.sum(within) - ops.trace(within)) / (count * (count - 1.0))
    across = ops.mean(k(_squared_distances(z, prior), c))
    return off_diagonal - 2.0 * across


@dataclass(frozen=True)
class Divergence:
    """One entry of :data:`DIVERGENCES`: the weighted term, its logged parts, what it reads."""

    term: Callable  # (objective, mu, log_var, z, prior) -> unscheduled weighted term
    parts: Callable | None  # (objective, mu, log_var, z, prior) -> {name: value}
    part_names: tuple[str, ...]
    reads_sample: bool  # needs the sampled z
    draws_prior: bool  # needs as many draws of the prior as the batch
    smallest_batch: int = 1  # images a batch needs for the estimate to mean something
    why: str = ""  # what goes wrong below it, for a message


def _kl_term(objective, mu, log_var, z, prior):
    return kl_term(objective, mu, log_var)


def _beta_tc_term(objective, mu, log_var, z, prior):
    parts = beta_tc_parts(mu, log_var, z, objective.dataset_size)
    return parts["mi"] + objective.kl_weight * parts["tc"] + parts["dwkl"]


def _mmd_term(objective, mu, log_var, z, prior):
    kl = ops.mean(ops.sum(kl_per_dimension(mu, log_var), axis=-1))
    return objective.kl_weight * kl + objective.mmd_weight * mmd(z, prior, objective.mmd_kernel)


DIVERGENCES = choices.registry(
    choices.DIVERGENCES,
    {
        "kl": Divergence(_kl_term, None, (), False, False),
        "beta_tc": Divergence(
            _beta_tc_term,
            lambda o, mu, log_var, z, prior: beta_tc_parts(mu, log_var, z, o.dataset_size),
            ("mi", "tc", "dwkl"),
            True,
            False,
            smallest_batch=2,
            why="with one image its mi and tc are the constants log N and (z_dim - 1) log N, so "
            "train.beta has no effect",
        ),
        "mmd": Divergence(
            _mmd_term,
            lambda o, mu, log_var, z, prior: {"mmd": mmd(z, prior, o.mmd_kernel)},
            ("mmd",),
            True,
            True,
            smallest_batch=2,
            why="the MMD of one code is undefined: its estimate averages over pairs of distinct "
            "codes",
        ),
    },
)


def divergence_term(objective, mu, log_var, z=None, prior=None, scale=None, log_prior=None):
    """The weighted term that stands in for the KL (a scalar); ``scale``: the schedule's value.

    ``log_prior``: the model's ``log p(z)`` of each sample, for a prior without a closed-form KL
    (:mod:`vaekit.models.priors`).
    """
    if objective.divergence == "kl":  # the KL term as it always was, free bits included
        return kl_term(objective, mu, log_var, scale, z, log_prior)
    value = DIVERGENCES[objective.divergence].term(objective, mu, log_var, z, prior)
    return value if scale is None else scale * value


def divergence_parts(objective, mu, log_var, z=None, prior=None) -> dict:
    """The divergence's logged parts in nats, unweighted (empty for ``kl``)."""
    parts = DIVERGENCES[objective.divergence].parts
    return {} if parts is None else parts(objective, mu, log_var, z, prior)
