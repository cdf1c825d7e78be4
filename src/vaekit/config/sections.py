"""The three sections of a config, ``model``, ``data`` and ``train``: one dataclass each, whose
fields carry their defaults and their checks (:mod:`vaekit.config.checks`), and
:func:`build_section`, which makes a section from a mapping, checking each value.

Example:
    >>> build_section("train", TrainConfig, {"epochs": 3}).epochs
    3
    >>> ModelConfig().decoder_output_shape()
    (28, 28, 1)
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass, field
from typing import Any

# The choices a registry implements are its names, in vaekit.choices; RESIZES are those
# vaekit.datasets.images brings images to size with.
from vaekit.choices import (
    ACTIVATIONS,
    DEVICES,
    DISTRIBUTIONS,
    DIVERGENCES,
    KL_SCHEDULES,
    KL_STRATEGIES,
    LIKELIHOODS,
    MMD_KERNELS,
)
from vaekit.config import checks
from vaekit.datasets.images import DEFAULT_MAX_PIXELS, RESIZES
from vaekit.errors import ConfigError, plural

# The other choices, each read where it is used.
ON_BAD_FILE = ("skip", "error")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16", "auto")
LOSS_CONVENTIONS = ("reference", "elbo", "squared_error")  # vaekit.models.objective
BINARIZE = ("none", "dynamic", "static")
TRAIN_ON = ("train", "train+test")
CONDITIONS = ("class", "factors")  # what a conditional model's label is
PRIORS = ("normal", "vamp")  # vaekit.models.priors


def _spec(default, check, **kwargs):
    """A dataclass field whose metadata carries its check."""
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"check": check}, **kwargs)
    return field(default=default, metadata={"check": check}, **kwargs)


@dataclass
class ModelConfig:
    """The constructor arguments of :class:`vaekit.VariationalAutoencoder`."""

    input_dim: tuple = _spec((28, 28, 1), checks.input_dim)
    encoder_conv_filters: list = _spec([32, 64, 128], checks.int_list)
    encoder_conv_kernel_size: list = _spec([3, 3, 3], checks.int_list)
    encoder_conv_strides: list = _spec([1, 2, 2], checks.int_list)
    decoder_conv_t_filters: list = _spec([64, 32, 1], checks.int_list)
    decoder_conv_t_kernel_size: list = _spec([3, 3, 3], checks.int_list)
    decoder_conv_t_strides: list = _spec([2, 2, 1], checks.int_list)
    z_dim: int = _spec(2, checks.integer())
    activation: str = _spec("leaky_relu", checks.choice(ACTIVATIONS))
    kl_factor: float = _spec(2e-4, checks.number())
    kl_strategy: str = _spec("layer", checks.choice(KL_STRATEGIES, dict(enumerate(KL_STRATEGIES))))
    use_batch_norm: bool = _spec(False, checks.boolean)
    use_dropout: bool = _spec(False, checks.boolean)
    dropout_rate: float = _spec(0.25, checks.number(0.0, 1.0))
    seed: int | None = _spec(None, checks.integer(0, optional=True))
    # Dense layers (with the activation) between the encoder's convolutions and mu/log_var, as in
    # the keras.io example's Dense(16); and the activation after the decoder's first Dense.
    encoder_dense_units: list = _spec([], checks.units)
    decoder_dense_activation: bool = _spec(False, checks.boolean)
    likelihood: str = _spec("bernoulli", checks.choice(LIKELIHOODS))
    gaussian_sigma: Any = _spec("learned", checks.sigma)  # the gaussian likelihood's sigma
    # A conditional VAE (Sohn et al. 2015): the label, one-hot, enters encoder and decoder. The
    # label is the class, or every ground-truth factor (shapes); condition_levels (classes, or
    # each factor's levels) is read from the data when null, and config.yaml records it.
    conditional: bool = _spec(False, checks.boolean)
    condition: str = _spec("class", checks.choice(CONDITIONS))
    condition_levels: list | None = _spec(None, checks.levels)
    # The prior p(z): N(0, I), or the VampPrior (Tomczak and Welling 2018), a mixture of the
    # posteriors of pseudo_inputs learned pseudo-inputs (vaekit.models.priors).
    prior: str = _spec("normal", checks.choice(PRIORS))
    pseudo_inputs: int = _spec(500, checks.integer(1))

    def encoder_conv_shape(self) -> tuple[int, int, int]:
        """Shape of the last encoder feature map: "same" padding gives ceil(size / stride)."""
        height, width, _ = self.input_dim
        for stride in self.encoder_conv_strides:
            height, width = -(-height // stride), -(-width // stride)  # exact integer ceil
        return height, width, self.encoder_conv_filters[-1]

    def decoder_output_shape(self) -> tuple[int, int, int]:
        """Shape the decoder produces: "same" transposed convolutions multiply by the stride."""
        height, width, _ = self.encoder_conv_shape()
        for stride in self.decoder_conv_t_strides:
            height, width = height * stride, width * stride
        return height, width, self.decoder_conv_t_filters[-1]

    def validate_shapes(self) -> None:
        """Check that layer lists agree in length and the decoder gives ``input_dim`` back."""
        for prefix, keys in (
            ("model.encoder_conv", ("filters", "kernel_size", "strides")),
            ("model.decoder_conv_t", ("filters", "kernel_size", "strides")),
        ):
            lengths = {k: len(getattr(self, f"{prefix[6:]}_{k}")) for k in keys}
            if len(set(lengths.values())) > 1:
                given = ", ".join(f"{prefix}_{k} has {n}" for k, n in lengths.items())
                raise ConfigError(f"{prefix}_*: lists must have the same length; {given}")
        levels = self.condition_levels
        if self.conditional and self.condition == "class" and levels and len(levels) != 1:
            expected = "one number, the classes, for model.condition class (e.g. [10])"
            checks.fail("model.condition_levels", levels, expected)
        if self.dropout_rate >= 1.0 and self.use_dropout:
            checks.fail("model.dropout_rate", self.dropout_rate, "a number in [0, 1)")
        out = self.decoder_output_shape()
        if tuple(out) == tuple(self.input_dim):
            return
        height, width, channels = self.input_dim
        down, up = math.prod(self.encoder_conv_strides), math.prod(self.decoder_conv_t_strides)
        if down != up:
            raise ConfigError(
                f"model.decoder_conv_t_strides: {self.decoder_conv_t_strides} multiply to {up}, "
                f"but model.encoder_conv_strides {self.encoder_conv_strides} to {down}, so the "
                f"decoder gives {tuple(out)} for input_dim {tuple(self.input_dim)}; make the "
                "two products equal"
            )
        if height % down or width % down:
            fits = sorted({max(down, size // down * down) for size in (height, width)} | {
                -(-size // down) * down for size in (height, width)})  # fmt: skip
            raise ConfigError(
                f"model.input_dim: {height} x {width} must be divisible by {down}, the product "
                f"of model.encoder_conv_strides {self.encoder_conv_strides} (the decoder "
                f"would give {out[0]} x {out[1]} back); sizes that fit: "
                f"{', '.join(map(str, fits))}, or other strides"
            )
        raise ConfigError(
            f"model.decoder_conv_t_filters: the last is {out[2]}, but model.input_dim has "
            f"{plural(channels, 'channel')}; they must be equal"
        )


@dataclass
class DataConfig:
    """Which images to train on, and how a folder of images is read."""

    dataset: str = _spec("mnist", checks.dataset)
    limit: int | None = _spec(None, checks.integer(1, optional=True))
    validation: Any = _spec("test", checks.validation)
    image_size: list | None = _spec(None, checks.image_size)  # null: model.input_dim's
    resize: str = _spec("center_crop", checks.choice(RESIZES))
    test_split: float = _spec(0.1, checks.number(0.0, 1.0, exclusive_min=True))
    labels: str = _spec("auto", checks.labels)
    on_bad_file: str = _spec("skip", checks.choice(ON_BAD_FILE))
    # A larger image (width x height) is a bad file, refused from its header (null: no limit).
    max_image_pixels: int | None = _spec(DEFAULT_MAX_PIXELS, checks.integer(1, optional=True))
    # A folder: decode once into a uint8 memory map in the run.
    cache: bool = _spec(False, checks.boolean)
    # none | dynamic (a new Bernoulli sample of each image every epoch) | static (one fixed
    # sample, from train.seed); validation and test images are then one fixed sample too.
    binarize: str = _spec("none", checks.choice(BINARIZE))
    # train+test: every image (keras.io's set-up).
    train_on: str = _spec("train", checks.choice(TRAIN_ON))


@dataclass
class TrainConfig:
    """How to train: schedule, seed and device controls."""

    epochs: int = _spec(6, checks.integer(1))
    batch_size: int = _spec(128, checks.integer(1))
    learning_rate: float = _spec(5e-4, checks.number(0.0, exclusive_min=True))
    seed: int = _spec(42, checks.integer(0))
    shuffle: bool = _spec(True, checks.boolean)
    device: str = _spec("auto", checks.choice(DEVICES))
    gpu_memory_limit_mb: int | None = _spec(None, checks.integer(1, optional=True))
    jit_compile: Any = _spec("auto", checks.jit)
    threads: int | None = _spec(None, checks.integer(1, optional=True))
    steps_per_execution: int = _spec(1, checks.integer(1))
    precision: str = _spec("float32", checks.choice(PRECISIONS))
    checkpoint_every_steps: int | None = _spec(None, checks.integer(1, optional=True))
    keep_checkpoints: int = _spec(2, checks.integer(1))
    # Refuse a model and batch whose estimated memory exceeds what is free (vaekit.resources).
    check_memory: bool = _spec(True, checks.boolean)
    # TensorBoard logs in RUN_DIR/tensorboard (vaekit.training.tensorboard): scalars every epoch,
    # reconstruction and sample grids every tensorboard_images_every epochs.
    tensorboard: bool = _spec(False, checks.boolean)
    tensorboard_images_every: int = _spec(5, checks.integer(1))
    # The objective (vaekit.models.objective): the reference's per-pixel mean BCE + kl_factor x
    # mean KL, or the ELBO in nats (log-likelihood summed over pixels + beta x KL summed over
    # latent dimensions), or the Generative Deep Learning book's squared error (the gaussian
    # likelihood's without its constant: r_loss_factor x the mean squared error, sigma =
    # sqrt(pixels / (2 r_loss_factor))) + the KL summed; a KL schedule, free bits, or the
    # importance-weighted bound.
    loss_convention: str = _spec("reference", checks.choice(LOSS_CONVENTIONS))
    beta: float = _spec(1.0, checks.number())
    kl_schedule: str = _spec("constant", checks.choice(KL_SCHEDULES))
    kl_warmup_epochs: int = _spec(10, checks.integer(1))
    kl_cycles: int = _spec(4, checks.integer(1))
    kl_ramp: float = _spec(0.5, checks.number(0.0, 1.0, exclusive_min=True))
    free_bits: float = _spec(0.0, checks.number())
    iw_samples: int = _spec(1, checks.integer(1))
    # The learning rate is multiplied by this every epoch (step decay; the GDL book's lr_decay).
    lr_decay: float = _spec(1.0, checks.number(0.0, 1.0, exclusive_min=True))
    # What stands in for the KL term (vaekit.models.divergences, elbo convention): the KL, the
    # beta-TCVAE split (beta weighs the total correlation) or InfoVAE's beta x KL + mmd_weight x
    # MMD between the batch's codes and the prior.
    divergence: str = _spec("kl", checks.choice(DIVERGENCES))
    mmd_weight: float = _spec(100.0, checks.number())
    mmd_kernel: str = _spec("imq", checks.choice(MMD_KERNELS))
    # Data-parallel training over many devices and machines (vaekit.distribute, docs/scaling.md):
    # data_parallel is keras.distribution's DataParallel (JAX), mirrored TensorFlow's
    # MirroredStrategy; batch_size stays the global batch. cpu_devices splits the CPU into that
    # many devices. Several processes join with the arguments of keras.distribution.initialize,
    # or a launcher's environment (SLURM, torchrun, Open MPI, KERAS_DISTRIBUTION_*).
    distribute: str = _spec("none", checks.choice(DISTRIBUTIONS))
    cpu_devices: int | None = _spec(None, checks.integer(1, optional=True))
    coordinator_address: str | None = _spec(None, checks.address)
    num_processes: int | None = _spec(None, checks.integer(1, optional=True))
    process_id: int | None = _spec(None, checks.integer(0, optional=True))


SECTIONS = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig}


def build_section(name: str, cls: type, values: Any):
    """The section ``cls`` (:class:`ModelConfig`, :class:`DataConfig`, :class:`TrainConfig`) from
    the mapping ``values`` (None: all defaults), each value checked; ``name`` prefixes the fields
    in a :class:`~vaekit.errors.ConfigError`.

    Example:
        >>> build_section("model", ModelConfig, {"z_dim": 3}).z_dim
        3
        >>> build_section("model", ModelConfig, {"z_dim": 0})
        Traceback (most recent call last):
        ...
        vaekit.errors.ConfigError: model.z_dim: got 0, expected an integer >= 1
    """
    if values is None:
        values = {}
    if not isinstance(values, dict):
        checks.fail(name, values, f"a mapping of {name} settings")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in fields:
            shown = key if isinstance(key, str) and key.isprintable() else repr(key)
            raise ConfigError(f"{name}.{shown}: unknown key{suggest(key, fields)}")
        kwargs[key] = fields[key].metadata["check"](f"{name}.{key}", value)
    return cls(**kwargs)


def suggest(key: Any, valid) -> str:
    """The tail of an unknown key's error: the closest of ``valid``, if one is close, and all
    of them.

    >>> suggest("zdim", ["z_dim", "seed"])
    " (did you mean 'z_dim'?); valid keys: z_dim, seed"
    """
    close = difflib.get_close_matches(str(key), list(valid), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{hint}; valid keys: {', '.join(valid)}"
