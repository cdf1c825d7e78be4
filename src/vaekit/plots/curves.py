"""Training curves from the metrics table: the loss and its terms (:func:`plot_loss`) and the
negative ELBO in nats per image (:func:`plot_nelbo`), one point per epoch.

Example:
    >>> fig = plot_loss({"loss": [3.0, 2.0], "kl": [1.0, 0.5]}, "loss.png")
    >>> [ax.get_ylabel() for ax in fig.axes]
    ['loss', 'kl']
"""

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from vaekit.plots import canvas


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
    return canvas.save(fig, path)


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
    return canvas.save(fig, path)


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
