"""A quick scan of a file's interchange headers: (ISA06 sender, ISA13) of each
ISA, in file order, without reading its segments (the gate and the engine use
it to find an interchange sent twice before checking anything)."""

from __future__ import annotations

import os
import re
import sqlite3
from typing import Any, BinaryIO, Iterator

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


def _scan_file(f: BinaryIO) -> Iterator[tuple[str, str]]:
    """:func:`_scan` a block at a time: memory is a block, whatever the file's size (a mapped
    file's pages count in the resident set).  The last 200 bytes of a block wait for the next
    one (an ISA header there may go on in it), with the byte before them (what _add
    looks at)."""
    carry, lo = b"", 0  # matches in buf from offset lo on are not taken yet
    while True:
        chunk = f.read(BLOCK)
        buf = carry + chunk
        limit = len(buf) - 200 if chunk else len(buf)
        if limit <= lo:
            if not chunk:
                return
            carry = buf
            continue
        out: list[tuple[str, str]] = []
        for m in _ISA.finditer(buf, lo):
            if m.start() >= limit:
                break
            _add(out, buf, m)
        yield from out
        if not chunk:
            return
        carry, lo = buf[limit - 1:], 1


def interchange_ids(source: Any) -> list[tuple[str, str]]:
    """(ISA06, ISA13) of each interchange of ``source`` (a path or bytes), in
    order; [] for what cannot be scanned (a stream, an unreadable file)."""
    return list(iter_interchange_ids(source))


def iter_interchange_ids(source: Any) -> Iterator[tuple[str, str]]:
    """:func:`interchange_ids` one at a time, reading a file a block at a time."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        yield from _scan(bytes(source))
        return
    if not isinstance(source, (str, os.PathLike)):
        return
    try:
        with open(source, "rb") as f:
            if f.read(2) == b"\x1f\x8b":  # gzip: the reader's business
                return
            f.seek(0)
            yield from _scan_file(f)
    except (OSError, ValueError):
        return


class SeenInterchanges:
    """(ISA06, ISA13) -> the number of the file of a run that sent that interchange first.

    The first ``MEMORY`` keys are kept in a dict, the rest in a private temporary
    SQLite database (``sqlite3.connect("")``: on disk once it outgrows its page
    cache, deleted when closed), so a run of a million one-claim interchanges
    holds a bounded number of them in memory."""

    MEMORY = 2_000

    def __init__(self) -> None:
        self.mem: dict[tuple[str, str], int] = {}
        self.conn: sqlite3.Connection | None = None

    def get(self, key: tuple[str, str]) -> int | None:
        got = self.mem.get(key)
        if got is None and self.conn is not None:
            row = self.conn.execute("SELECT file FROM seen WHERE sender = ? AND isa13 = ?", key).fetchone()
            got = row[0] if row is not None else None
        return got

    def add(self, key: tuple[str, str], file_no: int) -> None:
        """Note ``key`` as first sent by file ``file_no`` (a key already noted keeps its file)."""
        if key in self.mem:
            return
        if len(self.mem) < self.MEMORY:
            self.mem[key] = file_no
            return
        c = self.conn
        if c is None:
            c = self.conn = sqlite3.connect("", isolation_level=None, check_same_thread=False)
            c.execute("PRAGMA journal_mode=OFF")
            c.execute("PRAGMA synchronous=OFF")
            c.execute("CREATE TABLE seen (sender TEXT NOT NULL, isa13 TEXT NOT NULL, file INTEGER NOT NULL, "
                      "PRIMARY KEY (sender, isa13)) WITHOUT ROWID")
        c.execute("INSERT OR IGNORE INTO seen VALUES (?, ?, ?)", (*key, file_no))

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
