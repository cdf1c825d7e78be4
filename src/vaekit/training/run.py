"""Training runs and their folders: train, resume, evaluate, plot, generate.

A run folder holds::

    config.yaml        the fully resolved configuration
    model.keras        the final model (with its config and versions)
    checkpoints/       the newest checkpoints, with optimizer state (vaekit.training.checkpoints)
    metrics.csv        a row per epoch: epoch, loss, bce, kl, val_loss, val_bce, val_kl, seconds
    plots/             latent_space.png, reconstructions.png, samples.png, manifold.png, loss.png
    .vaekit.lock       while a command writes into the folder (vaekit.training.lock)

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
import dataclasses
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from vaekit import datasets, plots, report
from vaekit.config import Config
from vaekit.datasets import ArrayImages, FileImages, Images
from vaekit.datasets.binarize import HELD_OUT_STREAM, TEST_STREAM, TRAIN_STREAM, binarize_static
from vaekit.datasets.folder import Manifest
from vaekit.datasets.images import cache_to_memmap
from vaekit.datasets.pipeline import check_steps_per_execution
from vaekit.errors import ConfigError, DataError, StorageError, VaekitError
from vaekit.models.objective import Objective
from vaekit.models.saving import load_model
from vaekit.models.strategies import check_backend
from vaekit.models.vae import VariationalAutoencoder
from vaekit.training import tensorboard
from vaekit.training.callbacks import KLSchedule, MetricsLog, read_metrics
from vaekit.training.checkpoints import (
    Checkpointer,
    checkpoint_position,
    latest_checkpoint,
    list_checkpoints,
    read_state,
)
from vaekit.training.device import configure
from vaekit.training.guards import NonFiniteGuard, SignalStop
from vaekit.training.lock import RunLock


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

    @classmethod
    def existing(cls, path: str | Path) -> RunFolder:
        """A folder that must already hold a run (its config.yaml)."""
        run = cls(Path(path))
        if not run.config.is_file():
            raise VaekitError(f"{run.path}: not a vaekit run folder (no config.yaml)")
        return run


@dataclass
class Data:
    """The images a run uses: training, validation (or None) and test, and their source."""

    train: Images
    validation: Images | None
    test: Images
    source: datasets.ImageData


def load_data(
    config: Config, first_step: int = 0, run: RunFolder | None = None, verbose: int = 0
) -> Data:
    """Open and check the configured data set against the model and the batch size.

    Args:
        config: the run's config.
        first_step: steps of the first epoch already done (a mid-epoch resume).
        run: an existing run, whose manifest (a folder data set) says which files to read.
        verbose: 1 shows a progress bar while a folder's files are checked.
    """
    manifest = None
    if run is not None and run.manifest.is_file():
        manifest = Manifest.read(run.manifest)
        for note in manifest.verify():
            warnings.warn(note, stacklevel=2)
    data = config.data
    source = datasets.open_images(
        data.dataset,
        tuple(config.model.input_dim),
        resize=data.resize,
        test_split=data.test_split,
        labels=data.labels,
        on_bad_file=data.on_bad_file,
        manifest=manifest,
        verbose=verbose,
    )
    if run is not None:
        source = _cached(config, run, source)
    return _split(config, source, first_step)


def _split(config: Config, source: datasets.ImageData, first_step: int = 0) -> Data:
    """Apply ``data.limit`` and ``data.validation`` to a source; check it fits the training."""
    data = config.data
    train, test = (_first(images, data.limit) for images in (source.train, source.test))
    if data.train_on == "train+test":
        train = _concatenate(train, test, data.dataset)
    expected = tuple(config.model.input_dim)
    if train.shape != expected:
        raise DataError(
            f"{data.dataset}: images have shape {train.shape}, "
            f"but model.input_dim is {list(expected)}; make them agree"
        )
    validation = {"test": test, "none": None}.get(data.validation)
    if isinstance(data.validation, float):
        held_out = max(1, round(len(train) * data.validation))
        if held_out >= len(train):
            raise ConfigError(
                f"data.validation: got {data.validation}, which leaves no training images"
            )
        train, validation = (
            train.subset(slice(0, len(train) - held_out)),
            train.subset(slice(len(train) - held_out, len(train))),
        )
    if config.train.batch_size > len(train):
        raise ConfigError(
            f"train.batch_size: got {config.train.batch_size}, larger than the "
            f"{len(train)} training images; use at most {len(train)}"
        )
    check_steps_per_execution(
        len(train), config.train.batch_size, config.train.steps_per_execution, first_step
    )
    if data.binarize != "none":
        # Validation and test: one fixed sample each; training: fixed (static) or drawn per batch.
        seed = config.train.seed
        test = binarize_static(test, seed, TEST_STREAM)
        if data.validation == "test":
            validation = test
        elif validation is not None:  # held out of the training images
            validation = binarize_static(validation, seed, HELD_OUT_STREAM)
        if data.binarize == "static":
            train = binarize_static(train, seed, TRAIN_STREAM)
    return Data(train, validation, test, source)


def _concatenate(train: Images, test: Images, name: str) -> Images:
    """Training and test images as one training set (``data.train_on: train+test``)."""
    if not (isinstance(train, ArrayImages) and isinstance(test, ArrayImages)):
        raise ConfigError(
            f"data.train_on: train+test needs a data set held in memory (mnist, fashion_mnist, "
            f"shapes, an .npz); {name} is read from files"
        )
    labels = None
    if train.labels is not None and test.labels is not None:
        labels = np.concatenate([train.labels, test.labels])
    return ArrayImages(np.concatenate([train.array, test.array]), labels=labels)


def _cached(config: Config, run: RunFolder, source: datasets.ImageData) -> datasets.ImageData:
    """With ``data.cache``, a folder's images decoded once into memory maps in ``run.cache``."""
    if not config.data.cache or not isinstance(source.train, FileImages):
        return source
    run.cache.mkdir(exist_ok=True)
    return dataclasses.replace(
        source,
        train=cache_to_memmap(source.train, run.cache / "train.u8"),
        test=cache_to_memmap(source.test, run.cache / "test.u8"),
    )


def _first(images: Images, limit: int | None) -> Images:
    return images if limit is None or limit >= len(images) else images.subset(slice(0, limit))


def _record_source(run: RunFolder, data: Data) -> None:
    """Keep a folder data set's manifest in the run, and report the files it left out."""
    manifest = data.source.manifest
    if manifest is None or run.manifest.exists():
        return
    manifest.save(run.manifest)
    if manifest.bad:
        manifest.write_bad_files(run.bad_files)
        path, why = manifest.bad[0]
        warnings.warn(
            f"{manifest.root}: skipped {len(manifest.bad)} bad files (first: {path}: {why}); "
            f"the list is in {run.bad_files}",
            stacklevel=3,
        )


def default_run_dir(config_path: str | Path | None) -> Path:
    """``runs/<config name>-<date-time>``."""
    stem = Path(config_path).stem if config_path else "run"
    return Path("runs") / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"


def prepare_devices(config: Config) -> dict:
    """Apply ``train``'s device settings and resolve ``precision: auto`` in ``config``.

    Call it before any tensor exists (building or loading a model): TensorFlow fixes its devices
    and thread pools when its runtime starts. Returns :func:`~vaekit.training.device.configure`'s
    settings.
    """
    settings = configure(config.train)
    config.train.precision = settings["precision"]
    return settings


def build_vae(config: Config, settings: dict | None = None) -> VariationalAutoencoder:
    """A compiled VAE for ``config``, built under ``train.precision``, seeded by ``train.seed``.

    Args:
        config: the run's config; ``precision: auto`` is resolved in it.
        settings: what :func:`prepare_devices` returned, if it ran already.
    """
    settings = settings or prepare_devices(config)
    keras.utils.set_random_seed(config.train.seed)
    with _dtype_policy(config.train.precision):
        vae = VariationalAutoencoder.from_config(
            config.model, objective=Objective.from_config(config)
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


def train(config: Config, out: str | Path, verbose="auto") -> RunFolder:
    """Train a new run into folder ``out`` (which must not hold a run yet).

    The folder is locked while training (:class:`~vaekit.training.lock.RunLock`); ``config``'s
    ``precision: auto`` is resolved, and ``config.yaml`` records the choice.
    """
    run = RunFolder(Path(out))
    _refuse_existing(run)
    check_backend(config.model.kl_strategy)
    if config.train.tensorboard:
        tensorboard.check()
    data = load_data(config, verbose=_bar(verbose))  # user mistakes surface before writing
    with RunLock(run.path, "vaekit train"):
        _refuse_existing(run)  # a run another process finished while this one loaded its data
        vae = build_vae(config)
        _record_source(run, data)
        if config.data.cache:
            data = _split(config, _cached(config, run, data.source))
        config.save(run.config)
        return _fit(vae, config, run, data, verbose=verbose)


def _refuse_existing(run: RunFolder) -> None:
    if run.config.exists():
        raise VaekitError(
            f"{run.path}: already holds a run; continue it with --resume "
            f"{run.path}, or choose another --out"
        )


# The train.* settings that make up the objective: fixed for the life of a run.
OBJECTIVE_KEYS = (
    "loss_convention",
    "beta",
    "kl_schedule",
    "kl_warmup_epochs",
    "kl_cycles",
    "kl_ramp",
    "free_bits",
    "iw_samples",
)


def resume(path: str | Path, overrides=(), verbose="auto") -> RunFolder:
    """Continue a run from its newest complete checkpoint (``overrides`` may change ``train.*``).

    The checkpoint may sit inside an epoch (step checkpoints, or a stop on SIGINT/SIGTERM): the
    run then continues at the next step with that epoch's data order, noise and running metrics,
    so its ``metrics.csv`` equals that of a run that never stopped. A run killed before its first
    checkpoint starts again from the beginning.
    """
    run = RunFolder.existing(path)
    saved = Config.load(run.config)
    config = Config.load(run.config, overrides)
    if config.model != saved.model or config.data != saved.data:
        raise ConfigError("--set: only train.* settings can change when resuming a run")
    for key in OBJECTIVE_KEYS:
        if getattr(config.train, key) != getattr(saved.train, key):
            raise ConfigError(
                f"train.{key}: a resumed run keeps the objective it was trained with "
                f"({getattr(saved.train, key)!r})"
            )
    if config.train.precision != saved.train.precision:
        raise ConfigError(
            f"train.precision: a resumed run keeps the precision it was trained in "
            f"({saved.train.precision})"
        )
    check_backend(config.model.kl_strategy)
    with RunLock(run.path, "vaekit train --resume"):
        return _resume(run, config, verbose)


def _resume(run: RunFolder, config: Config, verbose) -> RunFolder:
    settings = prepare_devices(config)  # before the checkpoint loads
    checkpoint, model = latest_checkpoint(run.checkpoints, load_model)
    if checkpoint is None and list_checkpoints(run.checkpoints):
        raise VaekitError(
            f"{run.checkpoints}: none of the {len(list_checkpoints(run.checkpoints))} "
            "checkpoints loads (see the warnings above); move them away to train again from "
            "epoch 1"
        )
    if checkpoint is None:
        warnings.warn(
            f"{run.checkpoints}: no complete checkpoint yet; training again from epoch 1",
            stacklevel=3,
        )
        data = load_data(config, run=run)
        vae = build_vae(config, settings)
        _record_source(run, data)
        config.save(run.config)
        return _fit(vae, config, run, data, verbose=verbose)
    position = checkpoint_position(checkpoint)
    finished = position[0] >= config.train.epochs
    if finished and run.model.exists():
        raise ConfigError(
            f"train.epochs: got {config.train.epochs}, but the run has already "
            f"done {position[0]} epochs; pass --set train.epochs=N with N > "
            f"{position[0]} to continue"
        )
    data = load_data(config, first_step=0 if finished else position[1], run=run)
    vae = VariationalAutoencoder.from_keras_model(model)
    if finished:  # stopped after its last checkpoint: only the final files are missing
        return _finish(vae, run, data, config)
    model.optimizer.learning_rate = config.train.learning_rate  # a --set on resume applies
    _compile(vae, config, settings, optimizer=model.optimizer)
    config.save(run.config)
    rows = read_metrics(run.metrics, up_to_epoch=position[0])
    return _fit(vae, config, run, data, position, rows, read_state(checkpoint), verbose)


def _fit(
    vae,
    config: Config,
    run: RunFolder,
    data: Data,
    position=(0, 0),
    rows=(),
    state=None,
    verbose="auto",
) -> RunFolder:
    mid_epoch = position[1] > 0
    checkpointer = Checkpointer(
        run.checkpoints,
        keep=config.train.keep_checkpoints,
        every_steps=config.train.checkpoint_every_steps,
        initial_position=position,
        state=state if mid_epoch else None,
    )
    guard = NonFiniteGuard(
        hint=f"try a lower train.learning_rate (now {config.train.learning_rate:g}; resume with "
        f"--set train.learning_rate=...) or a new run with a lower model.kl_factor (now "
        f"{config.model.kl_factor:g})",
        last_good=lambda: (list_checkpoints(run.checkpoints) or [None])[-1],
        initial_position=position,
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
    if train.tensorboard:
        every = train.tensorboard_images_every
        callbacks += tensorboard.callbacks(
            run.tensorboard, vae, data.test, every, train.epochs, train.seed
        )
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
        return _finish(vae, run, data, config, verbose)
    except StorageError as error:
        newest = (list_checkpoints(run.checkpoints) or [None])[-1]
        kept = f"the newest complete checkpoint is {newest}" if newest else "no checkpoint yet"
        raise StorageError(
            f"{error}; {kept}; once there is space, continue with: vaekit train --resume {run.path}"
        ) from error


def _finish(vae, run: RunFolder, data: Data, config: Config, verbose=0) -> RunFolder:
    """Write the final model, the plots and the report."""
    vae.save(run.model)
    write_plots(vae, run, data.test, config.train.seed, data.source.classes, _bar(verbose))
    report.write_run_report(vae, run, data.test, data.source.classes, verbose=_bar(verbose))
    return run


def _bar(verbose) -> int:
    """Keras's ``verbose`` (0, 1, 2 or "auto") as a progress bar's: 1 shows one."""
    return 0 if verbose in (0, "0") else 1


def write_plots(
    vae,
    run: RunFolder,
    test: Images,
    seed: int = 0,
    classes: list[str] | None = None,
    verbose: int = 0,
) -> list[Path]:
    """Draw every plot of a run into ``run.plots``; returns the files written.

    The latent space shows the first 10,000 test images, encoded a batch at a time (so memory does
    not depend on the image size); with ``z_dim`` above 2 the latent traversals replace the
    manifold. ``verbose=1`` shows Keras's progress bar, a plot at a time.
    """
    sample = test.subset(slice(0, min(len(test), 10_000)))
    folder = run.plots
    mu, log_var = vae.posterior(sample, batch_size=64)  # small batches: a low peak of memory
    kl = np.mean(0.5 * (mu**2 + np.exp(log_var) - log_var - 1.0), axis=0)  # per dimension
    originals = sample.take(np.linspace(0, len(sample) - 1, min(10, len(sample))).astype(int))
    rows = read_metrics(run.metrics)
    # Pairs of test images far apart in the set (often of different classes).
    pairs = min(6, len(sample) // 2)
    first = np.arange(pairs) * (len(sample) // (2 * max(pairs, 1)))
    second = first + len(sample) // 2
    steps = {  # file name -> how to draw it (None: this run has nothing to draw there)
        "latent_space.png": lambda path: plots.plot_latent_space(mu, sample.labels, path, classes),
        "reconstructions.png": lambda path: plots.plot_reconstructions(
            originals, vae.reconstruct(originals), path
        ),
        "samples.png": lambda path: plots.plot_samples(vae.generate(64, seed=seed), path),
        "manifold.png": (lambda path: plots.plot_manifold(vae.decode, path))
        if vae.config.z_dim == 2
        else None,
        "traversals.png": (lambda path: plots.plot_traversals(vae.decode, mu[0], kl, path))
        if vae.config.z_dim != 2
        else None,
        "kl_per_dimension.png": lambda path: plots.plot_kl_per_dimension(
            kl, path, active=plots.active_units(mu)
        ),
        "interpolations.png": (
            lambda path: plots.plot_interpolations(
                vae.decode,
                mu[first],
                mu[second],
                path,
                originals=np.stack([sample.take(first), sample.take(second)], axis=1),
            )
        )
        if pairs
        else None,
        "loss.png": (lambda path: plots.plot_loss(rows, path)) if rows else None,
        # Runs from before the negative ELBO was logged have no curve of it.
        "nelbo.png": (lambda path: plots.plot_nelbo(rows, path))
        if any(row.get("nelbo") is not None for row in rows)
        else None,
    }
    steps = {name: draw for name, draw in steps.items() if draw is not None}
    bar = keras.utils.Progbar(len(steps), verbose=verbose, unit_name="plot")
    written = []
    for name, draw in steps.items():
        draw(folder / name)
        written.append(folder / name)
        bar.add(1)
    return written


def load_run_model(run: RunFolder) -> VariationalAutoencoder:
    """The run's final model, or its newest checkpoint when training did not finish."""
    if run.model.exists():
        return VariationalAutoencoder.load(run.model)
    checkpoint, model = latest_checkpoint(run.checkpoints, load_model)
    if checkpoint is None:
        raise VaekitError(f"{run.path}: holds neither model.keras nor a complete checkpoint")
    return VariationalAutoencoder.from_keras_model(model)  # loaded once, not again


def plot(path: str | Path, verbose: int = 0) -> list[Path]:
    """Redraw a run's plots from its model and metrics (the folder is locked meanwhile)."""
    run = RunFolder.existing(path)
    config = Config.load(run.config)
    data = load_data(config, run=run, verbose=verbose)
    with RunLock(run.path, "vaekit plot"):
        return write_plots(
            load_run_model(run), run, data.test, config.train.seed, data.source.classes, verbose
        )


def generate(path: str | Path, n: int, out: str | Path, seed: int | None = None) -> Path:
    """Decode ``n`` samples of ``z ~ N(0, I)`` from a run's model into an image grid."""
    if n < 1:
        raise VaekitError(f"-n: got {n}, expected an integer >= 1")
    run = RunFolder.existing(path)
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise VaekitError(f"--out {out}: cannot create its folder ({error.strerror})") from None
    vae = load_run_model(run)
    plots.plot_samples(vae.generate(n, seed=seed), out)
    return out
