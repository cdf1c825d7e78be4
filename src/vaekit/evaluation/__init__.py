"""Evaluation of a trained VAE in nats: the ELBO's terms and the importance-weighted bound.

- :mod:`.estimators`: the estimates of a batch from any ``log p(x|z)`` (backend-neutral);
- :mod:`.images`: a vaekit model's estimates over an image set, with a progress bar;
- :mod:`.runs`: a run folder's evaluation, written to ``RUN_DIR/evaluation.json``;
- :mod:`.table`: that result as a table;
- :mod:`.disentanglement`: the MIG, DCI, FactorVAE and SAP scores of a code against factors;
  :mod:`.disentanglement_metrics` computes each, :mod:`.disentanglement_draws` draws their samples;
- :mod:`.factor_runs`: a run folder's scores, written to ``RUN_DIR/disentanglement.json`` (their
  names and settings are :mod:`vaekit.runs.scores`', the model they were computed on
  :mod:`vaekit.runs.provenance`').

``vaekit evaluate RUN_DIR`` is :func:`evaluate_run` followed by :func:`format_table`.

Example:
    >>> from vaekit import evaluation
    >>> result = evaluation.evaluate_run("runs/mnist", samples=5000, limit=1000)  # doctest: +SKIP
    >>> print(evaluation.format_table(result))  # doctest: +SKIP
    >>> evaluation.DEFAULT_SAMPLES, evaluation.DEFAULT_MAX_POINTS
    (1000, 2048)
"""

from vaekit.evaluation.disentanglement import Settings
from vaekit.evaluation.estimators import (
    DEFAULT_MAX_POINTS,
    Estimates,
    estimate,
    mean_and_standard_error,
    model_log_likelihood,
)
from vaekit.evaluation.factor_runs import FILE_NAME as SCORES_FILE
from vaekit.evaluation.factor_runs import format_scores, score_run
from vaekit.evaluation.images import evaluate_images, posterior
from vaekit.evaluation.runs import DEFAULT_SAMPLES, FILE_NAME, SPLITS, evaluate_run
from vaekit.evaluation.table import format_table

__all__ = [
    "DEFAULT_MAX_POINTS",
    "DEFAULT_SAMPLES",
    "SPLITS",
    "FILE_NAME",
    "SCORES_FILE",
    "Settings",
    "Estimates",
    "estimate",
    "evaluate_images",
    "evaluate_run",
    "format_scores",
    "format_table",
    "mean_and_standard_error",
    "model_log_likelihood",
    "posterior",
    "score_run",
]
