r"""Reading a config as it is written: YAML text, a config file, and a ``--set`` override.

YAML is read as configs mean it: ``2e-4`` is a float, and a key given twice is an error naming
its line. Nothing here checks a field's value: :class:`vaekit.config.Config` does, after reading.

Example:
    >>> parse_yaml("train:\n  learning_rate: 2e-4\n")
    {'train': {'learning_rate': 0.0002}}
    >>> values = {"train": {"epochs": 2}}
    >>> apply_override(values, "train.epochs=3"), values
    ('train.epochs', {'train': {'epochs': 3}})
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from vaekit.config import checks
from vaekit.config.sections import SECTIONS, suggest
from vaekit.errors import ConfigError


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
    vaekit.config.reading.DuplicateKeyError: z_dim is given twice (first at line 2); ...
    """
    try:
        return yaml.load(text, Loader=_Loader)
    except (ValueError, RecursionError) as error:
        raise yaml.YAMLError(f"{type(error).__name__}: {error}") from None


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
            f"--set {dotted}: unknown section {section!r}{suggest(section, SECTIONS)}"
        )
    current = values.get(section)
    if current is None:
        current = values[section] = {}
    if not isinstance(current, dict):
        checks.fail(section, current, f"a mapping of {section} settings")
    current[key] = value
    return f"{section}.{key}"
