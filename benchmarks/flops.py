"""Training FLOPs per image of a vaekit model, counted from its layer shapes.

Convention (the usual one for "model FLOPs", e.g. in MLPerf and the PaLM/Chinchilla papers):

- a multiply-accumulate counts as 2 FLOPs;
- Conv2D: ``2 * k * k * C_in * C_out * H_out * W_out`` per forward pass;
- Conv2DTranspose: ``2 * k * k * C_in * C_out * H_in * W_in`` (every input pixel scatters a
  ``k x k x C_out`` patch), which is the same count as the convolution it is the gradient of;
- Dense: ``2 * inputs * outputs``;
- biases, activations, sampling, the loss and the optimizer update are left out: they are
  O(activations) or O(parameters) and below 1% here;
- training = 3 x forward: the backward pass costs about twice the forward (one product for the
  input gradient, one for the weight gradient). This slightly overcounts the first layer, whose
  input gradient is never computed.

Batch norm and dropout (off in the reference model) are not counted either.

Run ``python -m benchmarks.flops`` to print the per-layer counts of configs/mnist_seed.yaml.

Example:
    >>> from vaekit.config import ModelConfig
    >>> round(training_flops_per_image(ModelConfig()) / 1e6, 2)  # the reference model, MFLOP
    89.64
"""

from __future__ import annotations

import math
import sys

from vaekit.config import Config, ModelConfig

TRAINING_MULTIPLIER = 3  # forward + backward (about 2 x forward)


def layer_flops(config: ModelConfig) -> list[tuple[str, int]]:
    """Forward FLOPs per image of each weighted layer, in order: ``[(name, flops), ...]``."""
    height, width, channels = config.input_dim
    counts = []
    encoder = zip(
        config.encoder_conv_filters,
        config.encoder_conv_kernel_size,
        config.encoder_conv_strides,
        strict=True,
    )
    for i, (filters, kernel, stride) in enumerate(encoder):
        height, width = math.ceil(height / stride), math.ceil(width / stride)  # "same" padding
        counts.append(
            (f"encoder_conv_{i}", 2 * kernel * kernel * channels * filters * height * width)
        )
        channels = filters
    flat = height * width * channels
    counts.append(("mu", 2 * flat * config.z_dim))
    counts.append(("log_var", 2 * flat * config.z_dim))
    counts.append(("decoder_dense", 2 * config.z_dim * flat))
    decoder = zip(
        config.decoder_conv_t_filters,
        config.decoder_conv_t_kernel_size,
        config.decoder_conv_t_strides,
        strict=True,
    )
    for i, (filters, kernel, stride) in enumerate(decoder):
        counts.append(
            (f"decoder_conv_t_{i}", 2 * kernel * kernel * channels * filters * height * width)
        )
        height, width, channels = height * stride, width * stride, filters
    return counts


def forward_flops_per_image(config: ModelConfig) -> int:
    """Forward-pass FLOPs per image."""
    return sum(flops for _, flops in layer_flops(config))


def training_flops_per_image(config: ModelConfig) -> int:
    """Training FLOPs per image (forward + backward), see the module docstring."""
    return TRAINING_MULTIPLIER * forward_flops_per_image(config)


def main(argv=None) -> None:
    """Print the per-layer table of a config: ``python -m benchmarks.flops [CONFIG]``."""
    argv = sys.argv[1:] if argv is None else argv
    config = Config.load(argv[0] if argv else "configs/mnist_seed.yaml").model
    for name, flops in layer_flops(config):
        print(f"{name:<18} {flops / 1e6:10.3f} MFLOP forward")
    print(f"{'forward':<18} {forward_flops_per_image(config) / 1e6:10.3f} MFLOP per image")
    print(f"{'training (x3)':<18} {training_flops_per_image(config) / 1e9:10.4f} GFLOP per image")


if __name__ == "__main__":
    main()
