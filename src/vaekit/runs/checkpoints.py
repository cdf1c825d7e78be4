"""A run's checkpoints: their names, listing them, the newest, and the training state inside.

A checkpoint is a ``.keras`` file named ``ckpt-eEEEE-sSSSSSS.keras``: ``EEEE`` epochs done and
``SSSSSS`` steps done in the next one (0 at an epoch's end). Besides the model, its optimizer state
and its noise-generator states (see :mod:`vaekit.models.strategies`), the model's config holds the
training state (:func:`training_state`): the position, the running metric accumulators of the
epoch in progress and the seconds it had run. (Inside the model config, not as a member of its
own: Keras unpacks a ``.keras`` archive with more than its three usual members to a temporary
folder on every load.) :mod:`vaekit.training.checkpoints` writes them.

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


def read_state(path: str | Path) -> dict:
    """The training state of a checkpoint (position, metric accumulators, seconds)."""
    try:
        with zipfile.ZipFile(path) as archive:
            if OLD_STATE_MEMBER in archive.namelist():
                return json.loads(archive.read(OLD_STATE_MEMBER))
            state = json.loads(archive.read("config.json"))["config"]["training_state"]
    except (zipfile.BadZipFile, KeyError, TypeError, json.JSONDecodeError, OSError) as error:
        raise ModelFileError(
            f"{path}: checkpoint has no readable training state ({error})"
        ) from None
    if not isinstance(state, dict):
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
