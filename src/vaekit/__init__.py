"""vaekit: configurable convolutional variational autoencoders on Keras 3."""

__version__ = "0.1.0"
