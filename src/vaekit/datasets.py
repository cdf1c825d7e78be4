"""Data sets as float32 images in [0, 1]: the MNIST files shipped in the package, or a user .npz.

Everything returns ``((x_train, y_train), (x_test, y_test))`` with ``x`` of shape (N, H, W, C) and
``y`` int64 labels or ``None``. Nothing is ever downloaded, and only numpy is imported, so this
module loads fast. Every problem with the data raises :class:`vaekit.errors.DataError`.

>>> (x_train, y_train), (x_test, y_test) = load("mnist", limit=10)
>>> x_train.shape, x_train.dtype, y_train.dtype, x_test.shape
((10, 28, 28, 1), dtype('float32'), dtype('int64'), (10, 28, 28, 1))
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import math
import os
import struct
import warnings
import zipfile
import zlib
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import numpy as np

from vaekit.errors import DataError

Split = tuple[np.ndarray, np.ndarray | None]  # (x, y): images and labels or None

MNIST_FILES = {  # role -> file name under vaekit/data/mnist/
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
MNIST_SHA256 = {  # SHA-256 of each shipped .gz, copied from data/mnist/README.md
    "x_train": "0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971",
    "y_train": "1787548bbe0bff1ec2ecdc0ef292b02df999e2d1a6002d27500982c652b17203",
    "x_test": "1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be",
    "y_test": "b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b",
}
_MNIST_MAGIC = {"x": 0x00000803, "y": 0x00000801}  # uint8 3-D images, uint8 1-D labels
# IDX type code (third header byte) -> element type; multi-byte types are big-endian.
_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _one_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {' '.join(str(error).split())}"


def sha256(path: str | os.PathLike) -> str:
    """Return the hex SHA-256 digest of the file at ``path``, read in 1 MiB chunks.

    >>> sha256(resources.files("vaekit") / "data" / "mnist" / MNIST_FILES["y_test"])[:12]
    'b91679a0acfe'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def read_idx(path: str | os.PathLike, magic: int | None = None) -> np.ndarray:
    """Read an IDX file (gzip-compressed or plain) into a native-endian array.

    Args:
        path: the file; gzip is recognised by its first two bytes, not by the name.
        magic: if given, the 4-byte header the file must start with, e.g. ``0x00000803`` for
            MNIST's uint8 3-D images or ``0x00000801`` for its uint8 labels.

    Raises DataError when the file is missing, the gzip stream is corrupt or truncated, the header
    is not IDX (or not ``magic``), or the byte count does not match the shape in the header.

    >>> labels = read_idx(resources.files("vaekit") / "data" / "mnist" / MNIST_FILES["y_test"])
    >>> labels.shape, labels.dtype, labels[:5].tolist()
    ((10000,), dtype('uint8'), [7, 2, 1, 0, 4])
    """
    path = Path(path)
    try:
        with open(path, "rb") as file:
            compressed = file.read(2) == b"\x1f\x8b"
        with (gzip.open if compressed else open)(path, "rb") as file:
            data = file.read()
    except FileNotFoundError as error:
        raise DataError(f"{path}: no such file") from error
    except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
        raise DataError(f"{path}: truncated or corrupt ({_one_line(error)})") from error
    found = int.from_bytes(data[:4], "big")
    if len(data) < 4 or found >> 16 != 0 or data[2] not in _IDX_DTYPES or data[3] == 0:
        raise DataError(
            f"{path}: header 0x{data[:4].hex()} is not IDX; expected 0x0000TTNN with type code "
            f"TT in {[f'{code:02x}' for code in _IDX_DTYPES]} and NN >= 1 dimensions"
        )
    if magic is not None and found != magic:
        raise DataError(f"{path}: IDX magic 0x{found:08x}, expected 0x{magic:08x}")
    header_size = 4 + 4 * data[3]
    if len(data) < header_size:
        raise DataError(f"{path}: {len(data)} bytes, too short for its {header_size}-byte header")
    shape = struct.unpack(f">{data[3]}I", data[4:header_size])
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = header_size + math.prod(shape) * dtype.itemsize
    if len(data) != expected:
        raise DataError(
            f"{path}: {len(data)} bytes, expected {expected} for an IDX array of shape {shape} "
            f"({dtype.name}); the file is truncated or has trailing data"
        )
    array = np.frombuffer(data, dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # a writable copy in native byte order


def _mnist_directory() -> Path:
    # The files ship inside the package (see pyproject's package-data); tests monkeypatch this.
    return Path(str(resources.files("vaekit") / "data" / "mnist"))


@functools.lru_cache(maxsize=2)
def _read_mnist(directory: Path) -> tuple[Split, Split]:
    arrays = {}
    for role, filename in MNIST_FILES.items():
        path = directory / filename
        if not path.is_file():
            raise DataError(f"{path}: MNIST file missing; it ships inside the vaekit package")
        digest = sha256(path)  # verified before parsing: a corrupt file never reaches read_idx
        if digest != MNIST_SHA256[role]:
            raise DataError(
                f"{path}: SHA-256 {digest}, expected {MNIST_SHA256[role]}; "
                "the file is corrupt or not the canonical MNIST file"
            )
        array = read_idx(path, magic=_MNIST_MAGIC[role[0]])
        if role.startswith("x"):
            array = (array.astype(np.float32) / np.float32(255))[..., np.newaxis]  # (N, 28, 28, 1)
        else:
            array = array.astype(np.int64)
        array.setflags(write=False)  # cached: callers must not change what later calls return
        arrays[role] = array
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def load_mnist(directory: str | os.PathLike | None = None) -> tuple[Split, Split]:
    """Return MNIST as ``((x_train, y_train), (x_test, y_test))``: (60000|10000, 28, 28, 1).

    The four shipped files are checked against their SHA-256 before parsing; the arrays are
    cached in-process and read-only (copy them to modify). ``directory`` replaces the shipped
    folder, for copies of the same four files.

    >>> (x_train, y_train), (x_test, y_test) = load_mnist()
    >>> x_train.shape, x_test.shape, int(y_train.max())
    ((60000, 28, 28, 1), (10000, 28, 28, 1), 9)
    """
    return _read_mnist(Path(directory).resolve() if directory else _mnist_directory())


DATASETS: dict[str, Callable[[], tuple[Split, Split]]] = {"mnist": load_mnist}


def validate_images(x: np.ndarray, name: str) -> np.ndarray:
    """Check images and return them as float32 in [0, 1] with shape (N, H, W, C).

    (N, H, W) gets a channel axis. Integer data in 0..255 is divided by 255, with a warning.
    Raises DataError, naming ``name``, for an empty array, another number of dimensions, a
    non-numeric dtype, NaN or inf (their count and first index), or values outside [0, 1]
    (0..255 for integers): binary cross-entropy needs targets in [0, 1].

    >>> validate_images(np.full((2, 4, 4), 0.5), "x_train").shape
    (2, 4, 4, 1)
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
        return x.astype(np.float32) / np.float32(255)
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


def _load_npz(path: Path) -> tuple[Split, Split]:
    try:
        loaded, arrays = np.load(path, allow_pickle=False), None
        if isinstance(loaded, np.lib.npyio.NpzFile):  # not a .npy file holding one array
            with loaded:
                arrays = {key: loaded[key] for key in loaded.files}
    except (zipfile.BadZipFile, ValueError, EOFError, OSError, zlib.error) as error:
        raise DataError(f"{path}: cannot read as .npz ({_one_line(error)})") from error
    if arrays is None:
        raise DataError(f"{path}: holds a single array, expected an .npz with x_train and x_test")
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
        splits.append((x, y))
    (x_train, _), (x_test, _) = splits
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DataError(
            f"{path}: x_train images are {x_train.shape[1:]} but x_test images are "
            f"{x_test.shape[1:]}; expected the same (H, W, C)"
        )
    return splits[0], splits[1]


def _head(split: Split, limit: int) -> Split:
    x, y = split
    return x[:limit], None if y is None else y[:limit]


def load(name_or_path: str | os.PathLike, limit: int | None = None) -> tuple[Split, Split]:
    """Load a built-in data set by name (see ``DATASETS``) or an .npz file by path.

    Args:
        name_or_path: ``"mnist"``, or a path to an .npz holding ``x_train`` and ``x_test``
            (optionally ``y_train`` and ``y_test``), checked by :func:`validate_images`.
        limit: keep only the first ``limit`` training and the first ``limit`` test images.

    Returns ``((x_train, y_train), (x_test, y_test))``, x float32 in [0, 1] of shape
    (N, H, W, C), y int64 or None. MNIST arrays are shared and read-only.

    >>> (x_train, y_train), _ = load("mnist", limit=10)
    >>> x_train.shape, float(x_train.max()) <= 1.0, y_train.tolist()
    ((10, 28, 28, 1), True, [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
    >>> (x_train, _), (x_test, _) = load("faces.npz")  # doctest: +SKIP
    """
    if limit is not None and (
        isinstance(limit, bool) or not isinstance(limit, int | np.integer) or limit < 1
    ):
        raise DataError(f"limit: got {limit!r}, expected an integer >= 1 or None")
    path, names = Path(name_or_path), ", ".join(sorted(DATASETS))
    if isinstance(name_or_path, str) and name_or_path in DATASETS:
        train, test = DATASETS[name_or_path]()
    elif path.exists():
        train, test = _load_npz(path)
    elif path.suffix or len(path.parts) > 1:  # meant as a path, not as a name
        raise DataError(f"{path}: no such file; expected an existing .npz file or one of {names}")
    else:
        raise DataError(f"unknown data set '{path}': expected one of {names}, or an .npz file path")
    if limit is not None:
        train, test = _head(train, limit), _head(test, limit)
    return train, test
