"""Fashion-MNIST (Zalando): 70,000 grey 28 x 28 clothing images in 10 classes, found offline.

Never downloaded: the four IDX files are looked for, in this order, in
``$VAEKIT_DATA/fashion-mnist`` (or ``$VAEKIT_DATA`` itself), in
``/usr/share/datasets/fashion-mnist`` (Debian's package ``dataset-fashion-mnist``) and in the Keras
cache ``~/.keras/datasets/fashion-mnist``, and checked by SHA-256.

Example:
    >>> train, test = load()  # doctest: +SKIP
    >>> len(train), len(test), train.shape  # doctest: +SKIP
    (60000, 10000, (28, 28, 1))
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from vaekit.datasets.idx import FILES, read_idx_set
from vaekit.errors import DataError

SHA256 = {  # of the canonical .gz files (github.com/zalandoresearch/fashion-mnist, as Debian ships)
    "x_train": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "y_train": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    "x_test": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "y_test": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
}
CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
DEBIAN = Path("/usr/share/datasets/fashion-mnist")
INSTALL = "sudo apt-get install dataset-fashion-mnist"


def places() -> list[Path]:
    """The folders looked in, in order."""
    found = []
    if os.environ.get("VAEKIT_DATA"):
        data = Path(os.environ["VAEKIT_DATA"]).expanduser()
        found += [data / "fashion-mnist", data]
    return [*found, DEBIAN, Path("~/.keras/datasets/fashion-mnist").expanduser()]


def find() -> Path | None:
    """The first of :func:`places` that holds all four files, or None."""
    for folder in places():
        if all((folder / name).is_file() for name in FILES.values()):
            return folder
    return None


@functools.lru_cache(maxsize=2)
def _read(folder: Path):
    return read_idx_set(folder, SHA256, "Fashion-MNIST")


def load():
    """Fashion-MNIST as ``(train, test)`` :class:`~vaekit.datasets.images.ArrayImages`.

    Raises:
        DataError: the files are in none of the places (the message names them and the package
            that provides them), or a file fails its checksum.
    """
    folder = find()
    if folder is None:
        looked = ", ".join(str(p) for p in places())
        raise DataError(
            f"fashion_mnist: not found on this machine (looked in {looked}); it is never "
            f"downloaded: install it with `{INSTALL}`, or put its four .gz files in "
            "$VAEKIT_DATA/fashion-mnist"
        )
    return _read(folder.resolve())


def where() -> str:
    """Where the files are, or how to get them, for ``vaekit datasets``."""
    folder = find()
    if folder is None:
        return f"not found (install with `{INSTALL}`)"
    return f"found: {folder}"
