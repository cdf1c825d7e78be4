"""The data of the report's latent-space explorer: points, a 2-D plane, and decoded image sheets.

:func:`explore` encodes up to ``points`` test images to their posterior means, lays them on a
plane (``z`` itself when ``z_dim`` is 2; for ``z_dim > 2`` the plane of the first two principal
components through the mean of ``z``, found by an SVD), decodes a ``grid x grid`` lattice of that
plane in one batched call, and decodes the test images' means (their reconstructions). Images go
to the page as sprite sheets: one PNG per set with the images tiled row by row, which the page
crops with a canvas, so a pointer move needs no server and no new download.

Size bound: each sheet holds at most :data:`MAX_SHEET_VALUES` pixel values (height x width x
channels x images); above it fewer test images are embedded, or a coarser grid is decoded, and
:class:`Explorer` records how many. 2,000 MNIST images (1.6 M values) and a 40 x 40 grid (1.3 M)
fit as they are.

A conditional model decodes the grid once per class (per value of its first label column; the
other columns as the first test image has them), all the grids together within
:data:`MAX_CLASS_VALUES` (one sheet's bound), each with :data:`CLASS_GRID_LEVELS` levels per
channel (about half the bytes of 256, and no difference to see in a decoded image), and the
page's class picker chooses which one the pointer reads. Ten MNIST classes get a 22 x 22 grid
each, ten 64 x 64 colour classes a 5 x 5 one. A class's grid is no coarser than
:data:`MIN_CLASS_GRID` a side: with more classes than that leaves room for (a folder of 100
colour classes: 13 of them), classes evenly spaced among them get a grid, and the page says so.

Example:
    >>> import numpy as np
    >>> plane = Plane.fit(np.random.default_rng(0).normal(size=(50, 8)))
    >>> plane.method, plane.to_latent(np.zeros((1, 2))).shape
    ('pca', (1, 8))
"""

from __future__ import annotations

import base64
import io
import math
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image

from vaekit.models.conditions import first_label_name

MAX_SHEET_VALUES = 4_000_000  # pixel values in one sprite sheet: bounds the page's size
MAX_CLASS_VALUES = MAX_SHEET_VALUES  # a conditional model's grids, all classes together
MIN_CLASS_GRID = 5  # a class's grid is no coarser (images a side); past it, fewer classes
CLASS_GRID_LEVELS = 32  # levels a channel of a conditional model's grids: PNGs about half the size
MARGIN = 0.05  # the grid spans the points' range and this fraction of it on each side


@dataclass(frozen=True)
class Plane:
    """A 2-D plane of the latent space: ``z = center + (x, y) @ basis``.

    Attributes:
        center: ``(z_dim,)``, the origin of the plane.
        basis: ``(2, z_dim)``, the plane's axes (orthonormal rows, or a zero row for 1-D z).
        method: ``"identity"`` (z_dim <= 2, the plane is z itself) or ``"pca"``.
        explained: the fraction of the variance of the fitted points in the plane (1 for identity).
    """

    center: np.ndarray
    basis: np.ndarray
    method: str
    explained: float

    @classmethod
    def fit(cls, z: np.ndarray) -> Plane:
        """The plane of ``z`` ``(N, z_dim)``: z itself up to 2-D, else its first two principal
        components through its mean (a zero axis where fewer than two exist)."""
        z = np.asarray(z, dtype=np.float64)
        dims = z.shape[1]
        if dims <= 2:
            return cls(np.zeros(dims), np.eye(2, dims), "identity", 1.0)
        center = z.mean(axis=0)
        _, singular, components = np.linalg.svd(z - center, full_matrices=False)
        basis = np.zeros((2, dims))
        basis[: min(2, len(components))] = components[:2]
        total = float((singular**2).sum())
        explained = float((singular[:2] ** 2).sum()) / total if total > 0 else 0.0
        return cls(center, basis, "pca", explained)

    def project(self, z: np.ndarray) -> np.ndarray:
        """Coordinates ``(N, 2)`` of latent points ``z`` ``(N, z_dim)`` on the plane."""
        return (np.asarray(z, np.float64) - self.center) @ self.basis.T

    def to_latent(self, xy: np.ndarray) -> np.ndarray:
        """Latent points ``(N, z_dim)`` of plane coordinates ``xy`` ``(N, 2)``."""
        return (self.center + np.asarray(xy, np.float64) @ self.basis).astype(np.float32)

    def describe(self, z_dim: int) -> str:
        """One line for the page, naming the projection."""
        if self.method == "pca":
            return (
                f"PCA of the {z_dim}-D latent means: principal components 1 and 2 "
                f"(they explain {self.explained:.0%} of the variance), through the mean of z"
            )
        if z_dim == 1:
            return "the 1-D latent means z[0] (the vertical axis is unused)"
        return "the latent means z[0] and z[1] themselves (z_dim = 2, no projection)"


@dataclass(frozen=True)
class Sheet:
    """Images tiled row by row into one PNG: image ``i`` at tile ``(i // columns, i % columns)``."""

    png: bytes
    count: int
    columns: int
    height: int
    width: int

    @classmethod
    def of(cls, images: np.ndarray, columns: int | None = None, levels: int = 256) -> Sheet:
        """Tile ``images`` ``(N, H, W, C)`` in ``[0, 1]`` (C = 1 grey, C = 3 RGB) into a PNG,
        each channel rounded to ``levels`` evenly spaced values (fewer: a smaller file)."""
        images = np.asarray(images, np.float32)
        count, height, width, channels = images.shape
        columns = columns or max(1, math.ceil(math.sqrt(count)))
        rows = max(1, math.ceil(count / columns))
        padded = np.zeros((rows * columns, height, width, channels), np.float32)
        padded[:count] = images
        canvas = padded.reshape(rows, columns, height, width, channels).transpose(0, 2, 1, 3, 4)
        canvas = canvas.reshape(rows * height, columns * width, channels)  # (rows*H, cols*W, C)
        steps = np.round(np.clip(canvas, 0.0, 1.0) * (levels - 1))
        pixels = np.round(steps * (255 / (levels - 1))).astype(np.uint8)
        image = Image.fromarray(pixels[..., 0] if channels == 1 else pixels[..., :3])
        buffer = io.BytesIO()
        image.save(buffer, format="png", optimize=True)
        return cls(buffer.getvalue(), count, columns, height, width)

    def to_json(self) -> dict:
        data = base64.b64encode(self.png).decode("ascii")
        return {
            "src": f"data:image/png;base64,{data}",
            "count": self.count,
            "columns": self.columns,
            "height": self.height,
            "width": self.width,
        }


@dataclass(frozen=True)
class Explorer:
    """Everything the page's explorer shows (see :func:`explore`).

    Attributes:
        xy: ``(N, 2)`` plane coordinates of the test images' latent means.
        labels: ``(N,)`` int labels, or None.
        class_names: a name per label value, or None.
        plane: the projection; ``description`` names it on the page.
        extent: ``(x_min, x_max, y_min, y_max)`` of the decoded grid's centres.
        grid: images per side of the decoded grid.
        grid_sheets: the grid's images, row 0 at ``y_max`` (top), column 0 at ``x_min``; one
            sheet, or a conditional model's one per class.
        grid_names: the class of each grid sheet (None for one sheet), and ``grid_label`` what
            the classes are ("class", or the first factor's name); ``grid_classes`` how many
            classes there are (more than the sheets where the size bound left some out).
        originals, reconstructions: sheets of the N test images and their decoded means.
        available: test images there were (N may be fewer: ``points`` and the size bound).
        z_dim: the latent size.
    """

    xy: np.ndarray
    labels: np.ndarray | None
    class_names: list[str] | None
    plane: Plane
    extent: tuple[float, float, float, float]
    grid: int
    grid_sheets: list[Sheet]
    originals: Sheet
    reconstructions: Sheet
    available: int
    z_dim: int
    grid_names: list[str] | None = None
    grid_label: str | None = None
    grid_classes: int | None = None

    @property
    def description(self) -> str:
        return self.plane.describe(self.z_dim)

    def to_json(self) -> dict:
        """The page's data: plain numbers, lists and strings."""
        return {
            "x": np.round(self.xy[:, 0], 4).tolist(),
            "y": np.round(self.xy[:, 1], 4).tolist(),
            "labels": None if self.labels is None else self.labels.tolist(),
            "classNames": self.class_names,
            "projection": self.plane.method,
            "description": self.description,
            "extent": [round(float(v), 6) for v in self.extent],
            "grid": self.grid,
            "gridSheets": [sheet.to_json() for sheet in self.grid_sheets],
            "gridNames": self.grid_names,
            "gridLabel": self.grid_label,
            "gridClasses": self.grid_classes,
            "originals": self.originals.to_json(),
            "reconstructions": self.reconstructions.to_json(),
            "available": self.available,
            "zDim": self.z_dim,
        }


def explore(
    vae, test, points: int = 2000, grid: int = 40, class_names=None, notify: bool = False
) -> Explorer:
    """Encode, project and decode what the explorer shows; four batched model calls in all.

    Args:
        vae: a :class:`~vaekit.models.vae.VariationalAutoencoder`.
        test: the test images (a :mod:`vaekit.datasets` image set): ``points`` of them, evenly
            spaced through the set (a set ordered by class or factor is still covered).
        points: at most this many test images (and fewer when they exceed the size bound).
        grid: the decoded lattice is ``grid x grid`` (coarser when it exceeds the size bound).
        class_names: names of the label values, for the legend.
        notify: warn when fewer points or a coarser grid than asked for are shown (for values a
            person chose, e.g. ``vaekit report --grid``).

    >>> explorer = explore(vae, data.test, points=500, grid=20)  # doctest: +SKIP
    >>> explorer.grid_sheets[0].count  # doctest: +SKIP
    400
    """
    if points < 1 or grid < 2:
        raise ValueError(f"points, grid: got {points}, {grid}; expected >= 1 and >= 2")
    if len(test) == 0:
        raise ValueError("test: no test images to encode")
    values = math.prod(test.shape)  # per image
    size = "x".join(map(str, test.shape))
    fits = max(1, MAX_SHEET_VALUES // values)
    if notify and points > min(len(test), fits):
        why = f"the test set has {len(test):,}" if len(test) <= fits else (
            f"the page holds {fits:,} images of {size}")  # fmt: skip
        warnings.warn(
            f"--points {points:,}: showing {min(len(test), fits):,} ({why})", stacklevel=2
        )
    count = max(1, min(points, len(test), fits))
    conditional = vae.config.conditional
    if notify and not conditional and grid > max(2, math.isqrt(fits)):
        side = max(2, math.isqrt(fits))
        warnings.warn(
            f"--grid {grid:,}: decoding a {side} x {side} grid, the most the page holds of "
            f"{size} images (a sprite sheet of at most {MAX_SHEET_VALUES:,} pixel values)",
            stacklevel=2,
        )
    classes = vae.config.condition_levels[0] if conditional else 1
    decoded_as = list(range(classes))  # the classes that get a grid
    if conditional:  # a grid per class, all within MAX_CLASS_VALUES
        coarsest = max(2, min(math.isqrt(fits), MIN_CLASS_GRID))
        most = max(1, MAX_CLASS_VALUES // (values * coarsest**2))
        if classes > most:  # evenly spaced classes, the first and the last among them
            decoded_as = np.unique(np.linspace(0, classes - 1, most).round().astype(int)).tolist()
        fits = min(fits, MAX_CLASS_VALUES // (values * len(decoded_as)))
        if notify and grid > max(2, math.isqrt(fits)):
            side = max(2, math.isqrt(fits))
            some = "" if len(decoded_as) == classes else f" (of {classes:,}, evenly spaced)"
            warnings.warn(
                f"--grid {grid:,}: decoding a {side} x {side} grid for each of "
                f"{len(decoded_as):,} classes{some}, the most the page holds of {size} images "
                f"(all grids together at most {MAX_CLASS_VALUES:,} pixel values)",
                stacklevel=2,
            )
    grid = max(2, min(grid, math.isqrt(fits)))
    chosen = np.unique(np.linspace(0, len(test) - 1, count).round().astype(np.int64))
    count = len(chosen)
    sample = test.subset(chosen)
    mu, _ = vae.posterior(sample, batch_size=64)  # (N, z_dim); a conditional model's labels
    rows = vae.label_rows(sample)  # its label rows (N, F), else None
    plane = Plane.fit(mu)
    xy = plane.project(mu)  # (N, 2)
    extent = _extent(xy)
    xs = np.linspace(extent[0], extent[1], grid)
    ys = np.linspace(extent[3], extent[2], grid)  # top row first
    lattice = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)  # (grid*grid, 2), row-major
    points_z = plane.to_latent(lattice)
    sheets = []
    for value in decoded_as:  # one batch each
        grid_labels = None
        if rows is not None:
            grid_labels = np.repeat(rows[:1], len(lattice), axis=0)
            grid_labels[:, 0] = value
        decoded = vae.decode(points_z, batch_size=len(lattice), labels=grid_labels)
        levels = CLASS_GRID_LEVELS if conditional else 256
        sheets.append(Sheet.of(decoded, columns=grid, levels=levels))
    names = None
    if conditional:
        named = class_names and len(class_names) == classes
        names = [str(class_names[v]) if named else str(v) for v in decoded_as]
    labels = None if sample.labels is None else np.asarray(sample.labels).astype(np.int64)
    if labels is not None and labels.ndim == 2:  # one-hot
        labels = labels.argmax(axis=1)
    return Explorer(
        xy=xy,
        labels=labels,
        class_names=list(class_names) if class_names else None,
        plane=plane,
        extent=extent,
        grid=grid,
        grid_sheets=sheets,
        originals=Sheet.of(sample.take(np.arange(count))),
        reconstructions=Sheet.of(vae.decode(mu, labels=rows)),
        available=len(test),
        z_dim=mu.shape[1],
        grid_names=names,
        grid_label=first_label_name(vae.config, test) if conditional else None,
        grid_classes=classes if conditional else None,
    )


def _extent(xy: np.ndarray) -> tuple[float, float, float, float]:
    """The points' range on each axis, widened by :data:`MARGIN`, however tight the cloud; an
    axis with no spread at all (one point, or an unused axis) spans 1 around it.

    >>> _extent(np.array([[0.0, 0.0], [0.1, 0.02]]))  # a tight cloud fills the plane
    (-0.005, 0.105, -0.001, 0.021)
    """
    bounds = []
    for axis in (0, 1):
        low, high = float(xy[:, axis].min()), float(xy[:, axis].max())
        middle, half = (low + high) / 2, (high - low) / 2
        if half <= 1e-9 * max(1.0, abs(middle)):
            half = 0.5
        bounds += [middle - half * (1 + 2 * MARGIN), middle + half * (1 + 2 * MARGIN)]
    return tuple(round(bound, 12) for bound in bounds)
