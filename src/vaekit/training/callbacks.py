"""The metrics table of a run: ``metrics.csv``, a row per epoch, written by a Keras callback.

It is written atomically (:mod:`vaekit.io`) and before that epoch's checkpoint, so after a crash
the table may be one row ahead of the newest checkpoint, never behind; :func:`read_metrics` with
``up_to_epoch`` drops such rows on resume.

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> log = MetricsLog(folder / "metrics.csv")
    >>> log.on_epoch_begin(0); log.on_epoch_end(0, {"loss": 0.25, "bce": 0.2, "kl": 0.05})
    >>> read_metrics(folder / "metrics.csv")[0]["loss"]
    0.25
"""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import keras

from vaekit.errors import DataError, one_line, printable
from vaekit.io import atomic_write_text
from vaekit.models.objective import kl_schedule_value

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


class MetricsLog(keras.callbacks.Callback):
    """Writes ``metrics.csv``: a row per epoch with :data:`COLUMNS`, ``seconds`` the epoch's time.

    Also puts ``seconds`` into the epoch logs, so ``History`` and later callbacks see it.

    Args:
        path: the CSV file, rewritten whole (atomically) after every epoch.
        rows: rows of earlier epochs (from :func:`read_metrics`) when a run resumes.
        carried_seconds: time already spent on the first epoch before a mid-epoch resume.
    """

    def __init__(self, path: str | Path, rows=(), carried_seconds: float = 0.0):
        super().__init__()
        self.path = Path(path)
        self.rows = [dict(row) for row in rows]
        self.carried_seconds = carried_seconds
        self._started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        # A resumed epoch counts the seconds it had already run before the stop.
        self._started = time.perf_counter() - self.carried_seconds
        self.carried_seconds = 0.0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["seconds"] = time.perf_counter() - self._started
        row = {key: logs.get(key) for key in COLUMNS[1:]}
        self.rows.append({"epoch": epoch + 1, **{k: _number(v) for k, v in row.items()}})
        write_metrics(self.path, self.rows)


class KLSchedule(keras.callbacks.Callback):
    """Sets the KL weight's multiplier at the start of every epoch (``train.kl_schedule``).

    The value is a function of the epoch alone (:func:`~vaekit.models.objective.kl_schedule_value`),
    so a resumed run, even one resumed inside an epoch, trains with the same weights. It also puts
    ``kl_scale`` into the epoch's logs.

    Args:
        variable: the model's ``kl_scale_variable`` (None without a schedule: logs 1).
        schedule: "constant", "linear" or "cyclical".
        epochs: the run's epochs (the cyclical schedule spreads its cycles over them).
        warmup_epochs, cycles, ramp: the schedule's settings (``train.kl_*``).
    """

    def __init__(self, variable, schedule, epochs, warmup_epochs=10, cycles=4, ramp=0.5):
        super().__init__()
        self.variable, self.schedule, self.epochs = variable, schedule, epochs
        self.settings = {"warmup_epochs": warmup_epochs, "cycles": cycles, "ramp": ramp}
        self.value = 1.0

    def on_epoch_begin(self, epoch, logs=None):
        self.value = kl_schedule_value(self.schedule, epoch, self.epochs, **self.settings)
        if self.variable is not None:
            self.variable.assign(self.value)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["kl_scale"] = self.value


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


def _number(value):
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
