"""Cross-claim rules in two phases, so that verdicts do not depend on the order
of claims or files in a run.

Phase 1 (:meth:`TwoPhase.add_file`, file after file, as claims arrive): the
rules that look at one claim run (a ``cross_claim="skip"`` engine, here or in a
worker process), then the cross-claim rules (the ``cross_claim="only"``
engine) check the claim against the claims of its patient seen so far that
passed their own checks; a claim that passed is then added to them.  Every
event of the file goes to a temporary spool file.

Phase 2 (:meth:`TwoPhase.files`, once every file is in): the packs name the
claims whose cross-claim answer could differ with the whole run's claims
(``RunState.recheck``: a claim that passed arrived after a claim whose dates it
reaches, or a claim seen as passed was rejected by an envelope error found
later); those are read again and checked against the final set.  Then each
file's spool is replayed with the final cross-claim findings merged in, in the
order one engine would give (:func:`replay`), and the verdicts are final.

In files written in date order (the usual case) nothing is read twice.  A
file that changes between the two phases (or cannot be read again) ends the run
with :class:`InputChanged`, which names it.
"""

from __future__ import annotations

import os
import pickle
from collections import OrderedDict
import tempfile
from typing import IO, TYPE_CHECKING, Any, Callable, Iterable, Iterator

from ..events import ClaimChecked, ClaimCheckedAt, ClaimVerdict, EngineEvent, FileDone, Found
from ..findings import Finding, Severity
from .verdicts import ClaimResult, SplitTally

if TYPE_CHECKING:
    from ..model.claims import Claim
    from .engine import Engine, Key

BATCH = 500  # spool items per pickled batch (the buffer waiting to be written holds up to this many)
# spool items (findings, claims, claim results) a run keeps in memory before its spools go to
# temporary files: about 400 claims.  A 100k-claim validate peaks 1.1 MB lower than with 4,000
# (83.3 MB RSS against 84.4); a 2,000-claim one pickles its spool and still costs no more
# instructions (callgrind: 5.115 G against 5.123 G, less to collect); 30,000 raised the peak of
# a 30k-claim run by 13 MB
MEMORY_ITEMS = 1_000
# claims kept at hand in phase 1 (see TwoPhase.add_file): on the shared corpus, as one run, 64 leaves
# 164 claims to read again in phase 2 against 161 with 256 (most are made stale by another file), and
# holds a quarter of the memory (256 claims raised the peak of a 100k-claim run by about 4 MB)
WINDOW = 64


# a claim in the phase-1 window: (claim, its envelope control numbers, its first cross-claim findings)
_Held = tuple["Claim", tuple[str, str, str], list[tuple["Key", Finding]]]


class InputChanged(Exception):
    """An input file changed while the run read it (its claims are not those read in
    phase 1), or could not be read again: the run cannot give a verdict on it.
    ``path``: the file (None: an input without a name)."""

    def __init__(self, path: str | None, detail: str = "the file changed while it was read"):
        self.path = path
        self.detail = detail
        super().__init__(f"{path or 'input'}: {detail}")


def write_batches(f: IO[bytes], items: Iterable[Any]) -> int:
    """``items`` to a spool or part file, pickled in batches of :data:`BATCH` (read back by
    :func:`read_batches`); returns how many."""
    if isinstance(items, list):  # (a spool's buffer: cut in batches, not walked item by item)
        for i in range(0, len(items), BATCH):
            pickle.dump(items[i:i + BATCH], f, protocol=pickle.HIGHEST_PROTOCOL)
        return len(items)
    n = 0
    buf: list[Any] = []
    for it in items:
        buf.append(it)
        if len(buf) >= BATCH:
            pickle.dump(buf, f, protocol=pickle.HIGHEST_PROTOCOL)
            n += len(buf)
            buf = []
    if buf:
        pickle.dump(buf, f, protocol=pickle.HIGHEST_PROTOCOL)
        n += len(buf)
    return n


def read_batches(path: str) -> Iterator[Any]:
    """The items of a spool or part file of pickled batches (:func:`write_batches`), in order;
    the file is deleted when they are read or the iteration is closed.  (These files are
    this run's own, in a folder it made or the temporary folder, where no other user can
    replace them: mkstemp creates them 0600 and /tmp is sticky.)"""
    try:
        with open(path, "rb") as f:
            while True:
                try:
                    batch = pickle.load(f)
                except EOFError:
                    return
                yield from batch
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass


class _Tagged:
    __slots__ = ("tag", "item")

    def __init__(self, tag: Any, item: Any):
        self.tag = tag
        self.item = item

    def __reduce__(self) -> tuple[Any, ...]:
        return (_Tagged, (self.tag, self.item))


class _Budget:
    """How many more spool items a run may keep in memory (:data:`MEMORY_ITEMS`)."""

    __slots__ = ("left",)

    def __init__(self, n: int):
        self.left = n


class _Spool:
    """The items of one file, read back once in order: kept in memory while the run's
    ``budget`` lasts (a run of some thousands of claims pickles nothing), then written to
    a temporary file of pickled batches, so memory stays bounded however large the run."""

    def __init__(self, tmpdir: str | None, budget: _Budget | None = None):
        self.tmpdir = tmpdir
        self.path: str | None = None
        self.f: IO[bytes] | None = None
        self.buf: list[Any] = []
        self.budget = budget
        self.kept = 0  # items counted against the budget
        self.tagged: Callable[[], Any] | None = None  # each item is kept with tagged()

    def add(self, item: Any) -> None:
        buf = self.buf
        if self.tagged is not None:
            buf.append(_Tagged(self.tagged(), item))
        else:
            buf.append(item)
        b = self.budget
        if b is not None:
            if b.left > 0:
                b.left -= 1
                self.kept += 1
                return
            self._to_disk()
        if len(buf) >= BATCH:
            self._flush()

    def _to_disk(self) -> None:
        """From now on the items go to the file (those in memory first)."""
        if self.budget is not None:
            self.budget.left += self.kept
            self.kept = 0
            self.budget = None
        self._flush()

    def _flush(self) -> None:
        if not self.buf:
            return
        if self.f is None:
            if self.path is not None:  # closed: nothing more is written
                return
            fd, self.path = tempfile.mkstemp(prefix="edi837-spool-", suffix=".pickle", dir=self.tmpdir)
            self.f = os.fdopen(fd, "wb")
        write_batches(self.f, self.buf)
        self.buf = []

    def close(self) -> None:
        if self.budget is None:
            self._flush()
        if self.f is not None:
            self.f.close()
            self.f = None

    def read(self, on_tag: Callable[[Any], None] | None = None) -> Iterator[Any]:
        self.close()
        try:
            if self.path is not None:
                items: Iterable[Any] = read_batches(self.path)
            else:
                items, self.buf = self.buf, []
                if self.budget is not None:
                    self.budget.left += self.kept
                    self.kept = 0
            for it in items:
                if isinstance(it, _Tagged):
                    if on_tag is not None:
                        on_tag(it.tag)
                    it = it.item
                yield it
        finally:
            self.discard()

    def discard(self) -> None:
        self.close()
        self.buf = []
        if self.budget is not None:
            self.budget.left += self.kept
            self.kept = 0
        if self.path is not None:
            try:
                os.unlink(self.path)
            except OSError:
                pass


class _File:
    __slots__ = ("source", "name", "spool", "base", "last", "claims", "uids")

    def __init__(self, source: Any, name: str | None, spool: _Spool, base: int):
        self.source = source
        self.name = name
        self.spool = spool
        self.base = base  # uid of the file's claim seq 0
        self.last = 0  # the file's last claim seq
        self.claims: dict[int, Claim] | None = None  # uid -> claim, when the source cannot be read again
        # (file, claim seq) -> uid, for a group of claims of several files (Spark: source None)
        self.uids: dict[tuple[str | None, int], int] | None = None

    def uid(self, file: str | None, seq: int) -> int:
        if self.uids is None:
            return self.base + seq
        return self.uids.get((file, seq), 0)


def _rereadable(source: Any) -> bool:
    return isinstance(source, (str, bytes, bytearray, memoryview, os.PathLike))


class TwoPhase:
    """One run's cross-claim rules over many files (see the module doc).

    ``only``: the run's ``cross_claim="only"`` engine (its packs hold the run
    state, its ``claim_listeners`` see every claim once)."""

    def __init__(self, only: Engine, tmpdir: str | None = None):
        self.only = only
        self.tmpdir = tmpdir
        self.done: list[_File] = []
        # uid -> cross-claim findings of a claim checked again (phase 1 when it was still at
        # hand, else phase 2); the latest check wins
        self.redo: dict[int, list[tuple[Key, Finding]]] = {}
        self.budget = _Budget(MEMORY_ITEMS)
        for st in only.pack_runs():
            if hasattr(st, "where"):
                st.where = self.where

    def where(self, uid: int) -> str:
        """Where claim ``uid`` of the run is: its file and ordinal."""
        for f in reversed(self.done):
            if uid > f.base:
                if f.uids is not None:  # a group of several files' claims
                    for (name, seq), u in f.uids.items():
                        if u == uid:
                            return f"{name or 'input'}, claim {seq}"
                return f"{f.name or 'input'}, claim {uid - f.base}"
        return f"claim #{uid} of this run"

    # -- phase 1 -------------------------------------------------------------
    def add_file(self, source: Any, events: Iterable[EngineEvent],
                 claims: Iterator[Claim] | None = None, name: str | None = None,
                 tag: Callable[[], Any] | None = None) -> None:
        """Phase 1 of one file: ``events`` are a skip-mode engine's events of it
        (:class:`ClaimChecked` with the claim, or :class:`ClaimCheckedAt` with
        ``claims`` the file's claims read here, in order).  ``tag``: called as
        each event is taken; the replay hands its answer back (``files(on_tag)``)
        before the outputs of that event (Spark places rows with it)."""
        only = self.only
        f = _File(source, name, _Spool(self.tmpdir, self.budget), only.uids)
        self.done.append(f)
        keep = not _rereadable(source)
        if keep:
            f.claims = {}
        if source is None:
            f.uids = {}
        spool = f.spool
        base = f.base
        found: list[Finding] = []  # the findings since the last claim
        runs = only.pack_runs()
        stales = [st.stale for st in runs if isinstance(getattr(st, "stale", None), set)]
        settles = [fn for st in runs if (fn := getattr(st, "claim_settled", None)) is not None]
        listeners = only.claim_listeners
        # the latest claims, kept so that a claim made stale by one arriving soon after it
        # (an anesthesia claim for the day of an ECT claim) is checked again as it leaves the
        # window (or at the end of the file), not read again.  Once, then: not each time another
        # claim makes it stale (a patient's claims all on one day would check the whole window
        # again after each claim); made stale after that, it is read again in phase 2.
        window: OrderedDict[int, _Held] = OrderedDict()
        redo = self.redo

        def leave(u: int, entry: _Held) -> None:
            c, ctl, first = entry
            for s in stales:
                if u in s:
                    for stale in stales:
                        stale.discard(u)
                    got = only.check_keyed(c, name, ctl, uid=u, recheck=True)
                    if got or first:  # (nothing found either time, the usual case: nothing to keep)
                        redo[u] = got
                    break
            c.unlink()

        if tag is not None:
            spool.tagged = tag
        try:
            for ev in events:
                if isinstance(ev, Found):
                    found.append(ev.finding)
                    spool.add(ev.finding)  # a bare Finding: Found again on replay
                    continue
                if isinstance(ev, (ClaimChecked, ClaimCheckedAt)):
                    if isinstance(ev, ClaimChecked):
                        claim = ev.claim
                        seq = claim.seq
                    else:
                        seq = ev.seq
                        claim = _next_claim(claims, seq, name)
                    n = len(ev.keys)
                    mine_found = found[len(found) - n:] if n else []
                    passed = not ev.reasons and not (n and any(x.severity is Severity.ERROR for x in mine_found))
                    if f.uids is not None:
                        uid = f.uids[(claim.file, seq)] = base + len(f.uids) + 1
                    else:
                        uid = base + seq
                    mine = only.check_keyed(claim, name, ev.ctl, uid=uid, passed=passed)
                    for listen in listeners:
                        listen(claim)
                    if keep and f.claims is not None:
                        f.claims[uid] = claim
                    else:
                        window[uid] = (claim, ev.ctl, mine)
                        if len(window) > WINDOW:
                            leave(*window.popitem(last=False))
                    spool.add(("claim", seq, ev.keys, ev.reasons, ev.ctl, mine, uid))
                    if uid - base > f.last:
                        f.last = uid - base
                    found = []
                    continue
                found = []
                if isinstance(ev, ClaimVerdict):
                    cr = ev.result
                    if settles:
                        ok = cr.verdict == "accepted"
                        u = base + cr.claim_seq if f.uids is None else f.uid(cr.file, cr.claim_seq)
                        for settled in settles:
                            settled(u, cr.patient_key, ok)
                    spool.add(cr)  # a bare ClaimResult: ClaimVerdict again on replay
                    continue
                spool.add(ev)
            while window:
                leave(*window.popitem(last=False))
        except BaseException:
            spool.discard()
            raise
        spool.close()
        only.uids = base + f.last

    # -- phase 2 -------------------------------------------------------------
    def files(self, on_tag: Callable[[Any], None] | None = None) -> Iterator[tuple[Any, Iterator[EngineEvent]]]:
        """``(source, events)`` of each file added, in order: the events of one
        engine over the run, with final cross-claim findings and verdicts.
        Consume each file's events before asking for the next."""
        again: set[int] = set()
        for st in self.only.pack_runs():
            fn = getattr(st, "recheck", None)
            if fn is not None:
                again |= fn()
        redo = self.redo
        if again:
            redo.update(self._recheck(again))
        files, self.done = self.done, []
        try:
            for i, f in enumerate(files):
                yield f.source, replay(self.only, f.spool.read(on_tag), f.name, f.uid, redo)
                f.spool.discard()
        finally:
            for f in files:
                f.spool.discard()

    def _recheck(self, uids: set[int]) -> dict[int, list[tuple[Key, Finding]]]:
        """The cross-claim findings of claims ``uids`` against the final set."""
        from ..model.build import iter_claims
        from ..reader import ReadError

        out: dict[int, list[tuple[Key, Finding]]] = {}
        only = self.only
        for f in self.done:
            mine = sorted(u for u in uids if f.base < u <= f.base + f.last)
            if not mine:
                continue
            if f.claims is not None:
                for u in mine:
                    claim = f.claims[u]
                    out[u] = only.check_keyed(claim, f.name, claim.control, uid=u, recheck=True)
                continue
            want = {u - f.base for u in mine}
            got = iter_claims(f.source, f.name) if f.name is not None else iter_claims(f.source)
            try:
                for claim in got:
                    if claim.seq in want:
                        want.discard(claim.seq)
                        out[f.base + claim.seq] = only.check_keyed(
                            claim, f.name, claim.control, uid=f.base + claim.seq, recheck=True)
                        if not want:
                            break
            except (ReadError, OSError) as e:
                raise InputChanged(f.name, f"could not read the file again ({e})") from None
            if want:
                raise InputChanged(f.name)
        return out


def _next_claim(claims: Iterator[Claim] | None, seq: int, name: str | None) -> Claim:
    if claims is None:
        raise ValueError("ClaimCheckedAt needs the file's claims")
    for c in claims:
        if c.seq == seq:
            return c
        if c.seq > seq:
            break
    raise InputChanged(name)


def replay(only: Engine, items: Iterable[Any], file: str | None, uid_of: Callable[[str | None, int], int],
           redo: dict[int, list[tuple[Key, Finding]]]) -> Iterator[EngineEvent]:
    """One file's spool as the events of one engine: each claim's findings with
    its cross-claim findings merged in (rechecked ones from ``redo``), claim
    results and the file result counted again, the packs told of final verdicts."""
    buf: list[Finding] = []
    tally = SplitTally()
    for it in items:
        if isinstance(it, Finding):
            buf.append(it)
            continue
        if isinstance(it, tuple):
            _, seq, keys, reasons, _ctl, mine, uid = it
            if redo:
                got = redo.pop(uid, None)  # (each claim is replayed once)
                if got is not None:
                    mine = got
            if not mine and not buf:  # (most claims: nothing found on them, nothing added)
                continue
            n = len(keys)
            found = buf[len(buf) - n:] if n else []
            yield from map(Found, buf[:len(buf) - n])
            buf = []
            merged, added = only.complete_claim(keys, found, mine)
            tally.claim(seq, reasons, found, merged, added)
            yield from map(Found, merged)
            continue
        if buf:
            yield from map(Found, buf)
            buf = []
        if isinstance(it, ClaimResult):
            cr = it
            cr.run_uid = uid_of(cr.file, cr.claim_seq)
            tally.verdict(cr)
            only.verdict_final(cr)
            yield ClaimVerdict(cr)
            continue
        elif isinstance(it, FileDone):
            tally.file(it.result)
        yield it
    yield from map(Found, buf)


__all__ = ["TwoPhase", "replay"]
