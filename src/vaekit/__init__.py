"""vaekit: configurable convolutional variational autoencoders on Keras 3.

Importing vaekit (or any of its modules) picks the backend (TensorFlow unless ``KERAS_BACKEND``
says otherwise) and registers every serializable vaekit class with Keras, so that a process which
only loads a saved model finds them.

Example:
    >>> import vaekit
    >>> vae = vaekit.VariationalAutoencoder(z_dim=2, kl_strategy="layer")
    >>> vae.model.name
    'vae_layer'
"""

from vaekit import backends  # noqa: I001  (first: the backend is chosen before Keras loads)
from vaekit import datasets, models
from vaekit.config import Config
from vaekit.errors import ConfigError, DataError, ModelFileError, VaekitError
from vaekit.models.vae import VariationalAutoencoder
from vaekit.version import __version__

__all__ = [
    "Config",
    "ConfigError",
    "DataError",
    "ModelFileError",
    "VaekitError",
    "VariationalAutoencoder",
    "backends",
    "datasets",
    "models",
    "__version__",
]
