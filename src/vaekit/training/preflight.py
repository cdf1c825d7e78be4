"""What is checked before a run's folder is written: the memory, the disk and the ``--out``.

Everything the user can get wrong is refused before anything is built or written, with one line
that names the setting to change.

Example:
    >>> from vaekit.config import Config
    >>> check_training_memory(Config.from_dict({"train": {"check_memory": False}}))
    >>> refuse_existing("no/such/folder")
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

from vaekit import resources
from vaekit.config import Config
from vaekit.datasets import FileImages
from vaekit.errors import VaekitError, plural
from vaekit.models.objective import Objective
from vaekit.runs.data import Data
from vaekit.runs.folder import RunFolder


def training_estimate(config: Config) -> resources.Estimate:
    """The estimated memory of training ``config``'s model with its batch."""
    return resources.training_memory(
        config.model,
        config.train.batch_size,
        iw_samples=config.train.iw_samples,
        learned_sigma=Objective.from_config(config).learned_sigma,
    )


def check_training_memory(config: Config) -> None:
    """Refuse a model and batch whose estimated memory exceeds what is free (unless
    ``train.check_memory`` is false): one line naming the setting that dominates the estimate,
    before anything is built."""
    if not config.train.check_memory:
        return
    estimate = training_estimate(config)
    resources.check_fits(estimate, "training", "set train.check_memory=false to try anyway")


def check_training_disk(config: Config, run: RunFolder, data: Data) -> None:
    """Refuse a run whose checkpoints (the ``train.keep_checkpoints`` it will keep, one more while
    the next is written, and model.keras) or image cache (``data.cache``) cannot fit on its
    disk."""
    train = config.train
    estimate = resources.training_memory(config.model, 1)
    steps = -(-len(data.train) // train.batch_size)
    per_epoch = 1 + (steps // train.checkpoint_every_steps if train.checkpoint_every_steps else 0)
    kept = min(train.keep_checkpoints, train.epochs * per_epoch)
    size = resources.checkpoint_bytes(estimate.parameters)
    shown = resources.format_bytes(size)
    if 3 * size > resources.free_disk(run.path):  # not even one (and model.keras): the model
        setting = estimate.weights_setting()
        resources.check_disk(
            run.path,
            3 * size,
            setting,
            f"a checkpoint, the next one while it is written, and model.keras, of {shown} each "
            f"({estimate.parameters:,} weights, the largest share sized by {setting}),",
        )
    resources.check_disk(
        run.path,
        (kept + 2) * size,
        "train.keep_checkpoints",
        f"keeping {plural(kept, 'checkpoint')} (and model.keras) of {shown}",
        advice=lambda free: f"use train.keep_checkpoints={max(1, free // size - 2)}",
    )
    if config.data.cache and isinstance(data.source.train, FileImages):
        images = len(data.source.train) + len(data.source.test)
        resources.check_disk(
            run.path,
            images * math.prod(config.model.input_dim),
            "data.cache",
            f"decoding {images:,} images into {run.cache}",
        )


def refuse_existing(path: str | Path) -> None:
    """Raise a ``VaekitError`` if folder ``path`` holds a run (one that trained), as
    ``vaekit train --out`` does."""
    refuse_existing_run(RunFolder(Path(path)))


def refuse_existing_run(run: RunFolder, locked: bool = False) -> None:
    """Refuse an ``--out`` that holds a run, unless that run never trained: a process that died in
    its first steps (killed, or out of memory in a way no exception reports) leaves its
    ``config.yaml`` and nothing else of worth. Once ``locked`` (this process holds the folder),
    such a run is removed, with a warning."""
    if not run.config.exists():
        return
    if _never_trained(run):
        if not locked:
            return  # checked again, and replaced, under the lock
        warnings.warn(
            f"{run.path}: replacing a run that stopped before it saved anything (no checkpoint, "
            "no metrics, no model)",
            stacklevel=3,
        )
        run.remove_files()
        return
    raise VaekitError(
        f"{run.path}: already holds a run; continue it with --resume "
        f"{run.path}, or choose another --out"
    )


def _never_trained(run: RunFolder) -> bool:
    try:
        return run.state().never_trained
    except VaekitError:  # a damaged metrics table: not a run to replace
        return False
