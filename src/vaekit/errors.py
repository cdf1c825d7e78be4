"""Errors raised for user mistakes and for training that cannot go on.

Every error here is meant to be read by a person: its message is one line naming the field or file,
the value given and what would be valid. The CLI prints it and exits with the error's
``exit_code`` (2 for a mistake in the input), with no traceback.
"""


def one_line(error: BaseException) -> str:
    """An exception as one line: its type and its message with whitespace collapsed."""
    return f"{type(error).__name__}: {' '.join(str(error).split())}"


class VaekitError(ValueError):
    """Base class of vaekit's user-facing errors (a subclass of ``ValueError``)."""

    exit_code = 2


class ConfigError(VaekitError):
    """An invalid configuration field, e.g. ``model.z_dim: got 0, expected an integer >= 1``."""


class DataError(VaekitError):
    """A data set that is missing, corrupt, or does not fit the model."""


class ModelFileError(VaekitError):
    """A model or checkpoint file that is missing, corrupt or not a vaekit model."""


class StorageError(VaekitError):
    """A file could not be written (disk full, read-only, no permission); the message names it.

    The file's previous version, if any, is left as it was (see :mod:`vaekit.io`).
    """

    exit_code = 4


class TrainingDiverged(VaekitError):
    """The loss became NaN or infinite; nothing was saved after the last good checkpoint."""

    exit_code = 3


class Interrupted(Exception):  # noqa: N818 (a signal, not a fault)
    """Training stopped on SIGINT or SIGTERM after checkpointing the current step.

    Attributes:
        signal_number: the signal received; the CLI exits with ``128 + signal_number``.
        checkpoint: the checkpoint written at the stop.
    """

    def __init__(self, signal_number: int, checkpoint):
        self.signal_number = signal_number
        self.checkpoint = checkpoint
        super().__init__(f"interrupted by signal {signal_number}; checkpoint {checkpoint}")
