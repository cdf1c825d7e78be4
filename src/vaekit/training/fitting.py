"""One ``fit`` of a run into its folder: the callbacks, the fit, then the final model.

:func:`fit_run` is what a new run, a resumed one and the Python API's
:func:`~vaekit.training.run.train_model` share once the model and data are ready. The final
``model.keras`` records where training stood beside the model (``training_state.json``,
:func:`~vaekit.runs.checkpoints.write_state`), so a run whose checkpoints are gone can continue.

Example:
    >>> progress_bar("auto"), progress_bar(0)
    (1, 0)
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import keras

from vaekit import distribute
from vaekit.config import Config
from vaekit.errors import StorageError
from vaekit.io import atomic_path
from vaekit.models.vae import VariationalAutoencoder
from vaekit.runs.checkpoints import training_state, write_state
from vaekit.runs.data import Data
from vaekit.runs.folder import RunFolder
from vaekit.training import tensorboard
from vaekit.training.callbacks import KLSchedule, MetricsLog
from vaekit.training.checkpoints import Checkpointer
from vaekit.training.failures import diverged_hint
from vaekit.training.guards import NonFiniteGuard, SignalStop

# What a caller draws once the model is saved: finish(vae, run, test_images, classes, seed,
# verbose), on process 0 (vaekit.report.finish_run: the plots and report.html).
Finish = Callable[[VariationalAutoencoder, RunFolder, object, "list[str] | None", int, int], None]


def save_config(config: Config, run: RunFolder) -> None:
    """Write ``config.yaml``, without the settings of one process of a spread run (its id, the
    others' count and address: a resume gives them again)."""
    saved = copy.deepcopy(config)
    saved.train.coordinator_address = saved.train.num_processes = saved.train.process_id = None
    saved.save(run.config)


def fit_run(
    vae: VariationalAutoencoder,
    config: Config,
    run: RunFolder,
    data: Data,
    position=(0, 0),
    rows=(),
    state=None,
    verbose="auto",
    extra_callbacks=(),
    new_run=False,
    finish: Finish | None = None,
) -> RunFolder:
    """Train ``vae`` from ``position`` (``(epoch, steps)``) to ``train.epochs``, then write the
    final model (:func:`finish_training`).

    Args:
        rows: the metrics rows kept from before ``position``.
        state: the training state of the checkpoint resumed, if any.
        extra_callbacks: Keras callbacks of the caller's, run after vaekit's (process 0 only).
        new_run: whether the run began in this call (a divergence before its first checkpoint
            then leaves nothing).
    """
    placement = distribute.active()
    callbacks, shared = _callbacks(vae, config, run, data, position, rows, state, new_run)
    if not placement.chief:  # only process 0 writes; every process keeps the schedule and guard
        callbacks, verbose = shared, 0  # (restore: all join)
    else:
        distribute.on_lost(f"continue with: vaekit train --resume {run.path} on every process")
        callbacks += list(extra_callbacks)
    try:
        vae.fit(
            data.train,
            batch_size=config.train.batch_size,
            epochs=config.train.epochs,
            initial_epoch=position[0],
            initial_step=position[1],
            validation_data=data.validation,
            callbacks=callbacks,
            shuffle=config.train.shuffle,
            seed=config.train.seed,
            verbose=verbose,
            binarize_seed=config.train.seed if config.data.binarize == "dynamic" else None,
        )
        return finish_training(vae, run, data, config, verbose, finish=finish)
    except StorageError as error:
        newest = run.newest_checkpoint()
        kept = f"the newest complete checkpoint is {newest}" if newest else "no checkpoint yet"
        raise StorageError(
            f"{error}; {kept}; once there is space, continue with: vaekit train --resume {run.path}"
        ) from error
    except Exception as error:
        distribute.check_lost(error)  # a collective failed: another process is gone
        raise


def _callbacks(vae, config: Config, run: RunFolder, data: Data, position, rows, state, new_run):
    """``(callbacks, shared)``: vaekit's callbacks of a fit, in the order they must run, and
    those the processes of a spread run other than process 0 keep (each joins the assignments
    they make: the KL weight, the learning rate, a restored metric state)."""
    mid_epoch = position[1] > 0
    placement = distribute.active()
    checkpointer = Checkpointer(
        run.checkpoints,
        keep=config.train.keep_checkpoints,
        every_steps=config.train.checkpoint_every_steps,
        initial_position=position,
        state=state if mid_epoch else None,
        config=config.to_dict(),
        write=placement.chief,
    )
    lower = f"{config.train.learning_rate / 10:g}"
    guard = NonFiniteGuard(
        hint=diverged_hint(config),
        last_good=run.newest_checkpoint,
        initial_position=position,
        resume=f"vaekit train --resume {run.path} --set train.learning_rate={lower}",
        # train() removes a new run's files when it diverges before its first checkpoint
        nothing_kept="no checkpoint had been written"
        + (", so nothing was kept" if new_run else ""),
    )
    carried = state.get("epoch_seconds", 0.0) if mid_epoch and state else 0.0
    # Order matters: the guard raises before anything saves NaN weights, the metrics row is
    # written before the epoch's checkpoint, and the signal stop uses the checkpointer's position.
    train = config.train
    schedule = KLSchedule(
        vae.model.kl_scale_variable,
        train.kl_schedule,
        train.epochs,
        train.kl_warmup_epochs,
        train.kl_cycles,
        train.kl_ramp,
    )
    callbacks = [
        schedule,  # first: the epoch's KL weight is set before its first step
        guard,
        MetricsLog(run.metrics, rows, carried),
        checkpointer,
        SignalStop(checkpointer),
    ]
    decaying = []
    if train.lr_decay != 1.0:  # step decay: a function of the epoch alone, so resumes agree
        rate, decay = train.learning_rate, train.lr_decay
        decaying = [keras.callbacks.LearningRateScheduler(lambda e: rate * decay**e)]
    callbacks[1:1] = decaying
    if train.tensorboard:
        every = train.tensorboard_images_every
        callbacks += tensorboard.callbacks(
            run.tensorboard, vae, data.test, every, train.epochs, train.seed,
            images=placement.cluster.num_processes == 1,  # a prediction of process 0 alone
        )  # fmt: skip
    return callbacks, [schedule, *decaying, guard, checkpointer]


def finish_training(
    vae,
    run: RunFolder,
    data: Data,
    config: Config,
    verbose=0,
    epochs_done: int | None = None,
    finish: Finish | None = None,
) -> RunFolder:
    """Write the final model (with where training stood, so the run can continue from it); then,
    on process 0, ``finish`` draws from it (the plots and the report, for the CLI)."""
    placement = distribute.active()
    if placement.chief:
        state = training_state(
            config.train.epochs if epochs_done is None else epochs_done, config=config.to_dict()
        )
        with distribute.alone():
            _save_final(vae, run.model, state)
    if placement.distributed:
        # What finish draws is process 0's alone: from the saved model, on one device.
        distribute.release()
        if placement.chief:
            vae = VariationalAutoencoder.load(run.model)
    if placement.chief and finish is not None:
        finish(vae, run, data.test, data.source.classes, config.train.seed, progress_bar(verbose))
    distribute.barrier("vaekit: the run folder is written", placement)
    return run


def _save_final(vae: VariationalAutoencoder, path, state: dict) -> None:
    """``vae.save(path)``, with the training ``state`` beside the model in its archive."""
    try:
        with atomic_path(path) as temporary:
            vae.save(temporary)  # atomically too: its own temporary file, renamed onto this one
            write_state(temporary, state)
    except StorageError as error:  # vae.save names its temporary file: name the model instead
        cause = error.__cause__
        raise StorageError(
            f"{path}: cannot write ({getattr(cause, 'strerror', None) or cause})"
        ) from cause


def progress_bar(verbose) -> int:
    """Keras's ``verbose`` (0, 1, 2 or "auto") as a progress bar's: 1 shows one."""
    return 0 if verbose in (0, "0") else 1
