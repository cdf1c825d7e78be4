"""What a command will need, estimated before it starts: memory, and the memory that is free.

Training a model needs its weights, their gradients and Adam's two moments (4 copies of every
parameter), and the activations of a batch, kept from the forward pass for the backward one.
:func:`training_memory` counts both from the :class:`~vaekit.config.ModelConfig` alone (the
parameter count equals Keras's ``count_params()`` exactly), so a model that cannot fit is refused
in a second, with one line naming the setting that makes it large, instead of dying minutes later
in the middle of an allocation. :func:`decoding_memory` does the same for commands that only
decode (``evaluate``, ``generate``, the report). :func:`available_memory` is the least of the
memory the system has free, a cgroup's limit and the process's address-space limit.

The activation estimate counts every layer's output once and multiplies by
:data:`ACTIVATION_COPIES`: the backward pass keeps layer outputs and builds gradients of the same
size. Both factors come from the peak resident memory of real runs (``docs/benchmarks.md``): the
estimate came out between 24% under and 1.9 times over what TensorFlow on a CPU took, and within
2% for a model whose weights dominate; enough to refuse in a second a model that cannot fit. A
refusal says how to try anyway (``train.check_memory: false``), and a real out-of-memory error is
still one line (exit code 5).

Example:
    >>> from vaekit.config import ModelConfig
    >>> estimate = training_memory(ModelConfig(), batch_size=128)
    >>> estimate.parameters  # the reference model: Keras's count_params()
    229125
    >>> estimate.largest.name, estimate.largest.setting
    ('encoder_conv_2', 'model.encoder_conv_filters')
    >>> training_memory(ModelConfig(z_dim=100_000), batch_size=128).dominant()
    "model.z_dim (mu, log_var holds 1,254,600,000 of the model's 1,881,991,489 weights, ...)"
    >>> vamp = ModelConfig(prior="vamp", pseudo_inputs=10_000_000, kl_strategy="add_loss")
    >>> training_memory(vamp, batch_size=128).dominant()
    'model.pseudo_inputs (the 10,000,000 pseudo-inputs take 3592.82 GB: their weights ...)'

"""

from __future__ import annotations

import math
import os
import resource
import shutil
from dataclasses import dataclass
from pathlib import Path

from vaekit.config import ModelConfig
from vaekit.errors import ConfigError

FLOAT_BYTES = 4
# Copies of each parameter at training's peak: the weight, its gradient and Adam's m and v (4),
# and 5 more while a checkpoint is written, since Keras builds the weights file (weights, m and v)
# in memory, then copies and compresses it into the .keras archive. Measured: a model of 377 M
# parameters (z_dim 20,000) peaked 13.1 GB above the process's start, 8.7 copies of 1.5 GB.
TRAINING_COPIES = 4 + 5
# Copies of each layer output alive at the backward pass's peak, between the 1.1 measured for the
# reference model at batch 4096 and the 2.8 of one with filters of 128-512 at batch 256 (oneDNN's
# scratch buffers grow with the channels).
ACTIVATION_COPIES = 2
# What training adds besides the model and its batch: graph tracing, plotting, the report.
OVERHEAD_BYTES = 450 * 2**20
UNLIMITED = 2**62  # cgroup and rlimit values at or above this mean "no limit"
CGROUP_FILES = (  # (limit, usage) of cgroup v2, then v1
    ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
    ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
)


@dataclass(frozen=True)
class Layer:
    """One layer of the model: its parameters, the values it outputs per image, and the setting
    that sizes it (named in a refusal)."""

    name: str
    parameters: int
    outputs: int
    setting: str


@dataclass(frozen=True)
class Estimate:
    """Bytes a command needs, and why: ``parameters`` of the model, ``weights_bytes`` for them and
    their optimizer copies, ``activation_bytes`` for one batch (and ``other_activations``, what
    of them a setting other than the batch's sizes: ``(setting, bytes)``), ``total`` with the
    overhead. ``layers`` and ``copies`` (of each weight) say which setting sizes which weights."""

    parameters: int
    weights_bytes: int
    activation_bytes: int
    total: int
    largest: Layer
    batch_setting: str
    layers: tuple[Layer, ...] = ()
    copies: int = 1
    other_activations: tuple[tuple[str, int], ...] = ()

    def shares(self) -> dict[str, int]:
        """Bytes by the setting that sizes them: weights by their layers' settings, the batch's
        activations by ``batch_setting``."""
        shares: dict[str, int] = {}
        for layer in self.layers or (self.largest,):
            shares[layer.setting] = (
                shares.get(layer.setting, 0) + layer.parameters * FLOAT_BYTES * self.copies
            )
        others = sum(count for _, count in self.other_activations)
        shares[self.batch_setting] = (
            shares.get(self.batch_setting, 0) + self.activation_bytes - others
        )
        for setting, count in self.other_activations:
            shares[setting] = shares.get(setting, 0) + count
        return shares

    def weights_setting(self) -> str:
        """The setting that sizes most of the model's weights."""
        counts: dict[str, int] = {}
        for layer in self.layers or (self.largest,):
            counts[layer.setting] = counts.get(layer.setting, 0) + layer.parameters
        return max(counts, key=counts.get)

    def setting(self) -> str:
        """The setting whose share of the estimate is largest: the one to lower."""
        shares = self.shares()
        return max(shares, key=shares.get)

    def dominant(self) -> str:
        """The setting to lower, and why, for a message."""
        setting, shares = self.setting(), self.shares()
        if setting == self.batch_setting:
            return f"{setting} (activations: {format_bytes(shares[setting])})"
        layers = [layer for layer in self.layers or (self.largest,) if layer.setting == setting]
        layer = max(layers, key=lambda layer: layer.parameters)
        activations = sum(count for name, count in self.other_activations if name == setting)
        if activations:
            return (
                f"{setting} ({layer.name} take {format_bytes(shares[setting])}: their weights "
                f"with gradients, optimizer state and checkpoint copies, and "
                f"{format_bytes(activations)} of activations, as every step encodes them)"
            )
        return (
            f"{setting} ({layer.name} holds {layer.parameters:,} of the model's "
            f"{self.parameters:,} weights, which take {format_bytes(self.weights_bytes)} with "
            "their gradients, optimizer state and checkpoint copies)"
        )


def model_layers(config: ModelConfig, learned_sigma: bool = False) -> list[Layer]:
    """The layers of :func:`vaekit.models.architecture.build_encoder` and ``build_decoder``."""
    height, width, channels = config.input_dim
    norm = 4 if config.use_batch_norm else 0  # gamma, beta, moving mean and variance
    layers = []
    convs = zip(config.encoder_conv_filters, config.encoder_conv_kernel_size,
                config.encoder_conv_strides, strict=True)  # fmt: skip
    for i, (filters, kernel, stride) in enumerate(convs):
        height, width = -(-height // stride), -(-width // stride)  # "same" padding: ceil
        weights = kernel * kernel * channels * filters + filters + norm * filters
        layers.append(Layer(f"encoder_conv_{i}", weights, height * width * filters,
                            "model.encoder_conv_filters"))  # fmt: skip
        channels = filters
    features = height * width * channels  # (B, h * w * c) after Flatten
    width_in = features
    for i, units in enumerate(config.encoder_dense_units):
        layers.append(Layer(f"encoder_dense_{i}", width_in * units + units, units,
                            "model.encoder_dense_units"))  # fmt: skip
        width_in = units
    z = config.z_dim
    labels = sum(config.condition_levels or ()) if config.conditional else 0  # one-hot, joined
    width_in += labels
    layers.append(Layer("mu, log_var", 2 * (width_in * z + z), 3 * z, "model.z_dim"))
    layers.append(Layer("decoder_dense", (z + labels) * features + features, features,
                        "model.z_dim"))  # fmt: skip
    convs = list(zip(config.decoder_conv_t_filters, config.decoder_conv_t_kernel_size,
                     config.decoder_conv_t_strides, strict=True))  # fmt: skip
    for i, (filters, kernel, stride) in enumerate(convs):
        height, width = height * stride, width * stride
        last = i == len(convs) - 1
        weights = kernel * kernel * channels * filters + filters + (0 if last else norm * filters)
        layers.append(Layer(f"decoder_conv_t_{i}", weights, height * width * filters,
                            "model.decoder_conv_t_filters"))  # fmt: skip
        channels = filters
    if learned_sigma:
        layers.append(Layer("log_scale", channels, height * width * channels, "model.likelihood"))
    return layers


def training_memory(
    config: ModelConfig,
    batch_size: int,
    iw_samples: int = 1,
    learned_sigma: bool = False,
    batch_setting: str = "train.batch_size",
) -> Estimate:
    """The memory that training ``config`` at ``batch_size`` needs (see the module docstring).

    With ``iw_samples`` K, the decoder runs on K samples of each image.
    """
    layers = model_layers(config, learned_sigma)
    image, split = math.prod(config.input_dim), _decoder_start(layers)
    encoder = image + sum(layer.outputs for layer in layers[:split])
    decoder = sum(layer.outputs for layer in layers[split:]) + 2 * image  # the loss's terms
    per_image = encoder + iw_samples * decoder
    activations = batch_size * per_image * FLOAT_BYTES * ACTIVATION_COPIES
    others = ()
    if config.prior == "vamp":  # the pseudo-inputs: parameters, and an encoder pass each step
        count = config.pseudo_inputs
        name = f"the {count:,} pseudo-inputs"
        layers = [*layers, Layer(name, count * image, 0, "model.pseudo_inputs")]
        others = (("model.pseudo_inputs", count * encoder * FLOAT_BYTES * ACTIVATION_COPIES),)
        activations += others[0][1]
    return _estimate(layers, TRAINING_COPIES, activations, batch_setting, others)


def decoding_memory(config: ModelConfig, points: int, batch_setting: str) -> Estimate:
    """The memory that decoding ``points`` latent points in one call needs (no gradients)."""
    layers = model_layers(config)
    image, split = math.prod(config.input_dim), _decoder_start(layers)
    # Each layer's output is alive while the next is computed; the images being scored too.
    per_point = 2 * max(layer.outputs for layer in layers[split:]) + 3 * image
    if config.prior == "vamp":  # loaded with the model, though decoding does not read them
        count = config.pseudo_inputs
        layers = [*layers, Layer(f"the {count:,} pseudo-inputs", count * image, 0,
                                 "model.pseudo_inputs")]  # fmt: skip
    return _estimate(layers, 1, points * per_point * FLOAT_BYTES, batch_setting)


def _decoder_start(layers: list[Layer]) -> int:
    return next(i for i, layer in enumerate(layers) if layer.name == "decoder_dense")


def _estimate(
    layers: list[Layer], copies: int, activations: int, batch_setting: str, others=()
) -> Estimate:
    """An estimate from the layers, the copies kept of each parameter and the activation bytes
    (``others``: those a setting other than ``batch_setting`` sizes)."""
    parameters = sum(layer.parameters for layer in layers)
    weights = parameters * FLOAT_BYTES * copies
    return Estimate(
        parameters=parameters,
        weights_bytes=weights,
        activation_bytes=activations,
        total=weights + activations + OVERHEAD_BYTES,
        largest=max(layers, key=lambda layer: layer.parameters),
        batch_setting=batch_setting,
        layers=tuple(layers),
        copies=copies,
        other_activations=tuple(others),
    )


def check_fits(estimate: Estimate, doing: str, escape: str | None = None) -> None:
    """Raise :class:`~vaekit.errors.ConfigError`, naming the setting to lower, when ``estimate``
    exceeds :func:`available_memory`. ``doing`` says what the memory is for ("to train");
    ``escape`` is how to try anyway, for estimates that may be wrong."""
    available = available_memory()
    if estimate.total <= available.bytes:
        return
    setting = estimate.dominant()
    name = setting.split(" ", 1)[0]
    parts = (
        f"weights {format_bytes(estimate.weights_bytes)}, activations "
        f"{format_bytes(estimate.activation_bytes)}"
    )
    raise ConfigError(
        f"{name}: {doing} needs about {format_bytes(estimate.total)} ({parts}), more than the "
        f"{format_bytes(available.bytes)} free here (limited by {available.limit}); lower {setting}"
        + (f", or {escape}" if escape else "")
    )


def _existing(path: str | Path) -> Path:
    """``path``, or the nearest folder above it that exists."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def free_disk(path: str | Path) -> int:
    """Bytes free on the disk that holds ``path`` (or the nearest folder above it that exists)."""
    return shutil.disk_usage(_existing(path)).free


def check_disk(path: str | Path, needed: int, setting: str, doing: str, advice=None) -> None:
    """Raise :class:`~vaekit.errors.ConfigError` naming ``setting`` when the disk that will hold
    ``path`` has fewer than ``needed`` bytes free (a folder that cannot be written at all is left
    to the writer, whose message says so). ``advice(free)``, if given, is what would fit, for the
    message."""
    if not os.access(_existing(path), os.W_OK):
        return
    free = free_disk(path)
    if needed > free:
        raise ConfigError(
            f"{setting}: {doing} needs about {format_bytes(needed)} on the disk of {path}, more "
            f"than the {format_bytes(free)} free there" + (f"; {advice(free)}" if advice else "")
        )


def checkpoint_bytes(parameters: int) -> int:
    """The size of a checkpoint: the weights and Adam's two moments, as float32."""
    return 3 * parameters * FLOAT_BYTES


@dataclass(frozen=True)
class Available:
    """Free memory in bytes and what limits it (for the message)."""

    bytes: int
    limit: str


def available_memory(meminfo: str | Path = "/proc/meminfo") -> Available:
    """The memory this process can still take: the least of the system's available memory, a
    cgroup's limit less its usage, and the address-space or data-size limit less what is mapped."""
    found = []
    try:
        for line in Path(meminfo).read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(Available(int(line.split()[1]) * 1024, "MemAvailable"))
    except (OSError, ValueError, IndexError):
        pass
    for limit_file, usage_file in CGROUP_FILES:
        limit, usage = _read_int(limit_file), _read_int(usage_file)
        if limit is not None and usage is not None and limit < UNLIMITED:
            found.append(Available(max(0, limit - usage), "the cgroup's memory limit"))
    mapped = _status_bytes()
    for name, kind, key in (
        ("ulimit -v", resource.RLIMIT_AS, "VmSize"),
        ("ulimit -d", resource.RLIMIT_DATA, "VmData"),
    ):
        soft = resource.getrlimit(kind)[0]
        if soft != resource.RLIM_INFINITY and soft < UNLIMITED and key in mapped:
            found.append(Available(max(0, soft - mapped[key]), name))
    if not found:
        return Available(UNLIMITED, "no limit found")
    return min(found, key=lambda available: available.bytes)


def _read_int(path: str) -> int | None:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return UNLIMITED if text == "max" else int(text) if text.isdigit() else None


def _status_bytes() -> dict[str, int]:
    """``VmSize`` and ``VmData`` of this process, in bytes (Linux)."""
    values = {}
    try:
        for line in Path(f"/proc/{os.getpid()}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmSize", "VmData"):
                values[key] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return values


def format_bytes(count: float) -> str:
    """Bytes for people, in GB above 100 MB: ``format_bytes(2.5e9) == '2.33 GB'``."""
    if count >= 100 * 2**20:
        return f"{count / 2**30:.2f} GB"
    return f"{count / 2**20:.0f} MB"


def format_seconds(seconds: float) -> str:
    """A duration for people: ``42 s``, ``12 min``, ``3.5 h``, ``290 days``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:,.0f} days"
