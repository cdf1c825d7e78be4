"""The book's run folder: ``params.pkl`` (the constructor's arguments), its weights, and the
check that a folder holds this model's run, or none.

The book's ``load_model(VariationalAutoencoder, RUN_FOLDER)`` reads both back.

Example:
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> params = [(28, 28, 1), [8], [3], [2], [1], [3], [2], 2, False, False]
    >>> write_params(folder, params)
    >>> read_params(f"{folder}/params.pkl") == params
    True
    >>> check_run_folder(folder, [*params[:-3], 3, False, False])
    Traceback (most recent call last):
    ...
    vaekit.errors.ModelFileError: ...(its params.pkl has z_dim 2, this model 3)...
"""

from __future__ import annotations

import pickle
from pathlib import Path

from vaekit.errors import ConfigError, ModelFileError, one_line
from vaekit.io import atomic_path

# The book's params.pkl: the constructor's arguments in this order.
PARAMS = (
    "input_dim",
    "encoder_conv_filters",
    "encoder_conv_kernel_size",
    "encoder_conv_strides",
    "decoder_conv_t_filters",
    "decoder_conv_t_kernel_size",
    "decoder_conv_t_strides",
    "z_dim",
    "use_batch_norm",
    "use_dropout",
)
# Files of a run that is not this model's when there is no params.pkl beside them.
RUN_FILES = ("config.yaml", "model.keras", "checkpoints", "weights/weights.weights.h5")


def check_run_folder(folder, params: list) -> None:
    """Refuse a folder that holds the run of another model than the one of ``params`` (the
    book's list, :data:`PARAMS`), before anything is written into it.

    Raises:
        ModelFileError: ``folder`` is a file; its ``params.pkl`` cannot be read, or holds
            another architecture; or it holds a run (``config.yaml``, ``model.keras``,
            checkpoints, the book's weights) and no ``params.pkl``.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ModelFileError(f"{folder}: not a folder (the book's run folder is one)")
    path = folder / "params.pkl"
    if not path.exists():
        found = next((name for name in RUN_FILES if (folder / name).exists()), None)
        if found:
            raise ModelFileError(
                f"{folder}: holds a run ({found}) without a params.pkl, so not this model's; "
                "use a new folder"
            )
        return
    try:
        saved = read_params(path)
    except ModelFileError as error:
        raise ModelFileError(f"{error}; it is left as it is: use a new folder") from None
    saved += [False, False][len(saved) - len(PARAMS) + 2 :]  # the defaults, if left out
    for key, then, now in zip(PARAMS, plain(saved), plain(params), strict=True):
        if then != now:
            raise ModelFileError(
                f"{folder}: holds the run of another model (its params.pkl has {key} "
                f"{then!r}, this model {now!r}); use a new folder, or load it with "
                f"load_model(VariationalAutoencoder, {str(folder)!r})"
            )


def write_params(folder, params: list) -> None:
    """Write the book's list ``params`` as ``folder``'s ``params.pkl`` (atomically)."""
    with atomic_path(Path(folder) / "params.pkl") as temporary:
        temporary.write_bytes(pickle.dumps(params))


class _Params(pickle.Unpickler):
    """Reads params.pkl's list of numbers, tuples and lists, and nothing that runs code."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"params.pkl holds a {module}.{name}, not the book's list")


def read_params(path) -> list:
    """The book's list of a ``params.pkl``: the constructor's arguments, 8 to 10 of them.

    Raises:
        ModelFileError: it is missing, unreadable, or not such a list.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            params = _Params(handle).load()
    except FileNotFoundError:
        raise ModelFileError(f"{path}: not found (save(folder) writes it)") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: a folder, expected the file save(folder) writes") from None
    except OSError as error:
        raise ModelFileError(f"{path}: cannot be read ({one_line(error)})") from None
    except Exception as error:  # a damaged pickle fails in many ways, all of them "unreadable"
        raise ModelFileError(f"{path}: unreadable ({one_line(error)})") from None
    if not isinstance(params, list | tuple) or not 8 <= len(params) <= len(PARAMS):
        found = type(params).__name__
        found = f"{len(params)} values" if isinstance(params, list | tuple) else f"a {found}"
        raise ModelFileError(
            f"{path}: holds {found}, expected the book's list of {len(PARAMS) - 2} to "
            f"{len(PARAMS)} ({', '.join(PARAMS)})"
        )
    return list(params)


def weights_file(filepath) -> Path:
    """The Keras 3 name of a weights file: ``x.h5`` becomes ``x.weights.h5``."""
    path = Path(filepath)
    if path.name.endswith(".h5") and not path.name.endswith(".weights.h5"):
        renamed = path.with_name(path.name[: -len(".h5")] + ".weights.h5")
        if renamed.exists() or not path.exists():
            path = renamed
    if not path.exists():
        raise ModelFileError(f"{path}: no such weights file (train() writes weights/)")
    return path


def load_model(model_class, folder):
    """The book's ``load_model(VariationalAutoencoder, RUN_FOLDER)``: the model of
    ``params.pkl`` with the weights of ``weights/weights.h5`` (``.weights.h5``).

    Raises:
        ModelFileError: ``params.pkl`` or the weights are missing, damaged or of another model.
    """
    path = Path(folder) / "params.pkl"
    params = read_params(path)
    try:
        model = model_class(*params)
    except ConfigError as error:
        raise ModelFileError(f"{path}: {error}") from None
    model.load_weights(path.parent / "weights" / "weights.h5")
    return model


def plain(values) -> list:
    """Tuples as lists, at any depth (params.pkl holds either)."""
    return [plain(v) if isinstance(v, list | tuple) else v for v in values]
