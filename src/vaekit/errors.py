"""Errors raised for user mistakes.

Every error here is meant to be read by a person: its message is one line naming the field or file,
the value given and what would be valid. The CLI prints it and exits with code 2, no traceback.
"""


class VaekitError(ValueError):
    """Base class of vaekit's user-facing errors (a subclass of ``ValueError``)."""


class ConfigError(VaekitError):
    """An invalid configuration field, e.g. ``model.z_dim: got 0, expected an integer >= 1``."""


class DataError(VaekitError):
    """A data set that is missing, corrupt, or does not fit the model."""


class ModelFileError(VaekitError):
    """A model or checkpoint file that is missing, corrupt or not a vaekit model."""
