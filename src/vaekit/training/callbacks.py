"""The callbacks that log a run as it trains: the metrics table and the KL schedule.

:class:`MetricsLog` writes ``metrics.csv`` (the table is :mod:`vaekit.runs.metrics`') a row per
epoch, and :class:`KLSchedule` sets each epoch's KL multiplier.

Example:
    >>> import tempfile, pathlib
    >>> from vaekit.runs.metrics import read_metrics
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> log = MetricsLog(folder / "metrics.csv")
    >>> log.on_epoch_begin(0); log.on_epoch_end(0, {"loss": 0.25, "bce": 0.2, "kl": 0.05})
    >>> read_metrics(folder / "metrics.csv")[0]["loss"]
    0.25
"""

from __future__ import annotations

import time
from pathlib import Path

import keras

from vaekit.models.objective import kl_schedule_value
from vaekit.runs.metrics import COLUMNS, as_number, write_metrics


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
        self.rows.append({"epoch": epoch + 1, **{k: as_number(v) for k, v in row.items()}})
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
