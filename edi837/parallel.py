"""Process-parallel work over many files, output identical to a serial run.

:func:`map_files` runs a picklable function over paths in a
``ProcessPoolExecutor`` (spawn-safe: workers import this module fresh) and
yields the results in input order.  :func:`lines` uses it for
``edi837 lines --jobs N``: each worker streams the rows of one file to a temp
part file (pickled batches) and the parent reads the parts back in file
order, so memory stays flat for big files and the rows are exactly those of
``api.lines`` with one job.

Parallelism is per file: a single big file is read by one worker.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import multiprocessing
import os
import pickle
import shutil
import tempfile
from typing import Any, Callable, Iterable, Iterator, TypeVar

from .findings import Finding

T = TypeVar("T")
BATCH = 2000  # rows per pickled batch in a part file


def map_files(func: Callable[[str], T], paths: Iterable[str], jobs: int = 1,
              mp_context: str | None = "spawn", window: int | None = None) -> Iterator[T]:
    """Yield ``func(path)`` for each path, in input order, using ``jobs`` processes.

    ``func`` must be picklable (a module-level function).  At most ``window``
    (default ``2 * jobs``) calls are in flight, so results that are waiting
    for an earlier, slower file do not pile up without bound.  With
    ``jobs <= 1`` everything runs in this process.
    """
    paths = list(paths)
    if jobs is None or jobs <= 1 or len(paths) <= 1:
        for p in paths:
            yield func(p)
        return
    workers = min(jobs, len(paths))
    window = max(window or 2 * workers, workers)
    ctx = multiprocessing.get_context(mp_context) if mp_context else None
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as ex:
        pending: collections.deque[cf.Future] = collections.deque()
        it = iter(paths)
        try:
            for p in it:
                pending.append(ex.submit(func, p))
                if len(pending) >= window:
                    break
            while pending:
                fut = pending.popleft()
                res = fut.result()
                nxt = next(it, None)
                if nxt is not None:
                    pending.append(ex.submit(func, nxt))
                yield res
        finally:
            for fut in pending:
                fut.cancel()


# -- lines ------------------------------------------------------------------
class _PartWriter:
    """Callable (picklable) that writes one file's rows and findings to a part file."""

    def __init__(self, tmpdir: str, want_findings: bool):
        self.tmpdir = tmpdir
        self.want_findings = want_findings

    def __call__(self, path: str) -> tuple[str, int, list[Finding]]:
        from .model.build import stream
        from .outputs.tables import claim_rows

        fd, part = tempfile.mkstemp(prefix="part-", suffix=".pickle", dir=self.tmpdir)
        findings: list[Finding] = []
        n = 0
        with os.fdopen(fd, "wb") as f:
            buf: list[dict[str, Any]] = []
            for kind, obj in stream(path):
                if kind == "claim":
                    for r in claim_rows(obj):  # type: ignore[arg-type]
                        buf.append(r)
                    if len(buf) >= BATCH:
                        pickle.dump(buf, f, protocol=pickle.HIGHEST_PROTOCOL)
                        n += len(buf)
                        buf = []
                elif kind == "finding" and self.want_findings:
                    findings.append(obj)  # type: ignore[arg-type]
            if buf:
                pickle.dump(buf, f, protocol=pickle.HIGHEST_PROTOCOL)
                n += len(buf)
        return part, n, findings


def _read_part(part: str) -> Iterator[dict[str, Any]]:
    try:
        with open(part, "rb") as f:
            while True:
                try:
                    batch = pickle.load(f)
                except EOFError:
                    break
                yield from batch
    finally:
        try:
            os.unlink(part)
        except OSError:
            pass


def lines(paths: Iterable[str | os.PathLike[str]], jobs: int = 1,
          findings: list[Finding] | None = None, tmpdir: str | None = None
          ) -> Iterator[dict[str, Any]]:
    """The rows of :func:`edi837.api.lines`, reading files on ``jobs`` processes.

    Folders are expanded as ``api.lines`` does.  Rows come in the same order
    as with one job; reader/grammar findings are appended to ``findings`` in
    file order.  Part files live in a temporary folder (under ``tmpdir`` if
    given) that is removed when the iteration ends or is closed.
    """
    from . import api

    files = list(api.expand_paths(paths))
    if jobs is None or jobs <= 1 or len(files) <= 1:
        yield from api.lines(files, findings=findings)
        return
    d = tempfile.mkdtemp(prefix="edi837-lines-", dir=tmpdir)
    try:
        work = _PartWriter(d, findings is not None)
        for part, _n, fnd in map_files(work, files, jobs):
            if findings is not None:
                findings.extend(fnd)
            yield from _read_part(part)
    finally:
        shutil.rmtree(d, ignore_errors=True)
