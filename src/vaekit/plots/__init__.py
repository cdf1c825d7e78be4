"""Plots of a trained VAE: latent space, reconstructions, samples, manifold, traversals,
interpolations, KL per latent dimension, the factor-latent heat map and training curves.

Every ``plot_*`` function takes NumPy arrays (and, for the decoded plots, a batched ``decode``
callable, called once; the training curves take metrics rows), writes a PNG to ``path`` (parent
folders are created, and the file is replaced atomically so no half-written plot is ever left),
and returns the ``matplotlib`` ``Figure``. Figures are built with ``matplotlib.figure.Figure``
directly, never ``pyplot``, so nothing here needs a display or keeps global state. Images are
``(N, H, W, C)`` floats in ``[0, 1]``; ``C=1`` is drawn grey, ``C=3`` as RGB.

This module draws what a model's encoder and decoder give; the other plots live beside it, and
each is named here too: :mod:`.canvas` (tiling, drawing and saving, the picture formats),
:mod:`.latents` (the decoded grid's points, active units), :mod:`.curves` (training curves) and
:mod:`.factors` (the disentanglement scores' heat map).
"""

import math
from collections.abc import Callable, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from vaekit.plots.canvas import MAX_GRID_IMAGES, PICTURE_SUFFIXES, tile_images

# The plots defined here look ``_save`` up in this module when they save, so replacing it (as a
# test that records the figures' titles does) sees each of them.
from vaekit.plots.canvas import save as _save
from vaekit.plots.canvas import show as _show
from vaekit.plots.curves import plot_loss, plot_nelbo
from vaekit.plots.factors import plot_factor_information
from vaekit.plots.latents import active_units, latent_grid

__all__ = [
    "MAX_GRID_IMAGES", "PICTURE_SUFFIXES", "active_units", "latent_grid", "plot_class_samples",
    "plot_factor_information", "plot_interpolations", "plot_kl_per_dimension",
    "plot_latent_space", "plot_loss", "plot_manifold", "plot_nelbo", "plot_reconstructions",
    "plot_samples", "plot_traversals", "tile_images",
]  # fmt: skip


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
