"""Atomic output files: written to a temporary name, renamed into place."""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import IO, Any, Iterator

PRIVATE = 0o600  # every output may hold patient data: read and written by its owner only


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w", encoding: str | None = "utf-8",
                 newline: str | None = None) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; rename it to ``path`` only on success.

    If the block raises (or the process is killed), no file appears at
    ``path`` and the temporary file is removed where possible.

    The file is 0600, whatever the umask or the mode of a file it replaces
    (issue 14 item 7).  A symlink at ``path`` is replaced by the new file
    (the rename replaces the link itself): its target is never written,
    nor its mode looked at.
    """
    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".part", dir=d)
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
