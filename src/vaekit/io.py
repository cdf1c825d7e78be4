"""Atomic file writes: a file is either its old complete self or its new complete self.

Everything vaekit writes into a run folder goes through here: write to a temporary file in the
same folder, flush and fsync it, then ``os.replace`` it over the target (atomic on POSIX), so a
crash or ``kill -9`` never leaves a half-written config, checkpoint or model behind. A write that
fails (a full disk, a read-only folder) raises :class:`~vaekit.errors.StorageError` naming the file,
and the file keeps its previous content.

A written file gets the mode a plain ``open()`` would give it: a new file ``0o666`` less the
process's umask (``0o644`` under the usual umask 022), a replaced file its previous mode; the
private temporary file (``0o600``, as :func:`tempfile.mkstemp` makes it) is changed before the
rename, so a run folder can be shared or served without ``chmod``.

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> atomic_write_text(folder / "a.txt", "hello")
    >>> (folder / "a.txt").read_text()
    'hello'
    >>> oct((folder / "a.txt").stat().st_mode & 0o777) == oct(0o666 & ~current_umask())
    True
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from vaekit.errors import StorageError, VaekitError


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
        os.chmod(temporary, _mode_for(path))
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


def _mode_for(path: Path) -> int:
    """The permission bits ``open(path, "w")`` leaves: the existing file's, or a new file's."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return 0o666 & ~current_umask()


def current_umask() -> int:
    """The process's umask, read without changing it where the system says it (Linux 4.7+).

    ``os.umask`` can only be read by setting it, which for a moment would give files that other
    threads create the wrong mode; it is the fallback where ``/proc`` does not say.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_output_file(path: str | Path, flag: str, suffixes: tuple[str, ...]) -> Path:
    """An output file a person named, checked before any work: not a folder, one of
    ``suffixes`` (the formats written), in a folder that is not a file.

    Raises :class:`~vaekit.errors.VaekitError` (exit code 2) naming ``flag`` and what would do.

    >>> check_output_file("samples.gif", "--out", (".png", ".jpg"))
    Traceback (most recent call last):
    ...
    vaekit.errors.VaekitError: --out samples.gif: .gif is not a format it writes; use .png or .jpg
    """
    path = Path(path)
    choices = " or ".join(
        [", ".join(suffixes[:-1]), suffixes[-1]] if len(suffixes) > 1 else suffixes
    )
    if path.is_dir():
        raise VaekitError(f"{flag} {path}: is a folder; give a file name ending in {choices}")
    if path.suffix.lower() not in suffixes:
        what = f"{path.suffix} is not a format it writes" if path.suffix else "no file extension"
        raise VaekitError(f"{flag} {path}: {what}; use {choices}")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise VaekitError(f"{flag} {path}: {parent} is a file, not a folder")
            break
    return path


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
