"""Continuing a run from its newest complete checkpoint, exactly.

The checkpoint may sit inside an epoch (step checkpoints, or a stop on SIGINT/SIGTERM): the run
then continues at the next step with that epoch's data order, noise and running metrics, so its
``metrics.csv`` equals that of a run that never stopped. What may change on resume is
:data:`~vaekit.runs.agreement.RESUMABLE`; the rest must agree with the checkpoint.

Example:
    >>> resume("no/such/run")
    Traceback (most recent call last):
    ...
    vaekit.errors.VaekitError: no/such/run: not a vaekit run folder (no config.yaml)
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

import keras

from vaekit import distribute
from vaekit.backends import check_steps_per_call, is_out_of_memory, native_optimizer
from vaekit.config import Config
from vaekit.errors import ConfigError, ModelFileError, OutOfMemory, VaekitError, plural
from vaekit.models.saving import load_model, read_model_header
from vaekit.models.vae import VariationalAutoencoder
from vaekit.runs.agreement import check_agreement, check_epoch_boundary, check_resume_overrides
from vaekit.runs.checkpoints import (
    checkpoint_position,
    find_state,
    latest_checkpoint,
    list_checkpoints,
    read_state,
)
from vaekit.runs.data import check_batch_size, check_batches, load_data, record_source
from vaekit.runs.folder import RunFolder, readable
from vaekit.runs.lock import RunLock
from vaekit.runs.metrics import read_metrics
from vaekit.training.compiling import compile_vae, prepare_devices, recompile
from vaekit.training.device import DeviceSettings
from vaekit.training.failures import out_of_memory_message
from vaekit.training.fitting import Finish, finish_training, fit_run, save_config
from vaekit.training.preflight import check_training_memory


def resume(
    path: str | Path, overrides=(), verbose="auto", finish: Finish | None = None
) -> RunFolder:
    """Continue a run from its newest complete checkpoint (``overrides`` may change the settings
    of :data:`~vaekit.runs.agreement.RESUMABLE`).

    The checkpoint may sit inside an epoch (step checkpoints, or a stop on SIGINT/SIGTERM): the
    run then continues at the next step with that epoch's data order, noise and running metrics,
    so its ``metrics.csv`` equals that of a run that never stopped. A run killed before its first
    checkpoint starts again from the beginning. A run whose checkpoints are gone continues from
    its final ``model.keras``, which records where training stood; one that has trained but holds
    nothing to continue from is refused, and its folder left as it was. ``config.yaml`` must agree
    with the checkpoint (:func:`~vaekit.runs.agreement.check_agreement`).
    """
    run = RunFolder.existing(path)
    saved = Config.load(run.config)
    config = Config.load(run.config, overrides)
    check_resume_overrides(saved, config)
    check_steps_per_call(config.train.steps_per_execution)
    check_batch_size(config)  # the last batch's size is checked with the data
    check_training_memory(config)
    chief = distribute.find_cluster(config.train).process_id == 0
    with RunLock(run.path, "vaekit train --resume") if chief else contextlib.nullcontext():
        try:
            return _resume(run, saved, config, verbose, finish)
        except Exception as error:
            if not is_out_of_memory(error):
                raise
            message = out_of_memory_message(error, run, config, new_run=False)
            raise OutOfMemory(message) from None


def _resume(run: RunFolder, saved: Config, config: Config, verbose, finish) -> RunFolder:
    settings = prepare_devices(config)  # before the checkpoint loads
    config = settings.resolve(config)
    with settings.placement.scope():  # a tf.distribute strategy's variables
        return _resume_placed(run, saved, config, settings, verbose, finish)


def _resume_placed(
    run: RunFolder, saved: Config, config: Config, settings: DeviceSettings, verbose, finish
) -> RunFolder:
    chief = settings.placement.chief
    checkpoint, model = latest_checkpoint(run.checkpoints, load_model)
    if checkpoint is None and list_checkpoints(run.checkpoints):
        raise VaekitError(
            f"{run.checkpoints}: none of the {len(list_checkpoints(run.checkpoints))} "
            "checkpoints loads (see the warnings above); move them away to train again from "
            "epoch 1"
        )
    if checkpoint is None:
        checkpoint, model = _final_model_to_continue(run)
    if checkpoint is None:  # killed before its first checkpoint: nothing was trained
        data = load_data(config, run=run)
        check_batches(config, data, resumed=True)
        vae = compile_vae(config, settings, len(data.train))
        if chief:
            record_source(run, data)
            save_config(config, run)
        return fit_run(vae, config, run, data, verbose=verbose, finish=finish)
    header = read_model_header(checkpoint)
    check_agreement(run.config, saved, header, checkpoint)
    state = read_state(checkpoint)
    if checkpoint == run.model:
        position = (int(state["epochs_done"]), 0)
    else:
        position = checkpoint_position(checkpoint)
    check_epoch_boundary(saved, config, checkpoint, position[1])
    finished = position[0] >= config.train.epochs
    if finished and (checkpoint == run.model or readable(run.model)):
        raise ConfigError(
            f"train.epochs: got {config.train.epochs}, but the run has already "
            f"done {plural(position[0], 'epoch')}; pass --set train.epochs=N with N > "
            f"{position[0]} to continue"
        )
    data = load_data(config, first_step=0 if finished else position[1], run=run)
    if not finished:
        check_batches(config, data, resumed=True)
    vae = VariationalAutoencoder.from_keras_model(model)
    if finished:  # stopped after its last checkpoint: only the final files are missing
        if run.model.exists():
            warnings.warn(
                f"{run.model}: damaged; writing it again from {checkpoint.name}", stacklevel=3
            )
        return finish_training(vae, run, data, config, epochs_done=position[0], finish=finish)
    rows = read_metrics(run.metrics, up_to_epoch=position[0])  # before anything is written
    _note_other_backend(header, checkpoint)
    optimizer = native_optimizer(model.optimizer, model.trainable_variables)
    optimizer.learning_rate = config.train.learning_rate  # a --set on resume applies
    recompile(vae, config, settings, optimizer=optimizer)
    if chief:
        save_config(config, run)
    return fit_run(vae, config, run, data, position, rows, state, verbose, finish=finish)


def _note_other_backend(header: dict, checkpoint: Path) -> None:
    """Warn when a checkpoint was written on another Keras backend than this one."""
    written_on = (header.get("config") or {}).get("versions", {}).get("backend")
    here = keras.backend.backend()
    if written_on and written_on != here:
        warnings.warn(
            f"{checkpoint.name} was written on the {written_on} backend; resuming on {here} "
            "keeps its weights and optimizer state, but each backend draws other random numbers "
            f"from the same seed state, so the run will not match one resumed on {written_on}",
            stacklevel=4,
        )


def _final_model_to_continue(run: RunFolder):
    """``(model.keras, its model)`` when a run without checkpoints can continue from its final
    model; ``(None, None)`` when the run never trained. A run that trained but left nothing to
    continue from is an error, before anything in the folder changes."""
    epochs = len(read_metrics(run.metrics))
    if not run.model.exists():
        if epochs == 0:
            return None, None
        raise VaekitError(
            f"{run.path}: {run.metrics.name} records {plural(epochs, 'epoch')}, but there is no "
            f"checkpoint in {run.checkpoints.name}/ and no model.keras to continue from; "
            f"nothing was changed. Restore the checkpoints, or train a new run: vaekit train "
            f"--config {run.config} --out NEW_RUN_DIR"
        )
    keep = (
        f"nothing was changed (training again from epoch 1 would overwrite it). Restore the "
        f"checkpoints, or train a new run: vaekit train --config {run.config} --out NEW_RUN_DIR"
    )
    try:
        read_model_header(run.model)
        state = find_state(run.model)
    except ModelFileError as error:
        raise VaekitError(
            f"{run.path}: no checkpoint in {run.checkpoints.name}/ to resume from, and {error}; "
            f"{keep}"
        ) from None
    if state is None or "epochs_done" not in state:
        raise VaekitError(
            f"{run.path}: no checkpoint in {run.checkpoints.name}/ to resume from; its finished "
            f"model.keras was written by a vaekit that did not record where training stood "
            f"({plural(epochs, 'epoch')} in {run.metrics.name}); {keep}"
        )
    warnings.warn(
        f"{run.checkpoints}: no checkpoint; continuing from {run.model.name} (after "
        f"{plural(int(state['epochs_done']), 'epoch')})",
        stacklevel=4,
    )
    return run.model, load_model(run.model)
