"""The factor-latent heat map of a run's disentanglement scores (``disentanglement.json``'s MIG).

Example:
    >>> fig = plot_factor_information([[0.7], [0.0]], ["x"], [0.7], "information.png")
    >>> fig.axes[0].get_ylabel()
    'latent dimension'
"""

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from vaekit.plots import canvas


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
    return canvas.save(fig, path)
