"""Keras callbacks that keep a run folder complete: the metrics table and the checkpoints.

Both write atomically (:mod:`vaekit.io`). The metrics row of an epoch is written before that
epoch's checkpoint, so after a crash the table may be one row ahead of the newest checkpoint,
never behind; :func:`read_metrics` with ``up_to_epoch`` drops such rows on resume.

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
import re
import time
import warnings
from pathlib import Path

import keras

from vaekit.io import atomic_path, atomic_write_text

COLUMNS = ("epoch", "loss", "bce", "kl", "val_loss", "val_bce", "val_kl", "seconds")
_CHECKPOINT = re.compile(r"^ckpt-e(\d{4,})-s(\d{6,})\.keras$")


class MetricsLog(keras.callbacks.Callback):
    """Writes ``metrics.csv``: a row per epoch with :data:`COLUMNS`, ``seconds`` the epoch's time.

    Also puts ``seconds`` into the epoch logs, so ``History`` and later callbacks see it.

    Args:
        path: the CSV file, rewritten whole (atomically) after every epoch.
        rows: rows of earlier epochs (from :func:`read_metrics`) when a run resumes.
    """

    def __init__(self, path: str | Path, rows=()):
        super().__init__()
        self.path = Path(path)
        self.rows = [dict(row) for row in rows]
        self._started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["seconds"] = time.perf_counter() - self._started
        row = {key: logs.get(key) for key in COLUMNS[1:]}
        self.rows.append({"epoch": epoch + 1, **{k: _number(v) for k, v in row.items()}})
        write_metrics(self.path, self.rows)


def write_metrics(path: str | Path, rows) -> None:
    """Write metric rows (dicts keyed by :data:`COLUMNS`) as CSV; missing values stay empty."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else repr(row[k]) for k in COLUMNS})
    atomic_write_text(path, buffer.getvalue())


def read_metrics(path: str | Path, up_to_epoch: int | None = None) -> list[dict]:
    """Rows of ``metrics.csv`` as dicts of numbers (None where empty), optionally truncated."""
    path = Path(path)
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [{k: _parse(v) for k, v in row.items()} for row in csv.DictReader(handle)]
    if up_to_epoch is not None:
        rows = [row for row in rows if row["epoch"] <= up_to_epoch]
    return rows


def _number(value):
    return None if value is None else float(value)


def _parse(text):
    if text in ("", None):
        return None
    number = float(text)
    return int(number) if number.is_integer() and "." not in text and "e" not in text else number


class Checkpointer(keras.callbacks.Callback):
    """Saves the model with its optimizer state to ``folder/ckpt-eEEEE-sSSSSSS.keras``.

    ``EEEE`` counts completed epochs and ``SSSSSS`` the steps done in the next one (0 at an
    epoch's end). Each file is written atomically; only the newest ``keep`` are kept.

    Args:
        folder: the checkpoints folder.
        keep: how many checkpoints to keep (>= 1).
        every_steps: also save every this many training steps inside an epoch (None: never).
    """

    def __init__(self, folder: str | Path, keep: int = 2, every_steps: int | None = None):
        super().__init__()
        self.folder = Path(folder)
        self.keep = keep
        self.every_steps = every_steps
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        steps = batch + 1
        if self.every_steps and steps % self.every_steps == 0:
            self.save(self._epoch, steps)

    def on_epoch_end(self, epoch, logs=None):
        self.save(epoch + 1, 0)

    def save(self, epochs_done: int, steps: int) -> Path:
        """Write one checkpoint atomically and prune the oldest beyond ``keep``."""
        path = self.folder / checkpoint_name(epochs_done, steps)
        with atomic_path(path) as temporary:
            self.model.save(temporary)
        for old in list_checkpoints(self.folder)[: -self.keep]:
            old.unlink(missing_ok=True)
        return path


def checkpoint_name(epochs_done: int, steps: int = 0) -> str:
    return f"ckpt-e{epochs_done:04d}-s{steps:06d}.keras"


def checkpoint_position(path: Path) -> tuple[int, int]:
    """``(epochs_done, steps)`` of a checkpoint file name."""
    match = _CHECKPOINT.match(Path(path).name)
    return int(match.group(1)), int(match.group(2))


def list_checkpoints(folder: str | Path) -> list[Path]:
    """Checkpoint files of a folder, oldest first (temporary files are not listed)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [path for path in folder.iterdir() if _CHECKPOINT.match(path.name)]
    return sorted(found, key=checkpoint_position)


def latest_checkpoint(folder: str | Path, loader):
    """Load the newest checkpoint that loads; returns ``(path, loaded)`` or ``(None, None)``.

    A damaged newer checkpoint is reported with a warning and the previous one is used.
    """
    from vaekit.errors import ModelFileError

    for path in reversed(list_checkpoints(folder)):
        try:
            return path, loader(path)
        except ModelFileError as error:
            warnings.warn(f"skipping damaged checkpoint: {error}", stacklevel=2)
    return None, None
