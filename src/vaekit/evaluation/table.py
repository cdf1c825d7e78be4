"""The result of :func:`~vaekit.evaluation.runs.evaluate_run` as a table for people.

Example:
    >>> term = {"mean": 100.0, "standard_error": 0.5}
    >>> result = {
    ...     "run": "runs/mnist", "split": "test", "images": 1000, "samples": 5000, "seed": 0,
    ...     "seconds": 61.2, "likelihood": "bernoulli", "loss_convention": "elbo",
    ...     "binarization": "static", "binarization_seed": 42,
    ...     "nats_per_image": {
    ...         "reconstruction": {"mean": 80.0, "standard_error": 0.75},
    ...         "kl": {"mean": 25.0, "standard_error": 0.125}, "nelbo": {"mean": 105.0,
    ...         "standard_error": 0.8}, "iwae": term,
    ...         "nelbo_minus_iwae": {"mean": 5.0, "standard_error": 0.05},
    ...     },
    ...     "training_metrics": {"loss": 105.1, "bce": 80.1, "kl": 25.0},
    ... }
    >>> print(format_table(result))
    runs/mnist: test split, 1,000 images, K = 5,000 importance samples, seed 0, 61.2 s
    likelihood bernoulli, loss convention elbo, binarization static (seed 42)
    <BLANKLINE>
    nats per image                 mean   std. error
    reconstruction              80.0000       0.7500
    KL                          25.0000       0.1250
    negative ELBO              105.0000       0.8000
    IWAE, -log p(x) bound      100.0000       0.5000
    negative ELBO - IWAE         5.0000       0.0500
    <BLANKLINE>
    training metrics: loss 105.10000  bce 80.10000  kl 25.00000
"""

from __future__ import annotations

from vaekit.errors import plural

ROWS = {  # key in "nats_per_image": label
    "reconstruction": "reconstruction",
    "kl": "KL",
    "nelbo": "negative ELBO",
    "iwae": "IWAE, -log p(x) bound",
    "nelbo_minus_iwae": "negative ELBO - IWAE",
}


def format_table(result: dict) -> str:
    """The estimates with their standard errors, what they were computed on, and the training
    metrics; a note where the numbers are not log-likelihoods (bernoulli on grey levels)."""
    binarization = result["binarization"]
    if binarization != "none":
        binarization += f" (seed {result['binarization_seed']})"
    lines = [
        f"{result['run']}: {result['split']} split, {plural(result['images'], 'image')}, "
        f"K = {result['samples']:,} importance samples, seed {result['seed']}, "
        f"{result['seconds']:.1f} s",
        f"likelihood {result['likelihood']}, loss convention {result['loss_convention']}, "
        f"binarization {binarization}",
        "",
        f"{'nats per image':<22} {'mean':>12} {'std. error':>12}",
    ]
    for key, label in ROWS.items():
        term = result["nats_per_image"][key]
        lines.append(f"{label:<22} {_number(term['mean'])} {_number(term['standard_error'])}")
    if result["images"] < 2:
        lines.append("n/a: a standard error needs two images or more")
    metrics = result["training_metrics"]
    lines += ["", "training metrics: " + "  ".join(f"{k} {_short(v)}" for k, v in metrics.items())]
    if (result.get("limit") or 0) > result["images"]:
        lines.append(
            f"note: --limit {result['limit']:,}, but the {result['split']} split has "
            f"{plural(result['images'], 'image')}: all of them were evaluated"
        )
    if result["likelihood"] == "bernoulli" and result["binarization"] == "none":
        lines.append(
            "note: a bernoulli likelihood on grey-level images is not a density; these numbers "
            "compare runs, but are not log-likelihoods (data.binarize makes them so)"
        )
    return "\n".join(lines)


def _number(value) -> str:
    return f"{'n/a':>12}" if value is None else f"{value:12.4f}"


def _short(value) -> str:
    return "n/a" if value is None else f"{value:.5f}"
