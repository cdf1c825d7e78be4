"""The figures of a run: its plots folder, written after training and by ``vaekit plot``, and the
samples ``vaekit generate`` writes."""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np

from vaekit import datasets, plots, resources
from vaekit.datasets import Images
from vaekit.datasets.folder import Manifest
from vaekit.errors import (
    VaekitError,
)
from vaekit.io import check_output_file
from vaekit.models import conditions
from vaekit.runs.data import load_data
from vaekit.runs.folder import RunFolder, load_run_model, open_run
from vaekit.runs.lock import RunLock
from vaekit.runs.metrics import read_metrics

MAX_CLASS_ROWS = 20  # class_samples.png draws at most this many classes, evenly spaced


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

    A conditional model decodes every image with a label: the reconstructions, interpolations
    (both ends with image A's), manifold and traversals with those of their test images (the
    first one's for the manifold), and ``class_samples.png`` draws a row of samples per class
    (per value of the first factor). A VampPrior model's samples come from its mixture, and
    ``pseudo_inputs.png`` shows its pseudo-inputs.
    """
    sample = test.subset(slice(0, min(len(test), 10_000)))
    folder = run.plots
    mu, log_var = vae.posterior(sample, batch_size=64)  # small batches: a low peak of memory
    kl = np.mean(0.5 * (mu**2 + np.exp(log_var) - log_var - 1.0), axis=0)  # per dimension
    shown = np.linspace(0, len(sample) - 1, min(10, len(sample))).astype(int)
    originals = sample.take(shown)
    labels = vae.label_rows(sample)  # (N, F), or None for an unconditional model
    rows = read_metrics(run.metrics)
    # Pairs of test images far apart in the set (often of different classes).
    pairs = min(6, len(sample) // 2)
    first = np.arange(pairs) * (len(sample) // (2 * max(pairs, 1)))
    second = first + len(sample) // 2

    def decode_as(indices):  # decode latent points with the labels of test images `indices`
        if labels is None:
            return vae.decode
        chosen = labels[np.atleast_1d(indices)]
        return lambda z: vae.decode(z, labels=np.repeat(chosen, len(z) // len(chosen), axis=0))

    def chosen(indices):
        return None if labels is None else labels[indices]

    # A conditional model's manifold and traversals decode with test image 0's label: say which.
    if labels is not None:
        label_0 = {column: int(value) for column, value in enumerate(labels[0])}
        names = test.factors.names if getattr(test, "factors", None) else None
        as_label = f", as {_label_text(vae.config, label_0, names, classes)}"
    else:
        as_label = ""
    vamp = vae.model.pseudo_inputs is not None
    prior = "the VampPrior" if vamp else "z ~ N(0, I)"
    in_turn = (
        "" if labels is None else f", each {conditions.first_label_name(vae.config, test)} in turn"
    )
    steps = {  # file name -> how to draw it (None: this run has nothing to draw there)
        "latent_space.png": lambda path: plots.plot_latent_space(mu, sample.labels, path, classes),
        "reconstructions.png": lambda path: plots.plot_reconstructions(
            originals, vae.reconstruct(originals, labels=chosen(shown)), path
        ),
        "samples.png": lambda path: plots.plot_samples(
            vae.generate(64, seed=seed), path, title=f"samples decoded from {prior}{in_turn}"
        ),
        "class_samples.png": (
            lambda path: plots.plot_class_samples(
                class_samples(vae, seed, shown_classes(vae.config)),
                path,
                [_row_names(vae.config, classes, test)[v] for v in shown_classes(vae.config)],
                title=_class_samples_title(vae, test),
            )
        )
        if labels is not None
        else None,
        "pseudo_inputs.png": (
            lambda path: plots.plot_samples(
                pseudo_input_images(vae)[:100], path, title="the VampPrior's pseudo-inputs"
            )
        )
        if vamp
        else None,
        "manifold.png": (lambda path: plots.plot_manifold(decode_as(0), path, note=as_label))
        if vae.config.z_dim == 2
        else None,
        "traversals.png": (
            lambda path: plots.plot_traversals(decode_as(0), mu[0], kl, path, note=as_label)
        )
        if vae.config.z_dim != 2
        else None,
        "kl_per_dimension.png": lambda path: plots.plot_kl_per_dimension(
            kl,
            path,
            variance=mu.var(axis=0),
            # A mixture has no KL per dimension: the bars are the KL from N(0, I), and say so.
            kl_note=" from N(0, I), not from the VampPrior" if vamp else "",
        ),
        "interpolations.png": (
            lambda path: plots.plot_interpolations(
                decode_as(first),
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


def class_samples(vae, seed, values, per_class: int = 10) -> np.ndarray:
    """``per_class`` samples of each class in ``values`` (values of the first label column), row
    by row, the same latent points in every row; other factors drawn at random from ``seed``."""
    values = np.asarray(values, np.int32)
    count = len(values)
    z = np.tile(vae.sample_prior(per_class, seed), (count, 1))  # (count * per_class, D)
    labels = conditions.cycle(vae.config, count * per_class, np.random.default_rng(seed))
    labels[:, 0] = np.repeat(values, per_class)
    return vae.decode(z, labels=labels)


def shown_classes(config) -> list[int]:
    """The classes (values of the first label column) ``class_samples.png`` draws a row of: all
    of them up to :data:`MAX_CLASS_ROWS`, else that many evenly spaced, the first and the last
    among them (a picture a screen can show, a few hundred kB in the report).

    >>> from vaekit.config import ModelConfig
    >>> shown_classes(ModelConfig(conditional=True, condition_levels=[1000]))[:4]
    [0, 53, 105, 158]
    """
    count = config.condition_levels[0]
    if count <= MAX_CLASS_ROWS:
        return list(range(count))
    return np.unique(np.linspace(0, count - 1, MAX_CLASS_ROWS).round().astype(int)).tolist()


def _class_samples_title(vae, test) -> str:
    """``class_samples.png``'s title: what its rows are, and where its latent points come from."""
    name = conditions.first_label_name(vae.config, test)
    count, shown = vae.config.condition_levels[0], len(shown_classes(vae.config))
    prior = "from the VampPrior" if vae.model.pseudo_inputs is not None else "~ N(0, I)"
    if shown == count:
        return f"samples of each {name}, a row each: the same z {prior} in every row"
    values = "classes" if name == "class" else f"values of {name}"
    return (
        f"samples of {shown} of the {count:,} {values} (evenly spaced), a row each: the same "
        f"z {prior} in every row"
    )


def pseudo_input_images(vae) -> np.ndarray:
    """A VampPrior model's pseudo-inputs as images (K, H, W, C) in [0, 1]."""
    return np.asarray(keras.ops.convert_to_numpy(vae.model.pseudo_inputs.images()))


def _row_names(config, classes, test) -> list[str]:
    """A name per value of a conditional model's first label column."""
    count = config.condition_levels[0]
    if classes and len(classes) == count:
        return list(classes)
    return [f"{conditions.first_label_name(config, test)} {i}" for i in range(count)]


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


def generate(
    path: str | Path, n: int, out: str | Path, seed: int | None = None, label: str | None = None
) -> Path:
    """Decode ``n`` samples of ``z`` from the prior of a run's model into an image grid at
    ``out``, in the format its suffix names (:data:`~vaekit.plots.PICTURE_SUFFIXES`).

    A conditional model decodes them with ``label`` (``vaekit generate --label``, see
    :func:`~vaekit.models.conditions.parse_label`): a class number or name, or factors as
    ``NAME=LEVEL`` pairs; the factors it leaves out are drawn at random, and without a label
    each class comes in turn."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= plots.MAX_GRID_IMAGES:
        side = math.isqrt(plots.MAX_GRID_IMAGES)
        raise VaekitError(
            f"-n: got {n}, expected an integer from 1 to {plots.MAX_GRID_IMAGES:,} (one picture "
            f"holds a grid of at most {side} x {side}); for more, run generate again with "
            "another --seed"
        )
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise VaekitError(f"--seed: got {seed}, expected an integer >= 0 (or none: a new draw)")
    out = check_output_file(out, "--out", plots.PICTURE_SUFFIXES)
    run, config, source = open_run(path)
    if label is not None and not config.model.conditional:
        raise VaekitError(
            f"--label: {run.path} holds a model that is not conditional (model.conditional "
            "false); generate without --label, or train with model.conditional=true"
        )
    fixed, (names, classes) = {}, _label_names(run, config)
    if label is not None:
        fixed = conditions.parse_label(label, config.model, names, classes)
    resources.check_fits(
        resources.decoding_memory(config.model, 2 * n, "-n"), f"decoding {n:,} images"
    )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise VaekitError(f"--out {out}: cannot create its folder ({error.strerror})") from None
    vae = load_run_model(run, source)
    labels = None
    if config.model.conditional:
        labels = conditions.cycle(config.model, n, np.random.default_rng(seed))
        for column, value in fixed.items():
            labels[:, column] = value
    title = _title(vae, fixed, names, classes)
    plots.plot_samples(vae.generate(n, seed=seed, labels=labels), out, title=title)
    return out


def _label_names(run: RunFolder, config) -> tuple[list[str] | None, list[str] | None]:
    """``(factor names, class names)`` of a run's data set, as ``--label`` may name them (read
    without loading any image: the named sources' lists, a folder's manifest)."""
    dataset = config.data.dataset
    source = datasets.SOURCES.get(dataset)
    classes = list(source.classes) if source and source.classes else None
    if classes is None and run.manifest.is_file():
        classes = Manifest.read(run.manifest).classes or None
    names = None
    if dataset in datasets.shapes.SPECS:
        names = list(datasets.shapes.SPECS[dataset].factor_names)
    return names, classes


def _label_text(config, fixed: dict, names, classes) -> str:
    """The label columns ``fixed`` ({column: value}) in words, by name where the classes have
    names (as ``--label`` takes them): "class 7", "class cat", or "shape=heart, scale=5" for a
    factors model (column numbers where ``names`` is None).

    >>> from vaekit.config import ModelConfig
    >>> _label_text(ModelConfig(conditional=True, condition_levels=[10]), {0: 7}, None, None)
    'class 7'
    >>> folders = ModelConfig(conditional=True, condition_levels=[3])  # folders 1, 2, 3
    >>> _label_text(folders, {0: 1}, None, ["1", "2", "3"])
    'class 2'
    >>> factors = ModelConfig(conditional=True, condition="factors", condition_levels=[3, 6])
    >>> _label_text(factors, {0: 2, 1: 5}, ["shape", "scale"], ["square", "ellipse", "heart"])
    'shape=heart, scale=5'
    """

    def shown(column, value):  # a class (the first column) by its name, where it has one
        return classes[value] if column == 0 and classes and value < len(classes) else value

    if config.condition == "class":
        return f"class {shown(0, fixed[0])}"
    return ", ".join(
        f"{names[column] if names else column}={shown(column, value)}"
        for column, value in sorted(fixed.items())
    )


def _title(vae, fixed: dict, names, classes) -> str:
    prior = "the VampPrior" if vae.model.pseudo_inputs is not None else "z ~ N(0, I)"
    if not fixed:
        first = names[0] if vae.config.condition == "factors" and names else "class"
        in_turn = f", each {first} in turn" if vae.config.conditional else ""
        return f"samples decoded from {prior}{in_turn}"
    return f"{_label_text(vae.config, fixed, names, classes)}: samples decoded from {prior}"
