"""999 implementation acknowledgments (005010X231A1).

Built from the SNIP 1-2 findings (``snip in (1, 2)``) of a file and the
envelope structure seen by the gate's second pass.  One 999 interchange per
input interchange, one functional group (GS*FA) and one 999 transaction per
input functional group:

- ``AK1`` HC, GS06 and GS08 of the group (AK103 from the first ST03 when GS08 is empty);
- per 837 transaction ``AK2`` ST01/ST02/ST03, then for each segment in error
  ``IK3`` (segment id, position counted from ST = 1, loop id, IK304), ``CTX``
  with the claim id (``CTX*CLM01:<id>``) when the error is inside a claim, and
  per element in error ``IK4`` (position ``2`` or ``1:2``, IK403, bad value);
  ``IK5`` A / E (errors only inside claims, some claims accepted) / R
  (envelope-level errors, or no claim of it accepted);
- ``AK9`` A / E / P (some transactions rejected, some accepted) / R.

A missing required segment or loop (IK304 3) is named in IK301 at the position
of the segment standing in its place (:func:`missing_segment`).  Groups of an
interchange the TA1 rejects are rejected (IK5 R, AK9 R).  The envelope is
:func:`edi837.outputs.split.ack_isa_fields` (00501, no security information).

Findings of other SNIP levels do not go in the 999.
"""

from __future__ import annotations

import datetime as _dt
import re
import sys
from bisect import bisect_left, bisect_right
import heapq
from typing import TYPE_CHECKING, Any, Callable, Container, Iterable, Iterator, Sequence, Union

import attrs

from ..events import (ClaimRead, GroupEnd, GroupStart, HlRead, InterchangeStart, ModelEvent, OtherSegment,
                      TransactionEnd, TransactionStart)
from ..guide.loader import load_guide
from ..guide.model import LoopDef
from ..findings import Finding, Severity
from ..reader.segment import Segment
from .gatespool import Err
from .split import ACK_DELIMS, ControlCounter, SegmentWriter, ack_app_code, ack_isa_fields, ack_text

if TYPE_CHECKING:
    from ..checks.verdicts import ClaimResult
    from ..grammar.loop import Loop

AckErr = Union[Finding, Err]  # what the 999 reads of an error: a finding, or its spooled fields
_REF = re.compile(r"^([A-Z][A-Z0-9]{1,2}?)(\d{2})(?:-(\d+))?$")


@attrs.define(slots=True)
class TxInfo:
    st: list[str]
    st_seq: int
    tx_no: int  # 0: a transaction the grammar did not read (nothing of it is accepted)
    end_seq: int | None = None


@attrs.define(slots=True)
class GroupInfo:
    gs: list[str]
    isa: Segment | None
    gs_seq: int
    txs: list[TxInfo] = attrs.field(factory=list)
    ge: list[str] | None = None
    end_seq: int | None = None

    def keys(self) -> tuple[str, str]:
        """(ISA13, GS06) of the group, "" for either that is absent."""
        return (self.isa[13].strip() if self.isa is not None else "",
                self.gs[6] if len(self.gs) > 6 else "")


class EnvelopeCollector:
    """Listener on the gate's second pass: interchanges, groups, transactions."""

    def __init__(self, loops_of: Container[int] | None = None) -> None:
        # first-segment ordinals of the loops whose segment list the 999 needs
        # (loops with a required segment missing): -> [(segment id, ordinal)]
        self.loops_of: Container[int] = loops_of if loops_of is not None else set()
        self.loops: dict[int, list[tuple[str, int]]] = {}
        self.groups: list[GroupInfo] = []
        self.interchanges: list[Segment] = []
        self._isa: Segment | None = None
        self._grp: GroupInfo | None = None
        self._tx_no = 0
        self._last_seq = 0
        self._unread = False  # inside a transaction the grammar did not read

    def _record(self, lp: Loop | None) -> None:
        if lp is None or not self.loops_of:
            return
        if lp.segments and lp.segments[0].seq in self.loops_of:
            span = [(sg[0], sg.seq) for sg in lp.segments]
            # child loops as (loop id, first ordinal), then the subtree's end
            span += [("/" + (c.id or ""), c.segments[0].seq) for c in lp.children if c.segments]
            last = max((sg.seq for sg in lp.iter_segments()), default=lp.segments[-1].seq)
            span.append(("/", last + 1))
            self.loops[lp.segments[0].seq] = span
        for c in lp.children:
            self._record(c)

    def __call__(self, ev: ModelEvent) -> None:
        match ev:
            case HlRead(lp):
                self._record(lp)
            case ClaimRead(claim):
                self._record(claim.loop)
            case InterchangeStart(ic):
                self._isa = ic.isa
                if ic.isa is not None:
                    self.interchanges.append(ic.isa)
                self._grp = None
            case GroupStart(grp):
                gs = grp.gs
                self._grp = GroupInfo(gs=list(gs.fields) if gs is not None else [],
                                      isa=self._isa, gs_seq=gs.seq if gs is not None else 0)
                self.groups.append(self._grp)
            case GroupEnd(grp):
                if self._grp is not None:
                    ge = grp.ge
                    self._grp.ge = list(ge.fields) if ge is not None else None
                    self._grp.end_seq = ge.seq if ge is not None else None
                self._grp = None
            case TransactionStart(tx):
                self._tx_no += 1
                if self._grp is None:  # ST without GS: a stand-in group
                    self._grp = GroupInfo(gs=[], isa=self._isa, gs_seq=0)
                    self.groups.append(self._grp)
                self._record(tx.header)
                st = tx.st
                self._grp.txs.append(TxInfo(st=list(st.fields), st_seq=st.seq, tx_no=self._tx_no))
            case TransactionEnd(tx):
                if self._grp is not None and self._grp.txs:
                    self._grp.txs[-1].end_seq = tx.se.seq if tx.se is not None else None
            case OtherSegment(seg) if self._grp is not None and seg.id in ("ST", "SE"):
                # a transaction the grammar did not read (ST01 blank, GRM-005; an 837 of a guide or
                # version it does not read, GRM-006 / GRM-007; another transaction set, an 835, GRM-003)
                # is still one of the group's transactions: acknowledged, and rejected
                if seg.id == "ST":
                    self._grp.txs.append(TxInfo(st=list(seg.fields), st_seq=seg.seq, tx_no=0))
                    self._unread = True
                elif seg.id == "SE" and self._unread and self._grp.txs:
                    self._grp.txs[-1].end_seq = seg.seq
                    self._unread = False


def element_position(element: str | None, comp: str = ":") -> str | None:
    """'CLM02' -> '2', 'SV101-2' -> '1:2'."""
    if not element:
        return None
    m = _REF.match(element)
    if not m:
        return None
    pos = str(int(m.group(2)))
    return pos + comp + m.group(3) if m.group(3) else pos


_clean = ack_text


#: AK101 functional identifier codes and AK201 transaction set identifier codes X231A1 allows
AK101_CODES = frozenset({"BE", "HB", "HC", "HI", "HN", "HP", "HR", "HS", "RA"})
AK201_CODES = frozenset({"270", "271", "276", "277", "278", "820", "834", "835", "837"})


def ik5_code(f: AckErr) -> str:
    if f.rule in ("GRM-003", "GRM-007"):
        return "1"  # transaction set not supported (another transaction set; an 837 before 5010)
    if f.segment_id == "SE" and f.element == "SE01":
        return "4"
    if f.segment_id == "SE" and f.element == "SE02":
        return "7"
    if f.rule == "GRM-004" or (f.segment_id is None and "SE" in (f.message or "")):
        return "3"
    if f.segment_id == "ST" and f.element == "ST02":
        return "23"
    return "5"


def ak9_code(f: AckErr) -> str:
    if f.element == "GE01":
        return "5"
    if f.element == "GE02":
        return "4"
    if f.segment_id == "GE" or "GE" in (f.message or ""):
        return "3"
    return "1" if f.element == "GS01" else "2" if f.element == "GS08" else "3"


def _tx_of(f: Finding, groups: list[GroupInfo]) -> tuple[GroupInfo | None, TxInfo | None]:
    """The group and transaction a finding belongs to: by segment ordinal, else control numbers."""
    return _Places(groups).of(f)


class _Places:
    """:func:`_tx_of` for many findings: the transactions indexed once, so placing a finding costs
    O(log transactions), not a walk over every group and transaction (issue 14: a file of 100,000
    interchanges with an error each).  Same answers as the walk: the first transaction in file
    order whose span holds the finding's segment (ST to SE; without SE, up to the group's next
    ST, else to the end), else the first group (and transaction) its control numbers name."""

    def __init__(self, groups: list[GroupInfo]) -> None:
        self.groups = groups
        self.flat = [(g, t) for g in groups for t in g.txs]
        self.starts = [t.st_seq for _, t in self.flat]
        # transactions are in file order (ascending ST ordinals); were they not, walk as before
        self.ordered = all(a < b for a, b in zip(self.starts, self.starts[1:]))
        self.reach: list[int] = []  # running maximum of the last ordinal each span holds
        top = -1
        for g in groups:
            for k, t in enumerate(g.txs):
                end = t.end_seq if t.end_seq is not None else (
                    g.txs[k + 1].st_seq - 1 if k + 1 < len(g.txs) else sys.maxsize)
                top = max(top, end)
                self.reach.append(top)
        # groups by GS06, and by (ISA13, GS06): their indexes in file order
        self.by_gs06: dict[str, list[int]] = {}
        self.by_key: dict[tuple[str, str], list[int]] = {}
        for i, g in enumerate(groups):
            isa13, gs06 = g.keys()
            self.by_gs06.setdefault(gs06, []).append(i)
            self.by_key.setdefault((isa13, gs06), []).append(i)
        self.st02: dict[int, dict[str, TxInfo]] = {}  # group index -> ST02 -> its first transaction

    def of(self, f: Finding) -> tuple[GroupInfo | None, TxInfo | None]:
        seq = f.segment_seq
        if seq is not None:
            if self.ordered:
                i = bisect_left(self.reach, seq)
                if i < bisect_right(self.starts, seq):
                    return self.flat[i]
            else:
                got = _walk(seq, self.groups)
                if got is not None:
                    return got
        if not f.group:
            return None, None
        if f.interchange:
            cands: Iterable[int] = sorted(self.by_key.get((f.interchange, f.group), [])
                                          + self.by_key.get(("", f.group), []))
        else:
            cands = self.by_gs06.get(f.group, [])
        for i in cands:
            g = self.groups[i]
            if not f.transaction:
                return g, None
            named = self.st02.get(i)
            if named is None:
                named = self.st02[i] = {}
                for t in g.txs:
                    named.setdefault(t.st[2], t)
            tx = named.get(f.transaction)
            if tx is not None:
                return g, tx
        return None, None


def _walk(seq: int, groups: list[GroupInfo]) -> tuple[GroupInfo, TxInfo] | None:
    for g in groups:
        for t in g.txs:
            if t.st_seq <= seq and (t.end_seq is None or seq <= t.end_seq):
                later = [u for u in g.txs if u.st_seq > t.st_seq]
                if t.end_seq is None and later and seq >= later[0].st_seq:
                    continue
                return g, t
    return None


def _control(v: str) -> str:
    """AK102: the group's GS06 (N0 1-9); leading zeros dropped when too long, 0 when absent."""
    v = v.strip()
    if not (v.isascii() and v.isdigit()):
        return "0"
    return v if len(v) <= 9 else str(int(v))[-9:]


def _version(gs08: str, txs: list[TxInfo]) -> str:
    """AK103 (required): the group's GS08, else its first ST03, else the 837P guide."""
    for v in [gs08] + [t.st[3] for t in txs if len(t.st) > 3]:
        if _clean(v, 12):
            return _clean(v, 12)
    return "005010X222A1"


_SEG_ID = re.compile(r"^[A-Z][A-Z0-9]{1,2}$")
_MISSING_LOOP = re.compile(r"^Loop (\w+) .* is required")


def missing_segment(f: AckErr, st03: str, loops: dict[int, list[tuple[str, int]]]) -> tuple[str, int] | None:
    """IK301 and the segment ordinal of IK302 for a required segment or loop
    the transaction lacks (a finding with IK304 3 that names the missing
    segment, or the missing loop's first segment, in ``element``): that id,
    at the position of the segment that stands where it should have been (the
    next segment or child loop in guide order, else the one after the loop),
    as pyx12 reports it.  None when the finding is not about a missing segment."""
    if f.ik3 != "3" or not f.element or not _SEG_ID.match(f.element) or f.segment_seq is None:
        return None
    sid = f.element
    if f.segment_id == "ST":  # a header segment right after ST (BHT)
        return sid, f.segment_seq + 1
    span = loops.get(f.segment_seq)
    m = _MISSING_LOOP.match(f.message or "")
    if not span or not f.loop:
        return sid, f.segment_seq
    try:
        ld = load_guide(st03).loop(f.loop.split("/")[-1])
    except (KeyError, ValueError):
        return sid, f.segment_seq
    order = [("/" + c.id) if isinstance(c, LoopDef) else c.id for c in ld.children]
    key = "/" + m.group(1) if m else sid
    if key not in order:
        return sid, f.segment_seq
    later = order[order.index(key) + 1:]
    for k, seq in span[1:]:
        if k in later or k == "/":
            return sid, seq
    return sid, span[-1][1]


def build_999(groups: list[GroupInfo], findings: list[Finding], claims: list[ClaimResult],
              rejected_interchanges: Sequence[Segment] = (),
              loops: dict[int, list[tuple[str, int]]] | None = None,
              ) -> list[tuple[GroupInfo, list[list[str]], str]]:
    """The 999 transaction bodies (AK1..AK9), one per group: (group, segments, AK901).

    A group of an interchange in ``rejected_interchanges`` (the ISAs a TA1
    rejects) is rejected whatever its own findings: every IK5 and the AK9 are
    R (with the codes of its own errors, if any), AK904 0.  (The gate builds
    the same bodies a transaction at a time: :class:`StreamingAcks`.)"""
    rejected_isas = {id(isa) for isa in rejected_interchanges}
    loops = loops or {}
    errs = [f for f in findings if f.severity is Severity.ERROR and f.snip in (1, 2)]
    by_tx: dict[int, list[Finding]] = {}
    by_grp: dict[int, list[Finding]] = {}
    places = _Places(groups)
    for f in errs:
        g, t = places.of(f)
        if t is not None:
            by_tx.setdefault(id(t), []).append(f)
        elif g is not None and f.segment_id in ("GS", "GE", None) and f.group:
            by_grp.setdefault(id(g), []).append(f)
    accepted_by_tx: dict[int, int] = {}
    for c in claims:
        if c.verdict == "accepted":
            accepted_by_tx[c.tx_no] = accepted_by_tx.get(c.tx_no, 0) + 1
    out = []
    for g in groups:
        isa_rejected = g.isa is not None and id(g.isa) in rejected_isas
        ak9 = _Ak9()
        segs = [ak1_segment(g)]
        for t in g.txs:
            fs = by_tx.get(id(t), [])
            st3 = (t.st + [""] * 4)[3]
            placed = sorted((p for p in (placed_at(f, st3, loops) for f in fs) if p is not None),
                            key=lambda x: x[0])
            ik5 = _Ik5()
            for f in fs:
                ik5.add(f)
            segs += tx_segments(t, placed, ik5, ak9, lambda n: accepted_by_tx.get(n, 0), isa_rejected)
        seg9 = ak9.segment(g, by_grp.get(id(g), []), isa_rejected)
        segs.append(seg9)
        out.append((g, segs, seg9[1]))
    return out


def ak1_segment(g: GroupInfo) -> list[str]:
    gs = g.gs + [""] * (9 - len(g.gs))
    # AK101: the group's GS01 when X231A1 can name it (an HP group of 835s), else HC
    return ["AK1", gs[1] if gs[1] in AK101_CODES else "HC", _control(gs[6]), _version(gs[8], g.txs)]


def placed_at(f: AckErr, st03: str, loops: dict[int, list[tuple[str, int]]]
              ) -> tuple[int, str, AckErr] | None:
    """(ordinal, segment id, error) of the IK3 an error goes under, None when it has none."""
    if f.segment_seq is None or not (f.ik3 or f.ik4) or not f.segment_id:
        return None
    miss = missing_segment(f, st03, loops)
    return (miss[1], miss[0], f) if miss else (f.segment_seq, f.segment_id, f)


def ik3_segments(st_seq: int, placed: Iterable[tuple[int, str, AckErr]]) -> Iterator[list[str]]:
    """IK3 (with CTX) and IK4 segments of errors placed at their ordinals, ``placed`` in
    ordinal order (then in the order found): the errors at one ordinal are held until the
    next ordinal comes, so an IK3's code can still be set by a later error on its segment."""
    buf: list[list[str]] = []
    seen: dict[str, int] = {}  # segment id -> index of its IK3 at the ordinal ``cur``
    cur: int | None = None
    for seq, sid, f in placed:
        if seq != cur:
            yield from buf
            buf, seen, cur = [], {}, seq
        pos = seq - st_seq + 1
        if pos < 1:
            continue
        if sid not in seen:
            loop = (f.loop or "").split("/")[-1]
            seen[sid] = len(buf)
            buf.append(["IK3", sid[:3], str(pos), loop if 0 < len(loop) <= 4 else "", f.ik3 or "8"])
            if f.claim_id:
                buf.append(["CTX", "CLM01:" + _clean(f.claim_id, 35)])
        elif f.ik3 and buf[seen[sid]][4] == "8":
            buf[seen[sid]][4] = f.ik3
        if f.ik4:
            p = element_position(f.element)
            if p:
                buf.append(["IK4", p, "", f.ik4] + ([_clean(f.value)] if f.value else []))
    yield from buf


class _Ak9:
    """The statuses of a group's transactions, as far as they are known, for its AK9."""

    def __init__(self) -> None:
        self.n = self.n_acc = self.n_a = self.n_r = 0

    def add(self, status: str) -> None:
        self.n += 1
        self.n_a += status == "A"
        self.n_r += status == "R"
        self.n_acc += status != "R"

    def segment(self, g: GroupInfo, gerrs: Sequence[AckErr], isa_rejected: bool) -> list[str]:
        n_acc = self.n_acc
        if gerrs or isa_rejected:
            ak9 = "R"
            n_acc = 0
        elif not self.n or self.n_a == self.n:
            ak9 = "A"
        elif self.n_r == self.n:
            ak9 = "R"
        elif self.n_r:
            ak9 = "P"
        else:
            ak9 = "E"
        ge01 = g.ge[1] if g.ge and len(g.ge) > 1 and g.ge[1].isascii() and g.ge[1].isdigit() \
            else str(len(g.txs))
        codes9 = sorted({ak9_code(f) for f in gerrs}, key=lambda c: (len(c), c))[:5]
        if not codes9 and g.txs and all(len(t.st) > 1 and t.st[1] not in ("", "837") for t in g.txs):
            codes9 = ["1"]  # a group of other transaction sets (835s, 270s ...): not supported
        return ["AK9", ak9, ge01, str(len(g.txs)), str(n_acc)] + codes9


class _Ik5:
    """The IK5 codes of a transaction's errors, noted as they pass."""

    def __init__(self) -> None:
        self.codes: set[str] = set()
        self.env = self.some = False

    def add(self, f: AckErr) -> None:
        self.some = True
        self.codes.add(ik5_code(f))
        if f.claim_seq is None:
            self.env = True


def tx_segments(t: TxInfo, placed: Iterable[tuple[int, str, AckErr]], ik5: _Ik5, ak9: _Ak9,
                accepted: Callable[[int], int], isa_rejected: bool) -> Iterator[list[str]]:
    """A transaction's AK2, IK3/CTX/IK4 (``placed``: :func:`placed_at` of its errors, in
    ordinal order) and IK5 (from ``ik5``, read once ``placed`` is consumed); its status goes
    to ``ak9``."""
    st = t.st + [""] * (4 - len(t.st))
    if st[1] and st[1] not in AK201_CODES:
        # a transaction set X231A1 cannot name in AK201 (a 999, a 997): no AK2 of its own;
        # counted in the AK9 as received and not accepted
        for _ in placed:
            pass
        ak9.add("R")
        return
    yield ["AK2", st[1] or "837", _clean(st[2], 9) or "0001"] + ([_clean(st[3], 35)] if _clean(st[3], 35) else [])
    yield from ik3_segments(t.st_seq, placed)
    if not ik5.some:
        # a transaction not read (under a 4010 interchange or group) is not supported
        status, codes = ("A", []) if t.tx_no else ("R", ["1"])
    else:
        codes = sorted(ik5.codes, key=lambda c: (len(c), c))[:5]
        status = "R" if ik5.env or not t.tx_no or not accepted(t.tx_no) else "E"
    if isa_rejected:
        status = "R"
    ak9.add(status)
    yield ["IK5", status] + codes


def write_999(w: SegmentWriter, bodies: Iterable[tuple[object, Sequence[str] | Segment | None, list[str],
                                                    Iterable[list[str]]]],
              counter: ControlCounter, now: _dt.datetime) -> None:
    """The 999 file: one interchange per input interchange (``bodies``: for each group in
    file order, its interchange's key (equal keys: one interchange), that interchange's ISA
    (fields or segment, None for none), the group's GS fields and its body, AK1 to AK9), a
    group and a 999 transaction per input group."""
    w.set_delims(ACK_DELIMS)
    date8, time4 = now.strftime("%Y%m%d"), now.strftime("%H%M")
    cur_isa: object = object()  # no interchange yet
    isa_f: list[str] | None = None
    ngroups = 0
    for key, isa, gs_in, segs in bodies:
        if isa_f is None or key != cur_isa:
            if isa_f is not None:
                w.write(["IEA", str(ngroups), isa_f[13]])
            cur_isa = key
            isa_f = ack_isa_fields(isa, counter.next(), now)
            w.write(isa_f)
            ngroups = 0
        gs = list(gs_in) + [""] * (9 - len(gs_in))
        gctl = str(counter.next())
        w.write(["GS", "FA", ack_app_code(gs[3]), ack_app_code(gs[2]), date8, time4, gctl, "X",
                 "005010X231A1"])
        ngroups += 1
        w.write(["ST", "999", "0001", "005010X231A1"])
        n = 1
        for s in segs:
            w.write(s)
            n += 1
        w.write(["SE", str(n + 1), "0001"])
        w.write(["GE", "1", gctl])
    if isa_f is not None:
        w.write(["IEA", str(ngroups), isa_f[13]])


def memory_bodies(groups: list[GroupInfo], findings: list[Finding], claims: list[ClaimResult], *,
                  rejected_interchanges: Sequence[Segment] = (),
                  loops: dict[int, list[tuple[str, int]]] | None = None
                  ) -> list[tuple[object, Segment | None, list[str], list[list[str]]]]:
    """:func:`write_999`'s bodies from groups and findings held in memory (:func:`build_999`)."""
    return [(id(g.isa) if g.isa is not None else None, g.isa, g.gs, segs)
            for g, segs, _ in build_999(groups, findings, claims, rejected_interchanges, loops)]


class StreamingAcks(EnvelopeCollector):
    """The gate's listener on its second pass: :class:`EnvelopeCollector`, but each
    transaction's part of the 999 is built as soon as the transaction ends and spooled, each
    group's AK1/AK9 as the group ends, and each interchange's TA1 as it starts, so memory
    holds the errors of one segment, not those of a file (issue 14 item 6).

    ``spool`` (:class:`edi837.outputs.gatespool.GateSpool`) holds the file's SNIP 1-2 errors
    and claim verdicts from pass 1 and takes the pieces.  An error is placed as
    :func:`build_999` places it: in the transaction whose span (ST to SE) holds its segment,
    else in the first group and transaction, in file order, its control numbers name; with
    these differences, each for a file with broken envelopes:

    - a transaction without SE ends at the next ST, else where its group ends (GE, or the
      next GS or ISA), and takes the errors at that segment that name its group (GRM-004,
      "no SE"), not every later error of the file;
    - an error placed by its control numbers goes to the first group or transaction naming
      them that ends at or after its segment: a second group reusing a GS06 gets its own
      envelope errors, not the first group."""

    def __init__(self, spool: Any) -> None:
        self.window = _MissingWindow(spool)
        super().__init__(self.window)
        self.spool = spool
        self._ic = 0  # interchange ordinal (the key of write_999)
        self._ic_rejected = False  # the TA1 rejects the open interchange
        self._gno = 0  # group ordinal
        self._open: TxInfo | None = None  # the transaction of the open group not ended yet
        self._ak9 = _Ak9()
        self.has_groups = False

    def __call__(self, ev: ModelEvent) -> None:
        match ev:
            case InterchangeStart(ic):
                self._end_group(ic.isa.seq if ic.isa is not None else None)
            case GroupStart(grp):
                self._end_group(grp.gs.seq if grp.gs is not None else None)
            case TransactionStart(tx):
                self._end_tx(tx.st.seq, False)
                self.window.start(tx.st.seq)
            case OtherSegment(seg) if seg.id == "ST" and self._grp is not None:
                self._end_tx(seg.seq, False)
        super().__call__(ev)
        match ev:
            case InterchangeStart(ic):
                self._ic += 1
                self._ic_rejected = False
                isa = ic.isa
                if isa is not None:
                    self.interchanges.clear()
                    errs = self.spool.interchange_errors(isa[13].strip())
                    self._ic_rejected = bool(errs)
                    if errs or isa[14] == "1":
                        fields = list(isa.fields[:17]) + [""] * (17 - len(isa.fields))
                        self.spool.add_ack("ta1", None, None, fields, [e.to_json() for e in errs])
            case TransactionStart() if self._grp is not None and self._grp.txs:
                self._open = self._grp.txs[-1]
            case OtherSegment(seg) if seg.id == "ST" and self._grp is not None and self._grp.txs:
                self._open = self._grp.txs[-1]
            case GroupEnd(grp) if self.groups and self._grp is None:
                # (the collector closed the group: it is the last one, not ended here yet)
                self._end_group(grp.ge.seq if grp.ge is not None else None, self.groups[-1])

    def finish(self) -> None:
        """The file ended."""
        self._end_group(None)

    def _end_tx(self, boundary: int | None, group_end: bool) -> None:
        """The open transaction ends: the next ST, GE, GS or ISA is at ordinal ``boundary``
        (None: the file ended); ``group_end``: its group ends there too."""
        t = self._open
        g = self._group
        if t is None or g is None:
            return
        self._open = None
        isa13, gs06 = g.keys()
        st = t.st + [""] * (4 - len(t.st))
        last = boundary - 1 if boundary is not None else sys.maxsize  # before the next envelope
        end = t.end_seq if t.end_seq is not None else max(last, t.st_seq)  # the span: ST .. SE
        loops = self.loops
        named = []  # errors placed by control numbers (and those at the boundary naming the group)
        if gs06 and st[2]:
            named += self.spool.errors_named(gs06, st[2], last, (t.st_seq, end))
        if t.end_seq is None and group_end and boundary is not None and gs06:
            named += self.spool.errors_at(boundary, gs06)  # GRM-004: this transaction has no SE
        named = [(n, f) for n, f in named if _in_interchange(f, isa13)]
        ik5 = _Ik5()
        heap: list[tuple[int, int, str, AckErr]] = []  # errors in ordinal order, then as found
        for n, f in named:
            ik5.add(f)
            p = placed_at(f, st[3], loops)
            if p is not None:
                heapq.heappush(heap, (p[0], n, p[1], f))

        def placed() -> Iterator[tuple[int, str, AckErr]]:
            for n, f in self.spool.errors_in(t.st_seq, end):
                ik5.add(f)
                p = placed_at(f, st[3], loops)
                if p is None:
                    continue
                if p[0] != f.segment_seq:  # its IK3 is at a later ordinal
                    heapq.heappush(heap, (p[0], n, p[1], f))
                    continue
                while heap and (heap[0][0], heap[0][1]) < (p[0], n):
                    q = heapq.heappop(heap)
                    yield q[0], q[2], q[3]
                yield p
            while heap:
                q = heapq.heappop(heap)
                yield q[0], q[2], q[3]

        out: list[list[str]] = []
        for seg in tx_segments(t, placed(), ik5, self._ak9, self.spool.accepted, self._ic_rejected):
            out.append(seg)
            if len(out) >= 500:
                self.spool.add_ack("999b", self._gno, None, out)
                out = []
        if out:
            self.spool.add_ack("999b", self._gno, None, out)
        self.spool.place_range(t.st_seq, end)
        self.spool.place([n for n, _ in named])
        self.loops.clear()

    @property
    def _group(self) -> GroupInfo | None:
        return self.groups[-1] if self.groups else None

    def _end_group(self, boundary: int | None, g: GroupInfo | None = None) -> None:
        """The open group ends: the next GS or ISA is at ordinal ``boundary``, or its GE (None:
        the file ended)."""
        g = g or self._grp
        if g is None or not self.groups or self.groups[-1] is not g:
            return
        self._end_tx(boundary, True)
        self.groups.remove(g)
        self.has_groups = True
        isa13, gs06 = g.keys()
        gerrs = []
        taken = []
        if gs06:
            for n, f in self.spool.errors_named(gs06, None, boundary if boundary is not None else sys.maxsize):
                if not _in_interchange(f, isa13):
                    continue
                taken.append(n)
                if f.segment_id in ("GS", "GE", None):
                    gerrs.append(f)
        self.spool.place(taken)
        isa_fields = list(g.isa.fields[:17]) if g.isa is not None else None
        self.spool.add_ack("999", self._gno, self._ic if g.isa is not None else None,
                           [isa_fields, g.gs, ak1_segment(g), self._ak9.segment(g, gerrs, self._ic_rejected)])
        self._gno += 1
        self._ak9 = _Ak9()
        if self._grp is g:
            self._grp = None

    def bodies(self) -> Iterator[tuple[object, list[str] | None, list[str], Iterator[list[str]]]]:
        """:func:`write_999`'s bodies, read back from the spool."""
        for gno, ic, head, _ in self.spool.acks("999"):
            isa, gs, ak1, ak9 = head
            yield ic, isa, gs, self._body(gno, ak1, ak9)

    def _body(self, gno: int, ak1: list[str], ak9: list[str]) -> Iterator[list[str]]:
        yield ak1
        for _, _, segs, _ in self.spool.acks("999b", gno):
            yield from segs
        yield ak9


def _in_interchange(f: AckErr, isa13: str) -> bool:
    """An error naming no interchange, or the group's (a group without ISA13 takes any)."""
    return not f.interchange or isa13 in (f.interchange, "")


class _MissingWindow:
    """The segment ordinals of missing-segment errors (IK304 3) near the second pass: the
    :attr:`EnvelopeCollector.loops_of` of :class:`StreamingAcks`, read from the spool a page
    at a time, holding those of the open transaction only."""

    def __init__(self, spool: Any) -> None:
        self.spool = spool
        self.any = bool(spool.missing_found)
        self.window: set[int] = set()
        self.last = -1  # the highest ordinal read from the spool
        self.done = not self.any

    def __bool__(self) -> bool:
        return self.any

    def start(self, st_seq: int) -> None:
        """A transaction starts at ``st_seq``: the ordinals before it are not needed again."""
        if self.window:
            self.window = {s for s in self.window if s >= st_seq}

    def __contains__(self, seq: object) -> bool:
        if not isinstance(seq, int):
            return False
        while not self.done and self.last < seq:
            page = self.spool.missing_after(self.last)
            if not page:
                self.done = True
                break
            self.window.update(page)
            self.last = page[-1]
        return seq in self.window
