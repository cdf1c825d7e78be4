"""The one typed configuration of a vaekit run: ``model``, ``data`` and ``train`` sections.

A config is loaded from YAML, changed with dotted overrides (``train.epochs=3``, values parsed as
YAML), and validated up front: every mistake raises :class:`~vaekit.errors.ConfigError` with one
line naming the field, the value given and what would be valid.

Example:
    >>> config = Config.from_dict({"model": {"z_dim": 4}}, overrides=["train.epochs=2"])
    >>> config.model.z_dim, config.train.epochs
    (4, 2)
    >>> Config.from_dict({"model": {"zdim": 4}})
    Traceback (most recent call last):
    ...
    vaekit.errors.ConfigError: model.zdim: unknown key (did you mean 'z_dim'?); valid keys: ...
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

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
from vaekit.datasets.images import DEFAULT_MAX_PIXELS, RESIZES
from vaekit.errors import ConfigError, plural
from vaekit.io import atomic_write_text

# The other choices, each read where it is used.
ON_BAD_FILE = ("skip", "error")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16", "auto")
LOSS_CONVENTIONS = ("reference", "elbo", "squared_error")  # vaekit.models.objective
BINARIZE = ("none", "dynamic", "static")
TRAIN_ON = ("train", "train+test")
CONDITIONS = ("class", "factors")  # what a conditional model's label is
PRIORS = ("normal", "vamp")  # vaekit.models.priors


# Field checks: each takes (field name, value) and returns the normalised value or raises.
def _fail(name: str, value: Any, expected: str) -> None:
    raise ConfigError(f"{name}: got {value!r}, expected {expected}")


def _int(minimum: int = 1, optional: bool = False):
    def check(name, value):
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            _fail(name, value, f"an integer >= {minimum}" + (" or null" if optional else ""))
        return value

    return check


def _float(minimum: float = 0.0, maximum: float = math.inf, exclusive_min: bool = False):
    def check(name, value):
        # abs() <= max rejects nan and inf, and ints beyond float range such as 10**400
        # (math.isfinite would raise OverflowError on those).
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and abs(value) <= sys.float_info.max
        ok = ok and (value > minimum if exclusive_min else value >= minimum) and value <= maximum
        if not ok:
            low = f"> {minimum}" if exclusive_min else f">= {minimum}"
            high = f" and <= {maximum}" if math.isfinite(maximum) else ""
            _fail(name, value, f"a finite number {low}{high}")
        return float(value)

    return check


def _bool(name, value):
    if not isinstance(value, bool):
        _fail(name, value, "true or false")
    return value


def _choice(choices: tuple, aliases: dict | None = None):
    def check(name, value):
        # Only true integers are aliases: 2.0 is not, and a list or dict is not hashable.
        if aliases and type(value) is int and value in aliases:
            return aliases[value]
        if value not in choices:
            extra = f" (or {', '.join(map(str, aliases))})" if aliases else ""
            _fail(name, value, f"one of {', '.join(choices)}{extra}")
        return value

    return check


def _int_list(name, value):
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list | tuple) or not value:
        _fail(name, value, "a non-empty list of integers >= 1")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or item < 1:
            _fail(name, value, "a non-empty list of integers >= 1")
    return list(value)


def _units(name, value):
    if value is None or (isinstance(value, list | tuple) and not value):
        return []
    return _int_list(name, value)


def _sigma(name, value):
    if value == "learned":
        return value
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not 0.0 < value <= 1e6:
        _fail(name, value, "learned, or a fixed standard deviation > 0 (e.g. 0.1)")
    return float(value)


def _input_dim(name, value):
    ok = isinstance(value, list | tuple) and len(value) == 3
    bad = lambda v: isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 65536  # noqa: E731
    if not ok or any(bad(v) for v in value):
        _fail(name, value, "[height, width, channels], three integers from 1 to 65536")
    return tuple(value)


def _levels(name, value):
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    ok = isinstance(value, list | tuple) and value
    if not ok or any(isinstance(v, bool) or not isinstance(v, int) or v < 2 for v in value):
        _fail(name, value, "a list of integers >= 2 (classes, or each factor's levels) or null")
    return list(value)


def _jit(name, value):
    if not isinstance(value, bool) and value != "auto":  # 1 == True, but 1 is not a setting
        _fail(name, value, "true, false or auto")
    return value


def _address(name, value):
    if value is None:
        return None
    host, _, port = value.rpartition(":") if isinstance(value, str) else ("", "", "")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        _fail(name, value, "HOST:PORT of process 0 (e.g. 10.0.0.1:1234) or null")
    return value


def _dataset(name, value):
    if not isinstance(value, str) or not value:
        _fail(name, value, "a data set name (see vaekit datasets), an .npz file or a folder")
    return value


def _image_size(name, value):
    if value is None:
        return None
    bad = lambda v: isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 65536  # noqa: E731
    if not isinstance(value, list | tuple) or len(value) != 2 or any(bad(v) for v in value):
        _fail(name, value, "[height, width], two integers from 1 to 65536, or null")
    return list(value)


def _labels(name, value):
    if value in ("auto", "none"):
        return value
    if isinstance(value, str) and value.lower().endswith(".csv"):
        return value
    _fail(name, value, "auto (class folders), none, or the path of a file,label .csv")


def _validation(name, value):
    if value in ("test", "none"):
        return value
    if isinstance(value, float) and 0.0 < value < 1.0:
        return value
    _fail(name, value, "'test', 'none' or a fraction of the training set in (0, 1)")


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping gives the same key twice; ``line`` is the 1-based line of the repeat."""

    def __init__(self, message: str, line: int):
        super().__init__(problem=message)
        self.message, self.line = message, line


class _Loader(yaml.SafeLoader):
    """Safe YAML as configs mean it: ``2e-4`` is a float (YAML 1.1 reads it as a string), and a
    key given twice in one mapping is an error (PyYAML would keep the last, silently)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = {}  # key -> line of its first appearance
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # "<<: *defaults" merges on purpose; explicit keys override it
                key, line = self.construct_object(key_node, deep=True), key_node.start_mark.line
                try:
                    repeated = key in seen
                except TypeError:  # an unhashable key: PyYAML's own error says so
                    continue
                if repeated:
                    shown = key if isinstance(key, str) and key.isprintable() else repr(key)
                    raise DuplicateKeyError(
                        f"{shown} is given twice (first at line {seen[key]}); give each key once",
                        line + 1,
                    )
                seen[key] = line + 1
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        # A mantissa needs a digit: ".", "-." and ".e5" stay strings (float() would reject them).
        r"^[-+]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)[eE][-+]?\d+$|^[-+]?\.(?:inf|Inf|INF)$"
        r"|^\.(?:nan|NaN|NAN)$|^[-+]?(?:\d[\d_]*\.[\d_]*|\.\d[\d_]*)$"
    ),
    list("-+0123456789."),
)


def parse_yaml(text: str):
    r"""Parse YAML as vaekit configs do (safe, with ``1e-3`` read as a float).

    Raises :class:`yaml.YAMLError` for any text that is not valid YAML, including a bad explicit
    tag (``!!int x``, which PyYAML reports as ``ValueError``) and nesting too deep to parse, and
    :class:`DuplicateKeyError` (a ``YAMLError``) for a key given twice in one mapping.

    >>> parse_yaml("model:\n  z_dim: 2\n  z_dim: 3\n")
    Traceback (most recent call last):
    ...
    vaekit.config.DuplicateKeyError: z_dim is given twice (first at line 2); give each key once
    """
    try:
        return yaml.load(text, Loader=_Loader)
    except (ValueError, RecursionError) as error:
        raise yaml.YAMLError(f"{type(error).__name__}: {error}") from None


def _spec(default, check, **kwargs):
    """A dataclass field whose metadata carries its check."""
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"check": check}, **kwargs)
    return field(default=default, metadata={"check": check}, **kwargs)


@dataclass
class ModelConfig:
    """The constructor arguments of :class:`vaekit.VariationalAutoencoder`."""

    input_dim: tuple = _spec((28, 28, 1), _input_dim)
    encoder_conv_filters: list = _spec([32, 64, 128], _int_list)
    encoder_conv_kernel_size: list = _spec([3, 3, 3], _int_list)
    encoder_conv_strides: list = _spec([1, 2, 2], _int_list)
    decoder_conv_t_filters: list = _spec([64, 32, 1], _int_list)
    decoder_conv_t_kernel_size: list = _spec([3, 3, 3], _int_list)
    decoder_conv_t_strides: list = _spec([2, 2, 1], _int_list)
    z_dim: int = _spec(2, _int())
    activation: str = _spec("leaky_relu", _choice(ACTIVATIONS))
    kl_factor: float = _spec(2e-4, _float())
    kl_strategy: str = _spec("layer", _choice(KL_STRATEGIES, dict(enumerate(KL_STRATEGIES))))
    use_batch_norm: bool = _spec(False, _bool)
    use_dropout: bool = _spec(False, _bool)
    dropout_rate: float = _spec(0.25, _float(0.0, 1.0))
    seed: int | None = _spec(None, _int(0, optional=True))
    # Dense layers (with the activation) between the encoder's convolutions and mu/log_var, as in
    # the keras.io example's Dense(16); and the activation after the decoder's first Dense.
    encoder_dense_units: list = _spec([], _units)
    decoder_dense_activation: bool = _spec(False, _bool)
    likelihood: str = _spec("bernoulli", _choice(LIKELIHOODS))
    gaussian_sigma: Any = _spec("learned", _sigma)  # the gaussian likelihood's sigma
    # A conditional VAE (Sohn et al. 2015): the label, one-hot, enters encoder and decoder. The
    # label is the class, or every ground-truth factor (shapes); condition_levels (classes, or
    # each factor's levels) is read from the data when null, and config.yaml records it.
    conditional: bool = _spec(False, _bool)
    condition: str = _spec("class", _choice(CONDITIONS))
    condition_levels: list | None = _spec(None, _levels)
    # The prior p(z): N(0, I), or the VampPrior (Tomczak and Welling 2018), a mixture of the
    # posteriors of pseudo_inputs learned pseudo-inputs (vaekit.models.priors).
    prior: str = _spec("normal", _choice(PRIORS))
    pseudo_inputs: int = _spec(500, _int(1))

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
            _fail("model.condition_levels", levels, "one number, the classes, for model.condition "
                  "class (e.g. [10])")  # fmt: skip
        if self.dropout_rate >= 1.0 and self.use_dropout:
            _fail("model.dropout_rate", self.dropout_rate, "a number in [0, 1)")
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

    dataset: str = _spec("mnist", _dataset)
    limit: int | None = _spec(None, _int(1, optional=True))
    validation: Any = _spec("test", _validation)
    image_size: list | None = _spec(None, _image_size)  # null: model.input_dim's
    resize: str = _spec("center_crop", _choice(RESIZES))
    test_split: float = _spec(0.1, _float(0.0, 1.0, exclusive_min=True))
    labels: str = _spec("auto", _labels)
    on_bad_file: str = _spec("skip", _choice(ON_BAD_FILE))
    # A larger image (width x height) is a bad file, refused from its header (null: no limit).
    max_image_pixels: int | None = _spec(DEFAULT_MAX_PIXELS, _int(1, optional=True))
    cache: bool = _spec(False, _bool)  # a folder: decode once into a uint8 memory map in the run
    # none | dynamic (a new Bernoulli sample of each image every epoch) | static (one fixed
    # sample, from train.seed); validation and test images are then one fixed sample too.
    binarize: str = _spec("none", _choice(BINARIZE))
    train_on: str = _spec("train", _choice(TRAIN_ON))  # train+test: every image (keras.io's set-up)


@dataclass
class TrainConfig:
    """How to train: schedule, seed and device controls."""

    epochs: int = _spec(6, _int(1))
    batch_size: int = _spec(128, _int(1))
    learning_rate: float = _spec(5e-4, _float(0.0, exclusive_min=True))
    seed: int = _spec(42, _int(0))
    shuffle: bool = _spec(True, _bool)
    device: str = _spec("auto", _choice(DEVICES))
    gpu_memory_limit_mb: int | None = _spec(None, _int(1, optional=True))
    jit_compile: Any = _spec("auto", _jit)
    threads: int | None = _spec(None, _int(1, optional=True))
    steps_per_execution: int = _spec(1, _int(1))
    precision: str = _spec("float32", _choice(PRECISIONS))
    checkpoint_every_steps: int | None = _spec(None, _int(1, optional=True))
    keep_checkpoints: int = _spec(2, _int(1))
    # Refuse a model and batch whose estimated memory exceeds what is free (vaekit.resources).
    check_memory: bool = _spec(True, _bool)
    # TensorBoard logs in RUN_DIR/tensorboard (vaekit.training.tensorboard): scalars every epoch,
    # reconstruction and sample grids every tensorboard_images_every epochs.
    tensorboard: bool = _spec(False, _bool)
    tensorboard_images_every: int = _spec(5, _int(1))
    # The objective (vaekit.models.objective): the reference's per-pixel mean BCE + kl_factor x
    # mean KL, or the ELBO in nats (log-likelihood summed over pixels + beta x KL summed over
    # latent dimensions), or the Generative Deep Learning book's squared error (the gaussian
    # likelihood's without its constant: r_loss_factor x the mean squared error, sigma =
    # sqrt(pixels / (2 r_loss_factor))) + the KL summed; a KL schedule, free bits, or the
    # importance-weighted bound.
    loss_convention: str = _spec("reference", _choice(LOSS_CONVENTIONS))
    beta: float = _spec(1.0, _float())
    kl_schedule: str = _spec("constant", _choice(KL_SCHEDULES))
    kl_warmup_epochs: int = _spec(10, _int(1))
    kl_cycles: int = _spec(4, _int(1))
    kl_ramp: float = _spec(0.5, _float(0.0, 1.0, exclusive_min=True))
    free_bits: float = _spec(0.0, _float())
    iw_samples: int = _spec(1, _int(1))
    # The learning rate is multiplied by this every epoch (step decay; the GDL book's lr_decay).
    lr_decay: float = _spec(1.0, _float(0.0, 1.0, exclusive_min=True))
    # What stands in for the KL term (vaekit.models.divergences, elbo convention): the KL, the
    # beta-TCVAE split (beta weighs the total correlation) or InfoVAE's beta x KL + mmd_weight x
    # MMD between the batch's codes and the prior.
    divergence: str = _spec("kl", _choice(DIVERGENCES))
    mmd_weight: float = _spec(100.0, _float())
    mmd_kernel: str = _spec("imq", _choice(MMD_KERNELS))
    # Data-parallel training over many devices and machines (vaekit.distribute, docs/scaling.md):
    # data_parallel is keras.distribution's DataParallel (JAX), mirrored TensorFlow's
    # MirroredStrategy; batch_size stays the global batch. cpu_devices splits the CPU into that
    # many devices. Several processes join with the arguments of keras.distribution.initialize,
    # or a launcher's environment (SLURM, torchrun, Open MPI, KERAS_DISTRIBUTION_*).
    distribute: str = _spec("none", _choice(DISTRIBUTIONS))
    cpu_devices: int | None = _spec(None, _int(1, optional=True))
    coordinator_address: str | None = _spec(None, _address)
    num_processes: int | None = _spec(None, _int(1, optional=True))
    process_id: int | None = _spec(None, _int(0, optional=True))


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
        _fail(name, values, f"a mapping of {name} settings")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in fields:
            shown = key if isinstance(key, str) and key.isprintable() else repr(key)
            raise ConfigError(f"{name}.{shown}: unknown key{_suggest(key, fields)}")
        kwargs[key] = fields[key].metadata["check"](f"{name}.{key}", value)
    return cls(**kwargs)


def _suggest(key: Any, valid) -> str:
    close = difflib.get_close_matches(str(key), list(valid), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{hint}; valid keys: {', '.join(valid)}"


@dataclass
class Config:
    """A full run configuration; see the module docstring."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    @classmethod
    def from_dict(cls, values: Any, overrides: list[str] | tuple = ()) -> Config:
        """Validate a nested mapping (plus ``section.key=value`` overrides) into a Config."""
        if values is None:
            values = {}
        if not isinstance(values, dict):
            _fail("config", values, "a mapping with sections model, data, train")
        values = {k: dict(v) if isinstance(v, dict) else v for k, v in values.items()}
        for override in overrides:  # in order: a later --set of the same key wins, as flags do
            apply_override(values, override)
        for key in values:
            if key not in SECTIONS:
                shown = key if isinstance(key, str) and key.isprintable() else repr(key)
                raise ConfigError(f"{shown}: unknown section{_suggest(key, SECTIONS)}")
        sections = {k: build_section(k, c, values.get(k)) for k, c in SECTIONS.items()}
        config = cls(**sections)
        config.model.validate_shapes()
        size, expected = config.data.image_size, list(config.model.input_dim[:2])
        if size is not None and size != expected:
            raise ConfigError(
                f"data.image_size: got {size}, but model.input_dim is "
                f"{list(config.model.input_dim)}; images are read at the model's size, so they "
                f"must agree ({expected}), or leave data.image_size out"
            )
        if config.data.test_split >= 1.0:
            _fail("data.test_split", config.data.test_split, "a fraction in (0, 1)")
        _check_objective(config)
        return config

    @classmethod
    def load(cls, path: str | Path, overrides: list[str] | tuple = ()) -> Config:
        """Read a YAML file (:func:`read_config_file`); see :meth:`from_dict`."""
        return cls.from_dict(read_config_file(path), overrides)

    def to_dict(self) -> dict:
        """A plain, YAML-serialisable nested dict (tuples become lists)."""
        out = dataclasses.asdict(self)
        out["model"]["input_dim"] = list(self.model.input_dim)
        return out

    def save(self, path: str | Path) -> None:
        """Write the fully resolved config as YAML (atomically)."""
        atomic_write_text(path, yaml.safe_dump(self.to_dict(), sort_keys=False))


def read_config_file(path: str | Path) -> dict | None:
    """A config file's mapping as written, unvalidated (None for an empty file).

    Raises:
        ConfigError: the file is missing or unreadable, not YAML, gives a key twice (naming the
            line), or is not a mapping.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read config file ({error})") from None
    try:
        values = parse_yaml(text)
    except DuplicateKeyError as error:
        raise ConfigError(f"{path}: line {error.line}: {error.message}") from None
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 1}" if where else ""
        raise ConfigError(f"{path}: not valid YAML{line}") from None
    if values is not None and not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping with sections model, data, train")
    return values


def _check_divergence(model, train) -> None:
    """beta_tc and mmd: batch estimates in nats, on the whole batch."""
    name = f"train.divergence {train.divergence}"
    if train.loss_convention != "elbo":
        raise ConfigError(f"{name}: needs train.loss_convention elbo (the terms are in nats)")
    if train.free_bits > 0 or train.iw_samples > 1:
        raise ConfigError(f"{name}: train.free_bits and train.iw_samples apply to divergence kl")
    if train.divergence == "beta_tc" and model.z_dim == 1:
        raise ConfigError(
            f"{name}: model.z_dim 1 has no total correlation (it is 0 for one latent dimension), "
            "so train.beta would have no effect; use model.z_dim >= 2, or train.divergence kl"
        )
    if train.divergence == "mmd" and model.kl_strategy == "layer":
        raise ConfigError(
            f"{name}: model.kl_strategy layer cannot carry it (the encoder's KL layer sees no "
            "prior draws); use add_loss, train_step or multi_output"
        )
    if train.distribute == "mirrored":
        raise ConfigError(
            f"{name}: its batch estimates need the whole batch in one computation; "
            "train.distribute mirrored splits it over replicas (data_parallel on JAX does not)"
        )


def _check_vamp(model, train) -> None:
    """The VampPrior: a sampled KL against a mixture, with its pseudo-inputs through the encoder."""
    refusals = {
        "model.kl_strategy layer": (model.kl_strategy == "layer", "the encoder's KL layer "
            "cannot encode the pseudo-inputs; use add_loss, train_step or multi_output"),
        "model.conditional": (model.conditional, "the pseudo-inputs have no label; train a "
            "conditional model with model.prior normal"),
        f"train.divergence {train.divergence}": (train.divergence != "kl", "beta_tc and mmd "
            "assume the N(0, I) prior; use train.divergence kl"),
        "train.free_bits": (train.free_bits > 0, "free bits act on a closed-form KL per "
            "dimension, which a mixture prior has not; use 0"),
        "train.iw_samples": (train.iw_samples > 1, "the importance-weighted bound trains with "
            "model.prior normal; use 1 (vaekit evaluate gives the bound under the VampPrior)"),
    }  # fmt: skip
    for name, (refused, why) in refusals.items():
        if refused:
            raise ConfigError(f"model.prior vamp: {name} does not go with it ({why})")


def _check_objective(config: Config) -> None:
    """The objective's settings that only make sense together."""
    model, data, train = config.model, config.data, config.train
    elbo_only = {"free_bits": train.free_bits > 0, "beta": train.beta != 1.0}
    for key, used in elbo_only.items():
        if used and train.loss_convention != "elbo":
            raise ConfigError(
                f"train.{key}: applies to train.loss_convention elbo (the reference convention "
                f"weighs its KL term by model.kl_factor); set train.loss_convention=elbo"
            )
    if train.loss_convention == "squared_error" and (
        model.likelihood != "gaussian" or model.gaussian_sigma == "learned"
    ):
        raise ConfigError(
            "train.loss_convention: squared_error is the gaussian likelihood with a fixed sigma "
            "(r_loss_factor x the mean squared error for sigma = sqrt(pixels / (2 "
            "r_loss_factor))); set model.likelihood=gaussian and model.gaussian_sigma"
        )
    if train.iw_samples > 1:
        if model.kl_strategy != "train_step":
            raise ConfigError(
                f"train.iw_samples: the importance-weighted bound trains with model.kl_strategy "
                f"train_step (it does not split into a reconstruction and a KL loss); got "
                f"{model.kl_strategy!r}"
            )
        if (
            train.loss_convention != "elbo"
            or train.kl_schedule != "constant"
            or elbo_only["free_bits"]
            or elbo_only["beta"]
        ):
            raise ConfigError(
                "train.iw_samples: the importance-weighted bound needs train.loss_convention "
                "elbo, beta 1, kl_schedule constant and free_bits 0"
            )
    if train.divergence != "kl":
        _check_divergence(model, train)
    if model.prior == "vamp":
        _check_vamp(model, train)
    processes, process = train.num_processes, train.process_id
    if processes is not None and process is not None and process >= processes:
        raise ConfigError(
            f"train.process_id: got {process}, but train.num_processes is {processes}; use 0 to "
            f"{processes - 1}"
        )
    if data.train_on == "train+test" and data.validation == "test":
        raise ConfigError(
            "data.validation: 'test' would validate on training images with data.train_on "
            "train+test; use data.validation=none"
        )


def apply_override(values: dict, override: str) -> str:
    """Apply one ``section.key=value`` override in place (the value parsed as YAML); returns
    ``section.key``."""
    if not isinstance(override, str) or "=" not in override:
        raise ConfigError(f"--set {override!r}: expected section.key=value, e.g. train.epochs=3")
    dotted, raw = override.split("=", 1)
    parts = dotted.strip().split(".")
    if len(parts) != 2 or not all(parts):
        raise ConfigError(f"--set {override!r}: expected section.key=value, e.g. train.epochs=3")
    try:
        value = parse_yaml(raw) if raw.strip() else None
    except DuplicateKeyError as error:
        raise ConfigError(f"--set {override!r}: {error.message}") from None
    except yaml.YAMLError:
        raise ConfigError(f"--set {override!r}: the value is not valid YAML") from None
    section, key = parts
    if section not in SECTIONS:
        raise ConfigError(
            f"--set {dotted}: unknown section {section!r}{_suggest(section, SECTIONS)}"
        )
    current = values.get(section)
    if current is None:
        current = values[section] = {}
    if not isinstance(current, dict):
        _fail(section, current, f"a mapping of {section} settings")
    current[key] = value
    return f"{section}.{key}"
