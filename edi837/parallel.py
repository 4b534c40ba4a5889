"""Process-parallel work over many files, output identical to a serial run.

:func:`map_files` runs a picklable function over paths in a
``ProcessPoolExecutor`` (spawn-safe: workers import this module fresh) and
yields the results in input order (:func:`submit_files`: the futures).
:func:`lines` uses it for ``edi837 lines --jobs N``: each worker streams the
rows of one file to a temp part file (pickled batches, as the two-phase spool
of checks/twophase.py) and the parent reads
the parts back in file order, so memory stays flat for big files and the rows
are exactly those of ``api.lines`` with one job.

:func:`file_events` gives one engine's events file by file for
``edi837 validate --jobs N`` (:func:`validate`) and ``edi837 gate --jobs N``:
workers run the rules that look at one claim (``Engine(cross_claim="skip")``)
while the parent reads the same file and runs the cross-claim rules
(``Engine(cross_claim="only")``) on its claims in file order; then
:func:`split_events` merges the two halves into the events of one engine.

Parallelism is per file: a single big file is read by one worker.
"""

from __future__ import annotations

import collections
import contextlib
import io
import os
import pickle
import shutil
import sys
import tempfile
from typing import IO, TYPE_CHECKING, Any, Callable, Generator, Iterable, Iterator, TypeVar

import attrs

from .checks.engine import Engine
from .checks.options import RunOptions
from .checks.twophase import read_batches, write_batches
from .checks.verdicts import SplitTally
from .events import (ClaimChecked, ClaimCheckedAt, ClaimSent, ClaimVerdict, EngineEvent, FileDone, FileStart,
                     Found)
from .findings import Finding

if TYPE_CHECKING:
    import concurrent.futures as cf

    from .checks.engine import Key
    from .model.claims import Claim

T = TypeVar("T")
A = TypeVar("A")


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
    for fut in submit_files(func, paths, jobs, mp_context, window):
        yield fut.result()


def submit_files(func: Callable[[A], T], paths: Iterable[A], jobs: int,
                 mp_context: str | None = "spawn", window: int | None = None
                 ) -> Generator[cf.Future[T], None, None]:
    """The futures of ``func(path)`` on a pool of ``jobs`` processes, in input order.

    Lets the caller work on a file while its future is still running (see
    :func:`file_events`); ``window`` as in :func:`map_files`.  Closing the
    iterator cancels what has not started and shuts the pool down.
    """
    paths = list(paths)
    if not paths:
        return
    workers = max(1, min(jobs, len(paths)))
    window = max(window or 2 * workers, workers)
    import concurrent.futures as cf  # (imported here: a run without --jobs does not pay for them)
    import multiprocessing

    ctx = multiprocessing.get_context(mp_context) if mp_context else None
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as ex:
        pending: collections.deque[cf.Future[T]] = collections.deque()
        it = iter(paths)
        try:
            for p in it:
                pending.append(ex.submit(func, p))
                if len(pending) >= window:
                    break
            while pending:
                fut = pending.popleft()
                for nxt in it:
                    pending.append(ex.submit(func, nxt))
                    break
                yield fut
        finally:
            for fut in pending:
                fut.cancel()


def broken_pool(e: BaseException) -> bool:
    """Whether ``e`` says a worker process of a pool died (out of memory, a signal):
    ``BrokenProcessPool``, tested without importing ``concurrent.futures`` (a run
    that started no pool cannot raise it)."""
    mod = sys.modules.get("concurrent.futures.process")
    return mod is not None and isinstance(e, mod.BrokenProcessPool)


# -- lines ------------------------------------------------------------------
def _write_part(tmpdir: str, items: Iterable[Any]) -> tuple[str, int]:
    """A new part file in ``tmpdir`` holding ``items`` (read back by :func:`_read_part`):
    its path and how many items."""
    fd, part = tempfile.mkstemp(prefix="part-", suffix=".pickle", dir=tmpdir)
    with os.fdopen(fd, "wb") as f:
        return part, write_batches(f, items)


class _PartWriter:
    """Callable (picklable) that writes one file's rows and findings to a part file."""

    def __init__(self, tmpdir: str, want_findings: bool):
        self.tmpdir = tmpdir
        self.want_findings = want_findings

    def __call__(self, path: str) -> tuple[str, int, list[Finding]]:
        from .outputs.fastlines import file_rows

        findings: list[Finding] = []
        on_finding = findings.append if self.want_findings else None
        part, n = _write_part(self.tmpdir, file_rows(path, None, on_finding))
        return part, n, findings


# the items of a part file (rows or events), deleting it after: read as the two-phase spool is
_read_part = read_batches


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


# -- claims across processes ------------------------------------------------------
def _set_slots(obj: Any, state: dict[str, Any]) -> None:
    for k, v in state.items():
        object.__setattr__(obj, k, v)


class _ClaimPickler(pickle.Pickler):
    """Pickles one claim without the rest of its file.

    A claim reaches its transaction, group, interchange and (through loop
    parents) every other claim of the transaction; those lists are left out:
    HL and 2300 loops other than the claim's own chain, the transaction's
    loops and claims, the group's transactions and the interchange's groups.
    """

    def __init__(self, f: IO[bytes], claim: Claim):
        super().__init__(f, protocol=pickle.HIGHEST_PROTOCOL)
        from .grammar.loop import Loop
        from .model.envelope import FunctionalGroup, Interchange, Transaction

        self._types = {Loop: "loop", Transaction: "tx", FunctionalGroup: "grp", Interchange: "isa"}
        self._keep = {id(lp) for lp in (claim.loop, claim.billing_loop, claim.subscriber_loop,
                                        claim.patient_loop) if lp is not None}

    def reducer_override(self, obj: Any) -> Any:
        what = self._types.get(type(obj))
        if what is None:
            return NotImplemented
        import copyreg

        state = {a.name: getattr(obj, a.name) for a in attrs.fields(type(obj))}
        if what == "loop":
            del state["_up"]  # a weak reference: the parent itself (Loop.parent) is set again
            state["parent"] = obj.parent
            state["children"] = [c for c in obj.children
                                 if id(c) in self._keep or not (c.id or "").startswith(("2000", "2300"))]
        elif what == "tx":
            state["loops"], state["claims"] = [], []
        elif what == "grp":
            state["transactions"] = []
        else:
            state["groups"] = []
        # typeshed does not declare copyreg.__newobj__ (pickle's NEWOBJ reducer)
        return (copyreg.__newobj__, (type(obj),), state, None, None, _set_slots)  # type: ignore[attr-defined]


def dump_claim(claim: Claim) -> bytes:
    """A claim as bytes, with only what encloses it (see :class:`_ClaimPickler`)."""
    buf = io.BytesIO()
    _ClaimPickler(buf, claim).dump(claim)
    return buf.getvalue()


def load_claim(data: bytes) -> Claim:
    claim: Claim = pickle.loads(data)
    return claim


# -- validate -------------------------------------------------------------------
class _ValidateWorker:
    """Callable (picklable): the skip-mode engine's events of one file, to a part file.

    A ``claim_checked`` payload travels as (claim_seq, keys, reasons, ctl): the
    parent reads the claims itself (:func:`file_events`), which is several
    times cheaper than unpickling them."""

    def __init__(self, tmpdir: str, options: RunOptions):
        self.tmpdir = tmpdir
        self.options = options

    def __call__(self, work: tuple[str, dict[int, str]]) -> str:
        path, dups = work
        eng = Engine(self.options, cross_claim="skip")
        eng.dup_ics = dups
        events = (ClaimCheckedAt(ev.claim.seq, ev.keys, ev.reasons, ev.ctl) if isinstance(ev, ClaimChecked)
                  else ev for ev in eng.run_file(path))
        return _write_part(self.tmpdir, events)[0]


def split_events(engine: Engine, events: Iterable[EngineEvent], file: str | None = None,
                 cur: list[Any] | None = None) -> Iterator[EngineEvent]:
    """Complete one group of skip-mode ``events`` with the only-mode ``engine``
    (Spark: each claim comes as a :class:`ClaimSent`, pickled, or a
    :class:`ClaimChecked`): the events one ``Engine(cross_claim="run")`` would
    give, as :class:`edi837.checks.twophase.TwoPhase` does for a run.  ``cur``:
    ``cur[0]`` is the caller's mark of the event being read; it is set back to
    the mark of the event each output comes from."""
    from .checks.twophase import TwoPhase

    tp = TwoPhase(engine)
    if cur is None:
        tp.add_file(None, _claims_loaded(events), name=file)
        files = tp.files()
    else:
        tp.add_file(None, _claims_loaded(events), name=file, tag=lambda: cur[0])
        files = tp.files(on_tag=lambda t: cur.__setitem__(0, t))
    for _src, evs in files:
        yield from evs


def _claims_loaded(events: Iterable[EngineEvent]) -> Iterator[EngineEvent]:
    for ev in events:
        if isinstance(ev, ClaimSent):
            yield ClaimChecked(load_claim(ev.data), ev.keys, ev.reasons, ev.ctl)
        else:
            yield ev


def file_events(sources: Iterable[Any], jobs: int = 1, options: RunOptions | None = None, *,
                tmpdir: str | None = None, read_ahead: bool = False
                ) -> tuple[Engine, Generator[tuple[Any, Iterator[EngineEvent]], None, None]]:
    """One engine's events per file, on ``jobs`` processes: ``(engine, files)``.

    ``files`` yields ``(source, events)`` in input order, where ``events`` are
    those of ``Engine(options).run(sources)`` for that file; consume each
    file's events before asking for the next file.  ``engine`` is the engine
    whose packs and ``claim_listeners`` see every claim and verdict (add
    listeners before asking for the first file: with cross-claim rules every
    file is checked before the first file's events come, see
    checks/twophase.py).  With ``jobs > 1`` and several files, workers run the
    rules that look at one claim only (``cross_claim="skip"``; every option but
    history and callbacks) and stream their events to part files; this process
    reads the same file and runs the cross-claim rules on its claims, so
    verdicts, findings and their order are those of one process.  Sources must
    be paths the workers can open.  ``on_finish`` is left to the caller.
    ``read_ahead`` is accepted for compatibility and ignored.
    """
    options = options or RunOptions()
    files = list(sources)
    eng = Engine(options)
    if jobs is None or jobs <= 1 or len(files) <= 1:
        return eng, _serial_files(eng, files, tmpdir)
    return eng, _split_files(eng, files, jobs, tmpdir, options)


def _serial_files(eng: Engine, files: list[Any], tmpdir: str | None = None
                  ) -> Generator[tuple[Any, Iterator[EngineEvent]], None, None]:
    if not eng.two_phase:
        for src in files:
            yield src, eng.run_file(src)
        return
    from .checks.twophase import TwoPhase

    tp = TwoPhase(eng, tmpdir)
    skip = eng._skip
    assert skip is not None
    for src in files:
        skip.dup_ics = eng.scan_interchanges(src, _src_name(src))
        tp.add_file(src, skip._run_file(src), name=_src_name(src))
    yield from tp.files()


def _src_name(src: Any) -> str:
    return os.fspath(src) if isinstance(src, (str, os.PathLike)) else "<bytes>"


def _split_files(eng: Engine, files: list[Any], jobs: int, tmpdir: str | None, options: RunOptions
                 ) -> Generator[tuple[Any, Iterator[EngineEvent]], None, None]:
    from .checks.twophase import TwoPhase
    from .model.build import iter_claims

    d = tempfile.mkdtemp(prefix="edi837-validate-", dir=tmpdir)
    try:
        paths = [os.fspath(f) for f in files]
        # interchanges sent twice are found here, in input order, before any worker starts
        work = [(p, eng.scan_interchanges(p, p)) for p in paths]
        futs = submit_files(_ValidateWorker(d, options.serial), work, jobs)
        tp = TwoPhase(eng, tmpdir=d)
        with contextlib.closing(futs):
            for src, path in zip(files, paths):
                part = next(futs).result()
                try:
                    tp.add_file(src, _read_part(part), iter_claims(path), name=path)
                finally:
                    with contextlib.suppress(OSError):
                        os.unlink(part)
        yield from tp.files()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def validate(sources: Iterable[Any], jobs: int = 1, options: RunOptions | None = None, *,
             tmpdir: str | None = None) -> Iterator[EngineEvent]:
    """The events of ``Engine(options).run(sources)`` on ``jobs`` processes
    (see :func:`file_events`)."""
    options = options or RunOptions()
    _engine, files = file_events(sources, jobs, options, tmpdir=tmpdir)
    return _run(files, options)


def _run(files: Iterator[tuple[Any, Iterator[EngineEvent]]], options: RunOptions) -> Iterator[EngineEvent]:
    for src, events in files:
        yield FileStart(src)
        yield from events
    fin = options.on_finish
    if fin is not None:
        fin()
