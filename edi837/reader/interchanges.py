"""A quick scan of a file's interchange headers: (ISA06 sender, ISA13) of each
ISA, in file order, without reading its segments (the gate and the engine use
it to find an interchange sent twice before checking anything)."""

from __future__ import annotations

import mmap
import os
import re
from typing import Any

# "ISA" and its element separator; one at the start, or after a segment terminator or white
# space, is a header (not "ISA" inside a word: checked in _scan, so that the pattern starts with
# a literal the regex engine searches for quickly)
_ISA = re.compile(rb"ISA([^A-Za-z0-9\s])")


def _scan(buf: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for m in _ISA.finditer(buf):
        at = m.start()
        if at and buf[at - 1:at].isalnum():
            continue
        sep = m.group(1)
        head = bytes(buf[m.start():m.start() + 200]).split(sep)
        if len(head) < 17:
            continue
        out.append((head[6].decode("latin-1").strip(), head[13].decode("latin-1").strip()))
    return out


def interchange_ids(source: Any) -> list[tuple[str, str]]:
    """(ISA06, ISA13) of each interchange of ``source`` (a path or bytes), in
    order; [] for what cannot be scanned (a stream, an unreadable file)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _scan(bytes(source))
    if not isinstance(source, (str, os.PathLike)):
        return []
    try:
        with open(source, "rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                return []
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
                if m[:2] == b"\x1f\x8b":  # gzip: the reader's business
                    return []
                return _scan(m)
    except (OSError, ValueError):
        return []
