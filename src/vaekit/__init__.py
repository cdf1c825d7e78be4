"""vaekit: configurable convolutional variational autoencoders on Keras 3.

Example:
    >>> import vaekit
    >>> vae = vaekit.VariationalAutoencoder(z_dim=2, kl_strategy="layer")
    >>> vae.model.name
    'vae_layer'
"""

import os

# TensorFlow is the default backend (fastest on CPU here); KERAS_BACKEND set by the user wins.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"

from vaekit import datasets  # noqa: E402
from vaekit.config import Config  # noqa: E402
from vaekit.errors import ConfigError, DataError, ModelFileError, VaekitError  # noqa: E402
from vaekit.models.vae import VariationalAutoencoder  # noqa: E402

__all__ = [
    "Config",
    "ConfigError",
    "DataError",
    "ModelFileError",
    "VaekitError",
    "VariationalAutoencoder",
    "datasets",
    "__version__",
]
