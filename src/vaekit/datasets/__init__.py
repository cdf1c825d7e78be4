"""Data sources, chosen by ``data.dataset``: a registered name, an ``.npz`` file or a folder.

================  ===========================================================================
``mnist``         handwritten digits, shipped with vaekit (:mod:`.mnist`)
``fashion_mnist`` clothing, 28 x 28 grey, found offline (:mod:`.fashion_mnist`)
``shapes``        generated shapes with known factors, 64 x 64 grey (:mod:`.shapes`)
``shapes_color``  the same, coloured, 64 x 64 x 3
a folder          image files, optionally in class folders (:mod:`.folder`)
an ``.npz``       arrays ``x_train``, ``x_test`` and optional ``y_train``, ``y_test`` (:mod:`.npz`)
================  ===========================================================================

:func:`open_images` gives a source's train and test images as image sets that the pipeline
streams (:mod:`.images`); :func:`load` gives them as float32 arrays in memory, as in the reference
workflow. Nothing is ever downloaded. ``vaekit datasets`` prints :func:`available`.

Example:
    >>> (x_train, y_train), (x_test, y_test) = load("mnist", limit=10)
    >>> x_train.shape, x_train.dtype, y_train.dtype, x_test.shape
    ((10, 28, 28, 1), dtype('float32'), dtype('int64'), (10, 28, 28, 1))
    >>> data = open_images("mnist")
    >>> len(data.train), data.train.shape, data.train.array.dtype
    (60000, (28, 28, 1), dtype('uint8'))
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vaekit.datasets import fashion_mnist, folder, mnist, npz, shapes
from vaekit.datasets.idx import read_idx, sha256
from vaekit.datasets.images import (
    DEFAULT_MAX_PIXELS,
    ArrayImages,
    Factors,
    FileImages,
    Images,
    decode_image,
)
from vaekit.datasets.npz import validate_images
from vaekit.errors import DataError

__all__ = [
    "SOURCES",
    "ArrayImages",
    "Factors",
    "FileImages",
    "ImageData",
    "Images",
    "Source",
    "available",
    "decode_image",
    "load",
    "open_images",
    "read_idx",
    "sha256",
    "validate_images",
]


@dataclass(frozen=True)
class Source:
    """A named data set: how to load it, where it is, what it is, and its class names."""

    load: Callable[[], tuple[ArrayImages, ArrayImages]]
    where: Callable[[], str]
    description: str
    classes: tuple[str, ...] | None = None


SOURCES: dict[str, Source] = {
    "mnist": Source(
        mnist.load, mnist.where, "handwritten digits, 28x28x1, 60,000 + 10,000, 10 classes"
    ),
    "fashion_mnist": Source(
        fashion_mnist.load,
        fashion_mnist.where,
        "clothing, 28x28x1, 60,000 + 10,000, 10 classes",
        fashion_mnist.CLASSES,
    ),
    "shapes": Source(
        shapes.load,
        functools.partial(shapes.where, "shapes"),
        "generated shapes, 64x64x1, 46,080 images; factors shape, scale, rotation, x, y",
        shapes.SHAPE_NAMES,
    ),
    "shapes_color": Source(
        shapes.load_color,
        functools.partial(shapes.where, "shapes_color"),
        "generated coloured shapes, 64x64x3, 11,520 images; factors as shapes, and color",
        shapes.SHAPE_NAMES,
    ),
}


@dataclass
class ImageData:
    """A source's train and test images, what it is called, and (for a folder) its manifest."""

    train: Images
    test: Images
    name: str
    classes: list[str] | None = None
    manifest: folder.Manifest | None = None


def open_images(
    dataset: str | os.PathLike,
    shape: tuple[int, int, int] | None = None,
    *,
    resize: str = "center_crop",
    test_split: float = 0.1,
    labels: str = "auto",
    on_bad_file: str = "skip",
    manifest: folder.Manifest | None = None,
    verbose: int = 0,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> ImageData:
    """Open a data set by name, ``.npz`` path or folder path.

    Args:
        dataset: a name of :data:`SOURCES`, an ``.npz`` file, or a folder of images.
        shape: (H, W, C) to decode a folder's images to (required for a folder).
        resize, test_split, labels, on_bad_file, max_pixels: how to read a folder (see
            :func:`vaekit.datasets.folder.build`).
        manifest: a folder's manifest from an earlier run: its files are read, after
            checking that none changed, instead of listing the folder again.
        verbose: 1 shows a progress bar while a folder's files are checked.

    Raises:
        DataError: an unknown name, a missing path, or bad data (one line naming it).
    """
    name = str(dataset)
    if name in SOURCES:
        source = SOURCES[name]
        train, test = source.load()
        return ImageData(train, test, name, list(source.classes) if source.classes else None)
    path = Path(dataset).expanduser()
    if path.is_dir() or manifest is not None:
        if manifest is None:
            if shape is None:
                raise DataError(f"{path}: a folder of images needs the (H, W, C) to decode to")
            manifest = folder.build(
                path, shape, resize, test_split, labels, on_bad_file, verbose, max_pixels
            )
        return ImageData(
            manifest.images("train"), manifest.images("test"), name, manifest.classes, manifest
        )
    if path.is_file():
        train, test = npz.load(path)
        return ImageData(train, test, name)
    names = ", ".join(SOURCES)
    if path.suffix or len(path.parts) > 1:  # meant as a path, not as a name
        raise DataError(f"{path}: no such file or folder; expected one of {names}, an .npz file "
                        "or a folder of images")  # fmt: skip
    raise DataError(
        f"unknown data set '{path}': expected one of {names}, an .npz file or a folder of images"
    )


@functools.lru_cache(maxsize=4)
def _as_arrays(name: str):
    data = open_images(name)
    splits = []
    for images in (data.train, data.test):
        x = images.take(np.arange(len(images)))
        x.setflags(write=False)  # shared between calls: callers copy before changing it
        splits.append((x, images.labels))
    return tuple(splits)


def load(name_or_path: str | os.PathLike, limit: int | None = None):
    """A data set as float32 arrays in memory: ``((x_train, y_train), (x_test, y_test))``.

    Args:
        name_or_path: a name of :data:`SOURCES` or an ``.npz`` path (a folder needs
            :func:`open_images`, which knows the shape to decode to).
        limit: keep only the first ``limit`` training and the first ``limit`` test images.

    Returns ``x`` of shape (N, H, W, C) in [0, 1] and ``y`` int64 labels or None. The arrays of a
    named set are read once per process, shared and read-only.

    Example:
        >>> (x_train, y_train), _ = load("mnist", limit=10)
        >>> x_train.shape, float(x_train.max()) <= 1.0, y_train.tolist()
        ((10, 28, 28, 1), True, [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
    """
    if limit is not None and (
        isinstance(limit, bool) or not isinstance(limit, int | np.integer) or limit < 1
    ):
        raise DataError(f"limit: got {limit!r}, expected an integer >= 1 or None")
    if str(name_or_path) in SOURCES:
        splits = _as_arrays(str(name_or_path))
    else:
        data = open_images(name_or_path)
        splits = [(i.take(np.arange(len(i))), i.labels) for i in (data.train, data.test)]
    if limit is None:
        return tuple(splits)
    return tuple((x[:limit], None if y is None else y[:limit]) for x, y in splits)


def available() -> list[tuple[str, str, str]]:
    """``(name, where it is on this machine, what it is)`` of every named data set."""
    return [(name, source.where(), source.description) for name, source in SOURCES.items()]
