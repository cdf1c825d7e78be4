"""The VAE itself: layers, the encoder/decoder builder, the four KL wirings, the user-facing class
and checked loading of saved models.

Importing this package (``import vaekit`` does) registers every serializable vaekit class with
Keras: the layers of :mod:`.layers` and :mod:`.gradients`, the ``KLLoss`` loss and the four models
of :mod:`.strategies`.
"""

from vaekit.models import gradients, layers, strategies  # noqa: F401  (registers the classes)
