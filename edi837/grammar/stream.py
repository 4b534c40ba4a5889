"""The structure stage: a stream of segments into a stream of loop events.

Envelope segments (ISA, GS, ST, SE, GE, IEA) are passed on as they come;
between ST and SE the segments are cut into chunks (header, each HL, each
claim) and each chunk is parsed into loops by :mod:`.parser`.  Events (see
:mod:`edi837.events`): :class:`IsaSeen`, :class:`GsSeen`, :class:`HeaderChunk`,
:class:`HlChunk`, :class:`ClaimChunk` (each with the chunk's segment count),
:class:`SeSeen`, :class:`GeSeen`, :class:`IeaSeen`, :class:`OtherSegment` for a
segment outside any 837 transaction (for example the body of an 835 in the
same file), and :class:`Found`.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..events import (ClaimChunk, Found, GeSeen, GsSeen, HeaderChunk, HlChunk, IeaSeen, IsaSeen,
                      OtherSegment, SeSeen, StructureEvent)
from ..findings import Finding, Severity
from ..reader import SegmentReader
from ..reader.segment import Segment
from .loop import Loop
from .parser import HL_START, ChunkParser, build_loop

GUIDES = {"837P": "005010X222A1", "837I": "005010X223A2"}

RULES = {
    "GRM-001": "The transaction's version is read with the grammar of a neighbouring version.",
    "GRM-002": "An HL level code (HL03) that the guide does not define.",
    "GRM-003": "A transaction that is not an 837P or 837I was skipped.",
    "GRM-004": "A transaction ended without its SE trailer.",
    "GRM-005": "ST01 (transaction set identifier code) is empty: the transaction cannot be read as an 837.",
    "GRM-006": "An 837 of a guide edi837 does not read (ST03/GS08 not an 837P or 837I version, e.g. 837D): "
               "its claims cannot be checked.",
}


def guide_kind(version: str, gs01: str = "") -> tuple[str | None, str | None]:
    """(kind, note) for a version (ST03, else GS08). kind None: not readable."""
    v = (version or "").upper()
    if "X222" in v or "X098" in v:
        kind = "837P"
    elif "X223" in v or "X096" in v:
        kind = "837I"
    else:
        return None, None
    exact = GUIDES[kind]
    if v == exact:
        return kind, None
    return kind, f"version {version} is read with the {exact} grammar; the guides differ in places"


class Structurer:
    """Turns the segments of one file into loop events, chunk by chunk."""

    def __init__(self, reader: SegmentReader):
        self.reader = reader
        self.file = reader.file
        self.parsers: dict[str, ChunkParser] = {}

    def _parser(self, kind: str) -> ChunkParser:
        p = self.parsers.get(kind)
        if p is None:
            p = self.parsers[kind] = _shared_parser(kind)
        return p

    def _chunk(self, kind: str, start: str | None, segs: list[Segment], toks: list[str]) -> Loop:
        if start is None:
            lp = Loop(None, list(segs))
            for s in segs:
                s.misplaced = True
                s.loop = None
            return lp
        tmpl, misplaced = self._parser(kind).shape(start, toks)
        return build_loop(tmpl, segs, misplaced)

    def __iter__(self) -> Iterator[StructureEvent]:
        reader = self.reader
        findings = reader.findings
        kind: str | None = None  # guide of the open transaction
        in_st = False
        skipping = False  # inside a transaction we do not read
        chunk: list[Segment] = []
        toks: list[str] = []  # the grammar tokens of the chunk's segments
        chunk_start: str | None = None
        hl_level = ""
        gs08 = ""
        # reader findings about segments of the chunk being gathered: they follow the chunk's
        # event, so the engine places them in their own transaction (and HL), not in the one before
        held: list[Finding] = []

        def flush() -> Iterator[StructureEvent]:
            nonlocal chunk, toks, held
            if not chunk:
                return
            segs, chunk = chunk, []
            tt, toks = toks, []
            assert kind is not None  # chunks are gathered only inside an 837 transaction (kind set at its ST)
            lp = self._chunk(kind, chunk_start, segs, tt)
            first = segs[0].fields[0]
            if first == "ST":
                yield HeaderChunk(lp, kind, len(segs))
            elif first == "HL":
                yield HlChunk(lp, hl_level, len(segs))
            elif first == "CLM":
                yield ClaimChunk(lp, len(segs))
            if held:
                found, held = held, []
                yield from map(Found, found)

        def close_missing_se(seg: Segment) -> Iterator[StructureEvent]:
            nonlocal in_st, skipping
            if in_st or skipping:
                yield from flush()
                yield Found(Finding(
                    rule="GRM-004", severity=Severity.ERROR, snip=1, ik3=None,
                    message=f"the transaction has no SE trailer: {seg.id} found before it",
                    file=self.file, segment_seq=seg.seq, line=seg.line, byte_offset=seg.offset,
                    segment_id=seg.id))
                yield SeSeen(None)
            in_st = False
            skipping = False

        for seg in reader:
            if findings:
                if in_st:
                    held.extend(findings)
                else:
                    for f in findings:
                        yield Found(f)
                findings.clear()
            sid = seg.fields[0]
            if in_st:
                if sid == "HL" or sid == "CLM":
                    yield from flush()
                    if sid == "HL":
                        hl_level = seg[3]
                        toks.append("HL_" + hl_level)
                        chunk_start = HL_START.get(hl_level)
                        if chunk_start is None:
                            yield Found(Finding(
                                rule="GRM-002", severity=Severity.ERROR, snip=2, ik3="2",
                                message=f"HL03 level code {hl_level!r} is not a level of this guide "
                                        "(20 billing provider, 22 subscriber, 23 patient)",
                                file=self.file, segment_seq=seg.seq, line=seg.line,
                                byte_offset=seg.offset, segment_id="HL", element="HL03", value=hl_level))
                    else:
                        toks.append(sid)
                        chunk_start = "loop_2300"
                    chunk.append(seg)
                    continue
                if sid == "SE":
                    yield from flush()
                    seg.loop = None
                    in_st = False
                    yield SeSeen(seg)
                    continue
                if sid in ("ST", "GE", "IEA", "GS", "ISA"):
                    yield from close_missing_se(seg)
                else:
                    chunk.append(seg)
                    toks.append("NM1_" + seg[1] if sid == "NM1" else sid)
                    continue
            elif skipping:
                if sid == "SE":
                    skipping = False
                    yield OtherSegment(seg)
                    continue
                if sid in ("ST", "GE", "IEA", "GS", "ISA"):
                    yield from close_missing_se(seg)
                else:
                    yield OtherSegment(seg)
                    continue
            # outside a transaction
            if sid == "ST":
                version = seg[3] or gs08
                kind, note = guide_kind(version) if seg[1] == "837" else (None, None)
                if kind is None and not seg[1]:
                    yield Found(Finding(
                        rule="GRM-005", severity=Severity.ERROR, snip=1, ik3="8", ik4="1",
                        message=f"transaction {seg[2]!r} has no ST01 transaction set identifier code "
                                "(837 is required): it was not read",
                        file=self.file, segment_seq=seg.seq, line=seg.line, byte_offset=seg.offset,
                        segment_id="ST", element="ST01", transaction=seg[2]))
                    skipping = True
                    yield OtherSegment(seg)
                    continue
                if kind is None and seg[1] == "837":
                    yield Found(Finding(
                        rule="GRM-006", severity=Severity.ERROR, snip=1, ik3="8", ik4="7",
                        message=f"transaction {seg[2]!r} is an 837 of guide {version or '(none given)'}, not an "
                                "837P (005010X222A1) or 837I (005010X223A2): its claims were not read or checked",
                        file=self.file, segment_seq=seg.seq, line=seg.line, byte_offset=seg.offset,
                        segment_id="ST", element="ST03" if seg[3] else "ST", value=seg[3] or None,
                        transaction=seg[2]))
                    skipping = True
                    yield OtherSegment(seg)
                    continue
                if kind is None:
                    what = f"a {seg[1]} transaction"
                    yield Found(Finding(
                        rule="GRM-003", severity=Severity.WARNING, snip=1,
                        message=f"transaction {seg[2]!r} is {what}, not an 837P (005010X222A1) or "
                                "837I (005010X223A2): skipped",
                        file=self.file, segment_seq=seg.seq, line=seg.line, byte_offset=seg.offset,
                        segment_id="ST", element="ST01" if seg[1] != "837" else "ST03",
                        transaction=seg[2]))
                    skipping = True
                    yield OtherSegment(seg)
                    continue
                if note:
                    yield Found(Finding(
                        rule="GRM-001", severity=Severity.INFO, snip=1, message=note, file=self.file,
                        segment_seq=seg.seq, line=seg.line, byte_offset=seg.offset, segment_id="ST",
                        element="ST03", transaction=seg[2]))
                in_st = True
                chunk_start = "header"
                chunk = [seg]
                toks = ["ST"]
                continue
            seg.loop = None
            if sid == "ISA":
                yield IsaSeen(seg)
            elif sid == "GS":
                gs08 = seg[8]
                yield GsSeen(seg)
            elif sid == "GE":
                yield GeSeen(seg)
            elif sid == "IEA":
                yield IeaSeen(seg)
            else:
                yield OtherSegment(seg)
        if in_st or skipping:
            last = chunk[-1] if chunk else None
            yield from flush()
            yield Found(Finding(
                rule="GRM-004", severity=Severity.ERROR, snip=1,
                message="the file ends inside a transaction: no SE trailer after its last segment",
                file=self.file, segment_seq=last.seq if last else None, line=last.line if last else None,
                byte_offset=last.offset if last else None, segment_id=last.id if last else None))
            yield SeSeen(None)
        if held:  # (only if a transaction ended without a chunk to follow; flush emits them otherwise)
            yield from map(Found, held)
        for f in findings:
            yield Found(f)
        findings.clear()


_PARSERS: dict[str, ChunkParser] = {}


def _shared_parser(kind: str) -> ChunkParser:
    """One parser (and shape cache) per guide per process."""
    p = _PARSERS.get(kind)
    if p is None:
        p = _PARSERS[kind] = ChunkParser(kind)
    return p


def events(source: Any, file: str | None = None) -> "Structurer":
    """Loop events of one file (path, bytes or binary stream)."""
    return Structurer(SegmentReader(source, file))
