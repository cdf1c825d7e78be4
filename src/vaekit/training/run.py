"""Training runs: train and resume.

A run folder, what it holds and reading it are :mod:`vaekit.runs`' (its files
:mod:`vaekit.runs.folder`, the images it uses :mod:`vaekit.runs.data`); the plots and the report
are drawn by the ``finish`` a caller passes (the CLI's is :func:`vaekit.report.finish_run`).

Everything the user can get wrong (config, data, backend, folder) is checked before the folder is
made (:mod:`~vaekit.training.preflight`), and one process writes into a folder at a time. A write
that fails (a full disk) stops with a :class:`~vaekit.errors.StorageError` that names the file and
how to resume. The model a run trains is :func:`~vaekit.training.compiling.compile_vae`'s; one
``fit`` and the final model are :mod:`~vaekit.training.fitting`'s; continuing a run is
:mod:`~vaekit.training.resume`'s.

Example:
    >>> from vaekit.config import Config
    >>> config = Config.from_dict({"data": {"limit": 256}, "train": {"epochs": 1}})
    >>> run = train(config, "/tmp/vaekit-doctest-run", verbose=0)  # doctest: +SKIP
    >>> run.model.exists()  # doctest: +SKIP
    True
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from vaekit import distribute
from vaekit.backends import check_steps_per_call, is_out_of_memory
from vaekit.config import Config
from vaekit.errors import ConfigError, OutOfMemory, TrainingDiverged
from vaekit.models.vae import VariationalAutoencoder
from vaekit.runs.data import cached, check_batches, load_data, record_source, split_data
from vaekit.runs.folder import RunFolder, default_run_dir, load_run_model, open_run
from vaekit.runs.lock import RunLock
from vaekit.runs.metrics import read_metrics
from vaekit.training import tensorboard
from vaekit.training.compiling import compile_vae, prepare_devices
from vaekit.training.device import DeviceSettings
from vaekit.training.failures import out_of_memory_message
from vaekit.training.fitting import Finish, fit_run, progress_bar, save_config
from vaekit.training.preflight import (
    check_training_disk,
    check_training_memory,
    refuse_existing,
    refuse_existing_run,
)
from vaekit.training.resume import resume

# The training runs' API, with the folder, data and device functions it is made of.
__all__ = [
    "DeviceSettings", "Finish", "RunFolder", "check_training_disk", "check_training_memory",
    "compile_vae", "default_run_dir", "load_data", "load_run_model", "open_run",
    "prepare_devices", "read_metrics", "refuse_existing", "resume", "train", "train_model",
]  # fmt: skip


def train(
    config: Config, out: str | Path, verbose="auto", finish: Finish | None = None
) -> RunFolder:
    """Train a new run into folder ``out`` (which must not hold a run yet); then ``finish`` draws
    what the caller wants drawn (:data:`Finish`).

    The folder is locked while training (:class:`~vaekit.runs.lock.RunLock`); ``precision:
    auto`` is resolved (in a copy: ``config`` is left as it is), and ``config.yaml`` records the
    choice.
    """
    run = RunFolder(Path(out))
    # Spread over several processes, process 0 alone writes the folder (vaekit.distribute).
    chief = distribute.find_cluster(config.train).process_id == 0
    if chief:
        refuse_existing_run(run)
    check_steps_per_call(config.train.steps_per_execution)
    if config.train.tensorboard:
        tensorboard.check()
    # Mistakes in the data, before anything is written.
    data = load_data(config, verbose=progress_bar(verbose) if chief else 0)
    check_batches(config, data)
    check_training_memory(config)
    if chief:
        check_training_disk(config, run, data)
    with RunLock(run.path, "vaekit train") if chief else contextlib.nullcontext():
        if chief:
            refuse_existing_run(run, locked=True)  # also one another process began meanwhile
        try:
            settings = prepare_devices(config)
            config = settings.resolve(config)  # config.yaml records the precision chosen
            vae = compile_vae(config, settings, len(data.train))
            if chief:
                record_source(run, data)
                if config.data.cache:  # the other processes read the images themselves
                    data = split_data(config, cached(config, run, data.source))
                save_config(config, run)
            return fit_run(vae, config, run, data, verbose=verbose, new_run=True, finish=finish)
        except TrainingDiverged:
            if chief and run.newest_checkpoint() is None:
                run.remove_files()  # nothing of worth: the same command can run again
            raise
        except Exception as error:
            if not is_out_of_memory(error):
                raise
            message = out_of_memory_message(error, run, config, new_run=True)
            raise OutOfMemory(message) from None


def train_model(
    vae: VariationalAutoencoder,
    config: Config,
    out: str | Path,
    initial_epoch: int = 0,
    callbacks=(),
    verbose="auto",
    finish: Finish | None = None,
) -> RunFolder:
    """Train a compiled VAE built in Python, from its current weights, into run folder ``out``.

    The Python API's way to a run folder (:mod:`vaekit.compat.gdl` trains the book's class with
    it): ``config`` describes the run (its model section is ``vae``'s config), and ``out`` gets
    what ``vaekit train`` writes (config.yaml, metrics.csv, checkpoints, model.keras; the plots and
    report where ``finish`` draws them), so every command reads it. A folder may hold other
    files, but not a run, unless ``initial_epoch`` > 0: then the run goes on from that epoch with
    the model's weights and optimizer as they are (metrics.csv keeps its rows up to there), as
    the book continues a run with ``initial_epoch``; ``vaekit train --resume`` continues one
    exactly, from its checkpoint. ``callbacks`` are Keras callbacks of the caller's, run after
    vaekit's.
    """
    run = RunFolder(Path(out))
    if initial_epoch > 0 and run.config.exists():
        saved = Config.load(run.config)
        if saved.model != config.model:
            raise ConfigError(
                f"{run.path}: holds a run of another model (its config.yaml differs in the model "
                "section); continue it with that model, or choose another folder"
            )
    elif initial_epoch == 0:
        refuse_existing_run(run)
    data = load_data(config)
    check_batches(config, data)
    with RunLock(run.path, "vaekit train"):
        if initial_epoch == 0:
            refuse_existing_run(run, locked=True)
        record_source(run, data)
        save_config(config, run)
        rows = read_metrics(run.metrics, up_to_epoch=initial_epoch) if initial_epoch else ()
        position = (initial_epoch, 0)
        return fit_run(vae, config, run, data, position, rows, verbose=verbose,
                       extra_callbacks=callbacks, finish=finish)  # fmt: skip
