"""What every plot shares: the picture formats, images tiled into one canvas, drawing a canvas and
saving a figure.

Figures are ``matplotlib.figure.Figure`` objects built directly, never through ``pyplot``, so
nothing needs a display or keeps global state; :func:`save` writes one atomically, in the format
its file suffix names.

Example:
    >>> tile_images(np.ones((2, 4, 4, 3)), rows=1, cols=3).shape  # RGB keeps its channels
    (4, 12, 3)
"""

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from vaekit.io import atomic_path

DPI = 120
# The picture formats a plot can be written in, by file suffix (matplotlib's, with Pillow's).
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".gif", ".pdf", ".svg")
# The most images one sample grid holds (100 x 100): more would make a picture nobody can read,
# and past about 800 x 800 more than matplotlib's renderer can draw.
MAX_GRID_IMAGES = 10_000


def tile_images(images: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Tile ``images`` row by row into one ``(rows*H, cols*W[, C])`` canvas.

    Args:
        images: ``(N, H, W, C)`` or ``(N, H, W)`` with ``N <= rows * cols``; image ``i`` goes to
            tile ``(i // cols, i % cols)`` and missing tiles stay 0.
        rows, cols: grid size.

    Returns the canvas, without a channel axis when ``C == 1`` (or the input had none).

    >>> tile_images(np.zeros((5, 28, 28, 1)), rows=2, cols=3).shape
    (56, 84)
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or len(images) > rows * cols:
        raise ValueError(
            f"images: got shape {images.shape}, expected (N, H, W[, C]) with N <= {rows * cols}"
        )
    count, height, width, channels = images.shape
    padded = np.zeros((rows * cols, height, width, channels), dtype=np.float32)
    padded[:count] = images
    canvas = padded.reshape(rows, cols, height, width, channels).transpose(0, 2, 1, 3, 4)
    canvas = canvas.reshape(rows * height, cols * width, channels)  # (rows*H, cols*W, C)
    return canvas[..., 0] if channels == 1 else canvas


def show(ax, canvas: np.ndarray) -> None:
    """Draw an image canvas: 2-D in grey, 3-D as RGB, both on the fixed range [0, 1]."""
    ax.imshow(np.clip(canvas, 0.0, 1.0), cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")


def save(fig: Figure, path) -> Figure:
    """Write ``fig`` to ``path`` atomically (:func:`vaekit.io.atomic_path`), in the format its
    suffix names (:data:`PICTURE_SUFFIXES`; PNG for any other)."""
    suffix = Path(path).suffix.lower()
    picture_format = suffix[1:] if suffix in PICTURE_SUFFIXES else "png"
    with atomic_path(path) as temporary:
        fig.savefig(temporary, format=picture_format, dpi=DPI)
    return fig
