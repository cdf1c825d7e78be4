"""``evaluation.json`` and ``disentanglement.json`` as the report and ``vaekit compare`` read them.

Each reader returns the result, None where there is none, or one line saying why it cannot be
shown (unreadable, not JSON, or a value of the wrong kind: a number written as text, a list where
a mapping belongs); the pages show that line in its place, never a traceback. Every value the
pages read is checked. :func:`with_provenance` adds whether the result is of the run's model now
(:mod:`vaekit.runs.provenance`).

Example:
    >>> read_evaluation(Path("no/such/evaluation.json")) is None
    True
    >>> _ = Path("evaluation.json").write_text('{"nats_per_image": {"iwae": {"mean": "87.1"}}}')
    >>> print(read_evaluation(Path("evaluation.json")))  # doctest: +NORMALIZE_WHITESPACE
    evaluation.json is not an evaluation vaekit wrote (nats_per_image.iwae.mean is "87.1",
    expected a finite number or null)
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

from vaekit.errors import one_line
from vaekit.runs import provenance
from vaekit.runs.scores import DEFAULTS as SCORE_DEFAULTS
from vaekit.runs.scores import NO_ACTIVE_LATENT, NO_IMPORTANCE

DEFAULT_PRUNE_STD = SCORE_DEFAULTS.prune_std


def read_scores(path: Path) -> dict | str | None:
    """``disentanglement.json``; None if there is none, or a line saying why it cannot be read.

    A file of a vaekit that wrote 0 for a score without a value (the FactorVAE score with no
    active latent, DCI where no latent has importance) reads with null and the reason, as the
    scores are written now.
    """
    result = _read_result(path, "summary", "a disentanglement result", _score_problem)
    if not isinstance(result, dict):
        return result
    summary, reasons = dict(result["summary"]), dict(result.get("undefined") or {})
    factor_vae = result.get("factor_vae")
    if isinstance(factor_vae, dict) and factor_vae.get("active_latents") == 0:
        prune_std = (result.get("settings") or {}).get("prune_std", DEFAULT_PRUNE_STD)
        summary["factor_vae"] = None
        reasons.setdefault("factor_vae", NO_ACTIVE_LATENT.format(prune_std=prune_std))
    dci = result.get("dci")
    importance = dci.get("importance") if isinstance(dci, dict) else None
    if isinstance(importance, list) and _all_zero(importance):
        for key in ("dci_disentanglement", "dci_completeness"):
            if key in summary:
                summary[key] = None
                reasons.setdefault(key, NO_IMPORTANCE)
    return {**result, "summary": summary, "undefined": reasons}


def _all_zero(matrix) -> bool:
    """Whether a JSON matrix (a list of lists of numbers) holds numbers that are all 0."""
    rows = [row if isinstance(row, list) else [row] for row in matrix]
    values = [value for row in rows for value in row]
    return bool(values) and all(isinstance(v, int | float) and v == 0 for v in values)


def read_evaluation(path: Path) -> dict | str | None:
    """``evaluation.json``; None if there is none, or a line saying why it cannot be read (the
    page shows it: a damaged evaluation is not a missing one)."""
    return _read_result(path, "nats_per_image", "an evaluation", _evaluation_problem)


def with_provenance(result, now: dict | None, run, file_name: str):
    """A read result (:func:`read_evaluation`, :func:`read_scores`) with ``provenance``: the
    :func:`vaekit.runs.provenance.check` of it against ``now``, the position of the run's
    model, as ``{"state": "current" | "stale" | "unknown", "sentence": ...}``. The pages show a
    stale result's sentence instead of its numbers, and an unknown one's beside them."""
    if not isinstance(result, dict):
        return result
    state, sentence = provenance.check(result, now, run, file_name)
    return {**result, "provenance": {"state": state, "sentence": sentence}}


def _read_result(path: Path, key: str, what: str, problem) -> dict | str | None:
    """A JSON result whose ``key`` holds a mapping; None if absent, else why it does not read."""
    if not path.exists():
        return None
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        warnings.warn(
            f"{path}: unreadable ({one_line(error)}); the report leaves it out", stacklevel=4
        )
        return f"{path.name} is unreadable ({one_line(error)})"
    if not isinstance(result, dict) or not isinstance(result.get(key), dict):
        return f"{path.name} is not {what} vaekit wrote"
    why = problem(result)
    if why is not None:  # a hand-edited or damaged value: the whole result is left out
        return f"{path.name} is not {what} vaekit wrote ({why})"
    return result


# Checks of a value read from JSON: (test, what is expected).
_NUMBER = (
    lambda v: (
        v is None or (isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v))
    ),
    "a finite number or null",
)
_INTEGER = (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer")
_TEXT = (lambda v: isinstance(v, str), "text")
_TEXTS = (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "a list of text")
_INTEGERS = (lambda v: isinstance(v, list) and all(_INTEGER[0](x) for x in v), "a list of integers")
_NUMBERS = (lambda v: isinstance(v, list) and all(_NUMBER[0](x) for x in v), "a list of numbers")
_MAPPING = (lambda v: isinstance(v, dict), "a mapping")
_SCALARS = (
    lambda v: (
        isinstance(v, dict)
        and all(isinstance(x, int | float | bool | str) or x is None for x in v.values())
    ),
    "a mapping of numbers",
)
_MODEL = (
    lambda v: (
        isinstance(v, dict)
        and isinstance(v.get("file"), str)
        and (v.get("epochs") is None or _INTEGER[0](v.get("epochs")))
        and _INTEGER[0](v.get("steps"))
    ),
    'a mapping {"file": text, "epochs": integer, "steps": integer}',
)
# The fields the pages read; a field that is absent is not checked (an older vaekit's file).
_COMMON = {
    "run": _TEXT,
    "model": _MODEL,
    "dataset": _TEXT,
    "split": _TEXT,
    "images": _INTEGER,
    "seed": _INTEGER,
}
_EVALUATION_FIELDS = {
    **_COMMON,
    "samples": _INTEGER,
    "batch_size": _INTEGER,
    "max_points": _INTEGER,
    "binarization": _TEXT,
    "likelihood": _TEXT,
    "loss_convention": _TEXT,
    "seconds": _NUMBER,
}
_SCORE_FIELDS = {
    **_COMMON,
    "factors": _TEXTS,
    "levels": _INTEGERS,
    "constant_factors": _TEXTS,
    "settings": _SCALARS,
    "mig": _MAPPING,
    "seconds": _NUMBER,
}


def _field_problem(result: dict, fields: dict) -> str | None:
    for key, (test, expected) in fields.items():
        if key in result and not test(result[key]):
            return f"{key} is {_shown(result[key])}, expected {expected}"
    return None


def _evaluation_problem(result: dict) -> str | None:
    """What is wrong with an evaluation's values, or None."""
    for key, entry in result["nats_per_image"].items():
        if not isinstance(entry, dict):
            return f"nats_per_image.{key} is {_shown(entry)}, expected a mapping"
        for part in ("mean", "standard_error"):
            if not _NUMBER[0](entry.get(part)):
                return (
                    f"nats_per_image.{key}.{part} is {_shown(entry.get(part))}, expected "
                    f"{_NUMBER[1]}"
                )
    metrics = result.get("training_metrics")
    if metrics is not None:
        if not isinstance(metrics, dict):
            return f"training_metrics is {_shown(metrics)}, expected a mapping"
        for key, value in metrics.items():
            if not _NUMBER[0](value):
                return f"training_metrics.{key} is {_shown(value)}, expected {_NUMBER[1]}"
    return _field_problem(result, _EVALUATION_FIELDS)


def _score_problem(result: dict) -> str | None:
    """What is wrong with a disentanglement result's values, or None."""
    for key, value in result["summary"].items():
        if not _NUMBER[0](value):
            return f"summary.{key} is {_shown(value)}, expected {_NUMBER[1]}"
    reasons = result.get("undefined")
    if reasons is not None and not (
        isinstance(reasons, dict) and all(isinstance(v, str) for v in reasons.values())
    ):
        return f"undefined is {_shown(reasons)}, expected a mapping of text"
    why = _field_problem(result, _SCORE_FIELDS)
    if why is not None:
        return why
    per_factor = (result.get("mig") or {}).get("per_factor")
    if per_factor is not None:
        if not _NUMBERS[0](per_factor):
            return f"mig.per_factor is {_shown(per_factor)}, expected {_NUMBERS[1]}"
        if "factors" in result and len(per_factor) != len(result["factors"]):
            return (
                f"mig.per_factor has {len(per_factor)} values for {len(result['factors'])} factors"
            )
    return None


def _shown(value) -> str:
    """A JSON value in a message, cut short."""
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."
