"""MNIST: the four canonical IDX files, shipped inside the package and checked by SHA-256.

Example:
    >>> train, test = load()
    >>> len(train), len(test), train.shape, train.array.dtype
    (60000, 10000, (28, 28, 1), dtype('uint8'))
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

from vaekit.datasets.idx import FILES, read_idx_set

SHA256 = {  # of each shipped .gz, as data/mnist/README.md lists them
    "x_train": "0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971",
    "y_train": "1787548bbe0bff1ec2ecdc0ef292b02df999e2d1a6002d27500982c652b17203",
    "x_test": "1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be",
    "y_test": "b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b",
}
__all__ = ["FILES", "SHA256", "directory", "load"]


def directory() -> Path:
    """The shipped folder (see pyproject's package-data); tests replace it."""
    return Path(str(resources.files("vaekit") / "data" / "mnist"))


@functools.lru_cache(maxsize=2)
def _read(folder: Path):
    return read_idx_set(folder, SHA256, "MNIST")


def load(folder: str | Path | None = None):
    """MNIST as ``(train, test)`` :class:`~vaekit.datasets.images.ArrayImages`, uint8, labelled.

    Read once per process (the arrays are shared and read-only). ``folder`` replaces the shipped
    one, for copies of the same four files.
    """
    return _read(Path(folder).resolve() if folder else directory())


def where() -> str:
    """Where the files are, for ``vaekit datasets``."""
    return f"shipped with vaekit: {directory()}"
