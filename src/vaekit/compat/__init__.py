"""Adapters for readers of the code vaekit's users learned VAEs from, over vaekit's own VAE.

- :mod:`.blog`: the blog series "Variational Autoencoder with Tensorflow" and its
  ``MyVariationalAutoencoder`` (``from vaekit.compat import MyVariationalAutoencoder``).

Each adapter only translates names and conventions; the model, its training, saving and run
folders are :class:`vaekit.VariationalAutoencoder`'s.
"""

from vaekit.compat.blog import ACTIVATIONS, SOLUTION_TYPES, MyVariationalAutoencoder

__all__ = ["ACTIVATIONS", "SOLUTION_TYPES", "MyVariationalAutoencoder"]
