"""The book's training data: MNIST as its ``load_mnist`` gives it, and what a run records of
other images.

The images of :func:`load_mnist` (all 60,000) are recorded as the ``mnist`` data set; an image set
of :func:`vaekit.datasets.open_images` as its folder; other arrays are written into the run folder
as ``data.npz``, whose test images are the first :data:`TEST_IMAGES` training images (the book
trains without a test set).

Example:
    >>> from pathlib import Path
    >>> (x_train, _), _ = load_mnist()
    >>> x_train.shape, x_train.dtype.name
    ((60000, 28, 28, 1), 'float32')
    >>> dataset_name(x_train, Path("run")), is_mnist(x_train[:10])
    ('mnist', False)
"""

from __future__ import annotations

import contextlib
import zipfile
from pathlib import Path

import numpy as np

from vaekit import datasets
from vaekit.errors import DataError
from vaekit.io import atomic_path

TEST_IMAGES = 1000  # the test images of a data.npz the run writes: its first training images


def is_mnist(x: np.ndarray) -> bool:
    """Whether ``x`` holds the 60,000 MNIST training images as :func:`load_mnist` gives them."""
    if x.shape != (60000, 28, 28, 1) or x.dtype != np.float32:
        return False
    (train, _), _ = datasets.load("mnist")
    return bool(np.array_equal(x, train))


def load_mnist():
    """MNIST as the book's ``load_mnist``: ``((x_train, y_train), (x_test, y_test))``, images
    float32 in [0, 1] of shape (N, 28, 28, 1), from the copy vaekit ships (nothing is
    downloaded)."""
    (x_train, y_train), (x_test, y_test) = datasets.load("mnist")
    return (np.array(x_train), y_train), (np.array(x_test), y_test)


def dataset_name(data, folder: Path) -> str:
    """``data.dataset`` for the training data (see the module docstring); writes nothing."""
    if isinstance(data, datasets.ImageData):  # a named set, or a folder (as an absolute path)
        return data.name if data.name in datasets.SOURCES else str(Path(data.name).resolve())
    if is_mnist(np.asarray(data)):
        return "mnist"
    return str(folder.resolve() / "data.npz")


def write_images(images: np.ndarray, folder: Path, continuing: bool) -> list[Path]:
    """Write ``images`` as ``folder``'s data.npz; returns what was made (the file, the folders),
    for a refusal to remove. A data.npz of the same images is kept as it is; one of others is
    replaced, unless the run that trained on it goes on (``continuing``)."""
    path = folder / "data.npz"
    if path.exists():
        if same_images(path, images):
            return []
        if continuing:
            raise DataError(
                f"x_train: not the images of {path}, on which the run in {folder} trained; "
                "continue a run on its own images, or train into a new folder"
            )
    made = [parent for parent in (folder, *folder.parents) if not parent.exists()]
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            np.savez_compressed(handle, x_train=images, x_test=images[:TEST_IMAGES])
    return [path, *made]


def same_images(path: Path, images: np.ndarray) -> bool:
    """Whether ``path`` is a readable data.npz whose training images are ``images``."""
    try:
        with np.load(path) as saved:
            x = saved["x_train"]
            return x.shape == images.shape and x.dtype == images.dtype and np.array_equal(x, images)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return False


def remove_made(paths: list[Path]) -> None:
    """Remove files, then folders if they are empty (what a refused call had made)."""
    for path in paths:
        with contextlib.suppress(OSError):
            path.rmdir() if path.is_dir() else path.unlink()
