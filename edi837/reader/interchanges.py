"""A quick scan of a file's interchange headers: (ISA06 sender, ISA13) of each
ISA, in file order, without reading its segments (the gate and the engine use
it to find an interchange sent twice before checking anything)."""

from __future__ import annotations

import os
import re
from typing import Any, BinaryIO

# "ISA" and its element separator; one at the start, or after a segment terminator or white
# space, is a header (not "ISA" inside a word: checked in _add, so that the pattern starts with
# a literal the regex engine searches for quickly)
_ISA = re.compile(rb"ISA([^A-Za-z0-9\s])")


def _scan(buf: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for m in _ISA.finditer(buf):
        _add(out, buf, m)
    return out


def _add(out: list[tuple[str, str]], buf: bytes, m: "re.Match[bytes]") -> None:
    """(ISA06, ISA13) of the ISA matched at ``m`` onto ``out`` (nothing when it has fewer than 17
    elements, or when it is inside a word)."""
    at = m.start()
    if at and buf[at - 1:at].isalnum():
        return
    head = bytes(buf[m.start():m.start() + 200]).split(m.group(1))
    if len(head) >= 17:
        out.append((head[6].decode("latin-1").strip(), head[13].decode("latin-1").strip()))


BLOCK = 1 << 20


def _scan_file(f: BinaryIO) -> list[tuple[str, str]]:
    """:func:`_scan` a block at a time: memory is a block, whatever the file's size (a mapped
    file's pages count in the resident set).  The last 200 bytes of a block wait for the next
    one (an ISA header there may go on in it), with the byte before them (what _add
    looks at)."""
    out: list[tuple[str, str]] = []
    carry, lo = b"", 0  # matches in buf from offset lo on are not taken yet
    while True:
        chunk = f.read(BLOCK)
        buf = carry + chunk
        limit = len(buf) - 200 if chunk else len(buf)
        if limit <= lo:
            if not chunk:
                return out
            carry = buf
            continue
        for m in _ISA.finditer(buf, lo):
            if m.start() >= limit:
                break
            _add(out, buf, m)
        if not chunk:
            return out
        carry, lo = buf[limit - 1:], 1


def interchange_ids(source: Any) -> list[tuple[str, str]]:
    """(ISA06, ISA13) of each interchange of ``source`` (a path or bytes), in
    order; [] for what cannot be scanned (a stream, an unreadable file)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _scan(bytes(source))
    if not isinstance(source, (str, os.PathLike)):
        return []
    try:
        with open(source, "rb") as f:
            if f.read(2) == b"\x1f\x8b":  # gzip: the reader's business
                return []
            f.seek(0)
            return _scan_file(f)
    except (OSError, ValueError):
        return []
