"""The rules between a config's fields: the objective's settings that only make sense together.

Each field is checked on its own first (:mod:`vaekit.config.sections`); :func:`check_objective`
then refuses a combination in one line that names the settings and what would go with them.

Example:
    >>> from vaekit.config import Config
    >>> Config.from_dict({"train": {"divergence": "mmd"}})
    Traceback (most recent call last):
    ...
    vaekit.errors.ConfigError: train.divergence mmd: needs train.loss_convention elbo ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vaekit.errors import ConfigError

if TYPE_CHECKING:  # only for the annotation: vaekit.config imports this module
    from vaekit.config import Config


def _check_divergence(model, train) -> None:
    """beta_tc and mmd: batch estimates in nats, on the whole batch."""
    name = f"train.divergence {train.divergence}"
    if train.loss_convention != "elbo":
        raise ConfigError(f"{name}: needs train.loss_convention elbo (the terms are in nats)")
    if train.free_bits > 0 or train.iw_samples > 1:
        raise ConfigError(f"{name}: train.free_bits and train.iw_samples apply to divergence kl")
    if train.divergence == "beta_tc" and model.z_dim == 1:
        raise ConfigError(
            f"{name}: model.z_dim 1 has no total correlation (it is 0 for one latent dimension), "
            "so train.beta would have no effect; use model.z_dim >= 2, or train.divergence kl"
        )
    if train.divergence == "mmd" and model.kl_strategy == "layer":
        raise ConfigError(
            f"{name}: model.kl_strategy layer cannot carry it (the encoder's KL layer sees no "
            "prior draws); use add_loss, train_step or multi_output"
        )
    if train.distribute == "mirrored":
        raise ConfigError(
            f"{name}: its batch estimates need the whole batch in one computation; "
            "train.distribute mirrored splits it over replicas (data_parallel on JAX does not)"
        )


def _check_vamp(model, train) -> None:
    """The VampPrior: a sampled KL against a mixture, with its pseudo-inputs through the encoder."""
    refusals = {
        "model.kl_strategy layer": (model.kl_strategy == "layer", "the encoder's KL layer "
            "cannot encode the pseudo-inputs; use add_loss, train_step or multi_output"),
        "model.conditional": (model.conditional, "the pseudo-inputs have no label; train a "
            "conditional model with model.prior normal"),
        f"train.divergence {train.divergence}": (train.divergence != "kl", "beta_tc and mmd "
            "assume the N(0, I) prior; use train.divergence kl"),
        "train.free_bits": (train.free_bits > 0, "free bits act on a closed-form KL per "
            "dimension, which a mixture prior has not; use 0"),
        "train.iw_samples": (train.iw_samples > 1, "the importance-weighted bound trains with "
            "model.prior normal; use 1 (vaekit evaluate gives the bound under the VampPrior)"),
    }  # fmt: skip
    for name, (refused, why) in refusals.items():
        if refused:
            raise ConfigError(f"model.prior vamp: {name} does not go with it ({why})")


def check_objective(config: Config) -> None:
    """The objective's settings that only make sense together."""
    model, data, train = config.model, config.data, config.train
    elbo_only = {"free_bits": train.free_bits > 0, "beta": train.beta != 1.0}
    for key, used in elbo_only.items():
        if used and train.loss_convention != "elbo":
            raise ConfigError(
                f"train.{key}: applies to train.loss_convention elbo (the reference convention "
                f"weighs its KL term by model.kl_factor); set train.loss_convention=elbo"
            )
    if train.loss_convention == "squared_error" and (
        model.likelihood != "gaussian" or model.gaussian_sigma == "learned"
    ):
        raise ConfigError(
            "train.loss_convention: squared_error is the gaussian likelihood with a fixed sigma "
            "(r_loss_factor x the mean squared error for sigma = sqrt(pixels / (2 "
            "r_loss_factor))); set model.likelihood=gaussian and model.gaussian_sigma"
        )
    if train.iw_samples > 1:
        if model.kl_strategy != "train_step":
            raise ConfigError(
                f"train.iw_samples: the importance-weighted bound trains with model.kl_strategy "
                f"train_step (it does not split into a reconstruction and a KL loss); got "
                f"{model.kl_strategy!r}"
            )
        if (
            train.loss_convention != "elbo"
            or train.kl_schedule != "constant"
            or elbo_only["free_bits"]
            or elbo_only["beta"]
        ):
            raise ConfigError(
                "train.iw_samples: the importance-weighted bound needs train.loss_convention "
                "elbo, beta 1, kl_schedule constant and free_bits 0"
            )
    if train.divergence != "kl":
        _check_divergence(model, train)
    if model.prior == "vamp":
        _check_vamp(model, train)
    processes, process = train.num_processes, train.process_id
    if processes is not None and process is not None and process >= processes:
        raise ConfigError(
            f"train.process_id: got {process}, but train.num_processes is {processes}; use 0 to "
            f"{processes - 1}"
        )
    if data.train_on == "train+test" and data.validation == "test":
        raise ConfigError(
            "data.validation: 'test' would validate on training images with data.train_on "
            "train+test; use data.validation=none"
        )
