"""The reference VAE in eager PyTorch: the same layers, loss and optimizer as the Keras ones.

A baseline for ``python -m benchmarks.throughput`` (implementation ``plain-torch``). Images are
NCHW here. Convolutions pad exactly as Keras's ``padding="same"`` does, so every feature map has
the Keras shape; the transposed convolutions use ``padding=(k - 1) // 2`` and
``output_padding=stride - 1``, which gives the Keras output shape (``stride`` times the input)
with the kernel placed one pixel off Keras's alignment for even strides: the same cost and the
same shapes, which is what a throughput comparison needs.

Example:
    >>> import torch
    >>> model = VAE()  # the reference architecture
    >>> optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)
    >>> images = torch.rand(8, 1, 28, 28)
    >>> loss = train_step(model, optimizer, images)
    >>> 0.6 < float(loss) < 0.8  # binary cross-entropy of a near-0.5 output
    True
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def keras_same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) padding of Keras "same": the extra pixel goes after, as in TensorFlow."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv2d(nn.Conv2d):
    """Conv2d with Keras "same" padding for an input of a known (height, width)."""

    def __init__(self, in_channels, out_channels, kernel, stride, input_size):
        super().__init__(in_channels, out_channels, kernel, stride=stride)
        top, bottom = keras_same_padding(input_size[0], kernel, stride)
        left, right = keras_same_padding(input_size[1], kernel, stride)
        self.pad = (left, right, top, bottom)  # F.pad order: last dimension first

    def forward(self, x):
        return super().forward(F.pad(x, self.pad))


class VAE(nn.Module):
    """Encoder ``x -> (mu, log_var, z)`` and decoder ``z -> x_hat``; see the Keras version."""

    def __init__(
        self,
        input_shape=(28, 28, 1),
        encoder_filters=(32, 64, 128),
        encoder_kernels=(3, 3, 3),
        encoder_strides=(1, 2, 2),
        decoder_filters=(64, 32, 1),
        decoder_kernels=(3, 3, 3),
        decoder_strides=(2, 2, 1),
        z_dim=2,
    ):
        super().__init__()
        height, width, channels = input_shape
        encoder = []
        encoder_layers = zip(encoder_filters, encoder_kernels, encoder_strides, strict=True)
        for filters, kernel, stride in encoder_layers:
            encoder += [SameConv2d(channels, filters, kernel, stride, (height, width))]
            encoder += [nn.LeakyReLU(negative_slope=0.3)]
            height, width, channels = math.ceil(height / stride), math.ceil(width / stride), filters
        self.feature_shape = (channels, height, width)  # (C, h, w) before flattening
        self.encoder = nn.Sequential(*encoder, nn.Flatten())
        self.mu = nn.Linear(math.prod(self.feature_shape), z_dim)
        self.log_var = nn.Linear(math.prod(self.feature_shape), z_dim)

        decoder = []
        decoder_layers = zip(decoder_filters, decoder_kernels, decoder_strides, strict=True)
        for filters, kernel, stride in decoder_layers:
            padding, output_padding = (kernel - 1) // 2, stride - 1  # output = stride * input
            decoder += [
                nn.ConvTranspose2d(channels, filters, kernel, stride, padding, output_padding)
            ]
            decoder += [nn.LeakyReLU(negative_slope=0.3)]
            channels = filters
        decoder[-1] = nn.Sigmoid()  # the last layer's activation
        self.decoder_dense = nn.Linear(z_dim, math.prod(self.feature_shape))
        self.decoder = nn.Sequential(*decoder)
        self.apply(_keras_initialization)

    def forward(self, x):
        features = self.encoder(x)  # (B, C * h * w)
        mu, log_var = self.mu(features), self.log_var(features)  # (B, z_dim) each
        z = mu + torch.exp(log_var / 2) * torch.randn_like(mu)
        h = self.decoder_dense(z).view(-1, *self.feature_shape)  # (B, C, h, w)
        return self.decoder(h), mu, log_var  # (B, C_in, H, W)


def _keras_initialization(module):
    """Glorot-uniform weights and zero biases, as Keras layers start.

    PyTorch's default would start this model elsewhere: its ConvTranspose2d takes the fan-in from
    the output channels, so the last layer starts large and the first loss is ~0.84, not ~0.69.
    """
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        nn.init.zeros_(module.bias)


def vae_loss(images, reconstructions, mu, log_var, kl_factor=2e-4):
    """BCE averaged over all pixels and the batch, plus kl_factor * the mean KL term."""
    bce = F.binary_cross_entropy(reconstructions, images)
    kl = -torch.mean(1 + log_var - mu.pow(2) - log_var.exp())
    return bce + kl_factor * kl


def train_step(model, optimizer, images, kl_factor=2e-4):
    """One Adam step on a batch of NCHW images in [0, 1]; returns the loss (a tensor)."""
    optimizer.zero_grad(set_to_none=True)
    reconstructions, mu, log_var = model(images)
    loss = vae_loss(images, reconstructions, mu, log_var, kl_factor)
    loss.backward()
    optimizer.step()
    return loss.detach()
