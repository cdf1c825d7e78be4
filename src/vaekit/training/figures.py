"""The figures of a run: its plots folder, written after training and by ``vaekit plot``, and the
samples ``vaekit generate`` writes."""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np

from vaekit import plots, resources
from vaekit.datasets import Images
from vaekit.errors import (
    VaekitError,
)
from vaekit.io import check_output_file
from vaekit.training.callbacks import read_metrics
from vaekit.training.data import load_data
from vaekit.training.folder import RunFolder, load_run_model, open_run
from vaekit.training.lock import RunLock


def write_plots(
    vae,
    run: RunFolder,
    test: Images,
    seed: int = 0,
    classes: list[str] | None = None,
    verbose: int = 0,
) -> list[Path]:
    """Draw every plot of a run into ``run.plots``; returns the files written.

    The latent space shows the first 10,000 test images, encoded a batch at a time (so memory does
    not depend on the image size); with ``z_dim`` above 2 the latent traversals replace the
    manifold. ``verbose=1`` shows Keras's progress bar, a plot at a time.
    """
    sample = test.subset(slice(0, min(len(test), 10_000)))
    folder = run.plots
    mu, log_var = vae.posterior(sample, batch_size=64)  # small batches: a low peak of memory
    kl = np.mean(0.5 * (mu**2 + np.exp(log_var) - log_var - 1.0), axis=0)  # per dimension
    originals = sample.take(np.linspace(0, len(sample) - 1, min(10, len(sample))).astype(int))
    rows = read_metrics(run.metrics)
    # Pairs of test images far apart in the set (often of different classes).
    pairs = min(6, len(sample) // 2)
    first = np.arange(pairs) * (len(sample) // (2 * max(pairs, 1)))
    second = first + len(sample) // 2
    steps = {  # file name -> how to draw it (None: this run has nothing to draw there)
        "latent_space.png": lambda path: plots.plot_latent_space(mu, sample.labels, path, classes),
        "reconstructions.png": lambda path: plots.plot_reconstructions(
            originals, vae.reconstruct(originals), path
        ),
        "samples.png": lambda path: plots.plot_samples(vae.generate(64, seed=seed), path),
        "manifold.png": (lambda path: plots.plot_manifold(vae.decode, path))
        if vae.config.z_dim == 2
        else None,
        "traversals.png": (lambda path: plots.plot_traversals(vae.decode, mu[0], kl, path))
        if vae.config.z_dim != 2
        else None,
        "kl_per_dimension.png": lambda path: plots.plot_kl_per_dimension(
            kl, path, variance=mu.var(axis=0)
        ),
        "interpolations.png": (
            lambda path: plots.plot_interpolations(
                vae.decode,
                mu[first],
                mu[second],
                path,
                originals=np.stack([sample.take(first), sample.take(second)], axis=1),
            )
        )
        if pairs
        else None,
        "loss.png": (lambda path: plots.plot_loss(rows, path)) if rows else None,
        # Runs from before the negative ELBO was logged have no curve of it.
        "nelbo.png": (lambda path: plots.plot_nelbo(rows, path))
        if any(row.get("nelbo") is not None for row in rows)
        else None,
    }
    steps = {name: draw for name, draw in steps.items() if draw is not None}
    bar = keras.utils.Progbar(len(steps), verbose=verbose, unit_name="plot")
    written = []
    for name, draw in steps.items():
        draw(folder / name)
        written.append(folder / name)
        bar.add(1)
    return written


def plot(path: str | Path, verbose: int = 0) -> list[Path]:
    """Redraw a run's plots from its model and metrics (the folder is locked meanwhile)."""
    with RunLock(RunFolder.existing(path).path, "vaekit plot"):  # refused at once if in use
        run, config, source = open_run(path)
        data = load_data(config, run=run, verbose=verbose)
        return write_plots(
            load_run_model(run, source),
            run,
            data.test,
            config.train.seed,
            data.source.classes,
            verbose,
        )


def generate(path: str | Path, n: int, out: str | Path, seed: int | None = None) -> Path:
    """Decode ``n`` samples of ``z ~ N(0, I)`` from a run's model into an image grid at ``out``,
    in the format its suffix names (:data:`~vaekit.plots.PICTURE_SUFFIXES`)."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= plots.MAX_GRID_IMAGES:
        side = math.isqrt(plots.MAX_GRID_IMAGES)
        raise VaekitError(
            f"-n: got {n}, expected an integer from 1 to {plots.MAX_GRID_IMAGES:,} (one picture "
            f"holds a grid of at most {side} x {side}); for more, run generate again with "
            "another --seed"
        )
    out = check_output_file(out, "--out", plots.PICTURE_SUFFIXES)
    run, config, source = open_run(path)
    resources.check_fits(
        resources.decoding_memory(config.model, 2 * n, "-n"), f"decoding {n:,} images"
    )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise VaekitError(f"--out {out}: cannot create its folder ({error.strerror})") from None
    vae = load_run_model(run, source)
    plots.plot_samples(vae.generate(n, seed=seed), out)
    return out
