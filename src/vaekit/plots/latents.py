"""The latent points a plot decodes, and which latent dimensions are active.

Example:
    >>> latent_grid(2, span=1.0).shape  # n * n points of a 2-D latent space
    (4, 2)
"""

from statistics import NormalDist

import numpy as np


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
