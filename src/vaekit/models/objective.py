"""What a VAE minimises: the loss convention, the KL weight and its schedule, free bits, IWAE.

Three conventions (``train.loss_convention``), all from the decoder's logits (see
:mod:`.likelihoods`):

- ``reference`` (default): the "Generative Deep Learning" loss, ``mean over pixels and batch of
  -log p(x|z)`` (the BCE for ``bernoulli``) ``+ kl_factor * mean_batch(-mean_d(1 + log_var - mu^2 -
  exp(log_var)))``;
- ``elbo``: the negative ELBO in nats, ``mean_batch(-sum_pixels log p(x|z)) + beta * mean_batch(
  sum_d KL_d)`` with ``KL_d = (mu^2 + exp(log_var) - log_var - 1) / 2``. With free bits ``lambda``
  the KL part is ``sum_d max(lambda, mean_batch KL_d)`` (Kingma et al. 2016): a dimension whose
  KL is below ``lambda`` gets no gradient pushing it lower.
- ``squared_error``: the loss of D. Foster's "Generative Deep Learning" (1st edition) code,
  ``r_loss_factor * mean_pixels (x - x_hat)^2 + sum_d KL_d`` per image: the ``gaussian``
  likelihood with a fixed ``sigma`` without its normalising constant
  ``pixels * (log sigma + log(2 pi) / 2)``, ``r_loss_factor = pixels / (2 sigma^2)``
  (:func:`sigma_of_r_loss_factor`), and the KL as in ``elbo`` (weighted by ``beta``).

The KL weight is multiplied by a schedule's value for the epoch (:data:`SCHEDULES`), held in a
non-trainable variable that :class:`vaekit.training.callbacks.KLScheduleCallback` sets.

``train.divergence`` (``beta_tc``, ``mmd``) replaces the KL term by another divergence
(:mod:`vaekit.models.divergences`); :func:`~vaekit.models.divergences.divergence_term` is what
the wirings add, the KL term of this module for ``kl``.

Whatever the convention, :func:`negative_elbo` gives the negative ELBO in nats per image, so runs
compare.

Example:
    >>> [round(kl_schedule_value("linear", epoch, epochs=10, warmup_epochs=4), 2)
    ...  for epoch in range(6)]
    [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    >>> [kl_schedule_value("cyclical", e, epochs=8, cycles=2, ramp=0.5) for e in range(8)]
    [0.0, 0.5, 1.0, 1.0, 0.0, 0.5, 1.0, 1.0]
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from keras import ops

from vaekit import choices
from vaekit.models.likelihoods import log_prob

LOG_2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True)
class Objective:
    """The loss settings a model trains with (stored in the model; see the module docstring).

    Args:
        convention: "reference", "elbo" or "squared_error".
        likelihood: "bernoulli", "continuous_bernoulli" or "gaussian".
        gaussian_sigma: "learned" or a fixed standard deviation (gaussian only).
        kl_weight: the KL weight: ``model.kl_factor`` (reference) or ``train.beta`` (elbo).
        kl_schedule: "constant", "linear" or "cyclical".
        free_bits: minimum KL per latent dimension in nats (elbo only).
        iw_samples: K > 1 trains the importance-weighted bound (Burda et al. 2015).
        divergence: "kl", "beta_tc" or "mmd" (:mod:`vaekit.models.divergences`).
        dataset_size: training images, for beta_tc's minibatch-weighted sampling.
        mmd_weight, mmd_kernel: the MMD's weight and kernel ("imq" or "rbf").
        prior: "normal" or "vamp" (:mod:`vaekit.models.priors`): with ``vamp`` the KL term is
            the sampled ``log q(z|x) - log p(z)``, from the ``log p(z)`` the model computes.
    """

    convention: str = "reference"
    likelihood: str = "bernoulli"
    gaussian_sigma: str | float = "learned"
    kl_weight: float = 2e-4
    kl_schedule: str = "constant"
    free_bits: float = 0.0
    iw_samples: int = 1
    divergence: str = "kl"
    dataset_size: int = 0
    mmd_weight: float = 0.0
    mmd_kernel: str = "imq"
    prior: str = "normal"

    @classmethod
    def from_config(cls, config, dataset_size: int = 0) -> Objective:
        """The objective of a full :class:`vaekit.config.Config`; ``dataset_size`` (the training
        images) is what beta-TCVAE's minibatch-weighted sampling needs."""
        train, model = config.train, config.model
        reference = train.loss_convention == "reference"
        return cls(
            convention=train.loss_convention,
            likelihood=model.likelihood,
            gaussian_sigma=model.gaussian_sigma,
            kl_weight=model.kl_factor if reference else train.beta,
            kl_schedule=train.kl_schedule,
            free_bits=train.free_bits,
            iw_samples=train.iw_samples,
            divergence=train.divergence,
            dataset_size=dataset_size if train.divergence == "beta_tc" else 0,
            mmd_weight=train.mmd_weight if train.divergence == "mmd" else 0.0,
            mmd_kernel=train.mmd_kernel,
            prior=model.prior,
        )

    @classmethod
    def from_dict(cls, values: dict | None, kl_factor: float = 2e-4) -> Objective:
        """From a saved model's config; a model saved before objectives existed gets the
        reference convention with its ``kl_factor``."""
        if not values:
            return cls(kl_weight=kl_factor)
        return cls(**values)

    def to_dict(self) -> dict:
        values = dataclasses.asdict(self)
        if self.divergence == "kl":  # as before divergences existed: earlier vaekits load it
            for key in ("divergence", "dataset_size", "mmd_weight", "mmd_kernel"):
                del values[key]
        if self.prior == "normal":  # likewise for the prior
            del values["prior"]
        return values

    @property
    def scheduled(self) -> bool:
        return self.kl_schedule != "constant"

    @property
    def sampled_kl(self) -> bool:
        """Whether the KL is the sampled ``log q(z|x) - log p(z)`` (a prior without a closed
        form), which reads the sample ``z`` and the model's ``log p(z)``."""
        return self.prior != "normal"

    @property
    def learned_sigma(self) -> bool:
        return self.likelihood == "gaussian" and self.gaussian_sigma == "learned"


# KL schedules: the KL weight's multiplier in epoch ``epoch`` (0-based) of ``epochs``.
SCHEDULES = choices.registry(
    choices.KL_SCHEDULES,
    {
        "constant": lambda epoch, epochs, warmup_epochs, cycles, ramp: 1.0,
        # 0, 1/N, ..., (N-1)/N over the first N epochs, then 1.
        "linear": lambda epoch, epochs, warmup_epochs, cycles, ramp: min(
            1.0, epoch / warmup_epochs
        ),
        # Fu et al. 2019: M cycles over the run; each rises linearly over its first R fraction,
        # then holds at 1.
        "cyclical": lambda epoch, epochs, warmup_epochs, cycles, ramp: min(
            1.0, ((epoch % math.ceil(epochs / cycles)) / math.ceil(epochs / cycles)) / ramp
        ),
    },
)


def kl_schedule_value(
    name: str, epoch: int, epochs: int, warmup_epochs: int = 10, cycles: int = 4, ramp: float = 0.5
) -> float:
    """The KL weight's multiplier for ``epoch`` under schedule ``name`` (see :data:`SCHEDULES`)."""
    return float(SCHEDULES[name](epoch, epochs, warmup_epochs, cycles, ramp))


def split_output(objective: Objective, output):
    """``(logits, log_sigma)`` from the training output (log sigma None unless gaussian)."""
    output = ops.cast(output, "float32")
    if objective.learned_sigma:
        logits, log_sigma = ops.split(output, 2, axis=-1)
        return logits, log_sigma
    if objective.likelihood == "gaussian":
        return output, math.log(objective.gaussian_sigma)
    return output, None


def nll_per_image(objective: Objective, images, output):
    """``-log p(x | z)`` summed over the pixels of each image, in nats: shape (B,)."""
    logits, log_sigma = split_output(objective, output)
    per_pixel = -log_prob(objective.likelihood, images, logits, log_sigma)  # (B, H, W, C)
    return ops.sum(ops.reshape(per_pixel, (ops.shape(per_pixel)[0], -1)), axis=-1)


def reconstruction_per_image(objective: Objective, images, output):
    """Each image's reconstruction term in the convention: per-pixel mean, sum, or the squared
    error without the gaussian's constant: (B,)."""
    nll = nll_per_image(objective, images, output)
    pixels = math.prod(images.shape[1:])
    if objective.convention == "reference":
        return nll / float(pixels)
    if objective.convention == "squared_error":  # nll less its constant, computed as such
        logits, _ = split_output(objective, output)
        error = ops.square(ops.cast(images, "float32") - ops.sigmoid(logits))
        per_image = ops.sum(ops.reshape(error, (ops.shape(error)[0], -1)), axis=-1)
        return per_image / (2.0 * float(objective.gaussian_sigma) ** 2)
    return nll


def sigma_of_r_loss_factor(r_loss_factor: float, pixels: int) -> float:
    """The gaussian's fixed sigma whose squared error is ``r_loss_factor * mean_pixels``:
    ``sqrt(pixels / (2 r_loss_factor))``.

    >>> round(sigma_of_r_loss_factor(1000, 28 * 28), 4)  # the book's digits
    0.6261
    """
    return math.sqrt(pixels / (2.0 * r_loss_factor))


def kl_per_dimension(mu, log_var):
    """``KL(q(z|x) || N(0, I))`` of each latent dimension, in nats: (B, D)."""
    mu, log_var = ops.cast(mu, "float32"), ops.cast(log_var, "float32")
    return 0.5 * (ops.square(mu) + ops.exp(log_var) - log_var - 1.0)


def sampled_kl(mu, log_var, z, log_prior):
    """Each image's single-sample KL estimate ``log q(z|x) - log p(z)`` in nats: (B,)."""
    return log_normal(z, mu, log_var) - ops.cast(log_prior, "float32")


def kl_term(objective: Objective, mu, log_var, scale=None, z=None, log_prior=None):
    """The weighted KL term of the loss (a scalar); ``scale`` is the schedule's multiplier.

    With a prior that has no closed-form KL (``objective.sampled_kl``) the term is the sampled
    KL at ``z``, given the model's ``log_prior`` (B,) of it; the reference convention takes its
    ``2 / D`` share (its closed-form term is ``2 mean_d KL_d``).
    """
    weight = objective.kl_weight if scale is None else objective.kl_weight * scale
    if objective.sampled_kl:
        value = ops.mean(sampled_kl(mu, log_var, z, log_prior))
        if objective.convention == "reference":
            value = value * (2.0 / float(mu.shape[-1]))
        return weight * value
    per_dim = kl_per_dimension(mu, log_var)  # (B, D)
    if objective.convention == "reference":
        # -mean_d(1 + log_var - mu^2 - exp(log_var)) = 2 mean_d KL_d: the reference's scale.
        value = ops.mean(2.0 * ops.mean(per_dim, axis=-1))
    elif objective.free_bits > 0:
        value = ops.sum(ops.maximum(ops.mean(per_dim, axis=0), objective.free_bits))
    else:
        value = ops.mean(ops.sum(per_dim, axis=-1))
    return weight * value


def negative_elbo(objective: Objective, images, output, mu, log_var, z=None, log_prior=None):
    """The negative ELBO in nats per image, averaged over the batch (a scalar); its KL is the
    sampled one at ``z`` where the prior has no closed form (``log_prior``: the model's)."""
    nll = nll_per_image(objective, images, output)
    if objective.sampled_kl:
        kl = sampled_kl(mu, log_var, z, log_prior)
    else:
        kl = ops.sum(kl_per_dimension(mu, log_var), axis=-1)
    return ops.mean(nll + kl)


def log_normal(z, mu, log_var):
    """``log N(z; mu, exp(log_var))`` summed over the last axis."""
    z, mu, log_var = (ops.cast(v, "float32") for v in (z, mu, log_var))
    return -0.5 * ops.sum(LOG_2PI + log_var + ops.square(z - mu) * ops.exp(-log_var), axis=-1)


def log_standard_normal(z):
    """``log N(z; 0, I)`` summed over the last axis."""
    z = ops.cast(z, "float32")
    return -0.5 * ops.sum(LOG_2PI + ops.square(z), axis=-1)


def log_weights(objective: Objective, images, decode_output, mu, log_var, epsilon):
    """Importance log-weights ``log p(x|z_k) + log p(z_k) - log q(z_k|x)``: shape (B, K).

    Args:
        images: (B, H, W, C).
        decode_output: maps (B * K, D) latent points to the training output (B * K, H, W, C').
        mu, log_var: the posterior, (B, D).
        epsilon: standard normal noise, (B, K, D); ``z_k = mu + exp(log_var / 2) * epsilon_k``.
    """
    mu, log_var = ops.cast(mu, "float32"), ops.cast(log_var, "float32")
    batch, samples, dims = ops.shape(epsilon)
    z = mu[:, None, :] + ops.exp(0.5 * log_var)[:, None, :] * epsilon  # (B, K, D)
    output = decode_output(ops.reshape(z, (batch * samples, dims)))
    repeated = ops.repeat(images, samples, axis=0)  # (B * K, H, W, C), image b's copies together
    log_px = -ops.reshape(nll_per_image(objective, repeated, output), (batch, samples))
    log_pz = log_standard_normal(z)
    log_qz = log_normal(z, mu[:, None, :], log_var[:, None, :])
    return log_px + log_pz - log_qz


def iwae_bound(log_w):
    """``log (1/K) sum_k exp(log_w_k)`` per image, by a log-sum-exp: (B,)."""
    samples = ops.shape(log_w)[-1]
    return ops.logsumexp(log_w, axis=-1) - ops.log(ops.cast(samples, "float32"))
