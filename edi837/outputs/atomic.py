"""Atomic output files: written to a temporary name, renamed into place."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from typing import IO, Any, Iterator

try:  # POSIX; elsewhere temporaries are not locked (nor cleaned by remove_stale_parts)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

PRIVATE = 0o600  # every output may hold patient data: read and written by its owner only


def _temporary(path: str) -> tuple[int, str]:
    """A new temporary ``.NAME.XXXX.part`` beside ``path``, locked (``flock``)
    while this process writes it: an unlocked one is a dead writer's."""
    d = os.path.dirname(os.path.abspath(path))
    while True:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".part", dir=d)
        if fcntl is None:  # pragma: no cover - Windows
            return fd, tmp
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            mine = os.path.samestat(os.stat(tmp), os.fstat(fd))
        except FileNotFoundError:  # removed as stale between mkstemp and the lock
            mine = False
        if mine:
            return fd, tmp
        os.close(fd)


def remove_stale_parts(path: str | os.PathLike[str]) -> list[str]:
    """Remove the temporaries of output ``path`` (``.NAME.*.part`` beside it) that
    a killed writer left (they may hold patient data): those no live
    :func:`atomic_write` holds locked.  Returns the names removed."""
    if fcntl is None:  # pragma: no cover - Windows
        return []
    path = os.fspath(path)
    prefix = "." + os.path.basename(path) + "."
    gone = []
    try:
        it = os.scandir(os.path.dirname(os.path.abspath(path)))
    except OSError:
        return []
    with it:
        for e in it:
            if not (e.name.startswith(prefix) and e.name.endswith(".part")):
                continue
            try:
                fd = os.open(e.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                if stat.S_ISREG(os.fstat(fd).st_mode):
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError: a live writer's
                    os.unlink(e.path)
                    gone.append(e.name)
            except OSError:
                pass
            finally:
                os.close(fd)
    return gone


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w", encoding: str | None = "utf-8",
                 newline: str | None = None) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; rename it to ``path`` only on success.

    If the block raises, no file appears at ``path`` and the temporary file
    is removed; if the process is killed, the temporary stays until the next
    run removes it (:func:`remove_stale_parts`, or the gate's
    :func:`~edi837.outputs.outfolder.remove_stale`).

    The file is 0600, whatever the umask or the mode of a file it replaces
    (issue 14 item 7).  A symlink at ``path`` is replaced by the new file
    (the rename replaces the link itself): its target is never written,
    nor its mode looked at.
    """
    path = os.fspath(path)
    fd, tmp = _temporary(path)
    try:
        kw: dict[str, Any] = {} if "b" in mode else {"encoding": encoding, "newline": newline}
        with os.fdopen(fd, mode, **kw) as f:
            os.fchmod(f.fileno(), PRIVATE)  # mkstemp's mode already; said here, not left to it
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
