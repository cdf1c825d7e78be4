"""Training runs: train and resume.

A run folder, what it holds and reading it are :mod:`vaekit.runs`' (its files
:mod:`vaekit.runs.folder`, the images it uses :mod:`vaekit.runs.data`); the plots and samples are
:mod:`vaekit.report.figures`' (the names are re-exported here).

Everything the user can get wrong (config, data, backend, folder) is checked before the folder is
made, and one process writes into a folder at a time. A write that fails (a full disk) stops with a
:class:`~vaekit.errors.StorageError` that names the file and how to resume.

Example:
    >>> from vaekit.config import Config
    >>> config = Config.from_dict({"data": {"limit": 256}, "train": {"epochs": 1}})
    >>> run = train(config, "/tmp/vaekit-doctest-run", verbose=0)  # doctest: +SKIP
    >>> sorted(p.name for p in run.plots.iterdir())  # doctest: +SKIP
    ['latent_space.png', 'loss.png', 'manifold.png', 'reconstructions.png', 'samples.png']
"""

from __future__ import annotations

import contextlib
import copy
import math
import warnings
from collections.abc import Callable
from pathlib import Path

import keras

from vaekit import backends, distribute, resources
from vaekit.backends import check_steps_per_call, is_out_of_memory, native_optimizer
from vaekit.config import Config
from vaekit.datasets import FileImages
from vaekit.errors import (
    ConfigError,
    ModelFileError,
    OutOfMemory,
    StorageError,
    TrainingDiverged,
    VaekitError,
    one_line,
    plural,
)
from vaekit.models.objective import Objective
from vaekit.models.saving import load_model, read_model_header
from vaekit.models.vae import VariationalAutoencoder
from vaekit.runs.agreement import check_agreement, check_epoch_boundary, check_resume_overrides
from vaekit.runs.checkpoints import (
    checkpoint_position,
    latest_checkpoint,
    list_checkpoints,
    read_state,
    training_state,
)
from vaekit.runs.data import (
    Data,
    cached,
    check_batch_size,
    check_batches,
    load_data,
    record_source,
    split_data,
)
from vaekit.runs.folder import RunFolder, default_run_dir, load_run_model, open_run, readable
from vaekit.runs.lock import RunLock
from vaekit.runs.metrics import read_metrics
from vaekit.training import tensorboard
from vaekit.training.callbacks import KLSchedule, MetricsLog
from vaekit.training.checkpoints import Checkpointer
from vaekit.training.device import configure
from vaekit.training.guards import NonFiniteGuard, SignalStop

# The training runs' API, with the folder, data and figure functions it is made of.
__all__ = [
    "Finish", "RunFolder", "build_vae", "default_run_dir", "load_data", "load_run_model",
    "open_run", "prepare_devices", "read_metrics", "resume", "train", "train_model",
]  # fmt: skip


# What a caller draws once the model is saved: finish(vae, run, test_images, classes, seed,
# verbose), on process 0 (vaekit.report.finish_run: the plots and report.html).
Finish = Callable[[VariationalAutoencoder, RunFolder, object, "list[str] | None", int, int], None]


def prepare_devices(config: Config) -> dict:
    """Apply ``train``'s device settings and resolve ``precision: auto`` in ``config``.

    Call it before any tensor exists (building or loading a model): TensorFlow fixes its devices
    and thread pools when its runtime starts. Returns :func:`~vaekit.training.device.configure`'s
    settings.
    """
    settings = configure(config.train)
    config.train.precision = settings["precision"]
    return settings


def build_vae(
    config: Config, settings: dict | None = None, dataset_size: int = 0
) -> VariationalAutoencoder:
    """A compiled VAE for ``config``, built under ``train.precision``, seeded by ``train.seed``.

    Args:
        config: the run's config; ``precision: auto`` is resolved in it.
        settings: what :func:`prepare_devices` returned, if it ran already.
        dataset_size: the training images (what ``train.divergence beta_tc`` needs).
    """
    settings = settings or prepare_devices(config)
    backends.set_random_seed(config.train.seed)
    with _dtype_policy(config.train.precision), settings["placement"].scope():
        vae = VariationalAutoencoder.from_config(
            config.model, objective=Objective.from_config(config, dataset_size)
        )
        _compile(vae, config, settings)
    return vae


def _compile(vae: VariationalAutoencoder, config: Config, settings: dict, optimizer=None) -> None:
    kwargs = {
        "jit_compile": settings["jit_compile"],
        "steps_per_execution": config.train.steps_per_execution,
    }
    if optimizer is not None:
        kwargs["optimizer"] = optimizer
    vae.compile(learning_rate=config.train.learning_rate, **kwargs)


@contextlib.contextmanager
def _dtype_policy(name: str):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def train(
    config: Config, out: str | Path, verbose="auto", finish: Finish | None = None
) -> RunFolder:
    """Train a new run into folder ``out`` (which must not hold a run yet); then ``finish`` draws
    what the caller wants drawn (:data:`Finish`).

    The folder is locked while training (:class:`~vaekit.runs.lock.RunLock`); ``config``'s
    ``precision: auto`` is resolved, and ``config.yaml`` records the choice.
    """
    run = RunFolder(Path(out))
    # Spread over several processes, process 0 alone writes the folder (vaekit.distribute).
    chief = distribute.find_cluster(config.train).process_id == 0
    if chief:
        _refuse_existing(run)
    check_steps_per_call(config.train.steps_per_execution)
    if config.train.tensorboard:
        tensorboard.check()
    data = load_data(config, verbose=_bar(verbose) if chief else 0)  # mistakes before writing
    check_batches(config, data)
    check_training_memory(config)
    if chief:
        check_training_disk(config, run, data)
    with RunLock(run.path, "vaekit train") if chief else contextlib.nullcontext():
        if chief:
            _refuse_existing(run, locked=True)  # also one another process began meanwhile
        try:
            vae = build_vae(config, dataset_size=len(data.train))
            if chief:
                record_source(run, data)
                if config.data.cache:  # the other processes read the images themselves
                    data = split_data(config, cached(config, run, data.source))
                _save_config(config, run)
            return _fit(vae, config, run, data, verbose=verbose, new_run=True, finish=finish)
        except TrainingDiverged:
            if chief and run.newest_checkpoint() is None:
                run.remove_files()  # nothing of worth: the same command can run again
            raise
        except Exception as error:
            if not is_out_of_memory(error):
                raise
            raise OutOfMemory(_out_of_memory(error, run, config, new_run=True)) from None


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
        _refuse_existing(run)
    data = load_data(config)
    check_batches(config, data)
    with RunLock(run.path, "vaekit train"):
        if initial_epoch == 0:
            _refuse_existing(run, locked=True)
        record_source(run, data)
        _save_config(config, run)
        rows = read_metrics(run.metrics, up_to_epoch=initial_epoch) if initial_epoch else ()
        position = (initial_epoch, 0)
        return _fit(vae, config, run, data, position, rows, verbose=verbose,
                    extra_callbacks=callbacks, finish=finish)  # fmt: skip


def refuse_existing(path: str | Path) -> None:
    """Raise a ``VaekitError`` if folder ``path`` holds a run (one that trained), as
    ``vaekit train --out`` does."""
    _refuse_existing(RunFolder(Path(path)))


def _save_config(config: Config, run: RunFolder) -> None:
    """Write ``config.yaml``, without the settings of one process of a spread run (its id, the
    others' count and address: a resume gives them again)."""
    saved = copy.deepcopy(config)
    saved.train.coordinator_address = saved.train.num_processes = saved.train.process_id = None
    saved.save(run.config)


def _training_estimate(config: Config) -> resources.Estimate:
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
    estimate = _training_estimate(config)
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


def _out_of_memory(error: BaseException, run: RunFolder, config: Config, new_run: bool) -> str:
    """The message of a real out-of-memory error in training; a new run that had not written a
    checkpoint yet is removed, so the same command can run again with a smaller setting."""
    detail = one_line(error) if str(error) else type(error).__name__
    detail = detail.split(" and type ")[0][:160]  # TensorFlow's message goes on for a while
    # What the memory goes to, largest first by the estimate: the settings to lower.
    settings = ["train.batch_size"]
    if config.train.iw_samples > 1:
        settings.append("train.iw_samples")
    if config.model.prior == "vamp":
        settings.append("model.pseudo_inputs")
    largest = _training_estimate(config).setting()
    if largest in settings:
        settings.remove(largest)
        settings.insert(0, largest)
    newest = run.newest_checkpoint()
    if newest is not None and largest == "train.batch_size":
        kept = (
            f"the newest checkpoint is {newest}; continue with a smaller batch: vaekit train "
            f"--resume {run.path} --set train.batch_size=N"
        )
    elif newest is not None:
        kept = (
            f"the newest checkpoint is {newest}; a resumed run keeps {largest}, so train a new "
            "run with a smaller one"
        )
    elif new_run:
        run.remove_files()
        kept = "nothing was kept (no checkpoint had been written)"
    else:
        kept = "no checkpoint had been written"
    return (
        f"out of memory while training ({detail}); lower {', '.join(settings)} or the model's "
        f"size (model.z_dim, the filters, model.input_dim); {kept}"
    )


def _diverged_hint(config: Config) -> str:
    """What to try after a NaN or infinite loss: the settings of this run that can make one
    (the KL weight that its loss convention uses, not the other), and no others."""
    train, model = config.train, config.model
    new_run = []
    if train.precision == "mixed_float16":
        new_run.append("train.precision mixed_bfloat16 or float32 (float16 overflows past 65504)")
    if model.likelihood == "gaussian" and model.gaussian_sigma == "learned":
        new_run.append("a fixed model.gaussian_sigma (a learned sigma can shrink to 0)")
    if train.loss_convention == "reference":
        weight, value = "model.kl_factor", model.kl_factor
    else:
        weight, value = "train.beta", train.beta
    if value > 0:
        new_run.append(f"a lower {weight} (now {value:g})")
    if train.divergence == "mmd" and train.mmd_weight > 0:
        new_run.append(f"a lower train.mmd_weight (now {train.mmd_weight:g})")
    hint = f"try a lower train.learning_rate (now {train.learning_rate:g})"
    return hint + (f", or, in a new run, {' or '.join(new_run)}" if new_run else "")


def _refuse_existing(run: RunFolder, locked: bool = False) -> None:
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
            raise OutOfMemory(_out_of_memory(error, run, config, new_run=False)) from None


def _resume(run: RunFolder, saved: Config, config: Config, verbose, finish) -> RunFolder:
    settings = prepare_devices(config)  # before the checkpoint loads
    with settings["placement"].scope():  # a tf.distribute strategy's variables
        return _resume_placed(run, saved, config, settings, verbose, finish)


def _resume_placed(
    run: RunFolder, saved: Config, config: Config, settings, verbose, finish
) -> RunFolder:
    chief = settings["placement"].chief
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
        vae = build_vae(config, settings, len(data.train))
        if chief:
            record_source(run, data)
            _save_config(config, run)
        return _fit(vae, config, run, data, verbose=verbose, finish=finish)
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
        return _finish(vae, run, data, config, epochs_done=position[0], finish=finish)
    rows = read_metrics(run.metrics, up_to_epoch=position[0])  # before anything is written
    _note_other_backend(header, checkpoint)
    optimizer = native_optimizer(model.optimizer, model.trainable_variables)
    optimizer.learning_rate = config.train.learning_rate  # a --set on resume applies
    _compile(vae, config, settings, optimizer=optimizer)
    if chief:
        _save_config(config, run)
    return _fit(vae, config, run, data, position, rows, state, verbose, finish=finish)


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
        header = read_model_header(run.model)
    except ModelFileError as error:
        raise VaekitError(
            f"{run.path}: no checkpoint in {run.checkpoints.name}/ to resume from, and {error}; "
            f"{keep}"
        ) from None
    state = (header.get("config") or {}).get("training_state")
    if not isinstance(state, dict) or "epochs_done" not in state:
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


def _fit(
    vae,
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
        hint=_diverged_hint(config),
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
    if not placement.chief:  # only process 0 writes; every process keeps the schedule and guard
        callbacks, verbose = [schedule, *decaying, guard, checkpointer], 0  # (restore: all join)
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
        return _finish(vae, run, data, config, verbose, finish=finish)
    except StorageError as error:
        newest = run.newest_checkpoint()
        kept = f"the newest complete checkpoint is {newest}" if newest else "no checkpoint yet"
        raise StorageError(
            f"{error}; {kept}; once there is space, continue with: vaekit train --resume {run.path}"
        ) from error
    except Exception as error:
        distribute.check_lost(error)  # a collective failed: another process is gone
        raise


def _finish(
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
        vae.model.training_state = training_state(
            config.train.epochs if epochs_done is None else epochs_done, config=config.to_dict()
        )
        try:
            with distribute.alone():
                vae.save(run.model)
        finally:
            vae.model.training_state = None
    if placement.distributed:
        # What finish draws is process 0's alone: from the saved model, on one device.
        distribute.release()
        if placement.chief:
            vae = VariationalAutoencoder.load(run.model)
    if placement.chief and finish is not None:
        finish(vae, run, data.test, data.source.classes, config.train.seed, _bar(verbose))
    distribute.barrier("vaekit: the run folder is written", placement)
    return run


def _bar(verbose) -> int:
    """Keras's ``verbose`` (0, 1, 2 or "auto") as a progress bar's: 1 shows one."""
    return 0 if verbose in (0, "0") else 1
