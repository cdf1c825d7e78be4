"""A folder of image files, in the layout torchvision's ``ImageFolder`` made familiar.

::

    faces/                     a folder of images, no labels
        0001.jpg ...
    pets/                      one subfolder per class: the labels, in sorted order
        cat/ 0001.png ...      (files in nested folders below a class count for it)
        dog/ ...
    digits/                    train/ and test/ subfolders (each flat or by class) split it;
        train/ 0/ 1/ ...       without them a fraction, drawn with a fixed seed, is the test split
        test/ 0/ 1/ ...

Files are read with Pillow (PNG, JPEG, BMP, GIF, TIFF, WebP, PPM/PGM), turned upright, converted to
grey or RGB and brought to the model's (H, W) by ``center_crop`` or ``resize`` (see
:func:`~vaekit.datasets.images.decode_image`). Labels can also come from a CSV file of
``file,label`` rows (paths relative to the folder, integer labels).

Opening a folder lists and decodes every file once (in threads), so that a file that is empty,
does not decode or has more than 8 bits a channel is known before training: with ``on_bad_file:
skip`` it is left out and reported; with ``error`` it stops the run. The result is a
:class:`Manifest`: every file's path, size, modification time and label, which a run keeps
(``manifest.json``) so that a resumed or evaluated run reads the same files in the same order, and
notices a folder that changed.

Why not ``keras.utils.image_dataset_from_directory``: it shuffles with its own per-iteration
order, so a run could not continue mid-epoch on the exact batches it would have seen (vaekit
draws each epoch's order from ``(seed, epoch)``), it skips no bad file, and it keeps no record of
which files a run used.

Example:
    >>> import tempfile
    >>> from PIL import Image
    >>> root = Path(tempfile.mkdtemp())
    >>> for name in ("cat", "dog"):
    ...     (root / name).mkdir()
    ...     for i in range(5):
    ...         Image.new("L", (8, 8), 40 * i).save(root / name / f"{i}.png")
    >>> manifest = build(root, (8, 8, 1))
    >>> manifest.classes, len(manifest.files["train"]), len(manifest.files["test"])
    (['cat', 'dog'], 9, 1)
"""

from __future__ import annotations

import collections
import concurrent.futures
import csv
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
from PIL import Image

from vaekit.datasets.images import (
    DEFAULT_MAX_PIXELS,
    IMAGE_SUFFIXES,
    FileImages,
    as_path_array,
    decode_image,
    describe_image_error,
)
from vaekit.errors import DataError, one_line, plural, printable
from vaekit.io import atomic_write_text

MANIFEST_VERSION = 1
SPLIT_SEED = 0  # the held-out test split of a folder without test/ is drawn with this seed


@dataclass
class Manifest:
    """What a run reads from a folder: per split, ``[relative path, size, mtime_ns, label]``.

    ``label`` is -1 where there are no labels. ``bad`` lists ``[relative path, reason]`` of the
    files left out; ``max_pixels`` is the size limit they were checked with.
    """

    root: str
    shape: tuple[int, int, int]
    resize: str
    classes: list[str] | None
    files: dict[str, list] = field(default_factory=dict)
    bad: list = field(default_factory=list)
    max_pixels: int | None = DEFAULT_MAX_PIXELS

    def images(self, split: str) -> FileImages:
        """The files of ``split`` ("train" or "test") as :class:`FileImages`."""
        rows = self.files[split]
        root = Path(self.root)
        labels = np.array([row[3] for row in rows], np.int64)
        return FileImages(
            as_path_array(root / row[0] for row in rows),
            tuple(self.shape),
            self.resize,
            None if self.classes is None and (labels < 0).all() else labels,
            max_pixels=self.max_pixels,
        )

    def save(self, path: str | Path) -> None:
        """Write the manifest as JSON, atomically."""
        atomic_write_text(path, json.dumps({"version": MANIFEST_VERSION, **self.__dict__}))

    @classmethod
    def read(cls, path: str | Path) -> Manifest:
        try:
            saved = json.loads(Path(path).read_text(encoding="utf-8"))
            saved.pop("version")
            saved["shape"] = tuple(saved["shape"])
            return cls(**saved)
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise DataError(f"{path}: not a readable vaekit manifest ({one_line(error)})") from None

    def verify(self) -> list[str]:
        """Check the folder against the manifest; returns notes on files added since.

        Raises:
            DataError: a listed file is missing or has another size or modification time.
        """
        changed, missing = [], []
        root = Path(self.root)
        listed = set()
        for rows in self.files.values():
            for relative, size, mtime, _ in rows:
                listed.add(relative)
                try:
                    status = (root / relative).stat()
                except FileNotFoundError:
                    missing.append(relative)
                    continue
                if (status.st_size, status.st_mtime_ns) != (size, mtime):
                    changed.append(relative)
        if changed or missing:
            parts = [
                f"{len(found)} {what} ({', '.join(found[:3])}{', ...' if len(found) > 3 else ''})"
                for found, what in ((changed, "changed"), (missing, "missing"))
                if found
            ]
            raise DataError(
                f"{self.root}: the folder changed since this run listed it: {'; '.join(parts)}; "
                "restore those files, or start a new run"
            )
        bad = {row[0] for row in self.bad}
        added = [p for p in _image_files(root) if _relative(p, root) not in listed | bad]
        return [f"{self.root}: {len(added)} files added since this run listed the folder are not "
                "part of it"] if added else []  # fmt: skip

    def write_bad_files(self, path: str | Path) -> None:
        """``RUN_DIR/bad_files.txt``: one ``path<TAB>reason`` line per file left out.

        A path holding a backslash, a tab, a newline or another character that is not printable
        is written with Python's escapes (``\\``, ``\t``, ``\n``), so every line is one file.
        """
        lines = (f"{printable(relative.replace(chr(92), chr(92) * 2))}\t{printable(why)}\n"
                 for relative, why in self.bad)  # fmt: skip
        atomic_write_text(path, "".join(lines))


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _image_files(folder: Path, recursive: bool = True) -> list[Path]:
    """Image files under ``folder`` (hidden files and folders skipped), sorted."""
    found = []
    for directory, subfolders, names in os.walk(folder):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".")) if recursive else []
        found += [
            Path(directory) / name
            for name in names
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES
        ]
    return sorted(found)


def _list_split(folder: Path, root: Path, by_class: bool) -> tuple[list, list[str] | None]:
    """``[(relative path, class name or None)]`` of a split folder, and its class names."""
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    classes = [p.name for p in subfolders if _image_files(p)]
    top = _image_files(folder, recursive=False)
    empty = [printable(p.name) for p in subfolders if p.name not in classes]
    if classes and empty:
        warnings.warn(
            f"{printable(folder)}: {plural(len(empty), 'class folder')} without image files "
            f"left out ({', '.join(empty[:5])}{', ...' if len(empty) > 5 else ''}); the classes "
            f"are {', '.join(map(printable, classes[:10]))}{', ...' if len(classes) > 10 else ''}",
            stacklevel=3,
        )
    if classes and top:
        raise DataError(
            f"{folder}: holds both image files ({top[0].name}, ...) and class folders "
            f"({', '.join(classes[:3])}); put every image in a class folder, or none"
        )
    if not classes:
        return [(_relative(p, root), None) for p in top], None
    entries = [
        (_relative(p, root), name if by_class else None)
        for name in classes
        for p in _image_files(folder / name)
    ]
    return entries, classes


def _csv_labels(path: Path) -> dict[str, int]:
    """``{relative path: label}`` from a CSV of ``file,label`` rows (a header row is allowed)."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{path}: cannot read the labels ({one_line(error)})") from None
    labels = {}
    for number, row in enumerate(rows, start=1):
        if number == 1 and row[1:2] and not _is_integer(row[1].strip().lstrip("-")):
            continue  # a header
        if len(row) != 2 or not _is_integer(row[1].strip()):
            raise DataError(
                f"{path}: line {number} is {','.join(row)!r}; expected file,label with a label "
                "that is an integer >= 0"
            )
        labels[Path(row[0].strip()).as_posix()] = int(row[1])
    if not labels:
        raise DataError(f"{path}: no labels; expected file,label rows")
    return labels


def _is_integer(text: str) -> bool:
    """Digits 0-9 only: ``str.isdigit`` also takes "²", which ``int`` refuses."""
    return text.isascii() and text.isdigit()


def _check(
    root: Path, entries: list, shape, resize: str, max_pixels, verbose: int = 0
) -> tuple[list, list]:
    """Decode every file once, in threads: ``(good rows with size and mtime, bad [path, why])``.

    The files go to the threads a chunk at a time, so memory stays flat however many there are;
    ``verbose=1`` shows Keras's progress bar, a chunk at a time.
    """

    def check(entry):
        path = root / entry[0]
        try:
            status = path.stat()
            if status.st_size == 0:
                return entry, None, "empty file"
            decode_image(path, shape, resize, max_pixels)
        except MemoryError:
            raise
        except Exception as error:  # Pillow raises many types for bad files: all mean "bad"
            return entry, None, describe_image_error(error)
        return entry, (status.st_size, status.st_mtime_ns), None

    good, bad = [], []
    workers = min(8, (os.cpu_count() or 1) * 2)
    bar = keras.utils.Progbar(len(entries), verbose=verbose, unit_name="file")
    # An image over max_pixels is refused from its header; Pillow's own warning about it (a
    # possible decompression bomb) would only interrupt the progress bar. The filter is set once
    # here, in this thread, for the pool's lifetime (warnings filters are global, not per thread).
    with warnings.catch_warnings(), concurrent.futures.ThreadPoolExecutor(workers) as pool:
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        for start in range(0, len(entries), 1024):
            for (relative, label), found, why in pool.map(check, entries[start : start + 1024]):
                if why is None:
                    good.append([relative, *found, label])
                else:
                    bad.append([relative, why])
            bar.update(min(start + 1024, len(entries)), values=[("bad", len(bad))])
    return good, bad


def build(
    root: str | Path,
    shape: tuple[int, int, int],
    resize: str = "center_crop",
    test_split: float = 0.1,
    labels: str = "auto",
    on_bad_file: str = "skip",
    verbose: int = 0,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> Manifest:
    """List and check a folder of images (see the module docstring).

    Args:
        root: the folder.
        shape: (H, W, C) the images are decoded to.
        resize: "center_crop" or "resize".
        test_split: the fraction held out as the test split when the folder has no ``test/``.
        labels: "auto" (class folders, if any), "none", or the path of a ``file,label`` CSV.
        on_bad_file: "skip" (leave such files out, listed in the manifest) or "error".
        verbose: 1 shows a progress bar while the files are checked.
        max_pixels: a larger image (width x height) is a bad file (``data.max_image_pixels``).

    Raises:
        DataError: no images, a CSV that does not parse, a bad file with ``on_bad_file: error``,
            or a split left empty.
    """
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise DataError(f"{root}: no such folder")
    split_folders = {"train": root / "train", "test": root / "test"}
    if not split_folders["train"].is_dir():
        split_folders = {"train": root}
    listed, classes = {}, None
    for split, folder in split_folders.items():
        if folder.is_dir():
            listed[split], found = _list_split(folder, root, by_class=labels == "auto")
            if split == "train":
                classes = found if labels == "auto" else None
            elif labels == "auto" and found and found != classes:
                raise DataError(
                    f"{folder}: classes {found} differ from train/'s {classes}; give both splits "
                    "the same class folders"
                )
    if not listed["train"]:
        raise DataError(
            f"{root}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) in it or in its "
            "class folders"
        )
    number = {name: i for i, name in enumerate(classes or [])}
    table = _csv_labels(Path(labels).expanduser()) if labels not in ("auto", "none") else None
    for split, entries in listed.items():
        resolved = []
        for relative, name in entries:
            if table is not None:
                if relative not in table:
                    raise DataError(f"{labels}: no label for {relative}; label every image")
                resolved.append((relative, table[relative]))
            else:
                resolved.append((relative, number[name] if name is not None else -1))
        listed[split] = resolved

    manifest = Manifest(str(root), tuple(shape), resize, classes, max_pixels=max_pixels)
    for split, entries in listed.items():
        good, bad = _check(root, entries, shape, resize, max_pixels, verbose)
        manifest.files[split] = good
        manifest.bad += bad
        if not good:
            raise DataError(
                f"{printable(split_folders[split])}: none of its {plural(len(bad), 'image file')} "
                f"is readable: {_reasons(bad)}"
            )
    if manifest.bad and on_bad_file == "error":
        relative, why = manifest.bad[0]
        raise DataError(
            f"{printable(root / relative)}: {why}; {plural(len(manifest.bad), 'bad file')} in all "
            "(set data.on_bad_file: skip to leave them out)"
        )
    if "test" not in manifest.files:
        _hold_out(manifest, test_split)
    return manifest


def _reasons(bad: list) -> str:
    """What was wrong with bad files, most common first: ``empty file: 3; truncated (...): 1``."""
    counts = collections.Counter(why.split(" (")[0] for _, why in bad)
    first, why = bad[0]
    return (
        "; ".join(f"{reason}: {count}" for reason, count in counts.most_common(4))
        + ("; ..." if len(counts) > 4 else "")
        + f" (first: {printable(first)}: {why})"
    )


def _hold_out(manifest: Manifest, fraction: float) -> None:
    """Move ``fraction`` of the training files, drawn with :data:`SPLIT_SEED`, to the test split."""
    rows = manifest.files["train"]
    if len(rows) < 2:
        bad = f" ({plural(len(manifest.bad), 'bad file')} left out)" if manifest.bad else ""
        raise DataError(
            f"{printable(manifest.root)}: {plural(len(rows), 'readable image')}{bad}; a training "
            "and a test split need two at least"
        )
    count = min(len(rows) - 1, max(1, round(len(rows) * fraction)))
    held = set(np.random.default_rng(SPLIT_SEED).permutation(len(rows))[:count].tolist())
    manifest.files = {
        "train": [row for i, row in enumerate(rows) if i not in held],
        "test": [row for i, row in enumerate(rows) if i in held],
    }
