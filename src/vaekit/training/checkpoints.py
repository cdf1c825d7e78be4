"""Checkpoints a run can always resume from exactly, even after ``kill -9``.

A checkpoint is a ``.keras`` file named ``ckpt-eEEEE-sSSSSSS.keras``: ``EEEE`` epochs done and
``SSSSSS`` steps done in the next one (0 at an epoch's end). Besides the model, its optimizer state
and its noise-generator states (see :mod:`vaekit.models.strategies`), the archive holds the
training state beside the model: the position, the running metric accumulators of the epoch in
progress and the seconds it had run, so a run resumed mid-epoch logs the same epoch metrics as one
that never stopped. Files are written atomically and only the newest ``keep`` are kept. Their
names, listing and the state inside are :mod:`vaekit.runs.checkpoints`'.

Example:
    >>> Checkpointer("checkpoints", keep=2).keep
    2
"""

from __future__ import annotations

import time
from pathlib import Path

import keras
import numpy as np

from vaekit import distribute
from vaekit.io import atomic_path
from vaekit.runs.checkpoints import (
    checkpoint_name,
    list_checkpoints,
    training_state,
    write_state,
)


def metric_states(model) -> dict:
    """The variables of each of the model's metrics, by metric name (JSON-ready)."""
    return {
        m.name: [np.asarray(v).tolist() for v in m.variables] for m in model.metrics if m.variables
    }


def restore_metric_states(model, states: dict) -> None:
    """Assign saved metric variables back (metrics not yet built or unknown are left alone)."""
    for metric in model.metrics:
        saved = states.get(metric.name)
        if saved is not None and len(saved) == len(metric.variables):
            for variable, value in zip(metric.variables, saved, strict=True):
                variable.assign(np.asarray(value, dtype=variable.dtype))


class Checkpointer(keras.callbacks.Callback):
    """Saves a checkpoint at every epoch's end and, optionally, every N steps.

    Args:
        folder: the checkpoints folder.
        keep: how many checkpoints to keep (>= 1).
        every_steps: also save every this many steps inside an epoch (None: never).
        initial_position: ``(epoch, steps)`` where this ``fit`` starts; with ``steps > 0`` it
            resumes mid-epoch, restoring ``state``'s metric accumulators.
        state: the training state (:func:`read_state`) of the checkpoint being resumed, if any.
        config: the run's resolved config as a dict, recorded in every checkpoint.
        write: False in the processes of a spread run other than process 0
            (:mod:`vaekit.distribute`): they restore the metric state of a resumed epoch as
            process 0 does (an assignment every process joins) and write nothing.
    """

    def __init__(
        self,
        folder: str | Path,
        keep: int = 2,
        every_steps: int | None = None,
        initial_position: tuple[int, int] = (0, 0),
        state: dict | None = None,
        config: dict | None = None,
        write: bool = True,
    ):
        super().__init__()
        self.folder, self.write = Path(folder), write
        self.config = config
        self.keep = keep
        self.every_steps = every_steps
        self.initial_position = initial_position
        self.state = state
        self.epoch, self.steps, self.last_saved = initial_position[0], 0, None
        self._started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.steps = epoch, 0
        self._started = time.perf_counter()
        if self.state is not None and epoch == self.initial_position[0]:
            self.steps = self.initial_position[1]
            restore_metric_states(self.model, self.state.get("metrics", {}))
            self._started -= self.state.get("epoch_seconds", 0.0)
            self.state = None

    def on_train_batch_end(self, batch, logs=None):
        # `batch` is the last step of this execution; counted from where this fit started.
        offset = self.initial_position[1] if self.epoch == self.initial_position[0] else 0
        previous, self.steps = self.steps, offset + batch + 1
        epoch_end = self.steps >= offset + (self.params or {}).get("steps", self.steps + 1)
        due = self.every_steps and self.steps // self.every_steps > previous // self.every_steps
        if due and not epoch_end:  # at the epoch's last step, on_epoch_end saves instead
            self.save(self.epoch, self.steps)

    def on_epoch_end(self, epoch, logs=None):
        self.save(epoch + 1, 0)

    def save(self, epochs_done: int, steps: int) -> Path | None:
        """Write one checkpoint atomically and prune the oldest beyond ``keep``."""
        if not self.write:
            return None
        path = self.folder / checkpoint_name(epochs_done, steps)
        state = training_state(
            epochs_done,
            steps,
            metric_states(self.model) if steps else {},
            time.perf_counter() - self._started if steps else 0.0,
            self.config,
        )
        with atomic_path(path) as temporary, distribute.alone():  # process 0's own work
            self.model.save(temporary)
            write_state(temporary, state)  # beside the model, before the rename
        self.last_saved = path
        for old in list_checkpoints(self.folder)[: -self.keep]:
            old.unlink(missing_ok=True)
        return path
