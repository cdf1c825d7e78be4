"""The two kinds of image set the pipeline reads: arrays in memory, and files streamed from disk.

Both hand out images by index, a batch at a time, as float32 in [0, 1] of shape (B, H, W, C):

- :class:`ArrayImages` holds an array, uint8 (0..255, scaled per batch, so MNIST takes 47 MB
  rather than 188) or float32 already in [0, 1]. A NumPy memory map works too.
- :class:`FileImages` holds file paths and decodes each batch's files with Pillow, converted to
  grey or RGB and cropped or resized to the set's shape (:func:`decode_image`), so memory does not
  grow with the number of images.

Either may carry ``labels`` (an int64 class per image, used to colour plots) and ``factors`` (the
ground truth of a generated set: named integer columns).

Example:
    >>> images = ArrayImages(np.full((4, 2, 2, 1), 255, np.uint8), labels=np.arange(4))
    >>> len(images), images.shape, images.take([0, 3]).max()
    (4, (2, 2, 1), np.float32(1.0))
    >>> images.subset(np.array([1, 2])).labels.tolist()
    [1, 2]
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from vaekit.errors import one_line, printable
from vaekit.io import atomic_path

# The file names a folder of images is listed by (Pillow reads them all).
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
# How images of another size reach the set's (H, W): the choices of ``data.resize``.
RESIZES = ("center_crop", "resize")
# Pillow modes with more than 8 bits a channel: converting them to 8 bits would clip or wrap.
WIDE_MODES = {"I", "F", "I;16", "I;16B", "I;16L", "I;16N"}
# The largest image (width x height) decoded: ``data.max_image_pixels``. Pillow's own default
# limit, above which it warns of a decompression bomb (a small file that decodes to gigabytes).
DEFAULT_MAX_PIXELS = 89_478_485


class BadImage(ValueError):
    """A file that is not an image vaekit can use; the message says why, in words."""


def describe_image_error(error: Exception) -> str:
    """Why a file did not decode, in words (Pillow's exception types are not for people).

    >>> describe_image_error(Image.UnidentifiedImageError("cannot identify image file 'x'"))
    'not an image file Pillow can read'
    """
    message = " ".join(str(error).split())
    if isinstance(error, BadImage):
        return message
    if isinstance(error, Image.UnidentifiedImageError):
        return "not an image file Pillow can read"
    if "truncated" in message.lower():
        return "truncated (the file ends before the image does)"
    if isinstance(error, SyntaxError):  # Pillow's plugins raise it for a malformed header
        return f"malformed header ({printable(message)})"
    return f"does not decode ({one_line(error)})"


@dataclass(frozen=True)
class Factors:
    """Ground-truth factors of a generated set: ``values[i, j]`` is factor ``names[j]`` of image i.

    ``levels[j]`` is the number of values factor j takes (0 .. levels[j] - 1).
    """

    names: tuple[str, ...]
    values: np.ndarray  # (N, F) integers
    levels: tuple[int, ...]

    def subset(self, indices) -> Factors:
        return dataclasses.replace(self, values=self.values[indices])


def to_float(batch: np.ndarray) -> np.ndarray:
    """A batch as float32 in [0, 1]: uint8 is divided by 255, float32 passes through."""
    if batch.dtype == np.uint8:
        return batch.astype(np.float32) / np.float32(255)
    return np.asarray(batch, dtype=np.float32)


@dataclass(frozen=True, eq=False)
class ArrayImages:
    """Images in an array (N, H, W, C): uint8 in 0..255 or float32 in [0, 1].

    Args:
        array: the images; kept as they are (not copied), so a memory map stays on disk.
        labels: int64 class labels (N,), or None.
        factors: ground-truth factors, or None.
    """

    array: np.ndarray
    labels: np.ndarray | None = None
    factors: Factors | None = None

    def __len__(self) -> int:
        return len(self.array)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(d) for d in self.array.shape[1:])

    @property
    def in_memory(self) -> bool:
        """True for a plain array; False for a memory map, which is read a batch at a time."""
        return not isinstance(self.array, np.memmap)

    def take_raw(self, indices) -> np.ndarray:
        """The images at ``indices`` as stored (uint8 or float32)."""
        return np.asarray(self.array[np.asarray(indices)])

    def take(self, indices) -> np.ndarray:
        """The images at ``indices`` as float32 in [0, 1], (B, H, W, C)."""
        return to_float(self.take_raw(indices))

    def subset(self, indices) -> ArrayImages:
        """The images at ``indices`` (a slice keeps a view of the array)."""
        return ArrayImages(
            self.array[indices],
            None if self.labels is None else self.labels[indices],
            None if self.factors is None else self.factors.subset(indices),
        )


@dataclass(frozen=True, eq=False)
class FileImages:
    """Image files, decoded a batch at a time to ``shape`` (see :func:`decode_image`).

    Args:
        paths: the files (N,), absolute.
        shape: (H, W, C) the images are decoded to; C is 1 (grey) or 3 (RGB).
        resize: "center_crop" or "resize" (see :func:`decode_image`).
        labels: int64 class labels (N,), or None.
        max_pixels: the largest image decoded (see :func:`decode_image`).
    """

    paths: np.ndarray  # (N,) str
    shape: tuple[int, int, int]
    resize: str = "center_crop"
    labels: np.ndarray | None = None
    factors: Factors | None = None
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    in_memory = False

    def __len__(self) -> int:
        return len(self.paths)

    def take_raw(self, indices) -> np.ndarray:
        """The images at ``indices`` decoded to uint8, (B, H, W, C)."""
        paths = self.paths[np.asarray(indices)]
        batch = np.empty((len(paths), *self.shape), np.uint8)
        for i, path in enumerate(paths):
            batch[i] = decode_image(path, self.shape, self.resize, self.max_pixels)
        return batch

    def take(self, indices) -> np.ndarray:
        return to_float(self.take_raw(indices))

    def subset(self, indices) -> FileImages:
        return dataclasses.replace(
            self,
            paths=self.paths[indices],
            labels=None if self.labels is None else self.labels[indices],
        )


Images = ArrayImages | FileImages


def decode_image(
    path,
    shape: tuple[int, int, int],
    resize: str = "center_crop",
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> np.ndarray:
    """Decode one image file to uint8 of ``shape`` (H, W, C).

    The image is turned upright by its EXIF orientation, converted to grey (C = 1, by ITU-R 601
    luma) or RGB (C = 3; a grey image is repeated in each channel, transparency is dropped), then
    brought to (H, W): ``center_crop`` cuts the largest centred box of the target's aspect ratio
    and scales it, ``resize`` scales the whole image (changing its aspect ratio if need be); both
    use Pillow's bilinear filter with antialiasing when shrinking.

    An image of more than ``max_pixels`` (width x height; None: no limit) is refused from its
    header, before anything is decoded: a 20,000 x 20,000 PNG would take 1.2 GB as RGB.

    Raises:
        BadImage: more than ``max_pixels``, or more than 8 bits a channel;
        OSError, ValueError or another exception of Pillow's: the file does not decode
        (:func:`describe_image_error` says why in words; the folder source reports such a file
        as bad, by path).

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "wide.png")
        >>> Image.new("RGB", (40, 20), (255, 0, 0)).save(path)
        >>> decode_image(path, (8, 8, 1)).shape, int(decode_image(path, (8, 8, 3))[0, 0, 0])
        ((8, 8, 1), 255)
    """
    height, width, channels = shape
    try:
        opened = Image.open(path)  # reads the header only
    except Image.DecompressionBombError as error:  # over twice Pillow's own limit
        found = re.search(r"\((\d+) pixels\)", str(error))
        pixels = int(found.group(1)) if found else 0
        if max_pixels is not None and pixels > max_pixels:
            raise BadImage(
                f"{pixels:,} pixels, more than data.max_image_pixels ({max_pixels:,})"
            ) from None
        raise BadImage(
            f"{pixels:,} pixels, more than Pillow decodes ({2 * Image.MAX_IMAGE_PIXELS:,}, twice "
            "PIL.Image.MAX_IMAGE_PIXELS)"
        ) from None
    with opened as image:
        if max_pixels is not None and image.width * image.height > max_pixels:
            raise BadImage(
                f"{image.width:,} x {image.height:,} pixels, more than data.max_image_pixels "
                f"({max_pixels:,})"
            )
        if image.mode in WIDE_MODES:
            raise BadImage(f"{image.mode} pixels (more than 8 bits a channel)")
        image = ImageOps.exif_transpose(image)
        image = image.convert("L" if channels == 1 else "RGB")  # also loads (decodes) it fully
        if image.size != (width, height):
            if resize == "center_crop":
                image = ImageOps.fit(image, (width, height), Image.Resampling.BILINEAR)
            else:
                image = image.resize((width, height), Image.Resampling.BILINEAR)
        array = np.asarray(image, dtype=np.uint8)
    return array.reshape(height, width, channels)


def cache_to_memmap(images: FileImages, path: str | Path, batch_size: int = 256) -> ArrayImages:
    """Decode every file of ``images`` once into a uint8 memory map at ``path``; return it as a set.

    An existing, complete cache of the same shape is used as it is. The file is written under a
    temporary name and renamed when complete, so an interrupted run never leaves a partial cache.
    Reading it later costs a page-cache lookup per image instead of a decode.
    """
    path = Path(path)
    shape = (len(images), *images.shape)
    if not path.is_file() or path.stat().st_size != int(np.prod(shape)):
        with atomic_path(path) as temporary:
            cache = np.memmap(temporary, np.uint8, "w+", shape=shape)  # raw bytes, no header
            with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 1) as pool:
                starts = range(0, len(images), batch_size)
                batches = pool.map(
                    lambda s: (s, images.take_raw(np.arange(s, min(s + batch_size, len(images))))),
                    starts,
                )
                for start, batch in batches:
                    cache[start : start + len(batch)] = batch
            cache.flush()
            del cache
    return ArrayImages(np.memmap(path, np.uint8, "r", shape=shape), images.labels, images.factors)


def as_path_array(paths) -> np.ndarray:
    """File paths as the (N,) str array :class:`FileImages` holds."""
    return np.array([str(Path(p)) for p in paths], dtype=object)
