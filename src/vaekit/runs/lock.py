"""One writer per run folder: an exclusive lock held while a command writes into the folder.

``vaekit train``, ``train --resume`` and ``plot`` hold ``RUN_DIR/.vaekit.lock`` while they run. A
second writer is refused with one line naming the process that holds the folder, instead of two
runs mixing their epochs into one ``metrics.csv``. The lock is an ``flock`` on that file, which the
operating system drops when its process ends, however it ends: a lock left by a killed process is
taken over (with a warning naming it) by the next command. The file records the holder's process
id, host, command and start time, for that message; it is removed on release.

On systems without ``fcntl`` (Windows) run folders are not locked.

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp()) / "run"
    >>> with RunLock(folder, "vaekit train"):
    ...     RunLock(folder, "vaekit plot").acquire()
    Traceback (most recent call last):
    ...
    vaekit.errors.VaekitError: ...: in use by process ... (vaekit train, since ...
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import socket
import warnings
from pathlib import Path

from vaekit.errors import VaekitError

try:
    import fcntl
except ImportError:  # Windows: no flock
    fcntl = None

LOCK_NAME = ".vaekit.lock"


class RunLock:
    """An exclusive lock on a run folder; creates the folder (and its parents) if needed.

    Use it as a context manager. On release the lock file is removed, and folders this lock created
    are removed again if nothing was written into them, so a command that fails before writing
    leaves nothing behind.

    Args:
        folder: the run folder.
        command: what holds the lock, for the message another command shows ("vaekit train").

    Raises:
        VaekitError: the folder cannot be created or written, or another process holds it.
    """

    def __init__(self, folder: str | Path, command: str):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.command = command
        self._descriptor = None
        self._created: list[Path] = []

    def acquire(self) -> RunLock:
        self._create_folder()
        if fcntl is None:
            return self
        try:
            self._descriptor, previous = self._lock()
            self._write_holder()
        except OSError as error:
            self.release()
            raise VaekitError(
                f"{self.folder}: cannot write into the run folder ({error.strerror or error})"
            ) from None
        except VaekitError:
            self.release()
            raise
        if previous:
            warnings.warn(
                f"{self.folder}: taking over the lock left by process {previous.get('pid')} "
                f"({previous.get('command')}, since {previous.get('since')}), which has ended",
                stacklevel=2,
            )
        return self

    def release(self) -> None:
        if self._descriptor is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()  # while still locked: a waiting process then sees a new file
            os.close(self._descriptor)
            self._descriptor = None
        for folder in reversed(self._created):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if empty: nothing was written
        self._created = []

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    def _create_folder(self) -> None:
        missing = [p for p in [self.folder, *self.folder.parents] if not p.exists()]
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise VaekitError(
                f"{self.folder}: cannot create the run folder ({error.strerror or error})"
            ) from None
        if not self.folder.is_dir():
            raise VaekitError(f"{self.folder}: exists and is not a folder")
        self._created = list(reversed(missing))  # outermost first

    def _lock(self):
        while True:
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(descriptor)
                os.close(descriptor)
                raise VaekitError(
                    f"{self.folder}: in use by process {holder.get('pid', '?')} "
                    f"({holder.get('command', 'vaekit')}, since {holder.get('since', '?')} on "
                    f"{holder.get('host', '?')}); wait for it to end or stop it"
                ) from None
            # The holder we waited on may have removed the file before we locked it: lock the
            # file that is there now.
            try:
                same = os.fstat(descriptor).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return descriptor, _read_holder(descriptor)
            os.close(descriptor)

    def _write_holder(self) -> None:
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": self.command,
            "since": datetime.datetime.now().isoformat(timespec="seconds"),
        }
        os.ftruncate(self._descriptor, 0)
        os.pwrite(self._descriptor, json.dumps(holder).encode(), 0)
        os.fsync(self._descriptor)


def _read_holder(descriptor: int) -> dict:
    try:
        holder = json.loads(os.pread(descriptor, 4096, 0) or b"{}")
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}
