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

import re

import numpy as np

from vaekit.errors import ConfigError, DataError, plural


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
    data set when it has no labels of the kind ``model.condition`` asks for, and a
    ``DataError`` naming the labels' array where a label is negative, or so large that there
    would be more classes than labelled images (a label is a one-hot position)."""
    if config.condition == "factors":
        factors = getattr(train, "factors", None)
        if factors is None:
            raise ConfigError(
                f"model.condition: factors, but {dataset} has no ground-truth factors (shapes "
                "and shapes_color have them); use model.condition=class, or a set with factors"
            )
        return list(factors.levels)
    found = {
        split: labels_of(images, config) for split, images in (("train", train), ("test", test))
    }
    found = {split: rows for split, rows in found.items() if rows is not None and len(rows)}
    for split, rows in found.items():
        if rows.min() < 0:  # a class is a one-hot position: 0, 1, ...
            where = np.flatnonzero(rows[:, 0] < 0)
            highest = max(int(labels.max()) for labels in found.values())
            valid = f"0 to {highest}" if highest >= 0 else "0, 1, ..."
            raise DataError(
                f"{_label_array(dataset, split)}: got {int(rows[where[0], 0])} at index "
                f"{int(where[0])} ({plural(len(where), 'negative label')}); class labels are "
                f"integers from 0 (here {valid}), one class each"
            )
    if not found:
        raise ConfigError(
            f"model.conditional: {dataset} has no labels (its images are in one folder, or "
            "data.labels is none); a conditional model trains on labelled images: class "
            "folders, data.labels=FILE.csv, or a labelled set (mnist, fashion_mnist, shapes)"
        )
    highest = max(int(labels.max()) for labels in found.values())
    count = sum(len(rows) for rows in found.values())
    if highest + 1 > count:  # more classes than labelled images: numbers, not positions
        split = max(found, key=lambda name: int(found[name].max()))
        raise DataError(
            f"{_label_array(dataset, split)}: got {highest:,} at index "
            f"{int(np.argmax(found[split][:, 0]))}, which makes {highest + 1:,} classes for "
            f"{plural(count, 'labelled image')}; class labels are numbered 0, 1, 2, ... "
            "(renumber them, e.g. with numpy.unique(y, return_inverse=True))"
        )
    return [highest + 1]


def _label_array(dataset: str, split: str) -> str:
    """Where a data set's labels of ``split`` come from, in words: an .npz's ``y_train``."""
    if str(dataset).lower().endswith(".npz"):
        return f"{dataset} [y_{split}]"
    return f"{dataset}: the {split} labels"


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

    A class model takes one class: its name (``cat``; a class folder's name) or its number, the
    position in the sorted class names (``3``). A name wins over a number: with class folders
    ``1``, ``2``, ``3``, ``--label 2`` is folder ``2``; a number that is no class's name, where
    classes are named by numbers, is refused as ambiguous, naming both meanings. A factors model
    takes ``NAME=LEVEL`` pairs, each factor once (``shape=2,scale=5``; a shape's name also
    works), or one number or shape name, the first factor's level.

    >>> from vaekit.config import ModelConfig
    >>> config = ModelConfig(conditional=True, condition="factors", condition_levels=[3, 6])
    >>> parse_label("scale=5", config, factor_names=("shape", "scale"))
    {1: 5}
    >>> folders = ModelConfig(conditional=True, condition_levels=[3])
    >>> parse_label("2", folders, class_names=["1", "2", "3"])  # the folder named 2
    {0: 1}
    >>> try:
    ...     parse_label("0", folders, class_names=["1", "2", "3"])
    ... except DataError as error:
    ...     print(error)
    --label 0: ambiguous: no class is named '0', but class number 0 (in sorted order) is the
    class named '1'; write the class's name, e.g. --label 1 (classes: 1, 2, 3)
    """
    levels = list(config.condition_levels or [])
    names = list(factor_names or [])
    classes = [str(name) for name in class_names] if class_names else None
    shown_text = text
    text = text.strip()
    if not text:
        raise DataError(f"--label {shown_text!r}: empty; {_label_forms(config, names, classes)}")
    if config.condition != "factors":
        if classes and text in classes:  # a name wins, even one with "=" or ","
            return {0: classes.index(text)}
        if "=" in text or "," in text:
            raise DataError(
                f"--label {text}: this model is conditioned on the class alone (model.condition "
                f"class); {_label_forms(config, names, classes)}"
            )
        return {0: _label_value(text, text, "class", levels[0], classes)}
    parts = [part.strip() for part in text.split(",")]
    if len(parts) == 1 and "=" not in text:
        first = f"factor {names[0] if names else 0}"
        return {0: _label_value(text, text, first, levels[0], classes)}
    fixed: dict[int, int] = {}
    given: dict[int, str] = {}  # column -> the value as written, to name a factor given twice
    for part in parts:
        name, equals, value = (piece.strip() for piece in part.partition("="))
        if not part or not equals or not name or not value:
            what = "an empty part" if not part else f"{part!r} is not NAME=LEVEL"
            raise DataError(f"--label {text}: {what}; {_label_forms(config, names, classes)}")
        if name not in names:
            valid = ", ".join(names) if names else "none known for this data set"
            raise DataError(f"--label {text}: no factor {name!r}; factors: {valid}")
        column = names.index(name)
        if column in given:
            raise DataError(
                f"--label {text}: factor {name!r} is given twice ({given[column]} and {value}); "
                "give each factor once"
            )
        given[column] = value
        fixed[column] = _label_value(
            value, text, f"factor {name}", levels[column], classes if column == 0 else None
        )
    return fixed


def _label_forms(config, factor_names, class_names) -> str:
    """What ``--label`` takes for ``config``, in words, with an example."""
    if config.condition == "factors":
        names = list(factor_names or [])
        example = f"{names[0]}=1,{names[-1]}=0" if names else "0"
        return f"expected NAME=LEVEL pairs separated by commas, e.g. --label {example}"
    if class_names:
        return f"expected a class name ({_listed(class_names)}), e.g. --label {class_names[0]}"
    return f"expected a class number, 0 to {config.condition_levels[0] - 1}, e.g. --label 0"


def _listed(names, most: int = 10) -> str:
    shown = ", ".join(map(str, names[:most]))
    return shown + (f", ... ({len(names)} in all)" if len(names) > most else "")


_INTEGER = re.compile(r"[+-]?[0-9]+")  # ASCII digits only: int() of "²" would raise


def _label_value(value: str, text: str, shown: str, level: int, class_names) -> int:
    """The level ``value`` names in one label column of ``level`` values: a class name (of
    ``class_names``), else a number, refused where it is out of range or, among classes named
    by numbers, ambiguous."""
    if class_names and value in class_names:
        return list(class_names).index(value)
    numeric_names = bool(class_names) and any(_INTEGER.fullmatch(n) for n in class_names)
    if _INTEGER.fullmatch(value):
        number = int(value)
        if 0 <= number < level and numeric_names:
            same = [n for n in class_names if _INTEGER.fullmatch(n) and int(n) == number]
            also = f", or --label {same[0]} for the class named {same[0]!r}" if same else ""
            raise DataError(
                f"--label {text}: ambiguous: no class is named {value!r}, but class number "
                f"{number} (in sorted order) is the class named {class_names[number]!r}; write "
                f"the class's name, e.g. --label {class_names[number]}{also} "
                f"(classes: {_listed(class_names)})"
            )
        if 0 <= number < level:
            return number
    if numeric_names:
        choices = f"one of the class names {_listed(class_names)}"
    else:
        choices = f"one of 0 to {level - 1}"
        if class_names:
            choices += f", or one of {_listed(class_names)}"
    raise DataError(f"--label {text}: {shown} {value!r} is not {choices}")
