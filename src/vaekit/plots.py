"""Plots of a trained VAE: latent space, reconstructions, samples, manifold, traversals,
interpolations, KL per latent dimension and training curves.

Every ``plot_*`` function takes NumPy arrays (and, for the decoded plots, a batched ``decode``
callable, called once; the training curves take metrics rows), writes a PNG to ``path`` (parent
folders are created, and the file is replaced atomically so no half-written plot is ever left),
and returns the ``matplotlib`` ``Figure``. Figures are built with ``matplotlib.figure.Figure``
directly, never ``pyplot``, so nothing here needs a display or keeps global state. Images are
``(N, H, W, C)`` floats in ``[0, 1]``; ``C=1`` is drawn grey, ``C=3`` as RGB.
"""

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from statistics import NormalDist

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from vaekit.io import atomic_path

_DPI = 120
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


def latent_grid(n: int = 15, span: float = 3.0) -> np.ndarray:
    """Return ``n*n`` latent points ``(n*n, 2)`` covering ``[-span, span]^2`` for the manifold.

    The values along each axis are standard normal quantiles of probabilities evenly spaced
    between ``Phi(-span)`` and ``Phi(span)``: the ends are exactly ``-span`` and ``span`` and the
    points are denser near 0, where the prior ``N(0, I)`` puts its mass (so with ``span=3`` the
    outermost steps are wide: ``-3, -1.2, -0.76, ...`` for ``n=10``). Points are in row-major
    canvas order: row ``r`` (top to bottom) has ``z[1]`` decreasing, column ``c`` has ``z[0]``
    increasing, so ``tile_images(decode(grid), n, n)`` is oriented like a normal plot.

    >>> latent_grid(3, span=2.0)[:3]
    array([[-2.,  2.],
           [ 0.,  2.],
           [ 2.,  2.]])
    """
    normal = NormalDist()
    probabilities = np.linspace(normal.cdf(-span), normal.cdf(span), n)
    values = np.array([normal.inv_cdf(p) for p in probabilities])
    values = np.round((values - values[::-1]) / 2, 12) + 0.0  # exactly symmetric, no -0.0
    z0, z1 = np.meshgrid(values, values[::-1])
    return np.stack([z0.ravel(), z1.ravel()], axis=1)


def plot_latent_space(
    z: np.ndarray, labels: np.ndarray | None, path, class_names: Sequence[str] | None = None
) -> Figure:
    """Scatter the latent means ``z`` ``(N, D)``, coloured by ``labels`` ``(N,)`` if given.

    ``D == 2`` is drawn as is; ``D > 2`` is projected on its first two principal components
    (SVD of the centred ``z``) and the title says how much variance they explain; ``D == 1`` is
    drawn against the label, or as a histogram without labels. One-hot labels are accepted.
    ``class_names[label]`` names the colorbar's ticks when given.

    >>> rng = np.random.default_rng(0)
    >>> fig = plot_latent_space(rng.normal(size=(100, 8)), rng.integers(0, 10, 100), "z.png")
    >>> fig.axes[0].get_title()
    'latent space (PCA of 8-D z, 2 components explain 36% of variance)'
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or (labels is not None and len(labels) != len(z)):
        raise ValueError(f"z: got shape {z.shape}, expected (N, D) with one label per row")
    if labels is not None:
        labels = np.asarray(labels)
        labels = labels.argmax(axis=1) if labels.ndim == 2 else labels.ravel()
    fig = Figure(figsize=(5.6, 4.6), layout="constrained")
    ax = fig.add_subplot()
    if z.shape[1] == 1 and labels is None:
        ax.hist(z[:, 0], bins=50)
        ax.set(title="latent space (histogram of 1-D z)", xlabel="z[0]", ylabel="count")
        return _save(fig, path)
    if z.shape[1] == 1:
        x, y, xlabel, ylabel = z[:, 0], labels, "z[0]", "label"
        title = "latent space (1-D z against label)"
    elif z.shape[1] == 2:
        x, y, xlabel, ylabel = z[:, 0], z[:, 1], "z[0]", "z[1]"
        title = "latent space (z means)"
    else:
        centred = z - z.mean(axis=0)
        _, singular, components = np.linalg.svd(centred, full_matrices=False)
        projected = np.zeros((len(z), 2), np.float32)  # (N, 2); fewer than 2 images: zeros
        found = centred @ components[:2].T
        projected[:, : found.shape[1]] = found
        x, y = projected.T
        explained = (singular[:2] ** 2).sum() / max((singular**2).sum(), 1e-12)
        xlabel, ylabel = "principal component 1", "principal component 2"
        title = (
            f"latent space (PCA of {z.shape[1]}-D z, "
            f"2 components explain {explained:.0%} of variance)"
        )
    style = {"s": 4, "alpha": 0.6, "linewidths": 0}
    if labels is None:
        ax.scatter(x, y, **style)
    else:
        classes = np.unique(labels)
        if len(classes) <= 10 and np.issubdtype(labels.dtype, np.integer):
            # Discrete colours, one per class, with the colorbar ticks on the class values.
            bounds = np.append(classes - 0.5, classes[-1] + 0.5)
            style["cmap"] = ListedColormap(colormaps["tab10"].colors[: len(classes)])
            style["norm"] = BoundaryNorm(bounds, len(classes))
        points = ax.scatter(x, y, c=labels, **style)
        colorbar = fig.colorbar(points, ax=ax, label="label")
        if "norm" in style:
            names = [class_names[c] if class_names else str(c) for c in classes]
            colorbar.set_ticks(classes, labels=names)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return _save(fig, path)


def plot_reconstructions(
    originals: np.ndarray, reconstructions: np.ndarray, path, n: int = 10, per_row: int = 5
) -> Figure:
    """Draw the first ``n`` originals with their reconstructions below them, ``per_row`` pairs a
    row (two rows of 5 for the default 10: narrow enough to read on a phone's screen).

    >>> images = np.random.default_rng(0).random((4, 28, 28, 1))
    >>> fig = plot_reconstructions(images, images, "reconstructions.png", n=4)
    """
    originals, reconstructions = np.asarray(originals), np.asarray(reconstructions)
    if originals.shape != reconstructions.shape:
        raise ValueError(
            f"reconstructions: got shape {reconstructions.shape}, "
            f"expected the originals' shape {originals.shape}"
        )
    n = min(n, len(originals))
    cols = min(n, per_row)
    blocks = math.ceil(n / cols)
    tiles = []  # block b: originals b*cols.. in one row, their reconstructions in the next
    for block in range(blocks):
        part = slice(block * cols, min((block + 1) * cols, n))
        for source in (originals, reconstructions):
            row = np.zeros((cols, *originals.shape[1:]), np.float32)
            row[: part.stop - part.start] = source[part]
            tiles.append(row)
    canvas = tile_images(np.concatenate(tiles), 2 * blocks, cols)
    fig = Figure(figsize=(max(1.1 * cols, 4.0) + 1.6, 1.2 + 1.1 * 2 * blocks), layout="constrained")
    ax = fig.add_subplot()
    _show(ax, canvas)
    height = originals.shape[1]
    ax.set_yticks(
        [(row + 0.5) * height - 0.5 for row in range(2 * blocks)],
        ["original", "reconstruction"] * blocks,
    )
    ax.set_xticks([])
    ax.set_title(f"reconstructions of {n} images")
    return _save(fig, path)


def plot_samples(
    images: np.ndarray, path, title: str = "samples decoded from z ~ N(0, I)"
) -> Figure:
    """Draw ``images`` ``(N, H, W, C)`` in a square-ish grid (``ceil(sqrt(N))`` columns).

    >>> fig = plot_samples(np.random.default_rng(0).random((16, 28, 28, 1)), "samples.png")
    """
    cols = math.ceil(math.sqrt(len(images)))
    rows = math.ceil(len(images) / cols)
    fig = Figure(figsize=(max(0.6 * cols, 4.0), max(0.6 * rows, 4.0) + 0.4), layout="constrained")
    ax = fig.add_subplot()
    _show(ax, tile_images(images, rows, cols))
    ax.set_axis_off()
    ax.set_title(title)
    return _save(fig, path)


def plot_class_samples(
    images: np.ndarray, path, row_names: Sequence[str], title: str = "samples of each class"
) -> Figure:
    """A conditional model's samples, one row per class: ``images`` ``(rows * cols, H, W, C)``
    row by row, ``row_names`` naming the rows.

    >>> images = np.random.default_rng(0).random((3 * 4, 8, 8, 1))
    >>> fig = plot_class_samples(images, "class_samples.png", ["a", "b", "c"])
    >>> [tick.get_text() for tick in fig.axes[0].get_yticklabels()]
    ['a', 'b', 'c']
    """
    rows = len(row_names)
    if rows == 0 or len(images) % rows:
        raise ValueError(f"images: got {len(images)} for {rows} rows; expected a multiple")
    cols = len(images) // rows
    height = images.shape[1]
    fig = Figure(figsize=(0.6 * cols + 1.6, 0.6 * rows + 0.8), layout="constrained")
    ax = fig.add_subplot()
    _show(ax, tile_images(images, rows, cols))
    ax.set_yticks(np.arange(rows) * height + height / 2 - 0.5, list(row_names))
    ax.set_xticks([])
    ax.tick_params(labelsize=8)
    ax.set_title(title)
    return _save(fig, path)


def plot_manifold(
    decode: Callable[[np.ndarray], np.ndarray],
    path,
    n: int = 15,
    span: float = 3.0,
    note: str = "",
) -> Figure:
    """Decode the ``latent_grid(n, span)`` in one batched call and tile the images (z_dim = 2).

    Args:
        decode: maps ``(n*n, 2)`` latent points to ``(n*n, H, W, C)`` images in ``[0, 1]``,
            e.g. ``lambda z: decoder.predict(z, verbose=0)``; it is called exactly once.
        n: images per side; span: the grid covers ``[-span, span]^2`` (see ``latent_grid``).
        note: appended to the title, e.g. what label a conditional model decodes the grid with.

    >>> fig = plot_manifold(lambda z: np.ones((len(z), 8, 8, 1)) * 0.5, "manifold.png", n=4)
    """
    grid = latent_grid(n, span)
    images = np.asarray(decode(grid))
    if len(images) != n * n:
        raise ValueError(f"decode: returned {len(images)} images for {n * n} latent points")
    height, width = images.shape[1:3]
    fig = Figure(figsize=(7.0, 7.0), layout="constrained")
    ax = fig.add_subplot()
    _show(ax, tile_images(images, n, n))
    values = grid[:n, 0]  # z[0] along a row, left to right; z[1] runs top to bottom reversed
    ax.set_xticks(np.arange(n) * width + width / 2 - 0.5, [f"{v:.2g}" for v in values])
    ax.set_yticks(np.arange(n) * height + height / 2 - 0.5, [f"{v:.2g}" for v in values[::-1]])
    ax.tick_params(axis="x", labelrotation=90, labelsize=8)
    ax.tick_params(axis="y", labelsize=8)
    ax.set(xlabel="z[0]", ylabel="z[1]")
    ax.set_title(f"decoded {n}x{n} grid of z (normal quantiles in [-{span:g}, {span:g}]){note}")
    return _save(fig, path)


def plot_traversals(
    decode: Callable[[np.ndarray], np.ndarray],
    base: np.ndarray,
    kl: np.ndarray,
    path,
    dims: int = 10,
    n: int = 9,
    span: float = 3.0,
    note: str = "",
) -> Figure:
    """Latent traversals: each latent dimension swept over ``[-span, span]``, the others fixed.

    The ``dims`` dimensions of highest ``kl`` (the mean KL divergence of each from the prior: the
    dimensions the model uses) are drawn, one row each in decreasing order, with every other
    coordinate held at ``base`` (e.g. one test image's latent mean). All rows are decoded in one
    call. On a set with known factors, a disentangled model shows one factor changing per row.

    Args:
        decode: maps ``(rows * n, z_dim)`` latent points to images in ``[0, 1]``; called once.
        base: the latent point the rows start from, shape ``(z_dim,)``.
        kl: the KL of each latent dimension, shape ``(z_dim,)``; orders and labels the rows.
        dims: how many dimensions to show; n: images per row.
        note: appended to the title, e.g. what label a conditional model decodes with.

    >>> decode = lambda z: np.ones((len(z), 8, 8, 1)) * 0.5
    >>> fig = plot_traversals(decode, np.zeros(4), np.array([0.1, 2.0, 0.0, 1.0]), "t.png", n=5)
    """
    base, kl = np.asarray(base, np.float32), np.asarray(kl)
    order = np.argsort(-kl, kind="stable")[: min(dims, len(base))]
    values = np.linspace(-span, span, n, dtype=np.float32)
    points = np.repeat(base[np.newaxis], len(order) * n, axis=0)  # (rows * n, z_dim)
    for row, dim in enumerate(order):
        points[row * n : (row + 1) * n, dim] = values
    images = np.asarray(decode(points))
    height, width = images.shape[1:3]
    fig = Figure(figsize=(0.8 * n + 1.6, 0.8 * len(order) + 0.8), layout="constrained")
    ax = fig.add_subplot()
    _show(ax, tile_images(images, len(order), n))
    ax.set_yticks(
        np.arange(len(order)) * height + height / 2 - 0.5,
        [f"z[{d}] (KL {kl[d]:.2f})" for d in order],
    )
    ax.set_xticks(np.arange(n) * width + width / 2 - 0.5, [f"{v:.2g}" for v in values])
    ax.tick_params(labelsize=8)
    ax.set_title(
        f"latent traversals: {len(order)} dimensions of highest KL, each over ±{span:g}{note}"
    )
    return _save(fig, path)


def plot_interpolations(
    decode: Callable[[np.ndarray], np.ndarray],
    starts: np.ndarray,
    ends: np.ndarray,
    path,
    steps: int = 10,
    originals: np.ndarray | None = None,
) -> Figure:
    """Decode straight lines through latent space: row ``i`` goes from ``starts[i]`` to ``ends[i]``.

    Each row has ``steps`` points ``z = (1 - t) * start + t * end`` for ``t`` evenly spaced in
    ``[0, 1]``, so the first and last points are exactly ``start`` and ``end``. All rows are
    decoded in one call. With ``originals`` the two real images of each pair are drawn as an extra
    first and last column ("image A", "image B"), set off by a line, so the decoded endpoints can
    be compared with the images they came from.

    Args:
        decode: maps ``(P * steps, z_dim)`` float32 latent points to ``(P * steps, H, W, C)``
            images in ``[0, 1]``, e.g. ``lambda z: decoder.predict(z, verbose=0)``; called once.
        starts, ends: ``(P, z_dim)`` latent points, e.g. the posterior means of P pairs of test
            images.
        steps: images per row, endpoints included (at least 2).
        originals: optional ``(P, 2, H, W, C)``: image A and image B of each pair.

    >>> decode = lambda z: np.ones((len(z), 8, 8, 1)) * 0.5
    >>> fig = plot_interpolations(decode, np.zeros((3, 4)), np.ones((3, 4)), "i.png", steps=5)
    >>> fig.axes[0].get_title()
    'Interpolation through latent space'
    """
    starts, ends = np.asarray(starts, np.float32), np.asarray(ends, np.float32)
    if starts.ndim != 2 or starts.shape != ends.shape or len(starts) == 0:
        raise ValueError(
            f"starts, ends: got shapes {starts.shape} and {ends.shape}, "
            "expected equal (P, z_dim) with P >= 1"
        )
    if steps < 2:
        raise ValueError(f"steps: got {steps}, expected at least 2 (the two endpoints)")
    pairs = len(starts)
    fractions = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]  # (steps, 1)
    # (1 - t) * a + t * b rather than a + t * (b - a): exact at both ends in floating point.
    points = (1 - fractions) * starts[:, None] + fractions * ends[:, None]  # (P, steps, z_dim)
    images = np.asarray(decode(points.reshape(pairs * steps, -1)))
    if len(images) != pairs * steps:
        raise ValueError(f"decode: returned {len(images)} images for {pairs * steps} latent points")
    grid = images.reshape(pairs, steps, *images.shape[1:])  # (P, steps, H, W, C)
    if originals is not None:
        originals = np.asarray(originals, np.float32)
        if originals.shape != (pairs, 2, *images.shape[1:]):
            raise ValueError(
                f"originals: got shape {originals.shape}, "
                f"expected {(pairs, 2, *images.shape[1:])} (image A and B of each pair)"
            )
        grid = np.concatenate([originals[:, :1], grid, originals[:, 1:]], axis=1)
    cols = grid.shape[1]
    height, width = images.shape[1:3]
    fig = Figure(figsize=(0.6 * cols + 1.4, 0.6 * pairs + 1.2), layout="constrained")
    ax = fig.add_subplot()
    _show(ax, tile_images(grid.reshape(pairs * cols, *images.shape[1:]), pairs, cols))
    labels = [f"{t:.2g}" for t in fractions[:, 0]]
    if originals is not None:
        labels = ["image A", *labels, "image B"]
        for x in (width - 0.5, (cols - 1) * width - 0.5):  # between the real and decoded images
            ax.axvline(x, color="tab:orange", linewidth=2)
    ax.set_xticks(np.arange(cols) * width + width / 2 - 0.5, labels)
    ax.set_yticks(
        np.arange(pairs) * height + height / 2 - 0.5, [f"pair {i + 1}" for i in range(pairs)]
    )
    ax.tick_params(labelsize=8)
    ax.set_xlabel("t, where z = (1 - t) z_A + t z_B", fontsize=9)
    ax.set_title("Interpolation through latent space")
    return _save(fig, path)


def active_units(mu: np.ndarray, threshold: float = 0.01) -> int:
    """Count the active latent dimensions: those whose posterior mean varies across images.

    Burda et al. (2015) call dimension ``u`` active when ``A_u = Cov_x(E_q(z|x)[z_u])``, the
    variance over the images ``x`` of its posterior mean, exceeds ``threshold``: an inactive
    dimension encodes the same value for every image, so the decoder can learn nothing from it.

    Args:
        mu: ``(N, z_dim)`` posterior means of N images (e.g. of the test set).
        threshold: the variance a dimension must exceed to count as active.

    >>> mu = np.array([[0.0, 0.0, -1.0], [0.0, 0.1, 1.0]])  # variances 0, 0.0025 and 1
    >>> active_units(mu)
    1
    """
    mu = np.asarray(mu, dtype=np.float64)
    if mu.ndim != 2 or len(mu) == 0:
        raise ValueError(f"mu: got shape {mu.shape}, expected (N, z_dim) with N >= 1")
    return int(np.sum(mu.var(axis=0) > threshold))


def plot_kl_per_dimension(
    kl: np.ndarray,
    path,
    variance: np.ndarray | None = None,
    threshold: float = 0.01,
    kl_note: str = "",
) -> Figure:
    """Bar chart of the mean KL (nats) of each latent dimension; inactive dimensions in grey.

    One rule decides both the colour of each bar and the count in the title: with ``variance``
    (``Var_x(E_q[z_d])``, the variance of each dimension's posterior mean over the images) a
    dimension is active when it exceeds ``threshold`` (Burda et al. 2015's active units: an
    inactive dimension encodes the same value for every image); without it, when its KL exceeds
    ``threshold`` nats. The y axis is linear up to ``threshold`` and logarithmic above it, so
    dimensions near 0 and of several nats both show. A caption states the rule.

    Args:
        kl: ``(z_dim,)`` the KL of each dimension from the prior, averaged over the test set.
        variance: ``(z_dim,)`` the variance of each dimension's posterior mean, e.g.
            ``mu.var(axis=0)``, or None.
        threshold: where a dimension starts counting as active (variance, or nats of KL).
        kl_note: appended to the caption's "the dimension's mean KL", e.g. what the KL is from
            where the model's prior is not the standard normal.

    >>> fig = plot_kl_per_dimension(np.array([2.0, 0.001, 0.5, 0.0]), "kl.png")
    >>> fig.axes[0].get_title()
    '2 of 4 latent dimensions active'
    """
    kl = np.asarray(kl, dtype=np.float64)
    if kl.ndim != 1 or len(kl) == 0:
        raise ValueError(f"kl: got shape {kl.shape}, expected (z_dim,)")
    if threshold <= 0:
        raise ValueError(f"threshold: got {threshold}, expected a positive number")
    z_dim = len(kl)
    if variance is None:
        used = kl > threshold
        rule = f"KL > {threshold:g} nats"
    else:
        variance = np.asarray(variance, dtype=np.float64)
        if variance.shape != kl.shape:
            raise ValueError(f"variance: got shape {variance.shape}, expected {kl.shape}")
        used = variance > threshold
        rule = f"Var_x(E_q[z_d]) > {threshold:g}"
    fig = Figure(figsize=(min(max(0.25 * z_dim + 2.0, 5.0), 12.0), 4.0), layout="constrained")
    ax = fig.add_subplot()
    dims = np.arange(z_dim)
    if used.any():
        ax.bar(dims[used], kl[used], color="tab:blue", label=f"active: {rule}")
    if not used.all():
        ax.bar(dims[~used], kl[~used], color="tab:gray", label="inactive")
    ax.set_yscale("symlog", linthresh=0.01)
    # From 0 (KL >= 0 up to rounding) to above the tallest bar.
    ax.set_ylim(min(0.0, kl.min()), 1.5 * max(kl.max(), 0.01))
    ax.set_xlim(-0.6, z_dim - 0.4)
    if z_dim <= 16:
        ax.set_xticks(dims)
    else:  # about 16 round indices: 0, 5, 10, ... for z_dim = 64
        ax.xaxis.set_major_locator(MaxNLocator(nbins=16, integer=True))
    ax.set(xlabel="latent dimension", ylabel="KL (nats; log scale above 0.01)")
    ax.set_title(f"{int(used.sum())} of {z_dim} latent dimensions active")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # beside, not over bars
    source = " (Burda et al. 2015)" if variance is not None else ""
    caption = f"active: {rule}{source}; bar height: the dimension's mean KL"
    if kl_note:  # a line of its own: the figure is narrow for a long caption
        caption += f"\n(the KL{kl_note})"
    fig.supxlabel(caption, fontsize=8)
    return _save(fig, path)


def plot_factor_information(
    information: np.ndarray, factors: Sequence[str], entropy: Sequence[float], path
) -> Figure:
    """Heat map of what each latent dimension tells of each ground-truth factor: the mutual
    information behind MIG, divided by the factor's entropy (0: nothing, 1: all of it).

    A disentangled code has one bright cell per column, each in its own row; MIG is the gap
    between a column's two brightest cells, averaged over the columns.

    Args:
        information: ``(z_dim, F)`` mutual information in nats (``disentanglement.json``'s
            ``mig.mutual_information``).
        factors: the F factor names.
        entropy: the F factors' entropies in nats.

    >>> fig = plot_factor_information(np.eye(3) * np.log(4), ["a", "b", "c"], [np.log(4)] * 3,
    ...                               "information.png")
    >>> fig.axes[0].get_title()
    'latent x factor: mutual information / entropy of the factor'
    """
    information = np.asarray(information, dtype=np.float64)
    entropy = np.asarray(entropy, dtype=np.float64)
    if information.ndim != 2 or not information.shape[1] == len(factors) == len(entropy):
        raise ValueError(
            f"information: got shape {information.shape}, expected (z_dim, {len(factors)})"
        )
    share = information / np.maximum(entropy, 1e-12)  # (D, F)
    latents = share.shape[0]
    fig = Figure(figsize=(0.8 * len(factors) + 2.0, 0.3 * latents + 1.6), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    for d, f in np.ndindex(share.shape):
        ax.text(f, d, f"{share[d, f]:.2f}", ha="center", va="center", fontsize=7,
                color="black" if share[d, f] > 0.6 else "white")  # fmt: skip
    ax.set_xticks(range(len(factors)), factors)
    ax.set_yticks(range(latents))
    ax.set(xlabel="factor", ylabel="latent dimension")
    ax.set_title("latent x factor: mutual information / entropy of the factor", fontsize=9)
    fig.colorbar(image, ax=ax, shrink=0.8)
    return _save(fig, path)


def plot_loss(history: Mapping[str, Sequence] | Sequence[Mapping[str, object]], path) -> Figure:
    """Plot training curves: one panel each for loss, bce and kl, stacked, with ``val_*``.

    ``history`` is a dict of per-epoch lists (``keras.callbacks.History.history``) or a list of
    per-epoch rows as read from ``metrics.csv`` by ``csv.DictReader``: string values are parsed
    and empty ones (no validation that epoch) are left out. Epochs are numbered from 1. The
    panels share the epoch axis, one above the other, so the figure stays narrow enough to read
    on a page; each legend gives the curve's last value, so a run of one or two epochs (a dot,
    not yet a curve) still says what it reached.

    >>> rows = [{"loss": "3.0", "val_loss": ""}, {"loss": "2.0", "val_loss": "2.5"}]
    >>> fig = plot_loss(rows, "loss.png")
    """
    if not isinstance(history, Mapping):
        keys = dict.fromkeys(key for row in history for key in row)
        history = {key: [row.get(key) for row in history] for key in keys}
    curves = {key: np.array([_to_float(v) for v in values]) for key, values in history.items()}
    panels = [name for name in ("loss", "bce", "kl") if name in curves]
    if not panels:
        raise ValueError(f"history: got keys {sorted(curves)}, expected 'loss', 'bce' or 'kl'")
    fig = Figure(figsize=(5.6, 0.4 + 2.0 * len(panels)), layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False, sharex=True)[:, 0]
    epochs_seen = 1
    for ax, name in zip(axes, panels, strict=True):
        for key in (name, f"val_{name}"):
            values = curves.get(key, np.array([np.nan]))
            present = ~np.isnan(values)  # validation may run only on some epochs
            if present.any():
                epochs = np.arange(1, len(values) + 1)
                epochs_seen = max(epochs_seen, len(values))
                _curve(ax, epochs[present], values[present], label=key)
        ax.set_ylabel(name)
        ax.legend(fontsize=9, title="last value", title_fontsize=9)
    axes[-1].set_xlabel("epoch")
    _epoch_axis(axes[-1], epochs_seen)
    fig.suptitle(f"training curves ({_epochs_text(epochs_seen)})")
    return _save(fig, path)


def _curve(ax, x, y, label: str, **style) -> None:
    """A metric against the epoch; few points get larger markers, the legend the last value."""
    size = 6 if len(x) <= 2 else 3
    ax.plot(x, y, marker="o", markersize=size, label=f"{label} {_short(y[-1])}", **style)


def _short(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.5g}"


def _epoch_axis(ax, epochs: int) -> None:
    """Whole epochs on the x axis; a run of one epoch is centred on it, not on a sliver."""
    ax.xaxis.get_major_locator().set_params(integer=True)
    if epochs <= 2:
        ax.set_xlim(0.5, epochs + 0.5)
        ax.set_xticks(range(1, epochs + 1))


def _epochs_text(epochs: int) -> str:
    return "1 epoch: a curve appears from the second" if epochs == 1 else f"{epochs} epochs"


def plot_nelbo(rows: Sequence[Mapping[str, object]], path) -> Figure:
    """Plot the negative ELBO (nats per image) of training and validation against the epoch.

    ``rows`` are metrics rows as read by :func:`vaekit.runs.metrics.read_metrics`: the
    ``nelbo`` and ``val_nelbo`` values are drawn against ``epoch`` (empty values are left out,
    other keys ignored) and the legend gives each curve's final value. Runs from before the
    negative ELBO was logged have no such values: this raises ``ValueError``, so skip the plot.

    >>> rows = [{"epoch": 1, "nelbo": 120.5, "val_nelbo": None},
    ...         {"epoch": 2, "nelbo": 101.2, "val_nelbo": 99.8}]
    >>> fig = plot_nelbo(rows, "nelbo.png")
    >>> [line.get_label() for line in fig.axes[0].lines]
    ['train 101.20', 'val 99.80']
    """
    epochs = np.array([_to_float(row.get("epoch", i + 1)) for i, row in enumerate(rows)])
    curves = {}  # legend name -> (epochs, values) where the value is present
    for key, name in (("nelbo", "train"), ("val_nelbo", "val")):
        values = np.array([_to_float(row.get(key)) for row in rows])
        present = ~np.isnan(values)  # validation may run only on some epochs
        if present.any():
            curves[name] = epochs[present], values[present]
    if not curves:
        raise ValueError(
            "rows: no 'nelbo' or 'val_nelbo' values (a run from before the negative ELBO was "
            "logged); skip this plot"
        )
    fig = Figure(figsize=(5.6, 3.8), layout="constrained")
    ax = fig.add_subplot()
    for name, (x, y) in curves.items():
        ax.plot(x, y, marker="o", markersize=6 if len(x) <= 2 else 3, label=f"{name} {y[-1]:.2f}")
    epochs = int(max(x.max() for x, _ in curves.values()))
    ax.set(xlabel="epoch", ylabel="negative ELBO (nats per image)")
    ax.set_title(f"negative ELBO ({_epochs_text(epochs)})", fontsize=11)
    _clip_first_epochs(ax, curves)
    _epoch_axis(ax, epochs)
    ax.legend(title="final value")
    return _save(fig, path)


def _clip_first_epochs(ax, curves) -> None:
    """Keep the y range on the later epochs when the first ones dwarf them (a KL warm-up's
    first epoch, with the KL unweighted, can be ten times the rest); say what is off the scale."""
    later = np.concatenate([y[len(y) // 2 :] for _, y in curves.values()])
    everything = np.concatenate([y for _, y in curves.values()])
    low, high = float(later.min()), float(later.max())
    spread = max(high - low, 1e-6 * max(abs(high), 1.0))
    top = high + 8.0 * spread
    if everything.max() > top and max(len(y) for _, y in curves.values()) >= 4:
        bottom = min(float(everything.min()), low) - 0.2 * spread
        ax.set_ylim(bottom, top)
        ax.annotate(
            f"off the scale: up to {everything.max():.1f}",
            xy=(0.02, 0.98),
            xycoords="axes fraction",
            va="top",
            fontsize=8,
        )


def _to_float(value) -> float:
    """Parse one metric value; ``None`` and ``""`` (a missing validation value) become NaN."""
    return float("nan") if value is None or value == "" else float(value)


def _show(ax, canvas: np.ndarray) -> None:
    """Draw an image canvas: 2-D in grey, 3-D as RGB, both on the fixed range [0, 1]."""
    ax.imshow(np.clip(canvas, 0.0, 1.0), cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")


def _save(fig: Figure, path) -> Figure:
    """Write ``fig`` to ``path`` atomically (:func:`vaekit.io.atomic_path`), in the format its
    suffix names (:data:`PICTURE_SUFFIXES`; PNG for any other)."""
    suffix = Path(path).suffix.lower()
    picture_format = suffix[1:] if suffix in PICTURE_SUFFIXES else "png"
    with atomic_path(path) as temporary:
        fig.savefig(temporary, format=picture_format, dpi=_DPI)
    return fig
