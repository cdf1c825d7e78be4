"""A run folder's disentanglement scores against its data's ground-truth factors, as JSON.

:func:`score_run` encodes every image of a split (the posterior means, as disentanglement_lib's
``representation_function``), scores the codes with :func:`.disentanglement.scores` and writes
``RUN_DIR/disentanglement.json`` (and the MIG's factor-latent heat map,
``plots/factor_information.png``): the four scores with what is behind them (the MIG's mutual
information matrix, DCI's importance matrix, the FactorVAE votes, SAP's matrix), the factor names
and levels, what they were computed on (``model``: the model file and its epoch, see
:mod:`.provenance`; ``dataset``, ``split``, ``images``, the first of the split) and with (the
``seed`` and the sample counts, ``settings``), the seconds and the versions. A score without a
value (the FactorVAE score of a code with no active latent) is null in ``summary``, and
``undefined`` says why. Scores compare where :func:`vaekit.runs.scores.settings_key` agrees, and
that module holds the file's names, the settings and the reasons, which the report reads too.
Only a data set with factor labels has them (``shapes``, ``shapes_color``).

Too few ``--score-samples`` for the split's factors (:func:`.disentanglement.minimum_samples`)
are refused once the factors are read, before the model loads.

Cost: one encoding of each image, then the scores. DCI's gradient-boosted trees (one classifier
per factor on 10,000 codes, 100 trees per class) take nearly all of it: 3.6 minutes for a 10-latent
code of ``shapes`` on 2 AMD EPYC (AVX2) cores, the other three scores 3 seconds together.
``Settings.scaled`` (``--score-samples N``) scales every sample count down.

Example:
    >>> result = score_run("runs/shapes")  # doctest: +SKIP
    >>> result["mig"]["score"], result["factor_vae"]["eval_accuracy"]  # doctest: +SKIP
    (0.21..., 0.68...)
    >>> score_run("runs/shapes", split="valid")
    Traceback (most recent call last):
    ...
    vaekit.errors.VaekitError: --split: got 'valid', expected one of test, train
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import numpy as np

from vaekit import plots
from vaekit.errors import VaekitError, plural
from vaekit.evaluation import disentanglement
from vaekit.evaluation.images import posterior
from vaekit.evaluation.runs import check_arguments, library_versions, split_images
from vaekit.io import atomic_write_text, check_output_file
from vaekit.runs.folder import load_run_model, open_run
from vaekit.runs.lock import RunLock
from vaekit.runs.provenance import position
from vaekit.runs.scores import FILE_NAME, PLOT_NAME, heat_map


def score_run(
    path: str | Path,
    split: str = "test",
    limit: int | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    out: str | Path | None = None,
    settings: disentanglement.Settings = disentanglement.DEFAULTS,
) -> dict:
    """Score a run's codes of a split against the split's factors; write and return the result.

    Args:
        path: the run folder.
        split: "test" or "train".
        limit: the first ``limit`` images of the split (None: all).
        batch_size: images encoded at a time (None: ``train.batch_size``).
        seed: the seed the scores' samples are drawn from.
        out: the JSON file (None: ``RUN_DIR/disentanglement.json``, written while locked).
        settings: the sample counts (disentanglement_lib's by default).
    """
    check_arguments(1, split, limit, batch_size, seed, 1)
    if out is not None:
        check_output_file(out, "--out", (".json",))
    run, config, source = open_run(path)
    images = split_images(config, run, split, limit)
    factors = getattr(images, "factors", None)
    if factors is None:
        raise VaekitError(
            f"--disentanglement: data set {config.data.dataset!r} has no ground-truth factors; "
            "the scores need a set that has them (shapes, shapes_color)"
        )
    if not np.ptp(factors.values, axis=0).any():
        raise VaekitError(
            f"--limit: no factor takes more than one value over the "
            f"{plural(len(factors.values), split + ' image')} scored: nothing to score; score "
            "more images"
        )
    # Too few samples, or draws that show one value of a factor: refused before the model loads.
    disentanglement.check_draws(factors.values, seed, settings, factor_names=factors.names)
    batch_size = batch_size or config.train.batch_size
    target = Path(out) if out is not None else run.path / FILE_NAME
    inside = target.resolve().parent == run.path.resolve()
    with RunLock(run.path, "vaekit evaluate") if inside else contextlib.nullcontext():
        started = time.perf_counter()
        vae = load_run_model(run, source)
        labels = vae.label_rows(images)  # a conditional model encodes with its labels
        batches = [
            np.arange(s, min(s + batch_size, len(images)))
            for s in range(0, len(images), batch_size)
        ]
        codes = np.concatenate(
            [
                posterior(vae.model, images.take(b), None if labels is None else labels[b])[0]
                for b in batches
            ]
        )  # (N, D) posterior means
        scores = disentanglement.scores(codes, factors.values, seed, settings)
        scored, constant = scores.pop("scored_factors"), scores.pop("constant_factors")
        result = {
            "run": str(run.path),
            "model": position(source, run.path),
            "dataset": config.data.dataset,
            "split": split,
            "factors": [factors.names[f] for f in scored],  # the columns of the matrices
            "levels": [factors.levels[f] for f in scored],
            "constant_factors": [factors.names[f] for f in constant],
            **scores,
            "summary": None,
            "undefined": None,
            "seconds": None,
            "versions": library_versions(),
        }
        result["summary"] = disentanglement.summary(result)
        result["undefined"] = disentanglement.undefined(result)
        result["seconds"] = round(time.perf_counter() - started, 3)
        atomic_write_text(target, json.dumps(result, indent=2) + "\n")
        if inside:  # the run's own scores: their heat map among its plots
            draw_information(result, run.plots / PLOT_NAME)
    return result


def draw_information(result: dict, path):
    """The MIG's factor-latent heat map of a result (:func:`.plots.plot_factor_information`)."""
    return plots.plot_factor_information(*heat_map(result), path)


def format_scores(result: dict) -> str:
    """The headline scores and per-factor MIG as a table for people; a score without a value
    shows why, never a number.

    Example:
        >>> result = {"run": "runs/shapes", "split": "test", "images": 4608, "seed": 0,
        ...           "seconds": 50.0, "factors": ["shape", "x"], "summary": {"mig": 0.25,
        ...           "factor_vae": None}, "mig": {"per_factor": [0.0, 0.5]},
        ...           "undefined": {"factor_vae": "undefined: no active latent"}}
        >>> print(format_scores(result))
        runs/shapes: test split, 4,608 images, seed 0, 50.0 s
        <BLANKLINE>
        mig                           0.2500
        factor_vae                 undefined: no active latent
        <BLANKLINE>
        MIG per factor: shape 0.000  x 0.500
    """
    lines = [
        f"{result['run']}: {result['split']} split, {result['images']:,} images, "
        f"seed {result['seed']}, {result['seconds']:.1f} s",
        "",
    ]
    reasons = result.get("undefined") or {}
    lines += [
        f"{name:<26} {value:9.4f}"
        if value is not None
        else f"{name:<26} {reasons.get(name, 'undefined')}"
        for name, value in result["summary"].items()
    ]
    if "mig" in result:
        per_factor = zip(result["factors"], result["mig"]["per_factor"], strict=True)
        lines += [
            "",
            "MIG per factor: "
            + "  ".join(f"{n} {'undefined' if v is None else f'{v:.3f}'}" for n, v in per_factor),
        ]
    if result.get("constant_factors"):
        lines.append(
            f"not scored (one value over these images): {', '.join(result['constant_factors'])}"
        )
    return "\n".join(lines)
