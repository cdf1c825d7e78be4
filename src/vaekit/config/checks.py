"""The checks of a config's fields: each check takes the field's dotted name and a value, and
returns the value normalised or raises :class:`~vaekit.errors.ConfigError` in one line naming the
field, the value and what would be valid.

``integer``, ``number`` and ``choice`` make a check from their arguments; the others are checks.
:mod:`vaekit.config.sections` gives each field of a section its check.

Example:
    >>> integer(1)("train.epochs", 3)
    3
    >>> choice(("imq", "rbf"))("train.mmd_kernel", "rbf")
    'rbf'
    >>> number(0.0, 1.0)("model.dropout_rate", 2)
    Traceback (most recent call last):
    ...
    vaekit.errors.ConfigError: model.dropout_rate: got 2, expected a finite number >= 0.0 and <= 1.0
"""

from __future__ import annotations

import math
import sys
from typing import Any

from vaekit.errors import ConfigError


def fail(name: str, value: Any, expected: str) -> None:
    """Raise the one-line error of a bad value: ``NAME: got VALUE, expected EXPECTED``."""
    raise ConfigError(f"{name}: got {value!r}, expected {expected}")


def integer(minimum: int = 1, optional: bool = False):
    """A check of an integer >= ``minimum`` (``optional``: or None)."""

    def check(name, value):
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            fail(name, value, f"an integer >= {minimum}" + (" or null" if optional else ""))
        return value

    return check


def number(minimum: float = 0.0, maximum: float = math.inf, exclusive_min: bool = False):
    """A check of a finite number >= ``minimum`` (> with ``exclusive_min``) and <=
    ``maximum``; the value comes back as a float."""

    def check(name, value):
        # abs() <= max rejects nan and inf, and ints beyond float range such as 10**400
        # (math.isfinite would raise OverflowError on those).
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and abs(value) <= sys.float_info.max
        ok = ok and (value > minimum if exclusive_min else value >= minimum) and value <= maximum
        if not ok:
            low = f"> {minimum}" if exclusive_min else f">= {minimum}"
            high = f" and <= {maximum}" if math.isfinite(maximum) else ""
            fail(name, value, f"a finite number {low}{high}")
        return float(value)

    return check


def boolean(name, value):
    """True or false, and nothing that merely compares equal to one (1, 0)."""
    if not isinstance(value, bool):
        fail(name, value, "true or false")
    return value


def choice(choices: tuple, aliases: dict | None = None):
    """A check of one of ``choices``, or an integer key of ``aliases`` (given back as its
    value)."""

    def check(name, value):
        # Only true integers are aliases: 2.0 is not, and a list or dict is not hashable.
        if aliases and type(value) is int and value in aliases:
            return aliases[value]
        if value not in choices:
            extra = f" (or {', '.join(map(str, aliases))})" if aliases else ""
            fail(name, value, f"one of {', '.join(choices)}{extra}")
        return value

    return check


def int_list(name, value):
    """A non-empty list of integers >= 1; one integer is a list of one."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list | tuple) or not value:
        fail(name, value, "a non-empty list of integers >= 1")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or item < 1:
            fail(name, value, "a non-empty list of integers >= 1")
    return list(value)


def units(name, value):
    """Dense layer sizes: a list of integers >= 1, or none (null or []) as []."""
    if value is None or (isinstance(value, list | tuple) and not value):
        return []
    return int_list(name, value)


def sigma(name, value):
    """The gaussian likelihood's sigma: ``learned``, or a fixed number in (0, 1e6]."""
    if value == "learned":
        return value
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not 0.0 < value <= 1e6:
        fail(name, value, "learned, or a fixed standard deviation > 0 (e.g. 0.1)")
    return float(value)


def input_dim(name, value):
    """``[height, width, channels]``, given back as a tuple."""
    ok = isinstance(value, list | tuple) and len(value) == 3
    bad = lambda v: isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 65536  # noqa: E731
    if not ok or any(bad(v) for v in value):
        fail(name, value, "[height, width, channels], three integers from 1 to 65536")
    return tuple(value)


def levels(name, value):
    """A conditional model's classes or factor levels: integers >= 2, or None."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    ok = isinstance(value, list | tuple) and value
    if not ok or any(isinstance(v, bool) or not isinstance(v, int) or v < 2 for v in value):
        fail(name, value, "a list of integers >= 2 (classes, or each factor's levels) or null")
    return list(value)


def jit(name, value):
    """``train.jit_compile``: true, false or auto."""
    if not isinstance(value, bool) and value != "auto":  # 1 == True, but 1 is not a setting
        fail(name, value, "true, false or auto")
    return value


def address(name, value):
    """Process 0's ``HOST:PORT``, or None."""
    if value is None:
        return None
    host, _, port = value.rpartition(":") if isinstance(value, str) else ("", "", "")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        fail(name, value, "HOST:PORT of process 0 (e.g. 10.0.0.1:1234) or null")
    return value


def dataset(name, value):
    """A data set name, an .npz file or a folder: any non-empty string (the data source
    says whether it exists)."""
    if not isinstance(value, str) or not value:
        fail(name, value, "a data set name (see vaekit datasets), an .npz file or a folder")
    return value


def image_size(name, value):
    """``[height, width]``, or None."""
    if value is None:
        return None
    bad = lambda v: isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 65536  # noqa: E731
    if not isinstance(value, list | tuple) or len(value) != 2 or any(bad(v) for v in value):
        fail(name, value, "[height, width], two integers from 1 to 65536, or null")
    return list(value)


def labels(name, value):
    """``auto``, ``none``, or the path of a .csv of file,label rows."""
    if value in ("auto", "none"):
        return value
    if isinstance(value, str) and value.lower().endswith(".csv"):
        return value
    fail(name, value, "auto (class folders), none, or the path of a file,label .csv")


def validation(name, value):
    """``test``, ``none``, or a fraction of the training set in (0, 1)."""
    if value in ("test", "none"):
        return value
    if isinstance(value, float) and 0.0 < value < 1.0:
        return value
    fail(name, value, "'test', 'none' or a fraction of the training set in (0, 1)")
