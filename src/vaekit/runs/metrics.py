"""The metrics table of a run: ``metrics.csv``, a row per epoch (:data:`COLUMNS`).

It is written atomically (:mod:`vaekit.io`), by :class:`vaekit.training.callbacks.MetricsLog`
during training, and before that epoch's checkpoint, so after a crash the table may be one row
ahead of the newest checkpoint, never behind; :func:`read_metrics` with ``up_to_epoch`` drops
such rows on resume.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "metrics.csv"
    >>> write_metrics(path, [{"epoch": 1, "loss": 0.25}])
    >>> read_metrics(path)[0]["loss"]
    0.25
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from vaekit.errors import DataError, one_line, printable
from vaekit.io import atomic_write_text

# train.divergence's parts (vaekit.models.divergences), empty for the KL: mi, tc and dwkl in
# nats; mmd the unbiased MMD^2 estimate, no unit, which may be below 0
DIVERGENCE_COLUMNS = tuple(
    f"{prefix}{part}" for prefix in ("", "val_") for part in ("mi", "tc", "dwkl", "mmd")
)
COLUMNS = (
    "epoch",
    "loss",
    "bce",
    "kl",
    "val_loss",
    "val_bce",
    "val_kl",
    "seconds",
    "nelbo",  # the negative ELBO in nats per image, whatever the loss convention
    "val_nelbo",
    "kl_scale",  # the KL schedule's multiplier in this epoch (1 without a schedule)
    *DIVERGENCE_COLUMNS,
)


def write_metrics(path: str | Path, rows) -> None:
    """Write metric rows (dicts keyed by :data:`COLUMNS`) as CSV; missing values stay empty."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else repr(row[k]) for k in COLUMNS})
    atomic_write_text(path, buffer.getvalue())


def read_metrics(path: str | Path, up_to_epoch: int | None = None) -> list[dict]:
    """Rows of ``metrics.csv`` as dicts of numbers (None where empty), optionally truncated.

    Raises:
        DataError: a file that is not vaekit's table (damaged or edited by hand), naming the line.
    """
    path = Path(path)
    if not path.exists():
        return []
    fix = "the file is damaged or was edited; restore it, or remove that line"
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames is not None and "epoch" not in reader.fieldnames:
                raise DataError(f"{path}: line 1 has no 'epoch' column; {fix}")
            rows = []
            for row in reader:
                if None in row or None in row.values():  # more or fewer cells than columns
                    raise DataError(
                        f"{path}: line {reader.line_num} does not match the header; {fix}"
                    )
                rows.append(
                    {
                        key: _parse(value, path, reader.line_num, key, fix)
                        for key, value in row.items()
                    }
                )
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{path}: cannot read ({one_line(error)})") from None
    epochs = [row["epoch"] for row in rows]
    if any(not isinstance(e, int) for e in epochs) or epochs != list(range(1, len(rows) + 1)):
        raise DataError(f"{path}: the epochs are not 1, 2, 3, ... in order; {fix}")
    if up_to_epoch is not None:
        rows = [row for row in rows if row["epoch"] <= up_to_epoch]
    return rows


def as_number(value) -> float | None:
    """A logged value as a float (None stays None): what a row of the table holds."""
    return None if value is None else float(value)


def _parse(text, path="metrics.csv", line=0, column="", fix=""):
    if text in ("", None):
        return None
    try:
        number = float(text)
    except ValueError:
        raise DataError(
            f"{path}: line {line}, column {printable(column)}: {printable(text)!r} is not a "
            f"number; {fix}"
        ) from None
    return int(number) if number.is_integer() and "." not in text and "e" not in text else number
