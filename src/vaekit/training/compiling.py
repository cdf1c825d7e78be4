"""A run's compiled VAE: the device settings applied, then built and compiled under them.

:func:`compile_vae` is the :class:`~vaekit.models.vae.VariationalAutoencoder` a run trains (the
wrapper, compiled); :func:`vaekit.models.strategies.build_model` is the Keras model inside one.

Example:
    >>> from vaekit.config import Config
    >>> config = Config.from_dict({"train": {"device": "cpu", "precision": "float32"}})
    >>> settings = prepare_devices(config)
    >>> compile_vae(config, settings).model.compute_dtype
    'float32'
"""

from __future__ import annotations

import contextlib

import keras

from vaekit import backends
from vaekit.config import Config
from vaekit.models.objective import Objective
from vaekit.models.vae import VariationalAutoencoder
from vaekit.training.device import DeviceSettings, configure


def prepare_devices(config: Config) -> DeviceSettings:
    """Apply ``config.train``'s device settings and resolve ``precision: auto``.

    Call it before any tensor exists (building or loading a model): TensorFlow fixes its devices
    and thread pools when its runtime starts. ``config`` is left as it is: the settings'
    :meth:`~vaekit.training.device.DeviceSettings.resolve` gives it with the precision chosen.
    """
    return configure(config.train)


def compile_vae(
    config: Config, settings: DeviceSettings | None = None, dataset_size: int = 0
) -> VariationalAutoencoder:
    """A new compiled VAE for ``config``, built under the chosen precision and placement, seeded
    by ``train.seed``.

    Args:
        config: the run's config.
        settings: what :func:`prepare_devices` returned, if it ran already.
        dataset_size: the training images (what ``train.divergence beta_tc`` needs).
    """
    settings = settings or prepare_devices(config)
    backends.set_random_seed(config.train.seed)
    with _dtype_policy(settings.precision), settings.placement.scope():
        vae = VariationalAutoencoder.from_config(
            config.model, objective=Objective.from_config(config, dataset_size)
        )
        recompile(vae, config, settings)
    return vae


def recompile(
    vae: VariationalAutoencoder, config: Config, settings: DeviceSettings, optimizer=None
) -> None:
    """Compile ``vae`` for ``config``'s training (with ``optimizer``, a loaded checkpoint's, when
    given; else a new one)."""
    kwargs = {
        "jit_compile": settings.jit_compile,
        "steps_per_execution": config.train.steps_per_execution,
    }
    if optimizer is not None:
        kwargs["optimizer"] = optimizer
    vae.compile(learning_rate=config.train.learning_rate, **kwargs)


@contextlib.contextmanager
def _dtype_policy(name: str):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
