"""A run's checkpoints: their names, listing them, the newest, and the training state inside.

A checkpoint is a ``.keras`` file named ``ckpt-eEEEE-sSSSSSS.keras``: ``EEEE`` epochs done and
``SSSSSS`` steps done in the next one (0 at an epoch's end). Besides the model, its optimizer state
and its noise-generator states (see :mod:`vaekit.models.strategies`), the archive holds the
training state (:func:`training_state`) beside the model, as its member ``training_state.json``
(:func:`write_state`): the position, the running metric accumulators of the epoch in progress and
the seconds it had run. Files written before kept it in the model's config, where
:func:`find_state` still reads it. (An archive with more than Keras's three usual members is
unpacked to a temporary folder on every load: a small cost, for a model that records nothing
about its training.) :mod:`vaekit.training.checkpoints` writes them.

Example:
    >>> checkpoint_name(3, 120)
    'ckpt-e0003-s000120.keras'
    >>> checkpoint_position("ckpt-e0003-s000120.keras")
    (3, 120)
    >>> newest_checkpoint("no/such/folder") is None
    True
"""

from __future__ import annotations

import json
import re
import warnings
import zipfile
from pathlib import Path

from vaekit.errors import ModelFileError

_NAME = re.compile(r"^ckpt-e(\d{4,})-s(\d{6,})\.keras$")
STATE_MEMBER = "training_state.json"  # the training state, beside the model in its archive
OLD_STATE_MEMBER = "vaekit_state.json"  # where checkpoints of vaekit 0.1.0 kept the state


def checkpoint_name(epochs_done: int, steps: int = 0) -> str:
    """The file name of the checkpoint after ``epochs_done`` epochs and ``steps`` more steps."""
    return f"ckpt-e{epochs_done:04d}-s{steps:06d}.keras"


def checkpoint_position(path: str | Path) -> tuple[int, int]:
    """``(epochs_done, steps)`` of a checkpoint file name."""
    match = _NAME.match(Path(path).name)
    if match is None:
        raise ModelFileError(f"{path}: not a checkpoint name (expected ckpt-eEEEE-sSSSSSS.keras)")
    return int(match.group(1)), int(match.group(2))


def list_checkpoints(folder: str | Path) -> list[Path]:
    """Checkpoint files of a folder, oldest first (temporary files are not listed)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [path for path in folder.iterdir() if _NAME.match(path.name)]
    return sorted(found, key=checkpoint_position)


def training_state(
    epochs_done: int,
    steps: int = 0,
    metrics: dict | None = None,
    epoch_seconds: float = 0.0,
    config: dict | None = None,
) -> dict:
    """What a checkpoint (or a final model) records of where training stood: the position, the
    running metric accumulators and seconds of a half-done epoch, and the run's resolved config
    (which :mod:`vaekit.runs.agreement` compares with ``config.yaml``)."""
    state = {
        "epochs_done": epochs_done,
        "steps": steps,
        "metrics": metrics or {},
        "epoch_seconds": epoch_seconds,
    }
    if config is not None:
        state["config"] = config
    return state


def write_state(path: str | Path, state: dict) -> None:
    """Add ``state`` (:func:`training_state`) to the ``.keras`` archive ``path`` as its member
    ``training_state.json``, beside the model: call it on the temporary file, before the rename
    that makes the file complete."""
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(STATE_MEMBER, json.dumps(state))


def find_state(path: str | Path) -> dict | None:
    """The training state a model file records, or None where it records none (a final model of
    a vaekit that did not record where training stood).

    Read from the archive's ``training_state.json``; in files written before vaekit kept it
    there, from the model config's ``training_state`` (or vaekit 0.1.0's ``vaekit_state.json``).

    Raises:
        ModelFileError: an archive, or a member of it, that cannot be read.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            member = next((n for n in (STATE_MEMBER, OLD_STATE_MEMBER) if n in names), None)
            if member is not None:
                state = json.loads(archive.read(member))
            else:
                header = json.loads(archive.read("config.json"))
                model = header.get("config") if isinstance(header, dict) else None
                state = model.get("training_state") if isinstance(model, dict) else None
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, OSError) as error:
        raise ModelFileError(
            f"{path}: checkpoint has no readable training state ({error})"
        ) from None
    return state if isinstance(state, dict) else None


def read_state(path: str | Path) -> dict:
    """The training state of a checkpoint (position, metric accumulators, seconds)."""
    state = find_state(path)
    if state is None:
        raise ModelFileError(
            f"{path}: has no training state (a final model from an older vaekit, not a checkpoint)"
        )
    return state


def latest_checkpoint(folder: str | Path, loader):
    """Load the newest checkpoint that loads; returns ``(path, loaded)`` or ``(None, None)``.

    A damaged newer checkpoint is reported with a warning and the previous one is used.
    """
    for path in reversed(list_checkpoints(folder)):
        try:
            read_state(path)
            return path, loader(path)
        except ModelFileError as error:
            warnings.warn(f"skipping damaged checkpoint: {error}", stacklevel=2)
    return None, None


def newest_checkpoint(folder: str | Path) -> Path | None:
    """The newest checkpoint file of a folder, or None where there is none."""
    found = list_checkpoints(folder)
    return found[-1] if found else None
