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

Where each part lives:

- :mod:`vaekit.config.sections`: the ``model``, ``data`` and ``train`` dataclasses, each field
  with its default and its check, and the allowed values (from :mod:`vaekit.choices`);
- :mod:`vaekit.config.checks`: the field checks and their one-line errors;
- :mod:`vaekit.config.rules`: the settings that only make sense together;
- :mod:`vaekit.config.reading`: YAML as configs mean it, config files and ``--set`` overrides;
- here, :class:`Config`, which puts them together.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

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
from vaekit.config.reading import (
    DuplicateKeyError,
    apply_override,
    parse_yaml,
    read_config_file,
)
from vaekit.config.rules import check_objective
from vaekit.config.sections import (
    BINARIZE,
    CONDITIONS,
    LOSS_CONVENTIONS,
    ON_BAD_FILE,
    PRECISIONS,
    PRIORS,
    SECTIONS,
    TRAIN_ON,
    DataConfig,
    ModelConfig,
    TrainConfig,
    build_section,
    suggest,
)
from vaekit.errors import ConfigError
from vaekit.io import atomic_write_text

__all__ = [
    "ACTIVATIONS",
    "BINARIZE",
    "CONDITIONS",
    "DEVICES",
    "DISTRIBUTIONS",
    "DIVERGENCES",
    "KL_SCHEDULES",
    "KL_STRATEGIES",
    "LIKELIHOODS",
    "LOSS_CONVENTIONS",
    "MMD_KERNELS",
    "ON_BAD_FILE",
    "PRECISIONS",
    "PRIORS",
    "SECTIONS",
    "TRAIN_ON",
    "Config",
    "DataConfig",
    "DuplicateKeyError",
    "ModelConfig",
    "TrainConfig",
    "apply_override",
    "build_section",
    "parse_yaml",
    "read_config_file",
]


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
            checks.fail("config", values, "a mapping with sections model, data, train")
        values = {k: dict(v) if isinstance(v, dict) else v for k, v in values.items()}
        for override in overrides:  # in order: a later --set of the same key wins, as flags do
            apply_override(values, override)
        for key in values:
            if key not in SECTIONS:
                shown = key if isinstance(key, str) and key.isprintable() else repr(key)
                raise ConfigError(f"{shown}: unknown section{suggest(key, SECTIONS)}")
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
            checks.fail("data.test_split", config.data.test_split, "a fraction in (0, 1)")
        check_objective(config)
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
