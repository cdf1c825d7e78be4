"""PyTorch's distribution: none in released Keras (:mod:`vaekit.distribute` refuses it in one
line)."""

from __future__ import annotations

import keras

from vaekit.backends.base import Distribution
from vaekit.errors import ConfigError

DISTRIBUTIONS = {
    "data_parallel": Distribution(
        why_not=f"Keras {keras.__version__} has no keras.distribution for PyTorch; it is in "
        "progress upstream, keras-team/keras#23418"
    ),
    "mirrored": Distribution(),
}


def split_cpu(count: int) -> None:
    """Refused: PyTorch has no logical CPU devices."""
    raise ConfigError(
        "train.cpu_devices: PyTorch has no logical CPU devices; leave it null (it splits the CPU "
        "for KERAS_BACKEND=jax or tensorflow)"
    )
