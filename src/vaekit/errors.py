"""Errors raised for user mistakes and for training that cannot go on.

Every error here is meant to be read by a person: its message is one line naming the field or file,
the value given and what would be valid. The CLI prints it and exits with the error's
``exit_code`` (2 for a mistake in the input), with no traceback.
"""


def one_line(error: BaseException) -> str:
    r"""An exception's message as one line for people: whitespace collapsed, no Python type name.

    >>> one_line(OSError(2, "No such file or directory"))
    'no such file or directory'
    >>> one_line(ValueError("bad\n  value"))
    'bad value'
    """
    if isinstance(error, OSError) and error.strerror:
        text = error.strerror[:1].lower() + error.strerror[1:]
    elif isinstance(error, KeyError) and error.args:
        text = f"no entry {error.args[0]!r}"
    else:
        text = " ".join(str(error).split())
    return printable(text) or "no details"


def printable(text) -> str:
    r"""``text`` with every character that is not printable written as its Python escape, so a
    name holding a newline or a tab stays on one line of a message or a list.

    >>> printable("a\nb\tc.png"), printable("é.png")
    ('a\\nb\\tc.png', 'é.png')
    """
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """``count`` and the noun, in the singular for 1: ``plural(1, "bad file") == "1 bad file"``.

    >>> plural(1, "bad file"), plural(3, "bad file"), plural(2, "class", "classes")
    ('1 bad file', '3 bad files', '2 classes')
    """
    return f"{count:,} {noun if count == 1 else plural_noun or noun + 's'}"


class VaekitError(ValueError):
    """Base class of vaekit's user-facing errors (a subclass of ``ValueError``)."""

    exit_code = 2


class ConfigError(VaekitError):
    """An invalid configuration field, e.g. ``model.z_dim: got 0, expected an integer >= 1``."""


class DataError(VaekitError):
    """A data set that is missing, corrupt, or does not fit the model."""


class ModelFileError(VaekitError):
    """A model or checkpoint file that is missing, corrupt or not a vaekit model."""


class BackendUnavailable(VaekitError, ImportError):  # noqa: N818 (an ImportError too)
    """No Keras backend can be loaded: the one chosen is not installed, or none is; the message
    names what to install."""


class StorageError(VaekitError):
    """A file could not be written (disk full, read-only, no permission); the message names it.

    The file's previous version, if any, is left as it was (see :mod:`vaekit.io`).
    """

    exit_code = 4


class OutOfMemory(VaekitError):  # noqa: N818 (named as MemoryError is)
    """A command needs more memory than there is: estimated before starting, or a real
    ``MemoryError`` or backend out-of-memory error; the message names the setting to lower."""

    exit_code = 5


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
