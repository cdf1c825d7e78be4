"""The images a run trains and evaluates on: the data set of its config, its split into training,
validation and test, the folder cache, static binarization, and what the run records of it."""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass

import numpy as np

from vaekit import datasets, distribute
from vaekit.config import Config
from vaekit.datasets import ArrayImages, FileImages, Images
from vaekit.datasets.binarize import HELD_OUT_STREAM, TEST_STREAM, TRAIN_STREAM, binarize_static
from vaekit.datasets.folder import Manifest
from vaekit.datasets.images import cache_to_memmap
from vaekit.datasets.pipeline import batch_sizes, check_steps_per_execution
from vaekit.errors import (
    ConfigError,
    DataError,
    plural,
    printable,
)
from vaekit.models import conditions
from vaekit.models.divergences import DIVERGENCES
from vaekit.runs.folder import RunFolder


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
        max_pixels=data.max_image_pixels,
    )
    if run is not None:
        source = cached(config, run, source)
    return split_data(config, source, first_step)


def split_data(config: Config, source: datasets.ImageData, first_step: int = 0) -> Data:
    """Apply ``data.limit`` and ``data.validation`` to a source; check it fits the training.

    A conditional model's ``model.condition_levels`` is read off the source where the config
    leaves it out, and checked against the source where it gives it.
    """
    data = config.data
    if config.model.conditional:
        _check_labelled(config, source)
        levels = conditions.levels_from_data(source.train, source.test, config.model, data.dataset)
        conditions.check_levels(config.model, levels, data.dataset)
        config.model.condition_levels = levels
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


def _check_labelled(config: Config, source: datasets.ImageData) -> None:
    """Refuse a conditional model on a data set that labels one split but not the other: it
    validates, plots and evaluates on the test images, with their labels."""
    found = {
        split: conditions.labels_of(images, config.model) is not None
        for split, images in (("train", source.train), ("test", source.test))
    }
    if all(found.values()) or not any(found.values()):  # none: levels_from_data says so
        return
    has, lacks = ("train", "test") if found["train"] else ("test", "train")
    name = config.data.dataset
    what = "factors" if config.model.condition == "factors" else "labels"
    if str(name).lower().endswith(".npz"):
        raise DataError(
            f"{name}: has y_{has} but no y_{lacks}; a conditional model (model.conditional true) "
            f"needs the class of every image, the {lacks} images' too: add y_{lacks} to the .npz "
            f"(one integer class per x_{lacks} image), or set model.conditional=false"
        )
    raise DataError(
        f"{name}: its {has} images have {what} but its {lacks} images have none; a conditional "
        f"model (model.conditional true) needs them for every image; set model.conditional=false, "
        "or use a data set labelled throughout"
    )


def check_batch_size(config: Config) -> None:
    """Refuse a ``train.batch_size`` below what ``train.divergence`` can use, from the config
    alone (:func:`split_data` also checks each epoch's last, smaller batch)."""
    divergence = DIVERGENCES[config.train.divergence]
    batch = config.train.batch_size
    if batch < divergence.smallest_batch:
        raise ConfigError(
            f"train.batch_size: got {batch}, but train.divergence {config.train.divergence} "
            f"needs batches of at least {divergence.smallest_batch} images ({divergence.why}); "
            f"use train.batch_size >= {divergence.smallest_batch}"
        )


def _fits(count: int | None, batch_size: int, smallest: int) -> bool:
    return count is None or min(batch_sizes(count, batch_size)) >= smallest


def _nearest(fits, start: int, low: int, high: int) -> list[int]:
    """The nearest values below and above ``start`` within [low, high] for which ``fits``."""
    below = next((v for v in range(start - 1, low - 1, -1) if fits(v)), None)
    above = next((v for v in range(start + 1, high + 1) if fits(v)), None)
    return [v for v in (below, above) if v is not None]


def _counts(config: Config, source: datasets.ImageData, limit: int | None):
    """``(training, validation or None)`` image counts :func:`split_data` makes with
    ``data.limit`` set to ``limit``."""
    data = config.data
    train, test = (len(images) for images in (source.train, source.test))
    if limit is not None:
        train, test = min(limit, train), min(limit, test)
    if data.train_on == "train+test":
        train += test
    if data.validation == "none":
        return train, None
    if data.validation == "test":
        return train, test
    held = max(1, round(train * data.validation))
    return train - held, held


def check_batches(config: Config, data: Data, resumed: bool = False) -> None:
    """Refuse, before training, batches smaller than ``train.divergence`` can use: a
    ``train.batch_size`` below it, or one that leaves an epoch's last batch (training or
    validation; the pipeline keeps it) below it, naming the batch sizes and (unless ``resumed``:
    a resumed run keeps its data) ``data.limit`` values that would do."""
    check_batch_size(config)
    source, train = data.source, len(data.train)
    validation = None if data.validation is None else len(data.validation)
    divergence = DIVERGENCES[config.train.divergence]
    smallest, batch = divergence.smallest_batch, config.train.batch_size
    if _fits(train, batch, smallest) and _fits(validation, batch, smallest):
        return
    name = f"train.divergence {config.train.divergence}"
    need = f"{name} needs batches of at least {smallest} images ({divergence.why})"
    if validation is not None and validation < smallest:
        raise ConfigError(
            f"data.validation: {plural(validation, 'validation image')} (data.validation "
            f"{config.data.validation}), but {need}; validate on more images, or set "
            "data.validation=none"
        )
    per_execution = config.train.steps_per_execution

    def batch_fits(size: int) -> bool:
        steps = -(-train // size)
        return (
            _fits(train, size, smallest)
            and _fits(validation, size, smallest)
            and steps % per_execution == 0
        )

    what, count = ("training", train)
    if _fits(train, batch, smallest):
        what, count = "validation", validation
    options = []
    sizes = _nearest(batch_fits, batch, smallest, train)
    if sizes:
        options.append(f"train.batch_size {' or '.join(map(str, sizes))}")
    limit = config.data.limit
    if limit is not None and not resumed:
        largest = max(len(source.train), len(source.test))

        def limit_fits(value: int) -> bool:
            counts = _counts(config, source, value)
            steps = -(-counts[0] // batch)
            return (
                counts[0] >= batch
                and all(_fits(count, batch, smallest) for count in counts)
                and steps % per_execution == 0
            )

        limits = _nearest(limit_fits, min(limit, largest), 1, min(largest, limit + batch))
        if limits:
            options.append(f"data.limit {' or '.join(map(str, limits))}")
    if what == "validation" and config.data.validation != "none" and not resumed:
        options.append("data.validation none")
    raise ConfigError(
        f"train.batch_size: got {batch}, which leaves the {count} {what} images a last batch "
        f"of {plural(min(batch_sizes(count, batch)), 'image')}, but {need}; use "
        f"{', or '.join(options)}"
    )


def check_evaluation_batches(config: Config, count: int, batch_size: int, given: bool) -> None:
    """Refuse batches an evaluation's training loss cannot use: ``count`` images in batches of
    ``batch_size`` (``given``: by ``--batch-size``, else the run's ``train.batch_size``) whose
    smallest is below what the run's ``train.divergence`` needs."""
    divergence = DIVERGENCES[config.train.divergence]
    smallest = divergence.smallest_batch
    if _fits(count, batch_size, smallest):
        return
    need = (
        f"this run's train.divergence {config.train.divergence} needs batches of at least "
        f"{smallest} images for its training loss ({divergence.why})"
    )
    if count < smallest:
        raise ConfigError(
            f"--limit: {plural(count, 'image')}, but {need}; use --limit >= {smallest}"
        )
    shown = f"got {batch_size}" if given else f"{batch_size} (train.batch_size, the default)"
    if batch_size < smallest:
        raise ConfigError(f"--batch-size: {shown}, but {need}; use --batch-size >= {smallest}")
    sizes = _nearest(lambda size: _fits(count, size, smallest), batch_size, smallest, count)
    counts = _nearest(lambda n: _fits(n, batch_size, smallest), count, smallest, count)
    options = [f"--batch-size {' or '.join(map(str, sizes))}"]
    if counts:
        options.append(f"--limit {counts[0]}")
    raise ConfigError(
        f"--batch-size: {shown} leaves the {count} images a last batch of "
        f"{plural(min(batch_sizes(count, batch_size)), 'image')}, but {need}; use "
        f"{', or '.join(options)}"
    )


def _concatenate(train: Images, test: Images, name: str) -> Images:
    """Training and test images as one training set (``data.train_on: train+test``)."""
    if not (isinstance(train, ArrayImages) and isinstance(test, ArrayImages)):
        raise ConfigError(
            f"data.train_on: train+test needs a data set held in memory (mnist, fashion_mnist, "
            f"shapes, an .npz); {name} is read from files"
        )
    labels = factors = None
    if train.labels is not None and test.labels is not None:
        labels = np.concatenate([train.labels, test.labels])
    if train.factors is not None and test.factors is not None:
        factors = dataclasses.replace(
            train.factors, values=np.concatenate([train.factors.values, test.factors.values])
        )
    return ArrayImages(np.concatenate([train.array, test.array]), labels=labels, factors=factors)


def cached(config: Config, run: RunFolder, source: datasets.ImageData) -> datasets.ImageData:
    """With ``data.cache``, a folder's images decoded once into memory maps in ``run.cache``."""
    if not config.data.cache or not isinstance(source.train, FileImages):
        return source
    if not distribute.find_cluster(config.train).process_id == 0:
        return source  # only process 0 writes the run folder; the others decode the files
    run.cache.mkdir(exist_ok=True)
    return dataclasses.replace(
        source,
        train=cache_to_memmap(source.train, run.cache / "train.u8"),
        test=cache_to_memmap(source.test, run.cache / "test.u8"),
    )


def _first(images: Images, limit: int | None) -> Images:
    return images if limit is None or limit >= len(images) else images.subset(slice(0, limit))


def record_source(run: RunFolder, data: Data) -> None:
    """Keep a folder data set's manifest in the run, and report the files it left out."""
    manifest = data.source.manifest
    if manifest is None or run.manifest.exists():
        return
    manifest.save(run.manifest)
    if manifest.bad:
        manifest.write_bad_files(run.bad_files)
        path, why = manifest.bad[0]
        warnings.warn(
            f"{printable(manifest.root)}: skipped {plural(len(manifest.bad), 'bad file')} "
            f"(first: {printable(path)}: {why}); the list is in {run.bad_files}",
            stacklevel=3,
        )
