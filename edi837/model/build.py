"""Loop events into the model: interchanges, groups, transactions, claims.

:func:`stream` is the one pass every face uses.  It yields the model events
of :mod:`edi837.events`:

- :class:`InterchangeStart` at its ISA, :class:`InterchangeEnd` at IEA
- :class:`GroupStart` / :class:`GroupEnd`
- :class:`TransactionStart` at ST (header loops read), :class:`TransactionEnd` at SE
- :class:`HlRead` for each 2000A/B/C loop
- :class:`ClaimRead` as each claim completes
- :class:`OtherSegment` for a segment outside any 837 transaction
- :class:`Found` for what the reader and the grammar found

With ``keep=True`` the loop tree is kept whole (``Transaction.loops`` and
``Transaction.claims``); otherwise claims are handed on and dropped, so
memory does not grow with the file.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, cast

import attrs

from ..events import (BodySkipped, ClaimChunk, ClaimRead, Found, GeSeen, GroupEnd, GroupStart, GsSeen, HeaderChunk,
                      HlChunk, HlRead, IeaSeen, InterchangeEnd, InterchangeStart, IsaSeen, ModelEvent,
                      OtherSegment, SeSeen, TransactionEnd, TransactionStart)
from ..grammar.loop import Loop
from ..grammar.parser import Template, build_loop
from ..grammar.stream import events
from .claims import Claim, Enclosing, build_claim
from .envelope import FunctionalGroup, Interchange, Transaction


@attrs.frozen(slots=True, weakref_slot=False)
class ClaimLoopRead:
    """A claim's 2300 loop with what encloses it, before the claim view is built
    (:func:`loop_stream`): what :func:`edi837.outputs.columnar` reads the lines table from;
    :meth:`build` gives the :class:`Claim` that :class:`ClaimRead` would have carried."""

    loop: Loop
    kind: str | None
    seq: int
    file: str | None
    transaction: Transaction | None
    billing: Loop | None
    subscriber: Loop | None
    patient: Loop | None
    enclosing: Enclosing
    shape: object = None  # ClaimChunk.shape: the grammar's template when no segment was misplaced
    # the loop is flat: the claim's segments in file order, its loops not built (``shape`` gives them)
    flat: bool = False
    # ClaimChunk.overflow: the service lines past the guide's maximum + 1, not in ``loop``
    overflow: tuple[int, int | None, int] | None = None

    def tree(self) -> Loop:
        """The claim's 2300 loop with its child loops."""
        if not self.flat:
            return self.loop
        lp = build_loop(cast(Template, self.shape), self.loop.segments, ())
        lp.parent = self.loop.parent
        return lp

    def build(self) -> Claim:
        c = build_claim(self.tree(), self.kind, self.seq, self.file, self.transaction, self.billing,
                        self.subscriber, self.patient, self.enclosing)
        if self.overflow is not None:
            c.overflow = self.overflow
        return c


def stream(source: Any, file: str | None = None, keep: bool = False,
           skip_tx: Callable[[int], bool] | None = None) -> Iterator[ModelEvent]:
    """The model events of one file.  ``skip_tx(n)`` true: the claims and HL loops of the
    file's n-th 837 transaction are counted, not read (its start and end still come; see
    :class:`edi837.grammar.stream.Structurer`)."""
    return cast(Iterator[ModelEvent], _stream(source, file, keep, True, skip_tx))


def loop_stream(source: Any, file: str | None = None) -> Iterator[ModelEvent | ClaimLoopRead]:
    """:func:`stream` with a :class:`ClaimLoopRead` in place of each :class:`ClaimRead`: the
    claim view is not built (the columnar ``edi837 lines``, issue 16)."""
    return _stream(source, file, False, False)


def _stream(source: Any, file: str | None, keep: bool, claims: bool,
            skip_tx: Callable[[int], bool] | None = None) -> Iterator[ModelEvent | ClaimLoopRead]:
    ev = events(source, file)
    ev.skip_tx = skip_tx
    ev.claim_loops = claims  # (ClaimLoopRead: a claim whose segments are all in place comes flat)
    fname = ev.file
    ic: Interchange | None = None
    grp: FunctionalGroup | None = None
    tx: Transaction | None = None
    billing: Loop | None = None
    subscriber: Loop | None = None
    patient: Loop | None = None
    claim_seq = 0
    enclosing = Enclosing()
    for e in ev:
        match e:
            case ClaimChunk(lp, n, shape, overflow):
                claim_seq += 1
                parent = patient or subscriber
                lp.parent = parent
                if tx is not None:
                    tx.claim_count += 1
                    tx.segment_count += n
                if not claims:
                    yield ClaimLoopRead(lp, tx.kind if tx else None, claim_seq, fname, tx, billing, subscriber,
                                        patient, enclosing, shape, shape is not None, overflow)
                    continue
                c = build_claim(lp, tx.kind if tx else None, claim_seq, fname, tx, billing, subscriber, patient,
                                enclosing)
                if overflow is not None:
                    c.overflow = overflow
                if keep:
                    if parent is not None:
                        parent.children.append(lp)
                    if tx is not None:
                        tx.claims.append(c)
                yield ClaimRead(c)
            case HlChunk(lp, level, n):
                if tx is not None:
                    tx.segment_count += n
                if level == "20":
                    billing, subscriber, patient = lp, None, None
                    if keep and tx is not None:
                        tx.loops.append(lp)
                elif level == "22":
                    lp.parent = billing
                    subscriber, patient = lp, None
                    if keep and billing is not None:
                        billing.children.append(lp)
                elif level == "23":
                    lp.parent = subscriber
                    patient = lp
                    if keep and subscriber is not None:
                        subscriber.children.append(lp)
                elif keep and tx is not None:
                    lp.parent = patient or subscriber or billing
                    (lp.parent.children if lp.parent is not None else tx.loops).append(lp)
                yield HlRead(lp)
            case HeaderChunk(lp, kind, n):
                tx = Transaction(header=lp, kind=kind, group=grp, file=fname)
                tx.segment_count = n
                billing = subscriber = patient = None
                if grp is not None:
                    grp.transaction_count += 1
                    if keep:
                        grp.transactions.append(tx)
                yield TransactionStart(tx)
            case BodySkipped(n, k):
                claim_seq += k
                if tx is not None:
                    tx.claim_count += k
                    tx.segment_count += n
            case SeSeen(seg):
                if tx is not None:
                    tx.se = seg
                    if seg is not None:
                        tx.segment_count += 1
                    yield TransactionEnd(tx)
                tx = None
                billing = subscriber = patient = None
            case Found():
                yield e
            case IsaSeen(seg):
                ic = Interchange(isa=seg, file=fname)
                grp = None
                yield InterchangeStart(ic)
            case GsSeen(seg):
                grp = FunctionalGroup(gs=seg, interchange=ic)
                if ic is not None:
                    ic.group_count += 1
                    if keep:
                        ic.groups.append(grp)
                yield GroupStart(grp)
            case GeSeen(seg):
                if grp is not None:
                    grp.ge = seg
                    yield GroupEnd(grp)
                else:
                    yield OtherSegment(seg)
                grp = None
            case IeaSeen(seg):
                if ic is not None:
                    ic.iea = seg
                    yield InterchangeEnd(ic)
                else:
                    yield OtherSegment(seg)
                ic = None
                grp = None
            case OtherSegment(seg):
                if seg.fields[0] == "ST" and grp is not None:
                    grp.transaction_count += 1  # a skipped (non-837) transaction counts in GE01 too
                yield e


def iter_claims(source: Any, file: str | None = None) -> Iterator[Claim]:
    """Yield the claims of a file one by one as they complete (memory stays flat)."""
    for e in stream(source, file):
        if isinstance(e, ClaimRead):
            yield e.claim
