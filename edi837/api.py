"""The library API: read files into transactions and claims, flatten to lines."""

from __future__ import annotations

import os
from typing import Any, BinaryIO, Iterable, Iterator, Union, cast

import attrs

from .events import TransactionEnd
from .findings import Finding
from .model.build import iter_claims as iter_claims  # part of the API
from .model.build import loop_stream, stream
from .model.envelope import Transaction
from .outputs.fastlines import file_rows
from .outputs.tables import rows
from .reader import ReadError, open_source, starts_like_x12

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
# what `edi837 gate` writes beside its inputs' names (see docs/gate.md)
GATE_OUTPUT_SUFFIXES = (".accepted.x12", ".rejected.x12", ".999.x12", ".277ca.x12", ".ta1.x12")
SNIFF_BYTES = 4096


@attrs.frozen(slots=True)
class Skipped:
    """A file or folder inside a folder given as input that was not read, and why."""

    path: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}

    def __str__(self) -> str:
        return f"{self.path}: skipped: {self.reason}"


@attrs.define(slots=True)
class Inputs:
    """The input files of a run (:func:`collect_inputs`), with what was left out."""

    files: list[str] = attrs.field(factory=list)
    skipped: list[Skipped] = attrs.field(factory=list)
    missing: list[str] = attrs.field(factory=list)  # given paths that do not exist
    empty: list[str] = attrs.field(factory=list)  # given folders from which no file is read
    paths: list[str] = attrs.field(factory=list)  # files and missing paths, in input order

    def empty_message(self, folder: str) -> str:
        n = sum(1 for s in self.skipped if _below(s.path, folder))
        return f"{folder}: no file to read in this folder" + (
            f" ({n} skipped, see above)" if n else "")

    def no_files_message(self) -> str:
        """The message of a run whose inputs hold no file (exit 2)."""
        why = "; ".join(self.empty_message(d) for d in self.empty)
        return "could not run: no input files" + (f" ({why})" if why else "")


def _below(path: str, folder: str) -> bool:
    return os.path.commonpath([os.path.abspath(path), os.path.abspath(folder)]) == os.path.abspath(folder)


def _sniff(path: str) -> bool | None:
    """Whether the file starts like X12 (decompressed, if gzip); None: it cannot be read."""
    try:
        fh, _ = open_source(path)  # (gzip comes back decompressed)
        with fh:
            head = fh.read(SNIFF_BYTES)
    except (OSError, ReadError):
        return None
    return starts_like_x12(head)


def skip_reason(path: str) -> str | None:
    """Why a file found in a folder is not read (None: it is read).  The one
    rule of every command (validate, lines, gate), documented in docs/gate.md:
    hidden files (a name starting with '.') and the gate's own outputs
    (:data:`GATE_OUTPUT_SUFFIXES`) are skipped; a file whose name ends in an X12
    suffix (:data:`X12_SUFFIXES`, optionally followed by .gz) is read; any other
    file is read when its content (decompressed, if gzip) starts with ISA."""
    name = os.path.basename(path)
    low = name.lower()
    if name.startswith("."):
        return "hidden file (name starts with '.')"
    if low.endswith(GATE_OUTPUT_SUFFIXES):
        return "an output of edi837 gate (" + ", ".join("*" + s for s in GATE_OUTPUT_SUFFIXES) + ")"
    if not os.path.exists(path):
        return "broken symbolic link" if os.path.islink(path) else "gone while the folder was searched"
    if low.removesuffix(".gz").endswith(X12_SUFFIXES):
        return None
    if _sniff(path) is False:
        return ("not an X12 file: the name does not end in " + ", ".join(X12_SUFFIXES)
                + " (or those + .gz) and the content does not start with ISA")
    return None  # starts like X12, or cannot be read: the reader says why


def _walk(paths: Iterable[str | os.PathLike[str]], skipped: list[Skipped] | None,
          exclude: Iterable[str | os.PathLike[str]] = (), inputs: Inputs | None = None) -> Iterator[str]:
    """The files of ``paths``: files as given, folders walked by :func:`skip_reason`
    (recursively, sorted, each folder's files before its sub-folders; hidden
    folders, links to folders and the ``exclude`` folders are not searched)."""
    excluded = {os.path.abspath(os.fspath(e)) for e in exclude}

    def skip(path: str, reason: str) -> None:
        if skipped is not None:
            skipped.append(Skipped(path, reason))

    for p in paths:
        p = os.fspath(p)
        if not os.path.isdir(p):
            if inputs is not None:
                inputs.paths.append(p)
                if not os.path.exists(p):
                    inputs.missing.append(p)
                    continue
            yield p
            continue
        n = 0

        def unlisted(e: OSError) -> None:
            skip(e.filename or p, f"cannot list the folder ({e.strerror or e}), not searched")

        for root, dirs, files in os.walk(p, onerror=unlisted):
            keep = []
            for d in sorted(dirs):
                full = os.path.join(root, d)
                if d.startswith("."):
                    skip(full, "hidden folder (name starts with '.'), not searched")
                elif os.path.islink(full):
                    skip(full, "link to a folder, not followed")
                elif os.path.abspath(full) in excluded:
                    skip(full, "the output folder (--out), not searched")
                else:
                    keep.append(d)
            dirs[:] = keep
            for f in sorted(files):
                full = os.path.join(root, f)
                why = skip_reason(full)
                if why is None:
                    n += 1
                    if inputs is not None:
                        inputs.paths.append(full)
                    yield full
                else:
                    skip(full, why)
        if not n and inputs is not None:
            inputs.empty.append(p)


def collect_inputs(paths: Iterable[str | os.PathLike[str]],
                   exclude: Iterable[str | os.PathLike[str]] = ()) -> Inputs:
    """The input files of ``paths`` (files and folders), the files skipped in
    the folders with the reason (:func:`skip_reason`), the paths that do not
    exist and the folders that hold no file to read.  Every command (validate,
    lines, gate) and :func:`edi837.validate` take their inputs so."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    got = Inputs()
    got.files = list(_walk(paths, got.skipped, exclude, got))
    return got


def expand_paths(paths: Iterable[str | os.PathLike[str]], x12_only: bool = False) -> Iterator[str]:
    """Files as given (whatever their name); folders expanded to the files below
    them that :func:`skip_reason` lets through, sorted.  ``x12_only`` is kept
    for compatibility: every command now walks folders by the same rule
    (:func:`collect_inputs` also says what was skipped)."""
    return _walk(paths, None)


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
            on_finding = findings.append if findings is not None else None
            if isinstance(src, (str, os.PathLike)):  # (the text path: edi837.outputs.fastlines)
                yield from file_rows(src, None, on_finding)
            else:
                yield from rows(loop_stream(src), on_finding)
