""".npz files: ``x_train`` and ``x_test`` images, optional ``y_train`` and ``y_test`` labels.

Example:
    >>> validate_images(np.full((2, 4, 4), 0.5), "x_train").shape
    (2, 4, 4, 1)
"""

from __future__ import annotations

import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from vaekit.datasets.images import IMAGE_SUFFIXES, ArrayImages
from vaekit.errors import DataError, one_line


def validate_images(x: np.ndarray, name: str) -> np.ndarray:
    """Check images and return them with shape (N, H, W, C): uint8 0..255 or float32 in [0, 1].

    (N, H, W) gets a channel axis. Integer data in 0..255 is kept as uint8 and divided by 255 a
    batch at a time (:func:`~vaekit.datasets.images.to_float`), with a warning.
    Raises DataError, naming ``name``, for an empty array, another number of dimensions, a
    non-numeric dtype, NaN or inf (their count and first index), or values outside [0, 1]
    (0..255 for integers): binary cross-entropy needs targets in [0, 1].
    """
    x = np.asarray(x)
    if x.ndim not in (3, 4):
        raise DataError(f"{name}: shape {x.shape}, expected (N, H, W) or (N, H, W, C)")
    if x.size == 0:
        raise DataError(f"{name}: empty array of shape {x.shape}, expected at least one image")
    if x.ndim == 3:
        x = x[..., np.newaxis]
    if x.dtype == np.bool_:
        return x.astype(np.float32)
    if np.issubdtype(x.dtype, np.integer):
        low, high = int(x.min()), int(x.max())
        if low < 0 or high > 255:
            raise DataError(f"{name}: integer values in [{low}, {high}], expected 0..255")
        warnings.warn(f"{name}: {x.dtype} values scaled from 0..255 to [0, 1]", stacklevel=2)
        return x.astype(np.uint8)
    if not np.issubdtype(x.dtype, np.floating):
        raise DataError(f"{name}: dtype {x.dtype}, expected integers 0..255 or floats in [0, 1]")
    bad = ~np.isfinite(x)
    if bad.any():
        first = tuple(int(i) for i in np.unravel_index(np.argmax(bad), bad.shape))
        raise DataError(
            f"{name}: {int(bad.sum())} non-finite values (NaN or inf), first at index {first}; "
            "expected finite values in [0, 1]"
        )
    low, high = float(x.min()), float(x.max())
    if low < 0 or high > 1:
        raise DataError(
            f"{name}: values in [{low:g}, {high:g}], expected [0, 1] for binary cross-entropy "
            "(divide 0..255 data by 255)"
        )
    return x.astype(np.float32)


def _validate_labels(y: np.ndarray, count: int, name: str) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (count,):
        raise DataError(f"{name}: shape {y.shape} for {count} images, expected one label each")
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{name}: dtype {y.dtype}, expected integer class labels")
    return y.astype(np.int64)


ZIP_MAGIC, NPY_MAGIC = b"PK\x03\x04", b"\x93NUMPY"


def _check_kind(path: Path) -> None:
    """Name what a file given as ``data.dataset`` is, if it is not an .npz (a zip of arrays)."""
    try:
        with open(path, "rb") as handle:
            start = handle.read(6)
    except OSError as error:
        raise DataError(f"{path}: cannot read ({one_line(error)})") from None
    if start.startswith(ZIP_MAGIC):
        return
    if path.suffix.lower() in IMAGE_SUFFIXES:
        raise DataError(
            f"{path}: one image file; data.dataset takes a folder of images (put the images in "
            "a folder and give its path), a data set name (vaekit datasets) or an .npz file"
        )
    if start.startswith(NPY_MAGIC):
        raise DataError(f"{path}: holds a single array, expected an .npz with x_train and x_test")
    raise DataError(
        f"{path}: not an .npz file (the zip of arrays numpy.savez writes); data.dataset takes an "
        ".npz, a folder of images or a data set name (vaekit datasets)"
    )


def load(path: Path) -> tuple[ArrayImages, ArrayImages]:
    """The ``(train, test)`` images of an .npz file, checked by :func:`validate_images`."""
    _check_kind(path)
    key = None
    try:
        with np.load(path, allow_pickle=False) as loaded:
            arrays = {}
            for key in loaded.files:
                arrays[key] = loaded[key]
    except ValueError as error:
        if "allow_pickle" not in str(error):
            raise DataError(f"{path}: cannot read as .npz ({one_line(error)})") from None
        raise DataError(
            f"{path}: array {key!r} holds Python objects, which vaekit does not unpickle (that "
            "could run code); save numeric arrays, e.g. numpy.savez(path, x_train=uint8_images, "
            "x_test=...)"
        ) from None
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as error:
        raise DataError(
            f"{path}: cannot read as .npz: truncated or corrupt ({one_line(error)})"
        ) from None
    for key in ("x_train", "x_test"):
        if key not in arrays:
            raise DataError(
                f"{path}: missing key {key!r}; keys present: {sorted(arrays)}; "
                "expected x_train and x_test (optional y_train, y_test)"
            )
    splits = []
    for split in ("train", "test"):
        x = validate_images(arrays[f"x_{split}"], f"{path} [x_{split}]")
        y = arrays.get(f"y_{split}")
        y = None if y is None else _validate_labels(y, len(x), f"{path} [y_{split}]")
        splits.append(ArrayImages(x, y))
    train, test = splits
    if train.shape != test.shape:
        raise DataError(
            f"{path}: x_train images are {train.shape} but x_test images are "
            f"{test.shape}; expected the same (H, W, C)"
        )
    return train, test
