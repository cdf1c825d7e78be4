"""Evaluate a run folder: per-image estimates in nats, their means and standard errors, as JSON.

:func:`evaluate_run` loads a run's config, model and data (any run folder, also one written before
objectives existed: its model is the reference convention with the bernoulli likelihood), takes
the first ``limit`` images of a split, and writes ``evaluation.json``:

- ``nats_per_image``: mean and standard error over images of ``reconstruction``, ``kl``,
  ``nelbo``, ``iwae`` and ``nelbo_minus_iwae`` (see :mod:`vaekit.evaluation.estimators`);
- ``training_metrics``: ``loss``, ``bce`` and ``kl`` as training logs them (Keras's
  ``evaluate``: per pixel in the reference convention);
- what it was computed on and with: ``model`` (the model file and where training stood in it,
  :mod:`vaekit.runs.provenance`: the report and ``vaekit compare`` say when the run has
  trained on since), ``dataset``, ``split``, ``limit`` (``--limit``; None: all), ``images``,
  ``samples`` (K), ``seed``, ``batch_size``, ``max_points``, ``binarization``
  (``data.binarize``), ``binarization_seed``, ``likelihood``, ``loss_convention``, ``prior``
  (``normal``, or ``vamp``: the bound uses the mixture's density), ``conditional`` (None, or
  what a conditional model's label is: its estimates are of ``-log p(x | y)``), ``seconds``
  (loading the model and evaluating) and the ``versions``.

Cost: K decodes per image. ``K = 1000`` on MNIST's 10,000 test images is 10 million latent points,
about 40 minutes on 2 CPU cores with the reference model (250 us a point); ``--limit`` and
``--samples`` bring it down.

With ``data.binarize`` static or dynamic, the images are one fixed binary sample, the one training
validates on (:func:`~vaekit.datasets.binarize.binarize_static` from ``train.seed``, the split's
stream), so evaluations compare.

Example:
    >>> result = evaluate_run("runs/mnist", samples=5000, limit=1000)  # doctest: +SKIP
    >>> result["nats_per_image"]["iwae"]  # doctest: +SKIP
    {'mean': 87.1..., 'standard_error': 0.8...}
    >>> evaluate_run("runs/mnist", samples=0)  # arguments are checked before anything loads
    Traceback (most recent call last):
    ...
    vaekit.errors.VaekitError: --samples: got 0, expected an integer >= 1
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import keras
import numpy as np

from vaekit import resources
from vaekit.config import Config
from vaekit.datasets.binarize import TEST_STREAM, TRAIN_STREAM, binarize_static
from vaekit.errors import VaekitError
from vaekit.evaluation.estimators import DEFAULT_MAX_POINTS
from vaekit.evaluation.images import evaluate_images
from vaekit.io import atomic_write_text, check_output_file
from vaekit.runs.data import check_evaluation_batches, load_data
from vaekit.runs.folder import RunFolder, load_run_model, open_run
from vaekit.runs.lock import RunLock
from vaekit.runs.provenance import position
from vaekit.version import __version__

DEFAULT_SAMPLES = 1000
SPLITS = {"test": TEST_STREAM, "train": TRAIN_STREAM}  # split: its binarization stream
FILE_NAME = "evaluation.json"


def evaluate_run(
    path: str | Path,
    samples: int = DEFAULT_SAMPLES,
    split: str = "test",
    limit: int | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    max_points: int = DEFAULT_MAX_POINTS,
    out: str | Path | None = None,
    verbose: int = 1,
) -> dict:
    """Evaluate a run's model on a split; write the result as JSON and return it.

    Args:
        path: the run folder.
        samples: K, importance samples per image.
        split: "test" or "train".
        limit: evaluate the first ``limit`` images of the split (None: all).
        batch_size: images encoded at a time (None: ``train.batch_size``).
        seed: the seed of the importance samples.
        max_points: at most this many latent points decoded at a time.
        out: the JSON file (None: ``RUN_DIR/evaluation.json``, written while the run is locked).
        verbose: 1 shows a progress bar, 0 nothing.

    Returns:
        What the JSON file holds (see the module docstring).
    """
    check_arguments(samples, split, limit, batch_size, seed, max_points)
    if out is not None:
        check_output_file(out, "--out", (".json",))
    run, config, source = open_run(path)
    resources.check_fits(
        resources.decoding_memory(config.model, max_points, "--max-points"),
        f"decoding {max_points:,} latent points at a time",
    )
    images = split_images(config, run, split, limit)
    check_evaluation_batches(
        config, len(images), batch_size or config.train.batch_size, bool(batch_size)
    )
    batch_size = batch_size or config.train.batch_size
    target = Path(out) if out is not None else run.path / FILE_NAME
    # One writer per run folder: locked while the result is computed and written into it.
    inside = target.resolve().parent == run.path.resolve()
    with RunLock(run.path, "vaekit evaluate") if inside else contextlib.nullcontext():
        started = time.perf_counter()
        vae = load_run_model(run, source)
        # Compiled again with the model's own loss: a model saved before objectives existed
        # loads with its saved loss (cross-entropy on probabilities), not one on its logits.
        vae.compile()
        labels = vae.label_rows(images)  # a conditional model's: -log p(x | y)
        estimates = evaluate_images(
            vae.model, images, samples, batch_size, seed, max_points, verbose, labels
        )
        metrics = vae.evaluate(images, batch_size=batch_size, labels=labels)
        result = {
            "run": str(run.path),
            "model": position(source, run.path),
            "dataset": config.data.dataset,
            "split": split,
            "limit": limit,
            "images": len(estimates),
            "samples": samples,
            "seed": seed,
            "batch_size": batch_size,
            "max_points": max_points,
            "binarization": config.data.binarize,
            "binarization_seed": config.train.seed if config.data.binarize != "none" else None,
            "likelihood": vae.model.objective.likelihood,
            "loss_convention": vae.model.objective.convention,
            "prior": vae.config.prior,
            "conditional": vae.config.condition if vae.config.conditional else None,
            "nats_per_image": _finite(estimates.summary()),
            "training_metrics": _finite({key: metrics[key] for key in ("loss", "bce", "kl")}),
            "seconds": round(time.perf_counter() - started, 3),
            "versions": library_versions(),
        }
        atomic_write_text(target, json.dumps(result, indent=2) + "\n")
    return result


def check_arguments(samples, split, limit, batch_size, seed, max_points) -> None:
    """The arguments a person types, checked before anything loads; messages name the flags
    (:mod:`.factor_runs` checks its own with it)."""
    for flag, value, lowest in [
        ("--samples", samples, 1),
        ("--limit", limit, 1),
        ("--batch-size", batch_size, 1),
        ("--seed", seed, 0),
        ("--max-points", max_points, 1),
    ]:
        if value is None and flag in ("--limit", "--batch-size"):
            continue
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < lowest:
            raise VaekitError(f"{flag}: got {value!r}, expected an integer >= {lowest}")
    if split not in SPLITS:
        raise VaekitError(f"--split: got {split!r}, expected one of {', '.join(SPLITS)}")


def split_images(config: Config, run: RunFolder, split: str, limit: int | None):
    """The first ``limit`` images of the split, as the fixed binary sample if the run binarizes."""
    data = load_data(config, run=run)
    images = {"test": data.test, "train": data.train}[split]
    if limit is not None and limit < len(images):
        # The sample of image i is keyed on i, so a prefix's sample is the full set's prefix.
        images = images.subset(slice(0, limit))
    if config.data.binarize != "none":
        # Also right on images load_data has binarized already: a 0/1 pixel stays as it is.
        images = binarize_static(images, config.train.seed, SPLITS[split])
    return images


def library_versions() -> dict:
    """The versions a result records: vaekit, Keras, the backend in use and NumPy."""
    return {
        "vaekit": __version__,
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "numpy": np.__version__,
    }


def _finite(values):
    """Numbers as JSON allows them: a NaN or an infinity (a diverged model) becomes None."""
    if isinstance(values, dict):
        return {key: _finite(value) for key, value in values.items()}
    if values is None or not np.isfinite(values):
        return None
    return float(values)
