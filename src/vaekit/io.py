"""Atomic file writes: a file is either its old complete self or its new complete self.

Everything vaekit writes into a run folder goes through here: write to a temporary file in the
same folder, flush and fsync it, then ``os.replace`` it over the target (atomic on POSIX), so a
crash or ``kill -9`` never leaves a half-written config, checkpoint or model behind. A write that
fails (a full disk, a read-only folder) raises :class:`~vaekit.errors.StorageError` naming the file,
and the file keeps its previous content.

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> atomic_write_text(folder / "a.txt", "hello")
    >>> (folder / "a.txt").read_text()
    'hello'
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from vaekit.errors import StorageError


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success, fsync it and rename it to ``path``.

    On an exception the temporary file is removed and ``path`` is left as it was; an ``OSError``
    (disk full, no permission) becomes a :class:`~vaekit.errors.StorageError` naming ``path``.
    ``suffix`` defaults to the target's, since some writers (Keras, matplotlib) choose a format by
    it.
    """
    path = Path(path)
    suffix = path.suffix if suffix is None else suffix
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(
            prefix=f".{path.stem}.", suffix=f".tmp{suffix}", dir=path.parent
        )
        os.close(handle)
        temporary = Path(name)
        yield temporary
        with open(temporary, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
        _fsync_folder(path.parent)
    except OSError as error:
        raise StorageError(f"{path}: cannot write ({error.strerror or error})") from error
    finally:
        if temporary is not None:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def _fsync_folder(folder: Path) -> None:
    # The rename itself is durable only once the folder entry is flushed.
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
