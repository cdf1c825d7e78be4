"""Callbacks that stop training safely: on a NaN/inf loss, and on SIGINT/SIGTERM.

Both stop between two steps. The NaN guard raises before any callback after it can save the
broken weights, so the last good checkpoint and model stay untouched; put it first in the list.
The signal stop checkpoints the step just finished, then raises :class:`~vaekit.errors.Interrupted`.

Example:
    >>> guard = NonFiniteGuard("try a lower train.learning_rate", resume="vaekit train --resume R")
    >>> guard.on_epoch_begin(0)
    >>> try:
    ...     guard.on_train_batch_end(4, {"loss": float("nan")})
    ... except TrainingDiverged as error:  # no checkpoint yet: no resume is offered
    ...     print(error)
    training diverged: loss is nan at epoch 1, step 5; no checkpoint had been written; try a
    lower train.learning_rate
"""

from __future__ import annotations

import math
import signal
import threading

import keras

from vaekit.errors import Interrupted, TrainingDiverged
from vaekit.runs.checkpoints import checkpoint_name


class NonFiniteGuard(keras.callbacks.Callback):
    """Raises :class:`TrainingDiverged` as soon as the running loss is NaN or infinite.

    Args:
        hint: what to try, appended to the message.
        last_good: a callable returning the newest checkpoint path (or None), for the message.
        initial_position: ``(epoch, steps)`` where this ``fit`` starts, so steps are counted
            from the epoch's start after a mid-epoch resume.
        resume: the command that continues from the newest checkpoint, offered only when there
            is one.
        nothing_kept: what the message says when no checkpoint had been written.
    """

    def __init__(
        self,
        hint: str = "",
        last_good=lambda: None,
        initial_position=(0, 0),
        resume: str = "",
        nothing_kept: str = "no checkpoint had been written",
    ):
        super().__init__()
        self.hint, self.last_good, self.initial_position = hint, last_good, initial_position
        self.resume, self.nothing_kept = resume, nothing_kept
        self.epoch = initial_position[0]

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(float(loss)):
            return
        offset = self.initial_position[1] if self.epoch == self.initial_position[0] else 0
        kept = self.last_good()
        parts = [f"nothing was saved after {kept}" if kept else self.nothing_kept, self.hint]
        if kept and self.resume:  # a resume needs a checkpoint to continue from
            parts.append(f"continue from it with: {self.resume}")
        where = f"epoch {self.epoch + 1}, step {offset + batch + 1}"
        raise TrainingDiverged(
            f"training diverged: loss is {float(loss)} at {where}; "
            + "; ".join(part for part in parts if part)
        )


class SignalStop(keras.callbacks.Callback):
    """On SIGINT or SIGTERM, checkpoint at the end of the current step and raise Interrupted.

    Args:
        checkpointer: the run's :class:`~vaekit.training.checkpoints.Checkpointer`, which knows the
            position and writes the checkpoint.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, checkpointer):
        super().__init__()
        self.checkpointer = checkpointer
        self.received = None
        self._previous = {}

    def _handle(self, signal_number, frame):
        self.received = signal_number  # acted on between steps, never inside one

    def on_train_begin(self, logs=None):
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}

    def on_train_end(self, logs=None):
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous = {}

    def on_train_batch_end(self, batch, logs=None):
        if self.received is not None:
            saver = self.checkpointer
            done = saver.last_saved is not None and saver.last_saved.name == checkpoint_name(
                saver.epoch, saver.steps
            )  # saved at this very step already
            self._stop(saver.last_saved if done else saver.save(saver.epoch, saver.steps))

    def on_epoch_end(self, epoch, logs=None):
        # The checkpointer saved this epoch already (it comes first in the list).
        if self.received is not None:
            self._stop(self.checkpointer.last_saved)

    def _stop(self, checkpoint):
        number = self.received
        self.on_train_end()  # restore the handlers before leaving fit
        raise Interrupted(number, checkpoint)
