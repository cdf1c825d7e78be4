"""Shapes: a generated set in the manner of dSprites, with its ground-truth factors as labels.

Binary 64 x 64 images of one shape each: a square, an ellipse or a heart, at 6 scales, 10
rotations and a grid of x and y positions. It is the standard offline testbed for disentangling
(beta-VAE) work: every image's factors are known, so a latent traversal can be checked against
them.

=================  ==========================================================================
``shapes``         white shapes on black, 64 x 64 x 1: 3 x 6 x 10 x 16 x 16 = 46,080 images
``shapes_color``   coloured shapes, 64 x 64 x 3: 3 x 6 x 10 x 8 x 8 = 11,520 images, each in one
                   of 6 colours (a sixth factor, drawn per image with a fixed seed)
=================  ==========================================================================

The images are made deterministically on first use (a few seconds) and cached as a compressed
``.npz`` in ``$VAEKIT_DATA/shapes`` or ``~/.cache/vaekit/shapes``; a cache that does not read back
is made again. A tenth of the images, drawn with a fixed seed, is the test split. The label of an
image is its shape (0 square, 1 ellipse, 2 heart); ``factors`` holds all of them.

Example:
    >>> images, factors = render(SPECS["shapes"])
    >>> images.shape, images.dtype, factors.shape
    ((46080, 64, 64, 1), dtype('uint8'), (46080, 5))
    >>> sorted(set(images.ravel().tolist()))
    [0, 255]
"""

from __future__ import annotations

import itertools
import os
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vaekit.datasets.images import ArrayImages, Factors
from vaekit.io import atomic_path

SIZE = 64  # image side
PATCH = 32  # side of the box a shape is drawn in; its centre moves over the positions
SUPERSAMPLE = 4  # sub-pixels a side, for the coverage that decides a pixel
SHAPE_NAMES = ("square", "ellipse", "heart")
SCALES = np.linspace(0.5, 1.0, 6)
ROTATIONS = np.arange(10) * (2 * np.pi / 10)
COLORS = np.array(  # red, green, blue, yellow, magenta, cyan
    [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [255, 0, 255], [0, 255, 255]], np.uint8
)
VERSION = 1  # bump when the images change, so old caches are made again
TEST_FRACTION = 0.1


@dataclass(frozen=True)
class Spec:
    """One variant: its name, how many x and y positions, and whether it is coloured."""

    name: str
    positions: int
    color: bool

    @property
    def factor_names(self) -> tuple[str, ...]:
        names = ("shape", "scale", "rotation", "x", "y")
        return (*names, "color") if self.color else names

    @property
    def levels(self) -> tuple[int, ...]:
        levels = (len(SHAPE_NAMES), len(SCALES), len(ROTATIONS), self.positions, self.positions)
        return (*levels, len(COLORS)) if self.color else levels


SPECS = {
    "shapes": Spec("shapes", positions=16, color=False),
    "shapes_color": Spec("shapes_color", positions=8, color=True),
}


def _inside(shape: str, u: np.ndarray, v: np.ndarray, scale: float) -> np.ndarray:
    """Whether points (u, v) of the unit box [-1, 1]^2 (v pointing down) lie in the shape."""
    if shape == "square":
        return np.maximum(np.abs(u), np.abs(v)) <= 0.6 * scale
    if shape == "ellipse":
        return (u / (0.9 * scale)) ** 2 + (v / (0.45 * scale)) ** 2 <= 1.0
    # The heart curve (x^2 + y^2 - 1)^3 = x^2 y^3, upright, centred, about 0.85 scale across.
    x, y = u / (0.7 * scale), -v / (0.7 * scale) + 0.1
    return (x**2 + y**2 - 1.0) ** 3 - x**2 * y**3 <= 0.0


def template(shape: str, scale: float, rotation: float) -> np.ndarray:
    """One shape in a PATCH x PATCH box, binary (True inside): pixels at least half covered."""
    n = PATCH * SUPERSAMPLE
    centres = (np.arange(n) + 0.5) / n * 2.0 - 1.0  # sub-pixel centres in [-1, 1]
    v, u = np.meshgrid(centres, centres, indexing="ij")
    cos, sin = np.cos(rotation), np.sin(rotation)
    inside = _inside(shape, cos * u + sin * v, -sin * u + cos * v, scale)  # rotated by -rotation
    coverage = inside.reshape(PATCH, SUPERSAMPLE, PATCH, SUPERSAMPLE).mean(axis=(1, 3))
    return coverage >= 0.5


def render(spec: Spec) -> tuple[np.ndarray, np.ndarray]:
    """All images of a variant, uint8 (N, 64, 64, C), and their factors (N, F), in grid order."""
    centres = np.round(np.linspace(PATCH // 2, SIZE - PATCH // 2, spec.positions)).astype(int)
    grid = list(
        itertools.product(
            range(len(SHAPE_NAMES)), range(len(SCALES)), range(len(ROTATIONS)),
            range(spec.positions), range(spec.positions),
        )
    )  # fmt: skip
    masks = np.zeros((len(grid), SIZE, SIZE), bool)
    templates = {}
    for i, (shape, scale, rotation, x, y) in enumerate(grid):
        key = (shape, scale, rotation)
        if key not in templates:
            templates[key] = template(SHAPE_NAMES[shape], SCALES[scale], ROTATIONS[rotation])
        top, left = centres[y] - PATCH // 2, centres[x] - PATCH // 2
        masks[i, top : top + PATCH, left : left + PATCH] = templates[key]
    factors = np.array(grid, np.int16)
    if not spec.color:
        return (masks[..., np.newaxis] * np.uint8(255)), factors
    colors = np.random.default_rng(VERSION).integers(len(COLORS), size=len(grid))
    images = masks[..., np.newaxis] * COLORS[colors][:, np.newaxis, np.newaxis, :]
    return images.astype(np.uint8), np.column_stack([factors, colors]).astype(np.int16)


def cache_dir() -> Path:
    """``$VAEKIT_DATA/shapes``, else ``$XDG_CACHE_HOME/vaekit/shapes`` (``~/.cache``)."""
    if os.environ.get("VAEKIT_DATA"):
        return Path(os.environ["VAEKIT_DATA"]).expanduser() / "shapes"
    base = os.environ.get("XDG_CACHE_HOME") or Path("~/.cache").expanduser()
    return Path(base) / "vaekit" / "shapes"


def cache_path(spec: Spec) -> Path:
    return cache_dir() / f"{spec.name}-v{VERSION}.npz"


def _read_cache(spec: Spec) -> tuple[np.ndarray, np.ndarray] | None:
    path = cache_path(spec)
    if not path.is_file():
        return None
    try:
        with np.load(path) as saved:
            images, factors = saved["images"], saved["factors"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as error:
        warnings.warn(f"{path}: unreadable cache ({error}); making the images again", stacklevel=3)
        return None
    channels = 3 if spec.color else 1
    if images.shape[1:] != (SIZE, SIZE, channels) or factors.shape != (
        len(images),
        len(spec.levels),
    ):
        warnings.warn(f"{path}: cache of another shape; making the images again", stacklevel=3)
        return None
    return images, factors


def load_spec(spec: Spec) -> tuple[ArrayImages, ArrayImages]:
    """A variant as ``(train, test)`` images, labelled by shape, from the cache or made now."""
    cached = _read_cache(spec)
    if cached is None:
        cached = render(spec)
        try:
            with atomic_path(cache_path(spec)) as temporary:
                np.savez_compressed(temporary, images=cached[0], factors=cached[1])
        except OSError as error:  # a read-only home: train anyway, uncached
            warnings.warn(f"{cache_path(spec)}: cannot cache the images ({error})", stacklevel=2)
    images, factors = cached
    images.setflags(write=False)
    test = np.zeros(len(images), bool)
    test[
        np.random.default_rng(VERSION).permutation(len(images))[
            : round(len(images) * TEST_FRACTION)
        ]
    ] = True
    splits = []
    for part in (~test, test):
        values = factors[part]
        splits.append(
            ArrayImages(
                images[part],
                values[:, 0].astype(np.int64),
                Factors(spec.factor_names, values, spec.levels),
            )
        )
    return splits[0], splits[1]


def load():
    """The grey ``shapes`` set as ``(train, test)``."""
    return load_spec(SPECS["shapes"])


def load_color():
    """The coloured ``shapes_color`` set as ``(train, test)``."""
    return load_spec(SPECS["shapes_color"])


def where(spec_name: str = "shapes") -> str:
    """Whether the set is cached yet, for ``vaekit datasets``."""
    path = cache_path(SPECS[spec_name])
    made = "cached" if path.is_file() else "made on first use (a few seconds)"
    return f"generated, {made}: {path}"
