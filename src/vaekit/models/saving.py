"""Loading ``.keras`` files with checks that turn every bad file into one clear error.

A vaekit model file is a Keras ``.keras`` archive whose model is one of the
:mod:`vaekit.models.strategies` classes; its config records the vaekit, Keras and backend versions,
the :class:`~vaekit.config.ModelConfig` it was built from and its objective.

Example:
    >>> load_model("no/such/model.keras")
    Traceback (most recent call last):
    ...
    vaekit.errors.ModelFileError: no/such/model.keras: model file not found
"""

from __future__ import annotations

import errno
import json
import zipfile
from pathlib import Path

import keras

from vaekit.errors import ModelFileError, StorageError
from vaekit.models.strategies import STRATEGIES
from vaekit.version import __version__


def read_model_header(path: str | Path) -> dict:
    """The top-level config of a ``.keras`` file, checked to be a readable vaekit model."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: model file not found")
    try:
        with zipfile.ZipFile(path) as archive:
            header = json.loads(archive.read("config.json"))
            if archive.testzip() is not None:
                raise zipfile.BadZipFile("a member fails its CRC check")
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, OSError, EOFError) as error:
        raise ModelFileError(f"{path}: not a readable .keras model file ({error})") from None
    names = {cls.__name__ for cls in STRATEGIES.values()}
    if not isinstance(header, dict) or header.get("class_name") not in names:
        found = header.get("class_name") if isinstance(header, dict) else type(header).__name__
        raise ModelFileError(
            f"{path}: not a vaekit model (it holds a {found!r}; expected one "
            f"of {', '.join(sorted(names))})"
        )
    written = header.get("config", {}).get("versions", {}).get("vaekit", "0")
    if _version_tuple(written) > _version_tuple(__version__):
        raise ModelFileError(
            f"{path}: written by vaekit {written}, newer than this vaekit "
            f"{__version__}; upgrade vaekit to load it"
        )
    return header


# A model compiled on PyTorch records its optimizer under a module of Keras's PyTorch backend
# (``keras.src.backend.torch.optimizers.torch_adam``), which cannot be imported where PyTorch is
# not installed. Keras's optimizers by their registered names ("Adam") resolve it on any backend
# (on PyTorch, ``keras.optimizers.Adam`` builds Keras's PyTorch Adam again).
PORTABLE_OPTIMIZERS = {
    name: value
    for name, value in vars(keras.optimizers).items()
    if isinstance(value, type) and issubclass(value, keras.optimizers.Optimizer)
}

# Errors of a write, which loading does when Keras unpacks an archive: the file is not to blame.
NO_ROOM = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS}


def load_model(path: str | Path, compile: bool = True):
    """Load a vaekit Keras model (with its optimizer state when ``compile``).

    Raises:
        ModelFileError: a missing, damaged, foreign or too new file.
        StorageError: no room on disk to unpack it.
    """
    header = read_model_header(path)
    try:
        model = keras.saving.load_model(path, custom_objects=PORTABLE_OPTIMIZERS, compile=compile)
    except OSError as error:
        if error.errno in NO_ROOM:  # a full disk, not a damaged file
            raise StorageError(
                f"{path}: cannot load the model: no room to unpack it ({error.strerror})"
            ) from None
        raise ModelFileError(f"{path}: cannot load the model ({error})") from None
    except Exception as error:  # Keras raises many types for a damaged archive
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ModelFileError(f"{path}: cannot load the model ({message})") from None
    saved_objective = header.get("config", {}).get("objective")
    if compile and saved_objective is None and model.optimizer is not None:
        # Saved before objectives existed: compiled with "binary_crossentropy" on an output that
        # is now the decoder's logits. Its wiring's losses instead; the optimizer (and its state)
        # stays.
        model.compile(optimizer=model.optimizer, **model.compile_arguments())
    return model


def _version_tuple(version: str) -> tuple:
    parts = []
    for part in str(version).split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)
