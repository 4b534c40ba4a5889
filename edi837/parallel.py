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

One file on many cores (issue 16 item 4): ``validate FILE --jobs N`` and ``gate
--jobs N`` with one file.  :func:`split_plan` scans the bytes of the file for its
envelope segments (about 0.4 s for 38 MB); only a plain envelope is split -- a
standard ISA, the same delimiters and line break after every terminator, (ISA (GS
(ST SE)+ GE)+ IEA)+, every ST an 837 of 005010X222A1/X223A2 -- anything else, and a
file under :data:`MIN_SPLIT_BYTES`, is read by one process as before.  The 837
transactions go, in file order, each to the share furthest behind its part of the
bytes (:data:`PARENT_SHARE` of a worker's for this process, which takes the first; ``N -
1`` workers), so the shares' ranges interleave.  Every process reads the whole file
(``Engine._run_file`` with a :class:`edi837.checks.engine.SplitPart`): the bodies of the
transactions it does not own are counted, not parsed (``Structurer.skip_tx``: the segments and CLMs), their
ST/SE still pass through the checkers, so what spans transactions (ST02 and ISA13
used twice, GE01/IEA01 counts, duplicate interchanges) is as in one process; their
findings and the envelope's findings outside every transaction (given by this
process only) are not given twice but still settle the verdicts of what they enclose.
Each event is tagged with its place in the events of one process (region 2t inside
transaction t, 2t + 1 after it; the model event in an odd region; verdicts of an
interchange at its end by claim); workers write theirs to part files as they go
(with marks: "nothing more before"), and :func:`_merged` puts every share back in
that order, reading on whichever share is furthest behind (so the merge follows the
workers and holds a part file of each at most); the file results are summed.  This
process computes its own share with the run's own per-claim engine, reads the
workers' claims from the same read of the file (:class:`_Tee`) and runs the
cross-claim rules on every claim in file order (:class:`TwoPhase`) while the workers
work.  A process that reads other transactions than the plan's (the file changed) ends
the run with :class:`SplitMismatch`, an :class:`InputChanged`.  Several files: one
worker per file as above.

Split by patient (:func:`_split_closed`), the usual case: the cross-claim rules read the
claims of one patient, and a patient key starts with the member id (NM1*IL NM109), so when
the transactions that name a member id in common (the scan reads every NM1*IL) can be
grouped into even shares (:func:`_closed`), every process checks its own transactions whole
-- the per-claim and the cross-claim rules, both phases -- and this process puts the final
events back in file order by their tags; no process reads another's claims.  The shares
run in file order when a cut there is about as even (:func:`_in_order`: this process the
first run, so that it reports its share while the workers check theirs and then reads each
worker's events as they are written); the reader counts the bodies a process does not own
without splitting their segments (``SegmentReader.skip_body``), and the workers start while
this process scans the file (:func:`_early_pool`).  Each claim's
member id is checked against the plan (:class:`NotClosed`: the file is then split by
transaction as above, before any event is out: this process holds its first events until
every worker is past that check, :func:`_held_until_closed`).  A run with a history store, ``on_verdict``
or claim listeners (which must see every claim here; a progress bar need not, and a listener
with a ``worker_note`` takes the workers' claims as notes: :func:`_closed_ok`) is split by
transaction.  ``gate`` splits by patient only (``file_events(split="patient")``): a file the
plan cannot split so, or whose plan proves wrong, is checked by one process.
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import gc
import io
import itertools
import os
import pickle
import shutil
import sys
import tempfile
import time
from typing import IO, TYPE_CHECKING, Any, Callable, Generator, Iterable, Iterator, TypeVar

import attrs

from .checks.engine import Engine, SplitPart
from .checks.options import RunOptions
from .checks.twophase import InputChanged, read_batches, write_batches
from .checks.verdicts import FileResult, SplitTally
from .events import (ClaimChecked, ClaimCheckedAt, ClaimRead, ClaimSent, ClaimVerdict, EngineEvent, FileDone,
                     FileStart, Found, FoundEntry, HlRead, ModelEvent, PartMark, TransactionStart,
                     VerdictEntry)
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
    with _executor(workers, ctx) as ex:
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


def _executor(workers: int, ctx: Any) -> cf.ProcessPoolExecutor:
    """A pool of ``workers`` processes whose garbage collector runs as this process's does
    (the CLI's thresholds, edi837/cli.py): a spawned process starts with the defaults, which
    made a worker check its share slower than this process checked one as large."""
    import concurrent.futures as cf

    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_collector,
                                  initargs=(gc.get_threshold(),))


def _collector(thresholds: tuple[int, ...]) -> None:
    gc.set_threshold(*thresholds)


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
                tmpdir: str | None = None, read_ahead: bool = False, split: bool | str = True,
                entries: bool = False
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
    ``read_ahead`` is accepted for compatibility and ignored.  One file with
    ``jobs > 1`` is split by patient or by transaction set (see the module doc) unless
    ``split`` is false or the file is not plain; ``split="patient"``: by patient only, else
    one process checks it.  ``entries``: as :func:`validate`'s.
    """
    options = options or RunOptions()
    files = list(sources)
    eng = Engine(options)
    if split == "patient" and (options.history is not None or options.on_verdict is not None):
        split = False  # (no split by patient with these: _closed_ok; no pool started, no scan)
    if split and jobs is not None and jobs > 1 and len(files) == 1 and eng.two_phase and \
            isinstance(files[0], (str, os.PathLike)):
        pool = _early_pool(os.fspath(files[0]), jobs, options)
        plan = split_plan(os.fspath(files[0]), jobs)
        if plan is not None:
            return eng, _split_one(eng, files[0], plan, tmpdir, options, pool, entries=entries,
                                   by_transaction=split is True)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
    if jobs is None or jobs <= 1 or len(files) <= 1:
        return eng, _serial_files(eng, files, tmpdir)
    return eng, _split_files(eng, files, jobs, tmpdir, options)


def _warm(options: RunOptions) -> None:
    """A worker's start-up, before its share is known: the engine's tables and both grammars."""
    from .grammar.stream import _shared_parser

    Engine(options)
    for kind in ("837P", "837I"):
        _shared_parser(kind)


def _early_pool(path: str, jobs: int, options: RunOptions) -> cf.ProcessPoolExecutor | None:
    """The workers of a file large enough to be split, started (and warmed: :func:`_warm`)
    while this process scans it for its plan, so that their start-up (about a second on this
    machine) is not added to the run's; None for a smaller file."""
    import concurrent.futures as cf
    import multiprocessing

    try:
        if os.path.getsize(path) < MIN_SPLIT_BYTES or not os.path.isfile(path):
            return None
    except OSError:
        return None
    ex = _executor(jobs - 1, multiprocessing.get_context("spawn"))
    for _ in range(jobs - 1):
        ex.submit(_warm, options.serial)
    return ex


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
             tmpdir: str | None = None, listeners: Iterable[Callable[[Claim], None]] | None = None,
             entries: bool = False) -> Iterator[EngineEvent]:
    """The events of ``Engine(options).run(sources)`` on ``jobs`` processes
    (see :func:`file_events`); ``listeners`` are added to the engine's ``claim_listeners``.
    ``entries``: the events are for a JSON report, and a worker that checks a share of one
    file whole gives its findings and verdicts with their report entries
    (:class:`~edi837.events.FoundEntry`, :class:`~edi837.events.VerdictEntry`), so that this
    process, which writes the report, does not encode them."""
    options = options or RunOptions()
    engine, files = file_events(sources, jobs, options, tmpdir=tmpdir, entries=entries)
    engine.claim_listeners.extend(listeners or ())
    return _run(files, options)


def _run(files: Iterator[tuple[Any, Iterator[EngineEvent]]], options: RunOptions) -> Iterator[EngineEvent]:
    for src, events in files:
        yield FileStart(src)
        yield from events
    fin = options.on_finish
    if fin is not None:
        fin()


# -- one file on many cores ------------------------------------------------------
#: a file smaller than this is read by one process (tests set it to 0)
MIN_SPLIT_BYTES = 4 << 20
#: how ``gate --jobs N`` splits one file (``file_events``' ``split``): by patient only, else one
#: process checks it.  True (by transaction too) gives one job's outputs, but on the 100k-claim
#: file it took longer than one job (144 s against 109 s; benchmarks/README.md); False: no split
GATE_SPLIT: bool | str = "patient"
#: the share of the file's bytes this process checks itself, against one worker's 1: it also
#: reads and builds every claim of the file and runs the cross-claim rules on them, about 60% of
#: one job's work at 100,000 claims, so it takes little (benchmarks/README.md, "Where --jobs 2
#: stops"): 0.08 against 1 is about 7% of the file with one worker
PARENT_SHARE = 0.08
_BLOCK = 1 << 22
_BIG = 1 << 62


@attrs.frozen
class SplitPlan:
    """How one file is split: ``starts[r]`` is the first transaction (ordinal among the file's
    837 transactions, from 1) of range r, checked by ``owners[r]``: 0 this process, k > 0
    worker k."""

    transactions: int
    starts: tuple[int, ...]
    owners: tuple[int, ...]
    # the member ids (NM1*IL NM109, :func:`member_key`) named in each transaction (index t - 1),
    # and the plan that gives every process whole patients (see :func:`_closed`), when there is one
    keys: tuple[frozenset[str], ...] | None = attrs.field(default=None, eq=False, repr=False)
    closed: SplitPlan | None = attrs.field(default=None, eq=False, repr=False)

    def owner(self, t: int) -> int:
        return self.owners[bisect.bisect_right(self.starts, t) - 1] if t >= 1 else -1

    def workers(self) -> list[int]:
        """The workers (k > 0) that own a range."""
        return sorted({k for k in self.owners if k > 0})


def split_plan(path: str, jobs: int, min_bytes: int | None = None) -> SplitPlan | None:
    """The plan of ``validate --jobs N`` for one file, from a cheap scan of its envelope
    segments; None when the file is read by one process: smaller than ``min_bytes``
    (:data:`MIN_SPLIT_BYTES`), fewer than two transactions, or anything but a plain envelope.

    Plain: the file starts with a standard 106-byte ISA (ISA12 00501), every interchange has
    the same delimiters and every segment terminator is followed by the same line break (or
    none) and then the next segment; the envelope segments nest as (ISA (GS (ST SE)+ GE)+
    IEA)+, each ST an 837 of 005010X222A1 or 005010X223A2 (ST03, else GS08).  What the
    structure stage reads then is exactly these transactions, in this order; every process
    checks it again (:class:`SplitMismatch`).  Gzip files, folders and unreadable files: None.
    """
    if min_bytes is None:
        min_bytes = MIN_SPLIT_BYTES
    if jobs < 2:
        return None
    try:
        size = os.path.getsize(path)
        if size < max(min_bytes, 212) or not os.path.isfile(path):
            return None
        with open(path, "rb") as f:
            return _scan(f, size, jobs)
    except (OSError, ValueError):
        return None


_ISA_WIDTHS = (3, 2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)
_VERSIONS = (b"005010X222A1", b"005010X223A2")


def _scan(f: IO[bytes], size: int, jobs: int) -> SplitPlan | None:
    head = f.read(_BLOCK)
    if head[:3] != b"ISA" or len(head) < 107:
        return None
    ele, term = head[3:4], head[105:106]
    if ele == term or ele.isalnum() or term.isalnum() or ele.isspace() or term.isspace():
        return None
    if [len(x) for x in head[:105].split(ele)] != list(_ISA_WIDTHS):
        return None
    suffix = b""
    for brk in (b"\r\n", b"\n", b"\r"):
        if head[106:106 + len(brk)] == brk:
            suffix = brk
            break
    sep = term + suffix
    ids = [b"ISA", b"IEA", b"GS", b"GE", b"ST", b"SE"]
    lits = [(sep + i + ele, i) for i in ids]
    lits.append((sep + b"NM1" + ele + b"IL" + ele, b"NM1"))  # (the member ids: _closed)
    lits.append((sep + b"SBR" + ele, b"SBR"))  # (subscribers without an NM1*IL: _plan)
    segs: list[tuple[int, bytes, bytes]] = [(0, b"ISA", head[:105])]  # (offset, id, text)
    base = 0
    data = head
    while True:
        cut = data.rfind(term)
        if cut < 0:
            return None
        # every terminator before ``cut`` is followed by the line break and then a segment id
        if data.count(term, 0, cut) != data.count(sep, 0, cut + len(sep) - 1) or \
                any(data.count(sep + w, 0, cut + len(sep)) for w in (b" ", b"\t", b"\r", b"\n")):
            return None
        found = []
        for lit, i in lits:
            pos = data.find(lit, 0, cut)
            while pos >= 0:
                start = pos + len(sep)
                end = data.find(term, start)
                found.append((base + start, i, data[start:end]))
                pos = data.find(lit, pos + 1, cut)
        found.sort()
        segs.extend(found)
        more = f.read(_BLOCK)
        if not more:
            tail = data[cut + len(sep):]
            if tail.strip(b"\r\n"):
                return None  # (a last segment without its terminator, or text after the last one)
            break
        base += cut
        data = data[cut:] + more
    return _plan(segs, ele, size, jobs)


def _plan(segs: list[tuple[int, bytes, bytes]], ele: bytes, size: int, jobs: int) -> SplitPlan | None:
    starts: list[int] = []  # byte offset of each ST
    keys: list[set[str]] = []  # the member ids of each transaction
    state = "file"  # file, isa, gs, st
    gs08 = b""
    # SBR segments less NM1*IL segments in the transaction: a subscriber (2000B) and each other
    # payer's subscriber (2320) begin with an SBR and name their member in an NM1*IL (2010BA,
    # 2330A); more SBRs than NM1*IL is a subscriber without its 2010BA NM1, whose claims the
    # model gives the member id "", so the transaction holds that key too (else a worker would
    # find it only in its phase 1, and the run would start again split by transaction: NotClosed)
    unnamed = 0
    for off, sid, text in segs:
        if sid == b"NM1":
            if state == "st":
                fields = text.split(ele)
                keys[-1].add(member_key(fields[9].decode("latin-1") if len(fields) > 9 else ""))
                unnamed -= 1
            continue
        if sid == b"SBR":
            unnamed += 1
            continue
        fields = text.split(ele)
        if sid == b"ISA":
            if state != "file" or len(text) != 105 or text[3:4] != ele or \
                    [len(x) for x in fields] != list(_ISA_WIDTHS) or fields[12] != b"00501":
                return None
            state = "isa"
        elif sid == b"GS":
            if state != "isa":
                return None
            gs08 = fields[8] if len(fields) > 8 else b""
            state = "gs"
        elif sid == b"ST":
            if state != "gs" or len(fields) < 3 or fields[1] != b"837":
                return None
            version = fields[3] if len(fields) > 3 and fields[3] else gs08
            if version not in _VERSIONS:
                return None
            starts.append(off)
            keys.append(set())
            unnamed = 0
            state = "st"
        elif sid == b"SE":
            if state != "st":
                return None
            if unnamed > 0:
                keys[-1].add(member_key(""))
            state = "gs"
        elif sid == b"GE":
            if state != "gs":
                return None
            state = "isa"
        elif sid == b"IEA":
            if state != "isa":
                return None
            state = "file"
    if state != "file" or len(starts) < 2:
        return None
    # each transaction, in file order, to the share furthest behind its part of the bytes read
    # up to the transaction's middle (this process the first): the shares interleave, so that
    # every process is busy from start to end and this process, which takes the events in file
    # order, follows the workers; and a file of few large transactions is cut by them, not by
    # byte offsets (which gave this process every fourth of 20 equal transactions whatever its
    # share)
    shares = [PARENT_SHARE] + [1.0] * (jobs - 1)
    total = sum(shares)
    weights = [w / total for w in shares]
    owned = [0] * len(shares)
    first: list[int] = []
    owners: list[int] = []
    read = 0
    for t, off in enumerate(starts, 1):
        n = (starts[t] if t < len(starts) else size) - off
        mid = read + n / 2
        read += n
        if t == 1:
            k = 0
        else:
            k = max(range(len(shares)), key=lambda j: (weights[j] * mid - owned[j], -j))
        owned[k] += n
        if not owners or owners[-1] != k:
            first.append(t)
            owners.append(k)
    plan = SplitPlan(len(starts), tuple(first), tuple(owners))
    if not plan.workers():
        return None
    sizes = [(starts[t] if t < len(starts) else size) - starts[t - 1] for t in range(1, len(starts) + 1)]
    fk = tuple(frozenset(k) for k in keys)
    return attrs.evolve(plan, keys=fk, closed=_closed(fk, sizes, jobs))


def member_key(member_id: str) -> str:
    """A member id as the closed plan groups patients by it (NM1*IL NM109, blanks and case
    aside: two ids the engine holds apart may share a key, never the reverse)."""
    return member_id.strip().upper()


#: this process's share of the bytes in a closed plan, against one worker's 1: even, since what
#: it does besides (merging the shares' events, the reports) comes after every share's phase 1,
#: whose end the busiest share sets (the 100k 837P: 38.3 s and 46.6 s at 1.0, 45.4 s and 46.8 s
#: at 0.8, against 65.3 s and 58.7 s for one job; benchmarks/README.md)
CLOSED_SHARE = 1.0
#: a closed plan is used when its busiest share is at most this much above its part
CLOSED_SLACK = 1.15
#: the shares of a closed plan run in file order (:func:`_in_order`) unless that makes the busiest
#: share more than this (of its part) busier than the plan of groups largest first
IN_ORDER_SLACK = 0.05


def _in_order(groups: dict[int, list[int]], root: Callable[[int], int], sizes: list[int],
              weights: list[float]) -> list[int] | None:
    """The owner of each transaction when the file can be cut into one run of whole groups a
    share, in file order (this process the first run): then this process reports its share
    while the workers still check theirs, and reads each worker's events as it writes them,
    so that little is left to do once the last share is checked.  None when the file has too
    few places to cut (a patient's transactions spread over the file)."""
    n = len(sizes)
    last = {r: max(m) for r, m in groups.items()}
    total = sum(sizes)
    # the places a cut may go: after transaction t when no group of one at or before t goes on
    cuts: list[tuple[int, int]] = []  # (transactions before the cut, bytes before it)
    reach = -1
    done = 0
    for t in range(n - 1):
        reach = max(reach, last[root(t)])
        done += sizes[t]
        if reach == t:
            cuts.append((t + 1, done))
    owner: list[int] = []
    at = 0
    wsum = sum(weights)
    for j in range(1, len(weights)):
        want = total * sum(weights[:j]) / wsum
        here = [c for c in cuts if c[0] > at]
        if not here:
            return None
        t, _b = min(here, key=lambda c: (abs(c[1] - want), c[0]))
        owner.extend([j - 1] * (t - at))
        at = t
    owner.extend([len(weights) - 1] * (n - at))
    return owner


def _spread(owner: list[int], sizes: list[int], weights: list[float]) -> float:
    """The busiest share's bytes over its part of the file's (1.0: even; inf: a share with none)."""
    load = [0] * len(weights)
    for t, w in enumerate(owner):
        load[w] += sizes[t]
    if min(load) == 0:
        return float("inf")
    total, wsum = sum(sizes), sum(weights)
    return max(load[j] / (weights[j] / wsum * total) for j in range(len(weights)))


def _closed(keys: tuple[frozenset[str], ...], sizes: list[int], jobs: int) -> SplitPlan | None:
    """A plan that gives every process whole patients: the transactions that name a member id
    in common (:func:`member_key`) stay in one share, so each process runs the cross-claim
    rules on its own claims (they read one patient's claims: tests/test_patient_partition.py).
    The groups go, largest first, to the share furthest below its part of the bytes; None when
    the shares cannot be even (one group holds most of the file)."""
    n = len(sizes)
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    seen: dict[str, int] = {}
    for t, ks in enumerate(keys):
        for k in ks:
            j = seen.setdefault(k, t)
            if j != t:
                a, b = root(j), root(t)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for t in range(n):
        groups.setdefault(root(t), []).append(t)
    weights = [CLOSED_SHARE] + [1.0] * (jobs - 1)
    load = [0] * jobs
    owner = [0] * n
    for members in sorted(groups.values(), key=lambda m: (-sum(sizes[t] for t in m), m[0])):
        w = min(range(jobs), key=lambda j: (load[j] / weights[j], j))
        load[w] += sum(sizes[t] for t in members)
        for t in members:
            owner[t] = w
    spread = _spread(owner, sizes, weights)
    ordered = _in_order(groups, root, sizes, weights)
    # in file order when that is about as even (the tail it saves: about 5% of the 100k file)
    if ordered is not None:
        even = _spread(ordered, sizes, weights)
        if even <= spread + IN_ORDER_SLACK:
            owner, spread = ordered, even
    if spread > CLOSED_SLACK:
        return None
    first: list[int] = []
    owners: list[int] = []
    for t in range(n):
        if not owners or owners[-1] != owner[t]:
            first.append(t + 1)
            owners.append(owner[t])
    plan = SplitPlan(n, tuple(first), tuple(owners), keys=keys)
    return plan if len(plan.workers()) == jobs - 1 else None


class SplitMismatch(InputChanged):
    """A process read the transactions of a split file differently from the plan: the file
    changed while the run read it (:func:`split_plan` splits only plain envelopes, which
    every process reads alike)."""


_Tag = tuple[int, int, int, int]


def _tagged(eng: Engine, path: str, plan: SplitPlan, k: int, part: SplitPart) -> Iterator[tuple[_Tag, Any]]:
    """The events of ``k``'s share of ``path`` (a skip-mode ``eng``), each with its place in
    the events of one process: (region, event, 0, n) for a finding or a checked claim (n
    counts this share's events), (region, event, 1, claim) for a verdict (every share's
    verdicts of an interchange come at its end, in claim order), FileDone last."""
    n = 0
    for ev in eng._run_file(path, part=part):
        if isinstance(ev, PartMark):
            yield (2 * part.t + 1, 0, 0, 0), None
            continue
        if isinstance(ev, ClaimVerdict):
            yield (part.region, part.at, 1, ev.result.claim_seq), ev
        elif isinstance(ev, FileDone):
            if part.t != plan.transactions:
                raise SplitMismatch(path, f"the file changed while it was read ({part.t} transactions read "
                                          f"where {plan.transactions} were found first)")
            yield (_BIG, 0, 0, k), ev
        else:
            yield (part.region, part.at, 0, n), ev
        n += 1


class _SplitWorker:
    """Callable (picklable): worker ``k``'s share of a split file (:class:`SplitPart`), its
    tagged events (:func:`_tagged`) in part files ``w<k>-<n>.pickle``, each complete when it
    appears (written, then renamed); a mark (tag, None) says it gives nothing more before tag."""

    FLUSH = 2000  # events per part file at most

    def __init__(self, tmpdir: str, options: RunOptions):
        self.tmpdir = tmpdir
        self.options = options

    def __call__(self, work: tuple[str, dict[int, str], SplitPlan, int]) -> int:
        path, dups, plan, k = work
        eng = Engine(self.options, cross_claim="skip")
        eng.dup_ics = dups
        owner = plan.owner
        part = SplitPart(lambda t: owner(t) == k, envelope=False)
        buf: list[tuple[_Tag, Any]] = []
        n_parts = 0

        def flush() -> None:
            nonlocal buf, n_parts
            _put_part(self.tmpdir, k, n_parts, buf)
            n_parts += 1
            buf = []

        def enter() -> None:  # (the start of a transaction of this worker's)
            if owner(part.t - 1) != k:
                buf.append(((2 * part.t, 0, 0, 0), None))
                flush()

        def left() -> None:  # (its end)
            if owner(part.t + 1) != k:
                buf.append(((2 * part.t + 1, 0, 0, 0), None))
                flush()
            elif len(buf) >= self.FLUSH // 4:
                flush()

        part.on_enter = enter
        part.on_left = left
        for tag, ev in _tagged(eng, path, plan, k, part):
            if isinstance(ev, ClaimChecked):
                ev = ClaimCheckedAt(ev.claim.seq, ev.keys, ev.reasons, ev.ctl)
            buf.append((tag, ev))
            if len(buf) >= self.FLUSH:
                flush()
        flush()
        return n_parts


def _part_name(d: str, k: int, n: int) -> str:
    """Worker ``k``'s part file ``n`` in ``d``."""
    return os.path.join(d, f"w{k}-{n:06d}.pickle")


def _put_part(d: str, k: int, n: int, items: list[tuple[_Tag, Any]]) -> None:
    """Worker ``k``'s part file ``n``: written, then renamed, so it is complete when it appears."""
    name = _part_name(d, k, n)
    with open(name + ".tmp", "wb") as f:
        write_batches(f, items)
    os.replace(name + ".tmp", name)


def _next_part(d: str, k: int, n: int, fut: cf.Future[int]) -> list[tuple[_Tag, Any]] | None:
    """The items of worker ``k``'s part file ``n`` once it is there (deleted once read); None
    when the worker ended without it."""
    name = _part_name(d, k, n)
    wait = 0.0005
    while True:
        if os.path.exists(name):
            return list(read_batches(name))
        if fut.done():
            total = fut.result()  # (a worker's error is raised here)
            if n >= total:
                return None
            continue
        time.sleep(wait)
        wait = min(wait * 2, 0.01)


def _merged(local: Iterator[tuple[_Tag, Any]], d: str, futs: dict[int, cf.Future[int]], name: str
            ) -> Iterator[EngineEvent]:
    """The events of this process's share (``local``) and the workers' in the order of one
    process, by their tags (each share's come in tag order); their file results summed.  An
    event is given once no share can still give one before it: this process's share is read
    on (computed) when it may, a worker's next part file waited for only when nothing else can
    come first, so this follows the workers as they go, holding one part file of each at most."""
    total = FileResult(file=name)
    ks = [0, *sorted(futs)]
    w = len(ks)
    held: list[collections.deque[tuple[_Tag, Any]]] = [collections.deque() for _ in range(w)]
    floor: list[_Tag] = [(0, 0, 0, 0)] * w  # share i gives nothing before floor[i] from now on
    parts = [0] * w
    done = [False] * w
    while True:
        # the share furthest behind: its next event if it holds one, else read it on
        at: _Tag | None = None
        i = -1
        has = False
        for j in range(w):
            q = held[j]
            if q:
                key, h = q[0][0], True
            elif done[j]:
                continue
            else:
                key, h = floor[j], False
            if at is None or key < at or (key == at and h and not has):
                at, i, has = key, j, h
        if i < 0:
            break
        if not has:
            if i == 0:  # this process's share: its next event (computed here, never waits)
                it = next(local, None)
                if it is None:
                    done[0] = True
                else:
                    floor[0] = it[0]
                    if it[1] is not None:
                        held[0].append(it)
                continue
            items = _next_part(d, ks[i], parts[i], futs[ks[i]])  # (a worker's: waits for it)
            if items is None:
                done[i] = True
                continue
            parts[i] += 1
            if items:
                floor[i] = items[-1][0]
            held[i].extend(it for it in items if it[1] is not None)
            continue
        ev = held[i].popleft()[1]
        if isinstance(ev, FileDone):
            r = ev.result
            total.claims += r.claims
            total.accepted += r.accepted
            total.rejected += r.rejected
            total.errors += r.errors
            total.warnings += r.warnings
            total.infos += r.infos
            total.could_not_read = total.could_not_read or r.could_not_read
            continue
        yield ev
    yield FileDone(total)


class _Tee:
    """One read of the file for this process: the model events of its own share (and of
    what every share reads: envelopes, the start and end of every transaction, findings)
    for its engine (:meth:`mine`), the claims of the workers' transactions for the
    cross-claim rules (:meth:`theirs`).  Each takes from the file as it needs; what the other
    has not taken yet waits here (little: the merge takes the shares in file order)."""

    def __init__(self, events: Iterator[ModelEvent], owner: Callable[[int], int]):
        self.src = events
        self.owner = owner
        self.t = 0
        self.own = True  # the transaction being read is this process's (or none is open)
        self.mine_q: collections.deque[ModelEvent] = collections.deque()
        self.theirs_q: collections.deque[Claim] = collections.deque()

    def _pull(self) -> bool:
        ev = next(self.src, None)
        if ev is None:
            return False
        if isinstance(ev, TransactionStart):
            self.t += 1
            self.own = self.owner(self.t) == 0
        elif not self.own:
            if isinstance(ev, ClaimRead):
                self.theirs_q.append(ev.claim)
                return True
            if isinstance(ev, HlRead):
                return True
        self.mine_q.append(ev)
        return True

    def mine(self) -> Iterator[ModelEvent]:
        return self._take(self.mine_q)

    def theirs(self) -> Iterator[Claim]:
        return self._take(self.theirs_q)

    def _take(self, q: collections.deque[T]) -> Iterator[T]:
        while True:
            while not q:
                if not self._pull():
                    return
            yield q.popleft()


class NotClosed(Exception):
    """A claim's member id is not among those the closed plan found in its transaction (a
    subscriber loop the scan read otherwise than the engine): the file is split again by
    transaction (:func:`_split_one`)."""


class _Cut:
    """A spool item of a closed share that ends a group of tags: the replay gives the findings it
    holds before it (with their own group's tag), and it gives nothing itself."""

    __slots__ = ()

    def __reduce__(self) -> str:
        return "_CUT"


_CUT = _Cut()

#: whether one file is split by patient when its plan allows it (:func:`_split_closed`)
CLOSED = True


def _closed_events(eng: Engine, path: str, plan: SplitPlan, k: int, part: SplitPart, tmpdir: str | None,
                   stop: Callable[[], bool] | None = None) -> Iterator[tuple[_Tag, Any]]:
    """Share ``k`` of a closed plan, checked whole by ``eng`` (a run engine: the per-claim and
    the cross-claim rules, both phases, on this share's claims only): its final events, each
    with its tag (:func:`_tagged`; carried through the two-phase spool)."""
    from .checks.twophase import TwoPhase

    skip = eng._skip
    assert skip is not None
    keys = plan.keys
    assert keys is not None
    tp = TwoPhase(eng, tmpdir)
    cur: list[_Tag] = [(0, 0, 0, 0)]

    def events() -> Iterator[Any]:
        last: tuple[int, int, int] | None = None
        n = 0
        for tag, ev in _tagged(skip, path, plan, k, part):
            if ev is None:
                continue
            g = tag[:3]
            if g != last:
                if last is not None:
                    yield _CUT  # (spooled with the tag before it)
                last = g
            cur[0] = tag
            if isinstance(ev, ClaimChecked):
                pk = ev.claim.patient_key
                if member_key(pk[1] if len(pk) > 1 else "") not in keys[part.t - 1]:
                    raise NotClosed(path)
                n += 1
                if stop is not None and not n % 256 and stop():
                    raise NotClosed(path)
            yield ev

    def on_tag(t: _Tag) -> None:
        cur[0] = t

    tp.add_file(path, events(), name=path, tag=lambda: cur[0])
    for _src, out in tp.files(on_tag):
        for ev in out:
            if not isinstance(ev, _Cut):
                yield cur[0], ev


class _ClosedWorker:
    """Callable (picklable): worker ``k``'s share of a closed plan, its final tagged events in
    part files as :class:`_SplitWorker` writes them (all of them after its phase 1); stops
    when this process writes ``abort`` (a share found the plan wrong)."""

    FLUSH = 2000

    def __init__(self, tmpdir: str, options: RunOptions, entries: bool = False,
                 notes: tuple[Callable[[Claim], Any], ...] = ()):
        self.tmpdir = tmpdir
        self.options = options
        self.entries = entries  # the findings and verdicts with their JSON report entries
        self.notes = notes  # the worker_note of this process's claim listeners (_take_notes)

    def __call__(self, work: tuple[str, dict[int, str], SplitPlan, int]) -> int:
        path, dups, plan, k = work
        from .outputs.report import claim_entry, finding_entry

        entries = self.entries
        eng = Engine(self.options)
        assert eng._skip is not None
        eng._skip.dup_ics = dups
        part = SplitPart(lambda t: plan.owner(t) == k, envelope=False)
        abort = os.path.join(self.tmpdir, "abort")
        buf: list[tuple[_Tag, Any]] = []
        n_parts = 0
        noted = _Notes(self.tmpdir, k, self.notes) if self.notes else None
        if noted is not None:
            eng.claim_listeners.append(noted)

        def flush() -> None:
            nonlocal buf, n_parts
            _put_part(self.tmpdir, k, n_parts, buf)
            n_parts += 1
            buf = []

        # a mark first: it gives nothing before its first transaction, so that this process
        # gives the events of the shares before it without waiting for its part files
        buf.append(((2 * plan.starts[plan.owners.index(k)], 0, 0, 0), None))
        flush()
        closed: str | None = None
        for item in _closed_events(eng, path, plan, k, part, self.tmpdir, lambda: os.path.exists(abort)):
            if entries:
                ev = item[1]
                if type(ev) is Found:
                    item = (item[0], FoundEntry(ev.finding, finding_entry(ev.finding)))
                elif type(ev) is ClaimVerdict:
                    item = (item[0], VerdictEntry(ev.result, claim_entry(ev.result)))
            if closed is None:  # (the first item: this share's phase 1 passed, see _held_until_closed)
                closed = _closed_name(self.tmpdir, k)
                open(closed, "wb").close()
            buf.append(item)
            if len(buf) >= self.FLUSH:
                flush()
        flush()
        if noted is not None:
            noted.close()
        return n_parts


class _Notes:
    """A worker's claim listener in a split by patient: each claim's notes (the ``worker_note``
    of each of this process's listeners that has one), written in batches to a file that takes
    the name :func:`_notes_name` when complete (read once the worker's call has returned:
    :func:`_take_notes`), so that memory does not grow with the worker's claims."""

    BATCH = 2000

    def __init__(self, d: str, k: int, notes: tuple[Callable[[Claim], Any], ...]):
        self.notes = notes
        self.name = _notes_name(d, k)
        fd, self.tmp = tempfile.mkstemp(prefix="notes-", suffix=".pickle", dir=d)
        self.f = os.fdopen(fd, "wb")
        self.buf: list[tuple[Any, ...]] = []

    def __call__(self, claim: Claim) -> None:
        self.buf.append(tuple(f(claim) for f in self.notes))
        if len(self.buf) >= self.BATCH:
            self._flush()

    def _flush(self) -> None:
        write_batches(self.f, self.buf)
        self.buf = []

    def close(self) -> None:
        self._flush()
        self.f.close()
        os.replace(self.tmp, self.name)


def _notes_name(d: str, k: int) -> str:
    """The notes worker ``k`` of a closed plan took of its claims (:func:`_take_notes`)."""
    return os.path.join(d, f"w{k}-notes")


def _take_notes(d: str, futs: dict[int, cf.Future[int]], listeners: list[Any]) -> Iterator[EngineEvent]:
    """After the last event of a split by patient (no event): each listener with a ``worker_note``
    takes, through its ``take``, the notes of the workers' claims, worker after worker."""
    if listeners:
        for k in sorted(futs):
            futs[k].result()
            for noted in read_batches(_notes_name(d, k)):
                for i, fn in enumerate(listeners):
                    fn.take(noted[i])
    return
    yield


def _closed_name(d: str, k: int) -> str:
    """The file worker ``k`` of a closed plan writes in ``d`` once past its phase 1."""
    return os.path.join(d, f"w{k}-closed")


#: the events this process computes and holds at most while a worker of a split by patient is
#: still in its phase 1 (a bound, so that what is held does not grow with the file)
HOLD = 20_000


def _held_until_closed(merged: Iterator[EngineEvent], d: str, futs: dict[int, cf.Future[int]]
                       ) -> list[EngineEvent]:
    """The first events of a split by patient, held until every worker is past its phase 1, where
    it checks its claims' member ids against the plan (it then writes :func:`_closed_name`):
    until then this process computes its own share's first events (at most :data:`HOLD`), so a
    :class:`NotClosed` of any share is raised here, before any event is given."""
    held: list[EngineEvent] = []
    left = sorted(futs)
    while left:
        for k in list(left):
            fut = futs[k]
            if os.path.exists(_closed_name(d, k)):
                left.remove(k)
            elif fut.done():
                fut.result()  # (a worker's error is raised here)
                left.remove(k)
        if not left:
            break
        n = len(held)
        if n < HOLD:
            held.extend(itertools.islice(merged, 256))
        if len(held) == n:  # (held enough, or this process's share is all out: wait)
            time.sleep(0.002)
    return held


def _split_closed(eng: Engine, src: Any, plan: SplitPlan, tmpdir: str | None, options: RunOptions,
                  pool: cf.ProcessPoolExecutor | None = None, entries: bool = False,
                  by_transaction: bool = True) -> Generator[tuple[Any, Iterator[EngineEvent]], None, None]:
    """One file split by patient (``plan.closed``): every process, this one too, checks its
    transactions whole (both halves, both phases) and this process puts the final events
    back in file order (:func:`_merged`).  No process reads another's claims.  Should a
    claim's member id not be one the plan found in its transaction (:class:`NotClosed`), the
    run starts again split by transaction (``by_transaction`` false: in this process alone),
    before any event has come out: the first event is held until every worker is past its
    phase 1 (:func:`_held_until_closed`).  The listeners with a ``worker_note`` take the notes of
    the workers' claims after the last event (:func:`_take_notes`)."""
    import concurrent.futures as cf
    import multiprocessing

    path = os.fspath(src)
    closed = plan.closed
    assert closed is not None and eng._skip is not None
    d = tempfile.mkdtemp(prefix="edi837-split-", dir=tmpdir)
    out: Iterator[EngineEvent] | None = None
    try:
        dups = eng.scan_interchanges(path, path)
        eng._skip.dup_ics = dups
        ctx = multiprocessing.get_context("spawn")
        noting: list[Any] = [fn for fn in eng.claim_listeners if getattr(fn, "worker_note", None) is not None]
        notes = tuple(fn.worker_note for fn in noting)
        with pool or _executor(len(closed.workers()), ctx) as ex:
            futs = {k: ex.submit(_ClosedWorker(d, options.serial, entries, notes), (path, dups, closed, k))
                    for k in closed.workers()}
            try:
                part = SplitPart(lambda t: closed.owner(t) == 0, envelope=True)
                merged = _merged(_closed_events(eng, path, closed, 0, part, d), d, futs, path)
                try:
                    first = next(merged)
                    held = _held_until_closed(merged, d, futs)
                except NotClosed:
                    with open(os.path.join(d, "abort"), "wb"):
                        pass
                else:
                    out = itertools.chain([first], held, merged, _take_notes(d, futs, noting))
                    yield src, out
            finally:
                for fut in futs.values():
                    fut.cancel()
    finally:
        shutil.rmtree(d, ignore_errors=True)
    if out is None:  # (a fresh engine: this one's run state holds part of this process's share)
        again = Engine(options)
        again.claim_listeners.extend(eng.claim_listeners)
        yield from _split_one(again, src, attrs.evolve(plan, closed=None), tmpdir, options,
                              by_transaction=by_transaction)


def _closed_ok(eng: Engine, plan: SplitPlan, options: RunOptions) -> bool:
    """Whether the file may be split by patient: the plan allows it, and nothing else must see
    every claim in this process (a history store, ``on_verdict``, a claim listener: one that only
    moves a progress bar is let be, and one with a ``worker_note`` -- a picklable function of a
    claim -- takes the notes of the workers' claims through its ``take``)."""
    return CLOSED and plan.closed is not None and options.history is None and options.on_verdict is None \
        and all(getattr(fn, "progress_only", False) or getattr(fn, "worker_note", None) is not None
                for fn in eng.claim_listeners)


def _split_one(eng: Engine, src: Any, plan: SplitPlan, tmpdir: str | None, options: RunOptions,
               pool: cf.ProcessPoolExecutor | None = None, entries: bool = False,
               by_transaction: bool = True) -> Generator[tuple[Any, Iterator[EngineEvent]], None, None]:
    """One file split by transaction set: each worker runs the per-claim rules on its ranges
    (:class:`SplitPart`) while this process runs them on its own (with the run's own
    per-claim engine, as one process does), reads the workers' claims, puts the events back
    in file order and runs the cross-claim rules on every claim as it comes
    (:class:`TwoPhase`), so that the work overlaps.  Split by patient instead when the plan
    allows it and nothing else sees the claims (:func:`_split_closed`).  ``by_transaction``
    false: a file that cannot be split by patient is checked here alone."""
    if _closed_ok(eng, plan, options):
        yield from _split_closed(eng, src, plan, tmpdir, options, pool, entries, by_transaction)
        return
    if not by_transaction:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        yield from _serial_files(eng, [src], tmpdir)
        return
    import concurrent.futures as cf  # (imported here: a run without --jobs does not pay for them)
    import multiprocessing

    from .checks.twophase import TwoPhase
    from .model.build import stream

    path = os.fspath(src)
    skip = eng._skip
    assert skip is not None
    d = tempfile.mkdtemp(prefix="edi837-split-", dir=tmpdir)
    try:
        dups = eng.scan_interchanges(path, path)
        skip.dup_ics = dups
        ctx = multiprocessing.get_context("spawn")
        tp = TwoPhase(eng, tmpdir=d)
        mine = plan.owner
        workers = plan.workers()
        with pool or _executor(len(workers), ctx) as ex:
            work = _SplitWorker(d, options.serial)
            futs = {k: ex.submit(work, (path, dups, plan, k)) for k in workers}
            try:
                part = SplitPart(lambda t: mine(t) == 0, envelope=True)
                tee = _Tee(stream(path, path), mine)
                part.model = tee.mine()
                part.marks = True
                local = _tagged(skip, path, plan, 0, part)
                # the workers' claims are read here, from the same read of the file
                tp.add_file(src, _merged(local, d, futs, path), tee.theirs(), name=path)
            finally:
                for fut in futs.values():
                    fut.cancel()
        yield from tp.files()
    finally:
        shutil.rmtree(d, ignore_errors=True)
