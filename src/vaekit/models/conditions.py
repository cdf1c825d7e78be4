"""A conditional model's labels: where they come from, their levels, and their checks.

A conditional VAE (``model.conditional: true``) takes, beside each image, an integer label row
(B, F) that enters its encoder and decoder one-hot (:class:`~vaekit.models.layers.OneHotLabels`):

- ``model.condition: class``: one column, the class (F = 1), from an image set's ``labels``
  (class folders, MNIST's digits, an ``.npz``'s ``y``; the shape of ``shapes``);
- ``model.condition: factors``: every ground-truth factor (F = 5 on ``shapes``, 6 on
  ``shapes_color``), from an image set's ``factors``.

``model.condition_levels`` holds how many values each column takes; :func:`levels_from_data`
reads it off the data when a run starts, and the run's ``config.yaml`` keeps it.

Example:
    >>> from vaekit.config import ModelConfig
    >>> config = ModelConfig(conditional=True, condition_levels=[10])
    >>> check_labels(3, config, count=2).tolist()  # one label for every image
    [[3], [3]]
    >>> check_labels([1, 12], config, count=2)
    Traceback (most recent call last):
    ...
    vaekit.errors.DataError: labels: got 12 in column 0, but the model knows 10 classes (0 to 9)
"""

from __future__ import annotations

import numpy as np

from vaekit.errors import ConfigError, DataError


def _classes(labels) -> np.ndarray:
    """Class labels (N,) from (N,) integers or (N, C) one-hot rows."""
    labels = np.asarray(labels)
    return labels.argmax(axis=1) if labels.ndim == 2 else labels


def labels_of(images, config) -> np.ndarray | None:
    """The label rows (N, F) int32 an image set carries for ``config`` (a ModelConfig), or None
    when it has none of that kind."""
    if config.condition == "factors":
        factors = getattr(images, "factors", None)
        return None if factors is None else np.asarray(factors.values, np.int32)
    labels = getattr(images, "labels", None)
    return None if labels is None else _classes(labels).astype(np.int32).reshape(-1, 1)


def levels_from_data(train, test, config, dataset: str) -> list[int]:
    """``model.condition_levels`` as the data has them; raises a ``ConfigError`` naming the
    data set when it has no labels of the kind ``model.condition`` asks for."""
    if config.condition == "factors":
        factors = getattr(train, "factors", None)
        if factors is None:
            raise ConfigError(
                f"model.condition: factors, but {dataset} has no ground-truth factors (shapes "
                "and shapes_color have them); use model.condition=class, or a set with factors"
            )
        return list(factors.levels)
    found = [labels_of(images, config) for images in (train, test)]
    found = [labels for labels in found if labels is not None and len(labels)]
    if not found:
        raise ConfigError(
            f"model.conditional: {dataset} has no labels (its images are in one folder, or "
            "data.labels is none); a conditional model trains on labelled images: class "
            "folders, data.labels=FILE.csv, or a labelled set (mnist, fashion_mnist, shapes)"
        )
    return [int(max(int(labels.max()) for labels in found)) + 1]


def check_levels(config, levels: list[int], dataset: str) -> None:
    """Refuse a ``model.condition_levels`` given in the config that the data contradicts."""
    given = config.condition_levels
    if given is not None and list(given) != list(levels):
        raise ConfigError(
            f"model.condition_levels: got {list(given)}, but {dataset} has {list(levels)}; "
            "leave it out (null) to read it from the data"
        )


def check_labels(labels, config, count: int, what: str = "labels") -> np.ndarray:
    """Label rows (count, F) int32 for a conditional model, checked against its levels.

    A class model (F = 1) takes one class for all (an integer), (count,) classes or (count, C)
    one-hot rows; a factors model one row for all (F integers) or (count, F) rows.
    """
    levels = list(config.condition_levels or [])
    width = len(levels)
    array = np.asarray(labels)
    if width == 1 and array.ndim == 2 and array.shape[1] == levels[0] > 1:
        array = array.argmax(axis=1)  # one-hot classes
    if (width == 1 and array.ndim == 0) or (width > 1 and array.shape == (width,)):
        array = np.broadcast_to(array.reshape(1, -1), (count, width))  # one label for all
    elif width == 1 and array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.shape != (count, width):
        shape = f"({count},) classes" if width == 1 else f"({count}, {width}) factor levels"
        raise DataError(
            f"{what}: got labels of shape {tuple(np.shape(labels))} for {count} images; "
            f"expected {shape}, or one label for all"
        )
    if array.dtype == bool or not (
        np.issubdtype(array.dtype, np.integer) or np.all(np.mod(array, 1) == 0)
    ):
        raise DataError(f"{what}: expected integer labels, got {array.dtype} values")
    array = array.astype(np.int64)
    for column, level in enumerate(levels):
        values = array[:, column]
        bad = values[(values < 0) | (values >= level)]
        if len(bad):
            known = "classes" if config.condition == "class" else f"levels of factor {column}"
            raise DataError(
                f"{what}: got {int(bad[0])} in column {column}, but the model knows {level} "
                f"{known} (0 to {level - 1})"
            )
    return array.astype(np.int32)


def cycle(config, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` label rows: the first column's values in turn (each class in turn), the other
    columns drawn uniformly at random."""
    levels = list(config.condition_levels)
    rows = np.empty((count, len(levels)), np.int32)
    rows[:, 0] = np.arange(count) % levels[0]
    for column, level in enumerate(levels[1:], start=1):
        rows[:, column] = rng.integers(level, size=count)
    return rows


def first_label_name(config, images) -> str:
    """What a conditional model's first label column is, in words: "class", or the first
    factor's name (of the image set ``images``)."""
    factors = getattr(images, "factors", None)
    return factors.names[0] if config.condition == "factors" and factors else "class"


def parse_label(text: str, config, factor_names=None, class_names=None) -> dict[int, int]:
    """``vaekit generate --label``: ``{column: value}`` of the columns it fixes.

    A class model takes a class number or name (``3``, ``cat``); a factors model takes
    ``NAME=LEVEL`` pairs (``shape=2,scale=5``; a shape's name also works), or one number, the
    first factor's level.

    >>> from vaekit.config import ModelConfig
    >>> config = ModelConfig(conditional=True, condition="factors", condition_levels=[3, 6])
    >>> parse_label("scale=5", config, factor_names=("shape", "scale"))
    {1: 5}
    """
    levels = list(config.condition_levels or [])
    names = list(factor_names or [])
    text = text.strip()
    pairs = [part.split("=", 1) for part in text.split(",")] if "=" in text else [["", text]]
    fixed = {}
    for name, value in pairs:
        name, value = name.strip(), value.strip()
        if name:
            if config.condition != "factors" or name not in names:
                valid = ", ".join(names) if config.condition == "factors" else "none"
                raise DataError(f"--label {text}: no factor {name!r}; factors: {valid}")
            column = names.index(name)
        else:
            column = 0
        number = _label_value(value, class_names if column == 0 else None)
        if number is None or not 0 <= number < levels[column]:
            shown = names[column] if config.condition == "factors" and names else "class"
            choices = f"0 to {levels[column] - 1}"
            if column == 0 and class_names:
                choices += f", or one of {', '.join(class_names)}"
            raise DataError(f"--label {text}: {shown} {value!r} is not one of {choices}")
        fixed[column] = number
    return fixed


def _label_value(value: str, class_names) -> int | None:
    if value.lstrip("-").isdigit():
        return int(value)
    if class_names and value in class_names:
        return list(class_names).index(value)
    return None
