"""Split 837 files: each claim into the accepted or the rejected output.

The split is the gate's second pass.  It re-reads the input with
:func:`edi837.model.build.stream` (flat memory: one claim and its enclosing
HL loops at a time) and writes every claim into the output its pass-1 verdict
names.  Each output is a valid 837: the ISA/GS/ST header data of the input are
carried over with new control numbers; BHT and the 1000A/1000B loops are kept;
the HL hierarchy is rebuilt with only the HL loops the written claims need
(HL01 renumbered from 1, HL02 remapped to the new parent numbers, HL04
recomputed from which child HLs land in the same output); SE01, GE01 and IEA01
count what was written.

Outputs are opened lazily (an output that gets no claim is never created) and
written through :func:`edi837.outputs.atomic.atomic_write`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import re
import unicodedata
from typing import IO, TYPE_CHECKING, Any, Callable, Iterable, Sequence

from ..events import (ClaimRead, GroupEnd, GroupStart, HlRead, InterchangeEnd, InterchangeStart, ModelEvent,
                      TransactionEnd, TransactionStart)
from ..reader import MAX_SEGMENT, read_range
from ..reader.segment import Delimiters, Segment
from .atomic import atomic_write

if TYPE_CHECKING:
    from ..model.claims import Claim


class ControlCounter:
    """Hands out control numbers (ISA13, GS06) for every output of a run.

    ``reserve(start, n)``, when given, is called before a number is handed out
    that no earlier call covered: it must record durably that ``start`` and the
    ``n - 1`` numbers after it are taken (see
    :class:`edi837.outputs.outfolder.CounterFile`), so a run killed while
    writing an output never gets its numbers handed out again."""

    BLOCK = 1000

    def __init__(self, start: int = 1, reserve: Callable[[int, int], object] | None = None,
                 block: int = BLOCK):
        self.value = int(start)
        self.reserve = reserve
        self.block = max(1, block)
        self.left = 0  # numbers reserved and not handed out yet

    def next(self) -> int:
        if self.reserve is not None and self.left <= 0:
            self.reserve(self.value, self.block)
            self.left = self.block
        self.left -= 1
        v = self.value
        self.value += 1
        if self.value > 999999999:
            self.value = 1
        return v


class SegmentWriter:
    """Writes segments with one interchange's delimiters (one segment a line) to a binary file.

    Bytes stay bytes: a segment is encoded as the input segment it comes from was read
    (``encoding``: :attr:`Segment.encoding`, latin-1 unless that segment was UTF-8 text), so
    Windows-1252 and other 8-bit characters are written back as the input's bytes, never
    transcoded to UTF-8.  What we write ourselves (control segments, acknowledgments) is ASCII."""

    def __init__(self, fh: IO[bytes], delims: Delimiters):
        self.fh = fh
        self.set_delims(delims)

    def set_delims(self, delims: Delimiters) -> None:
        self.el = delims.element
        term = delims.segment
        self.term = term if term in ("\n", "\r", "\r\n") else term + "\n"

    def write(self, fields: Iterable[str], encoding: str = "latin-1") -> None:
        fields = list(fields)
        while len(fields) > 2 and fields[-1] == "" and fields[0] != "ISA":
            fields.pop()
        text = self.el.join(fields) + self.term
        try:
            data = text.encode(encoding)
        except UnicodeEncodeError:  # (a character past latin-1 comes from UTF-8 text only)
            data = text.encode("utf-8")
        self.fh.write(data)


def isa_fields(isa: Segment | None, control: int, *, swap: bool = False,
               date: str | None = None, time: str | None = None, ack: str | None = None,
               delims: Delimiters | None = None) -> list[str]:
    """ISA fields for an output interchange built from an input ISA."""
    d = delims or (isa.delims if isa is not None else Delimiters())
    if isa is not None and len(isa.fields) >= 17:
        f = list(isa.fields[:17])
    else:
        f = ["ISA", "00", " " * 10, "00", " " * 10, "ZZ", "EDI837".ljust(15), "ZZ",
             "EDI837".ljust(15), "000101", "0000", d.repetition or "^", "00501", "0", "0", "T",
             d.component]
    if swap:
        f[5], f[6], f[7], f[8] = f[7], f[8], f[5], f[6]
    if date is not None:
        f[9] = date
    if time is not None:
        f[10] = time
    f[13] = f"{control:09d}"
    if ack is not None:
        f[14] = ack
    return f


# -- acknowledgment envelopes (999, TA1, 277CA) ---------------------------------------
ACK_DELIMS = Delimiters("*", ":", "^", "~")
# ISA05/ISA07 interchange id qualifiers of the 00501 ISA
_ISA_QUALIFIERS = frozenset({"01", "14", "20", "27", "28", "29", "30", "33", "ZZ"})
# what the 5010 extended character set allows (less our own delimiters * : ^ ~)
_NOT_EXTENDED = re.compile(r"[^A-Za-z0-9!\"&'()+,\-./;?= %@\[\]_{}\\|<>`#$]")
_TRANSLIT = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                           "\u2013": "-", "\u2014": "-", "\u00a0": " "})


def ack_text(v: str | None, n: int = 99) -> str:
    """A value copied from the input into an acknowledgment: in the 5010 extended
    character set (accents dropped, curly quotes and dashes made plain, anything
    else and our delimiters ``* : ^ ~`` become spaces), stripped, at most ``n`` long."""
    if not v:
        return ""
    if not v.isascii():  # (ASCII text has nothing to translate, decompose or drop)
        v = unicodedata.normalize("NFKD", v.translate(_TRANSLIT))
        v = "".join(ch for ch in v if not unicodedata.combining(ch))
    return _NOT_EXTENDED.sub(" ", v).strip()[:n]


def ack_app_code(v: str | None) -> str:
    """GS02/GS03 of an acknowledgment from the input's GS03/GS02 (AN 2-15)."""
    c = ack_text(v, 15)
    return c if len(c) >= 2 else "EDI837"


def ack_isa_fields(isa: Segment | Sequence[str] | None, control: int, now: _dt.datetime) -> list[str]:
    """The ISA of an acknowledgment (999, TA1, 277CA) answering ``isa``.

    Always a 00501 interchange with our delimiters (ISA11 ``^``, ISA16 ``:``),
    whatever version the input was in: the acknowledgments are 5010
    transactions.  ISA01-ISA04 are ``00`` and spaces: the submitter's
    authorization and security information is never echoed back.  Sender and
    receiver are the input's receiver and sender, fixed-width (15) and in the
    character set; an unknown qualifier becomes ZZ.  ISA14 0; ISA15 the input's
    P/T (P when it is neither)."""
    f = list(isa.fields[:17] if isinstance(isa, Segment) else isa[:17]) if isa is not None else []
    f += [""] * (17 - len(f))

    def party(q: str, ident: str) -> tuple[str, str]:
        q = q.strip()
        ident = ack_text(ident, 15)
        return (q if q in _ISA_QUALIFIERS else "ZZ"), (ident or "EDI837").ljust(15)

    sq, sid = party(f[7], f[8])  # we send: the input's receiver
    rq, rid = party(f[5], f[6])
    usage = f[15].strip() if f[15].strip() in ("P", "T") else "P"
    return ["ISA", "00", " " * 10, "00", " " * 10, sq, sid, rq, rid, now.strftime("%y%m%d"),
            now.strftime("%H%M"), ACK_DELIMS.repetition or "^", "00501", f"{control:09d}", "0",
            usage, ACK_DELIMS.component]


class _Output:
    """One split output file (opened on first use)."""

    def __init__(self, path: str, stack: contextlib.ExitStack, counter: ControlCounter):
        self.path = path
        self.stack = stack
        self.counter = counter
        self.w: SegmentWriter | None = None
        self.claims = 0
        # open envelope state
        self.isa13: str | None = None
        self.gs06: str | None = None
        self.st02: str | None = None
        self.groups = 0  # groups in the open interchange
        self.txs = 0  # transactions in the open group
        self.segs = 0  # segments in the open transaction
        self.hl_map: dict[str, str] = {}  # input HL01 -> output HL01 in the open transaction
        self.hl_next = 1

    def writer(self, delims: Delimiters) -> SegmentWriter:
        if self.w is None:
            fh = self.stack.enter_context(atomic_write(self.path, "wb"))
            self.w = SegmentWriter(fh, delims)
        return self.w

    def close_st(self) -> None:
        if self.st02 is not None:
            self.segs += 1
            assert self.w is not None  # written to since the ST
            self.w.write(["SE", str(self.segs), self.st02])
            self.st02 = None

    def close_gs(self) -> None:
        self.close_st()
        if self.gs06 is not None:
            assert self.w is not None  # written to since the GS
            self.w.write(["GE", str(self.txs), self.gs06])
            self.gs06 = None

    def close_isa(self) -> None:
        self.close_gs()
        if self.isa13 is not None:
            assert self.w is not None  # written to since the ISA
            self.w.write(["IEA", str(self.groups), self.isa13])
            self.isa13 = None


class Splitter:
    """Pass 2 of the gate over one input file.

    ``verdicts`` maps claim_seq to "accepted"/"rejected"; ``hl_children``
    maps verdict -> set of (tx_no, HL01) whose HL has a child HL with a claim
    of that verdict (for HL04).  ``listeners`` get every stream event (the
    acknowledgment builders ride along on the same pass).
    """

    def __init__(self, paths: dict[str, str], verdicts: dict[int, str],
                 hl_children: dict[str, set[tuple[int, str]]], counter: ControlCounter,
                 stack: contextlib.ExitStack, *, keep_ids: bool = True):
        self.outputs = {v: _Output(p, stack, counter) for v, p in paths.items()}
        self.verdicts = verdicts
        self.hl_children = hl_children
        self.counter = counter
        # claim ids per output (``keep_ids``; else left empty: a file of millions of claims)
        self.written: dict[str, list[str]] = {v: [] for v in paths}
        self.keep_ids = keep_ids
        # the input read (path or bytes): a claim of more lines than its guide allows has the
        # segments past them copied from it (Claim.overflow)
        self.source: Any = None
        self.missing: list[int] = []  # claim_seqs without a pass-1 verdict

    def run(self, events: Iterable[ModelEvent], listeners: Iterable[Callable[[ModelEvent], None]] = ()) -> None:
        listeners = list(listeners)
        isa: Segment | None = None
        gs: Segment | None = None
        header: list[Segment] = []
        chain: list[tuple[str, list[Segment]]] = []  # open HL loops: (HL01, segments)
        tx_no = 0
        outs = self.outputs.values()
        for ev in events:
            for ls in listeners:
                ls(ev)
            match ev:
                case ClaimRead(claim):
                    self._claim(claim, isa, gs, header, chain, tx_no)
                case HlRead(lp):
                    segs = list(lp.iter_segments())
                    if not segs:
                        continue
                    hl = segs[0]
                    parent = hl[2]
                    if not parent:
                        chain = []
                    else:
                        while chain and chain[-1][0] != parent:
                            chain.pop()
                    chain.append((hl[1], segs))
                case TransactionStart(tx):
                    for o in outs:
                        if o.w is not None:
                            o.close_st()
                    tx_no += 1
                    header = list(tx.header.iter_segments())
                    chain = []
                    for o in outs:
                        o.hl_map = {}
                        o.hl_next = 1
                case TransactionEnd():
                    for o in outs:
                        if o.w is not None:
                            o.close_st()
                    header, chain = [], []
                case GroupStart(grp):
                    for o in outs:
                        if o.w is not None:
                            o.close_gs()
                    gs = grp.gs
                case GroupEnd():
                    for o in outs:
                        if o.w is not None:
                            o.close_gs()
                    gs = None
                case InterchangeStart(ic):
                    for o in outs:
                        if o.w is not None:
                            o.close_isa()
                    isa, gs = ic.isa, None
                case InterchangeEnd():
                    for o in outs:
                        if o.w is not None:
                            o.close_isa()
                    isa = gs = None
        for o in outs:
            if o.w is not None:
                o.close_isa()

    def _overflow(self, overflow: tuple[int, int | None, int], w: SegmentWriter, delims: Delimiters) -> int:
        """Copy the segments a claim of too many service lines left out (``Claim.overflow``) from
        the input, one at a time as the reader split them (a segment longer than the reader takes
        is left out, as the reader leaves it out); returns how many were written."""
        if self.source is None:
            raise RuntimeError("a claim of more service lines than the guide allows needs the input "
                               "(Splitter.source) to copy the lines past them")
        start, end, _n = overflow
        tb = delims.segment.encode("latin-1")
        el = delims.element
        n = 0
        rest = b""
        skipping = False  # inside a segment longer than the reader takes

        def put(raw: bytes) -> int:
            raw = raw.strip(b"\r\n")
            if not raw:
                return 0
            w.write(raw.decode("latin-1").split(el), "latin-1")
            return 1

        for chunk in read_range(self.source, start, end):
            parts = (rest + chunk).split(tb)
            rest = parts.pop()
            for p in parts:
                if skipping:
                    skipping = False
                    continue
                n += put(p)
            if len(rest) > MAX_SEGMENT:
                rest, skipping = b"", True
        if not skipping:
            n += put(rest)
        return n

    def _claim(self, claim: Claim, isa: Segment | None, gs: Segment | None, header: list[Segment],
               chain: list[tuple[str, list[Segment]]], tx_no: int) -> None:
        verdict = self.verdicts.get(claim.seq)
        if verdict is None:  # pass 1 did not settle it (should not happen): never accept it
            self.missing.append(claim.seq)
            verdict = "rejected"
        o = self.outputs[verdict]
        segs = list(claim.loop.iter_segments())
        delims = segs[0].delims if segs else (isa.delims if isa is not None else Delimiters())
        w = o.writer(delims)
        if o.isa13 is None:
            n = self.counter.next()
            f = isa_fields(isa, n, delims=delims)
            w.set_delims(delims)
            w.write(f, isa.encoding if isa is not None else "latin-1")
            o.isa13, o.groups = f[13], 0
        if o.gs06 is None:
            n = self.counter.next()
            f = list(gs.fields) if gs is not None else \
                ["GS", "HC", "EDI837", "EDI837", "20000101", "0000", "", "X",
                 "005010X223A2" if claim.kind == "837I" else "005010X222A1"]
            while len(f) < 9:
                f.append("")
            f[6] = str(n)
            w.write(f, gs.encoding if gs is not None else "latin-1")
            o.gs06, o.txs = f[6], 0
            o.groups += 1
        if o.st02 is None:
            o.txs += 1
            o.st02 = f"{o.txs:04d}"
            o.segs = 0
            o.hl_map, o.hl_next = {}, 1
            for s in header:
                f = list(s.fields)
                if f[0] == "ST":
                    while len(f) < 3:
                        f.append("")
                    f[2] = o.st02
                w.write(f, s.encoding)
                o.segs += 1
        for hl01, hsegs in chain:
            if hl01 in o.hl_map:
                continue
            new = str(o.hl_next)
            o.hl_next += 1
            o.hl_map[hl01] = new
            for s in hsegs:
                f = list(s.fields)
                if f[0] == "HL" and s is hsegs[0]:
                    while len(f) < 5:
                        f.append("")
                    f[1] = new
                    f[2] = o.hl_map.get(f[2], "") if f[2] else ""
                    f[4] = "1" if (tx_no, hl01) in self.hl_children.get(verdict, ()) else "0"
                w.write(f, s.encoding)
                o.segs += 1
        for s in segs:
            w.write(s.fields, s.encoding)
            o.segs += 1
        if claim.overflow is not None:
            o.segs += self._overflow(claim.overflow, w, delims)
        o.claims += 1
        if self.keep_ids:
            self.written[verdict].append(claim.claim_id)


def output_paths(out_dir: str, name: str) -> dict[str, str]:
    base = os.path.join(out_dir, name)
    return {"accepted": base + ".accepted.x12", "rejected": base + ".rejected.x12"}
