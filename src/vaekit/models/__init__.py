"""The VAE itself: layers, the encoder/decoder builder, the four KL wirings, the user-facing class
and checked loading of saved models.

Importing this package registers every serializable vaekit class with Keras.
"""
