"""The gate's output folder: one run at a time, no stale temporaries, a durable
control-number counter.

* :func:`locked` holds an exclusive lock on the folder for a run (``flock`` on
  the folder itself: no lock file, released by the system when the process
  dies), so while it is held every temporary in the folder is a dead run's;
* :func:`remove_stale` removes those temporaries: the hidden ``.NAME.*.part``
  files of :func:`edi837.outputs.atomic.atomic_write` and the scratch folder
  (:data:`SCRATCH`) of a run killed before it could clean up; they hold patient
  data;
* :class:`CounterFile` keeps the next free control number (ISA13/GS06) and
  reserves blocks of numbers durably (written, synced, renamed, folder synced)
  *before* any of them is used, so a killed run skips numbers but never hands
  one out twice.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from typing import Callable, Iterator

from .atomic import atomic_write

try:  # POSIX; elsewhere the folder is not locked
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

# the hidden folder of a run's scratch files (parallel part files), removed at the end
SCRATCH = ".edi837-gate-tmp"
MAX_CONTROL = 999999999


def fsync_dir(path: str) -> None:
    """Sync a folder, so the renames done in it survive a crash (where supported)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def locked(path: str, on_wait: Callable[[], object] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on folder ``path`` (``on_wait()`` is called once
    when another process holds it, then this waits for it)."""
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def is_temporary(name: str) -> bool:
    """Whether ``name`` is an :func:`~edi837.outputs.atomic.atomic_write`
    temporary (``.NAME.XXXX.part``)."""
    return name.startswith(".") and name.endswith(".part")


def remove_stale(path: str) -> list[str]:
    """Remove the temporaries a killed run left in folder ``path`` (call with
    the folder :func:`locked`); returns the names removed."""
    gone = []
    with os.scandir(path) as it:
        for e in it:
            try:
                if is_temporary(e.name) and not e.is_dir(follow_symlinks=False):
                    os.unlink(e.path)
                elif e.name == SCRATCH and e.is_dir(follow_symlinks=False):
                    shutil.rmtree(e.path)
                else:
                    continue
            except FileNotFoundError:
                continue
            gone.append(e.name)
    return gone


def _after(start: int, n: int) -> int:
    """The control number ``n`` after ``start`` (1..999999999, wrapping)."""
    return (start - 1 + n) % MAX_CONTROL + 1


class CounterFile:
    """The next free control number, kept in a file (one decimal number)."""

    def __init__(self, path: str):
        self.path = path

    def read(self) -> int:
        """The next free number (1 when the file is missing or unreadable)."""
        try:
            with open(self.path, encoding="ascii") as fh:
                v = int(fh.read().strip() or 1)
        except (OSError, ValueError):
            return 1
        return v if 1 <= v <= MAX_CONTROL else 1

    def write(self, value: int) -> None:
        """Store ``value`` durably: synced, renamed into place, folder synced."""
        with atomic_write(self.path, "w", encoding="ascii") as fh:
            fh.write(f"{value}\n")
        fsync_dir(os.path.dirname(os.path.abspath(self.path)))

    def reserve(self, start: int, n: int) -> None:
        """Numbers ``start`` .. ``start + n - 1`` are about to be used: the file
        says the one after them, durably, before this returns."""
        self.write(_after(start, n))
