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
from vaekit.datasets.pipeline import check_steps_per_execution
from vaekit.errors import (
    ConfigError,
    DataError,
    plural,
    printable,
)
from vaekit.models import conditions
from vaekit.training.folder import RunFolder


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
