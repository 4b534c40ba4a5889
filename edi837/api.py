"""The library API: read files into transactions and claims, flatten to lines."""

from __future__ import annotations

import os
from typing import Any, BinaryIO, Iterable, Iterator, Union, cast

from .events import TransactionEnd
from .findings import Finding
from .model.build import iter_claims as iter_claims  # part of the API
from .model.build import stream
from .model.envelope import Transaction
from .outputs.tables import rows

Source = Union[str, "os.PathLike[str]", bytes, BinaryIO]


def read(source: Source, file: str | None = None) -> Iterator[Transaction]:
    """Yield the 837 transactions of a file (path, bytes or binary stream).

    Each transaction comes with its loop tree (``loops``) and its claims
    (``claims``); one transaction at a time is held in memory.  For files
    whose transactions are themselves huge, use :func:`iter_claims`.
    Reader and grammar findings come with :func:`edi837.model.stream`.
    """
    for ev in stream(source, file, keep=True):
        if isinstance(ev, TransactionEnd):
            yield ev.transaction


X12_SUFFIXES = (".x12", ".edi", ".837", ".txt", ".dat")


def expand_paths(paths: Iterable[str | os.PathLike[str]], x12_only: bool = False) -> Iterator[str]:
    """Files as given; folders expanded to the files below them, sorted, hidden
    files and folders left out.  ``x12_only`` (the gate): in folders, only
    names ending in :data:`X12_SUFFIXES` and not the gate's own split outputs
    (``.accepted.`` / ``.rejected.``)."""
    for p in paths:
        p = os.fspath(p)
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for f in sorted(files):
                    if f.startswith("."):
                        continue
                    if x12_only and (not f.lower().endswith(X12_SUFFIXES) or ".accepted." in f
                                     or ".rejected." in f):
                        continue
                    yield os.path.join(root, f)
        else:
            yield p


def lines(paths: Source | Iterable[Source], findings: list[Finding] | None = None
          ) -> Iterator[dict[str, Any]]:
    """Flat service-line rows (the columns of ``edi837 lines``) of one or more files.

    Reader and grammar findings are appended to ``findings`` when given.
    """
    if isinstance(paths, (str, bytes, os.PathLike)) or hasattr(paths, "read"):
        paths = [cast(Source, paths)]  # one source (a binary stream has .read)
    for p in paths:
        srcs = expand_paths([p]) if isinstance(p, (str, os.PathLike)) else [p]
        for src in srcs:
            yield from rows(stream(src), findings.append if findings is not None else None)
