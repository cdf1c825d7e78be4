"""Run folders: their files and names, their state read once, opening one (config.yaml checked
against its model file), and loading the model it holds (the final one, or the newest checkpoint
when that one is damaged).

A run folder holds::

    config.yaml        the fully resolved configuration
    model.keras        the final model (with its config, versions, and where training stood)
    checkpoints/       the newest checkpoints, with optimizer state (vaekit.runs.checkpoints)
    metrics.csv        a row per epoch (vaekit.runs.metrics)
    plots/             latent_space.png, reconstructions.png, samples.png, ... (the report's)
    report.html        the run's page (vaekit.report)
    .vaekit.lock       while a command writes into the folder (vaekit.runs.lock)

Example:
    >>> run = RunFolder(Path("no/such/run"))
    >>> run.state()
    RunState(rows=(), checkpoints=(), has_model=False)
    >>> run.state().never_trained, run.newest_checkpoint()
    (True, None)
"""

from __future__ import annotations

import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from vaekit.config import Config
from vaekit.errors import (
    ModelFileError,
    VaekitError,
    plural,
)
from vaekit.models.saving import load_model, read_model_header
from vaekit.models.vae import VariationalAutoencoder
from vaekit.runs.agreement import check_agreement
from vaekit.runs.checkpoints import (
    checkpoint_position,
    list_checkpoints,
    newest_checkpoint,
    read_state,
)
from vaekit.runs.metrics import read_metrics

# What a run writes into its folder; removed when a new run fails before its first checkpoint.
RUN_FILES = ("config.yaml", "metrics.csv", "manifest.json", "bad_files.txt", "model.keras",
             "report.html")  # fmt: skip
RUN_FOLDERS = ("checkpoints", "plots", "cache", "tensorboard")


@dataclass(frozen=True)
class RunState:
    """What a run folder holds, read once: its metrics rows, its checkpoints (oldest first) and
    whether it has a final model."""

    rows: tuple = ()
    checkpoints: tuple[Path, ...] = ()
    has_model: bool = False

    @property
    def newest(self) -> Path | None:
        return self.checkpoints[-1] if self.checkpoints else None

    @property
    def never_trained(self) -> bool:
        """Nothing of worth: no metrics row, no checkpoint, no model."""
        return not (self.rows or self.checkpoints or self.has_model)


@dataclass(frozen=True)
class RunFolder:
    """The paths of one run folder."""

    path: Path

    @property
    def config(self) -> Path:
        return self.path / "config.yaml"

    @property
    def model(self) -> Path:
        return self.path / "model.keras"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.csv"

    @property
    def plots(self) -> Path:
        return self.path / "plots"

    @property
    def manifest(self) -> Path:
        """The files of a folder data set that the run reads (see vaekit.datasets.folder)."""
        return self.path / "manifest.json"

    @property
    def tensorboard(self) -> Path:
        """TensorBoard logs (``train.tensorboard: true``)."""
        return self.path / "tensorboard"

    @property
    def bad_files(self) -> Path:
        return self.path / "bad_files.txt"

    @property
    def cache(self) -> Path:
        """Decoded images of a folder data set with ``data.cache: true`` (uint8 memory maps)."""
        return self.path / "cache"

    def state(self) -> RunState:
        """The folder's metrics, checkpoints and model, read now (a damaged metrics table raises
        :class:`~vaekit.errors.DataError`)."""
        return RunState(
            tuple(read_metrics(self.metrics)),
            tuple(list_checkpoints(self.checkpoints)),
            self.model.exists(),
        )

    def newest_checkpoint(self) -> Path | None:
        """The newest checkpoint file, or None."""
        return newest_checkpoint(self.checkpoints)

    def remove_files(self) -> None:
        """Remove what a run writes (:data:`RUN_FILES`, :data:`RUN_FOLDERS`), nothing else."""
        for name in RUN_FILES:
            (self.path / name).unlink(missing_ok=True)
        for name in RUN_FOLDERS:
            shutil.rmtree(self.path / name, ignore_errors=True)

    @classmethod
    def existing(cls, path: str | Path) -> RunFolder:
        """A folder that must already hold a run (its config.yaml)."""
        run = cls(Path(path))
        if not run.config.is_file():
            raise VaekitError(f"{run.path}: not a vaekit run folder (no config.yaml)")
        return run


def default_run_dir(config_path: str | Path | None) -> Path:
    """``runs/<config name>-<date-time>``."""
    stem = Path(config_path).stem if config_path else "run"
    return Path("runs") / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"


def open_run(path: str | Path) -> tuple[RunFolder, Config, Path]:
    """A run folder to read, its config, and the model file to use, which the config agrees with.

    The model file is ``model.keras``, or the newest checkpoint when training did not finish or
    ``model.keras`` is damaged (with a warning naming both). ``config.yaml`` is checked against
    it (:func:`~vaekit.runs.agreement.check_agreement`) before anything else is read.

    Raises:
        VaekitError: not a run folder, an unreadable or hand-changed ``config.yaml``, or no model
            file to use.
    """
    run = RunFolder.existing(path)
    config = Config.load(run.config)
    source, header = _model_file(run)
    check_agreement(run.config, config, header, source)
    return run, config, source


def _model_file(run: RunFolder) -> tuple[Path, dict]:
    """``(path, header)`` of the model file a command reading ``run`` uses."""
    damaged = None
    if run.model.exists():
        try:
            return run.model, read_model_header(run.model)
        except ModelFileError as error:
            damaged = error
    for checkpoint in reversed(list_checkpoints(run.checkpoints)):
        try:
            header = read_model_header(checkpoint)
            read_state(checkpoint)
        except ModelFileError as error:
            warnings.warn(f"skipping damaged checkpoint: {error}", stacklevel=3)
            continue
        if damaged is not None:
            epochs = checkpoint_position(checkpoint)[0]
            warnings.warn(
                f"{damaged}; using the newest checkpoint, {checkpoint.name} (after "
                f"{plural(epochs, 'epoch')}), instead; vaekit train --resume {run.path} writes "
                "model.keras again",
                stacklevel=3,
            )
        return checkpoint, header
    if damaged is not None:
        raise ModelFileError(f"{damaged}; and there is no complete checkpoint to use instead")
    raise VaekitError(f"{run.path}: holds neither model.keras nor a complete checkpoint")


def load_run_model(run: RunFolder, source: Path | None = None) -> VariationalAutoencoder:
    """The run's model from ``source`` (default: what :func:`open_run` chooses)."""
    source = source or _model_file(run)[0]
    return VariationalAutoencoder.from_keras_model(load_model(source))


def readable(path: Path) -> bool:
    """Whether a model file is whole (its archive's members pass their CRC checks)."""
    try:
        read_model_header(path)
    except ModelFileError:
        return False
    return True
