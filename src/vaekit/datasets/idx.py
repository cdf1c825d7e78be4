"""IDX files (the format of MNIST and Fashion-MNIST) and SHA-256 checked sets of four of them.

Example:
    >>> from vaekit.datasets.mnist import directory
    >>> labels = read_idx(directory() / "t10k-labels-idx1-ubyte.gz")
    >>> labels.shape, labels.dtype, labels[:5].tolist()
    ((10000,), dtype('uint8'), [7, 2, 1, 0, 4])
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from vaekit.datasets.images import ArrayImages
from vaekit.errors import DataError, one_line

# The four files of an MNIST-style set: role -> file name.
FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
MAGIC = {"x": 0x00000803, "y": 0x00000801}  # uint8 3-D images, uint8 1-D labels
# IDX type code (third header byte) -> element type; multi-byte types are big-endian.
_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def sha256(path: str | os.PathLike) -> str:
    """Return the hex SHA-256 digest of the file at ``path``, read in 1 MiB chunks.

    >>> from vaekit.datasets.mnist import directory
    >>> sha256(directory() / FILES["y_test"])[:12]
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
        raise DataError(f"{path}: truncated or corrupt ({one_line(error)})") from error
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


def read_idx_set(directory: Path, checksums: dict, name: str) -> tuple[ArrayImages, ArrayImages]:
    """The four :data:`FILES` of ``directory`` as uint8 (N, H, W, 1) images with int64 labels.

    Each file is checked against ``checksums`` (role -> SHA-256) before it is parsed, so a corrupt
    or foreign file never reaches :func:`read_idx`. The arrays are read-only.

    Raises:
        DataError: a file missing, or with another checksum; ``name`` names the set.
    """
    arrays = {}
    for role, filename in FILES.items():
        path = directory / filename
        if not path.is_file():
            raise DataError(f"{path}: {name} file missing")
        digest = sha256(path)
        if digest != checksums[role]:
            raise DataError(
                f"{path}: SHA-256 {digest}, expected {checksums[role]}; "
                f"the file is corrupt or not the canonical {name} file"
            )
        array = read_idx(path, magic=MAGIC[role[0]])
        array = array[..., np.newaxis] if role.startswith("x") else array.astype(np.int64)
        array.setflags(write=False)  # shared: callers must not change what later calls return
        arrays[role] = array
    return (
        ArrayImages(arrays["x_train"], arrays["y_train"]),
        ArrayImages(arrays["x_test"], arrays["y_test"]),
    )
