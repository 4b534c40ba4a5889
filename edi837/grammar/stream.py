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

from typing import Any, Callable, Iterator

from ..events import (BodySkipped, ClaimChunk, Found, GeSeen, GsSeen, HeaderChunk, HlChunk, IeaSeen, IsaSeen,
                      OtherSegment, SeSeen, StructureEvent)
from ..findings import Finding, Severity
from ..reader import BODY_ENDS, SegmentReader
from ..reader.segment import Segment
from .loop import Loop
from .parser import HL_START, ChunkParser, build_loop, preorder

GUIDES = {"837P": "005010X222A1", "837I": "005010X223A2"}

RULES = {
    "GRM-001": "The transaction's version is read with the grammar of a neighbouring version.",
    "GRM-002": "An HL level code (HL03) that the guide does not define.",
    "GRM-003": "A transaction that is not an 837 claim (an 835 remittance, a 270 eligibility inquiry, a 999 "
               "acknowledgment ...): edi837 reads 837P and 837I claim files only; it is not read.",
    "GRM-004": "A transaction ended without its SE trailer.",
    "GRM-005": "ST01 (transaction set identifier code) is empty: the transaction cannot be read as an 837.",
    "GRM-006": "An 837 of a guide edi837 does not read (ST03/GS08 not an 837P or 837I version, e.g. 837D): "
               "its claims cannot be checked.",
    "GRM-008": "A claim of more service lines than its guide allows (837P 50, 837I 999): `edi837 lines` "
               "exports one line past the maximum and names the claim; the lines after it are not read "
               "(validate and gate reject the claim, S2-LOOP-002, and the gate's rejected file keeps every line). "
               "Also a claim of more than 50,000 segments not marked as lines (validate and gate: this error "
               "rejects it).",
    "GRM-007": "An 837 of version 4010 (GS08/ST03 004010X098A1 or 004010X096A1, ISA12 00401) or older: "
               "837 files use 5010 (005010X222A1 / 005010X223A2) since 2012; its claims are not read.",
}

#: X12 transaction set identifier codes (ST01) -> (what it is, in a few words; its X12 name)
TRANSACTION_SETS: dict[str, tuple[str, str]] = {
    "269": ("benefit coordination inquiry", "Health Care Benefit Coordination Verification"),
    "270": ("eligibility inquiry", "Health Care Eligibility Benefit Inquiry"),
    "271": ("eligibility response", "Health Care Eligibility Benefit Response"),
    "274": ("provider directory", "Health Care Provider Information"),
    "275": ("claim attachment", "Additional Information to Support a Health Care Claim or Encounter"),
    "276": ("claim status request", "Health Care Claim Status Request"),
    "277": ("claim status response or claim acknowledgment (277CA)", "Health Care Information Status "
            "Notification"),
    "278": ("prior authorization (services review)", "Health Care Services Review"),
    "820": ("premium payment", "Payroll Deducted and Other Group Premium Payment for Insurance Products"),
    "824": ("application advice", "Application Advice"),
    "834": ("enrollment file", "Benefit Enrollment and Maintenance"),
    "835": ("remittance", "Health Care Claim Payment/Advice"),
    "837": ("claim", "Health Care Claim"),
    "810": ("invoice", "Invoice"),
    "850": ("purchase order", "Purchase Order"),
    "856": ("ship notice", "Ship Notice/Manifest"),
    "864": ("text message", "Text Message"),
    "997": ("functional acknowledgment", "Functional Acknowledgment"),
    "999": ("implementation acknowledgment", "Implementation Acknowledgment"),
}


def transaction_set_name(st01: str, version: str = "") -> str:
    """'an 835 remittance (Health Care Claim Payment/Advice, 005010X221A1)' for ST01 835."""
    known = TRANSACTION_SETS.get(st01)
    article = "an" if st01[:1] == "8" else "a"
    if known is None:
        return f"a {st01!r} transaction set" + (f" ({version})" if version else "")
    short, name = known
    return f"{article} {st01} {short} ({name}" + (f", {version})" if version else ")")


def old_version(v: str, isa12: bool = False) -> str | None:
    """'004010' for a version before 5010: GS08/ST03 ``004010X098A1`` (or ISA12 ``00401``); else None."""
    if isa12:
        v = v[:5]
        return v + "0" if len(v) == 5 and v.isascii() and v.isdigit() and v < "00501" else None
    v = v[:6]
    return v if len(v) == 6 and v.isascii() and v.isdigit() and v < "005010" else None


#: GS08 versions of the HIPAA 5010 transaction sets other than the 837 (a 999's 005010X231A1)
OTHER_VERSIONS = frozenset({
    "005010X210", "005010X212", "005010X213", "005010X214", "005010X215", "005010X216", "005010X217",
    "005010X218", "005010X220A1", "005010X221A1", "005010X230", "005010X231A1", "005010X279A1"})


def transaction_version_old(st03: str, gs08: str, isa_old: str | None) -> str | None:
    """'004010' when an 837 is of a version before 5010: its ST03, else its group's GS08, else its
    interchange's ISA12 (``isa_old``, from :func:`old_version`) says so."""
    if st03:
        return old_version(st03)
    if gs08:
        return old_version(gs08)
    return isa_old


def is_other_version(v: str) -> bool:
    """A GS08 that is another transaction set's 5010 version (005010X231A1) or a version before 5010
    (004010X098A1): the group's transactions show what it holds, and the structure stage says it
    (GRM-003 another transaction set, GRM-007 a 4010 837; S1-ENV-012 for an 837 read under it)."""
    return v in OTHER_VERSIONS or old_version(v) is not None


OLD_VERSION_NOTE = "837 files use 5010 (005010X222A1 / 005010X223A2) since 2012"


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


_CAPS: dict[str | None, int | None] = {}
_FEWEST_LINES = 50  # the lower of the two guides' line maximums (837P)
#: the most segments of one claim held however its lines are marked: a claim of the guide's maximum
#: of lines (837I 999) has far fewer; past it (segments without an LX that counts them), the rest is
#: left out as the lines past the guide's maximum are
MAX_CLAIM_SEGMENTS = 50_000
# segment ids that open, close or count something inside a transaction (the rest are only gathered)
_IN_ST_MARKS = frozenset(("HL", "CLM", "SE", "ST", "GE", "IEA", "GS", "ISA", "LX"))


def overflow_finding(claim_first: Segment, kind: str | None, overflow: tuple[int, int | None, int],
                     file: str | None) -> Finding:
    """GRM-008: the claim starting at ``claim_first`` (its CLM) left out ``overflow``'s segments."""
    cap = line_cap(kind)
    return Finding(rule="GRM-008", severity=Severity.ERROR, snip=2,
                   message=f"the claim has more service lines than the {cap} its guide allows: line "
                           f"{cap + 1 if cap else '?'} is the last one read; its {overflow[2]:,} segments after it "
                           "were not read or exported",
                   file=file, segment_seq=claim_first.seq, line=claim_first.line,
                   byte_offset=claim_first.offset, segment_id=claim_first.fields[0])


def line_cap(kind: str | None) -> int | None:
    """The guide's maximum number of service lines (loop 2400) per claim of ``kind``."""
    try:
        return _CAPS[kind]
    except KeyError:
        pass
    cap: int | None = None
    if kind in ("837P", "837I"):
        from ..guide.loader import load_guide

        cap = next((lp.repeat for lp in load_guide(kind).root.walk() if lp.id == "2400"), None)
    _CAPS[kind] = cap
    return cap


class Structurer:
    """Turns the segments of one file into loop events, chunk by chunk.

    A claim of more service lines than its guide allows (837P 50, 837I 999) is
    cut after one line more than the guide's maximum: the lines past that are
    not held (memory stays bounded however many lines one claim has; the
    claim is rejected for the extra line, S2-LOOP-002).  Its
    :class:`ClaimChunk` counts every segment (SE01) and names the byte range of
    the segments left out (``overflow``), so the gate's split copies them
    into the rejected output from the input.
    """

    def __init__(self, reader: SegmentReader):
        self.reader = reader
        self.file = reader.file
        self.parsers: dict[str, ChunkParser] = {}
        # False: a claim chunk whose segments are all in place is not built into loops: its event
        # carries a flat loop (the claim's segments in file order) and the template (ClaimChunk.shape)
        self.claim_loops = True
        self.shape: object = None  # the template of the last chunk (ClaimChunk.shape)
        # skip_tx(n) true: the body of the file's n-th 837 transaction read (from 1) is not parsed,
        # only counted (BodySkipped after its header chunk; edi837/parallel.py, one file on many cores)
        self.skip_tx: Callable[[int], bool] | None = None

    def _parser(self, kind: str) -> ChunkParser:
        p = self.parsers.get(kind)
        if p is None:
            p = self.parsers[kind] = _shared_parser(kind)
        return p

    def _chunk(self, kind: str, start: str | None, segs: list[Segment], toks: list[str]) -> Loop:
        self.shape = None
        if start is None:
            lp = Loop(None, list(segs))
            for s in segs:
                s.misplaced = True
                s.loop = None
            return lp
        tmpl, misplaced = self._parser(kind).shape(start, toks)
        self.shape = None if misplaced else tmpl
        if not misplaced and start == "loop_2300":
            if not self.claim_loops:
                return Loop(tmpl[0], segs)
            lp = build_loop(tmpl, segs, ())
            lp.built = (tmpl, preorder(tmpl, segs))  # type: ignore[misc]  # (a slot of its base, _Built)
            return lp
        return build_loop(tmpl, segs, misplaced)

    def _old(self, at: Segment, element: str, old: str, st: Segment, version: str) -> Finding:
        """GRM-007: the 837 ``st`` is of a version before 5010, said at ``element`` of ``at`` (ISA12:
        the interchange's, GS08: the group's, ST03: the transaction's)."""
        value = at[int(element[-2:])]
        label = f"{int(old[:4])}{old[4:]}"  # 004010 -> 4010
        places = [f"{element} {value}"] if value else []  # (no ST03: the version of a GS that ended)
        if version and version != value:
            places.append(f"{'ST03' if st[3] else 'GS08'} {version}")
        where = {"ISA12": dict(group="", transaction=""), "GS08": dict(transaction="")}.get(
            element, dict(transaction=at[2], ik3="8", ik4="7" if value else None))
        return Finding(rule="GRM-007", severity=Severity.ERROR, snip=1,
                       message=f"this is a {label} 837 ({', '.join(places)}): {old} is not supported: "
                               f"{OLD_VERSION_NOTE}; transaction {st[2]!r} was not read or checked",
                       file=self.file, segment_seq=at.seq, line=at.line, byte_offset=at.offset,
                       segment_id=at.fields[0], element=element if value else None, value=value or None,
                       **where)

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
        # versions before 5010 (GRM-007): said once, at the outermost place that has one
        isa: Segment | None = None
        isa_old: str | None = None  # '004010' when ISA12 is 00401
        isa_said = False  # GRM-007 given at ISA12 in the open interchange
        gs: Segment | None = None
        gs_said = False  # GRM-007 given at GS08 in the open group
        # reader findings about segments of the chunk being gathered: they follow the chunk's
        # event, so the engine places them in their own transaction (and HL), not in the one before
        held: list[Finding] = []
        # service lines of the open claim chunk, and what it leaves out past its guide's maximum
        # + 1 lines: [segments, byte offset of the first one]
        lx = 0
        over: list[int] | None = None
        watch = False  # the open chunk is a claim's (CLM ...): its lines are counted
        skip_tx = self.skip_tx
        n_tx = 0  # 837 transactions read so far
        lite = False  # the open transaction's body is not read (skip_tx)
        body = False  # inside that body: segments and claims are counted
        body_n = body_claims = 0

        def flush(end: int | None = None) -> Iterator[StructureEvent]:
            """The gathered chunk's event; ``end``: the byte offset of the segment after it (None:
            the end of the file)."""
            nonlocal chunk, toks, held, lx, over
            if not chunk:
                return
            segs, chunk = chunk, []
            tt, toks = toks, []
            lx = 0
            cut, over = over, None
            assert kind is not None  # chunks are gathered only inside an 837 transaction (kind set at its ST)
            lp = self._chunk(kind, chunk_start, segs, tt)
            first = segs[0].fields[0]
            if first == "ST":
                yield HeaderChunk(lp, kind, len(segs))
            elif first == "HL":
                yield HlChunk(lp, hl_level, len(segs))
            elif first == "CLM":
                if cut is None:
                    yield ClaimChunk(lp, len(segs), self.shape)
                else:
                    yield ClaimChunk(lp, len(segs) + cut[0], self.shape, (cut[1], end, cut[0]))
            if held:
                found, held = held, []
                yield from map(Found, found)

        def close_missing_se(seg: Segment) -> Iterator[StructureEvent]:
            nonlocal in_st, skipping
            if in_st or skipping:
                yield from flush(seg.offset)
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
                if body:
                    if sid not in BODY_ENDS:
                        body_n += 1
                        if sid == "CLM":
                            body_claims += 1
                        continue
                    body = False
                    n, c = reader.end_skip()  # (what the reader counted and did not give)
                    body_n += n
                    body_claims += c
                    if held:
                        found, held = held, []
                        yield from map(Found, found)
                    yield BodySkipped(body_n, body_claims)
                if sid in _IN_ST_MARKS:
                    if lite and (sid == "HL" or sid == "CLM"):
                        yield from flush(seg.offset)  # (the header chunk)
                        body = True
                        body_n = 1
                        body_claims = 1 if sid == "CLM" else 0
                        reader.skip_body = True
                        continue
                    if sid == "HL" or sid == "CLM":
                        yield from flush(seg.offset)
                        if sid == "HL":
                            watch = False
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
                            watch = True
                            toks.append(sid)
                            chunk_start = "loop_2300"
                        chunk.append(seg)
                        continue
                    if sid == "SE":
                        yield from flush(seg.offset)
                        watch = False
                        seg.loop = None
                        in_st = False
                        yield SeSeen(seg)
                        continue
                    if sid != "LX":  # ST, GE, IEA, GS, ISA: the transaction has no SE
                        watch = False
                        yield from close_missing_se(seg)
                    elif watch and over is None:
                        lx += 1
                        if lx > _FEWEST_LINES + 1:
                            cap = line_cap(kind)
                            if cap is not None and lx > cap + 1:
                                over = [0, seg.offset]
                if in_st:
                    if watch:  # a claim's segments: bounded (its lines past the maximum, or a backstop)
                        if over is None and len(chunk) >= MAX_CLAIM_SEGMENTS and sid != "LX":
                            # (segments without LX lines: misplaced)
                            over = [0, seg.offset]
                            clm = chunk[0]  # (said at the claim's CLM: the claim's own finding)
                            held.append(Finding(
                                rule="GRM-008", severity=Severity.ERROR, snip=2,
                                message=f"the claim has more than {MAX_CLAIM_SEGMENTS:,} segments (a claim of "
                                        "the guide's most service lines has far fewer): its segments from "
                                        f"segment {seg.seq:,} (line {seg.line:,}) on were not read or checked",
                                file=self.file, segment_seq=clm.seq, line=clm.line, byte_offset=clm.offset,
                                segment_id=clm.fields[0]))
                        if over is not None:  # past the guide's maximum + 1 lines: counted, not held
                            over[0] += 1
                            seg.loop = None
                            continue
                    chunk.append(seg)
                    if sid == "NM1":
                        fields = seg.fields  # (seg[1], inline)
                        toks.append("NM1_" + fields[1] if len(fields) > 1 else "NM1_")
                    else:
                        toks.append(sid)
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
                old = None
                if seg[1] == "837":
                    old = transaction_version_old(seg[3], gs08, isa_old)
                    if isa_old and not old:
                        isa_said = True  # a 5010 837 read in a 4010 interchange: S1-ISA-002 says ISA12
                if old:
                    # a 4010 837: not read (the 5010 guides would report every 4010 difference); said
                    # once, at the outermost place that is 4010: ISA12 (the interchange is rejected,
                    # TA1 017), else GS08 (the group), else ST03
                    gs_old = old_version(gs08) if gs is not None else None
                    if isa_old and isa is not None:
                        if not isa_said:
                            isa_said = True
                            yield Found(self._old(isa, "ISA12", isa_old, seg, version))
                    elif gs is not None and gs_old and (not seg[3] or old_version(seg[3])):
                        if not gs_said:
                            gs_said = True
                            yield Found(self._old(gs, "GS08", gs_old, seg, version))
                    else:
                        yield Found(self._old(seg, "ST03", old, seg, version))
                    skipping = True
                    yield OtherSegment(seg)
                    continue
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
                    # another transaction set (an 835, a 270, a 999 ...): one error says it, at ST01
                    yield Found(Finding(
                        rule="GRM-003", severity=Severity.ERROR, snip=1,
                        message=f"transaction {seg[2]!r} is {transaction_set_name(seg[1], version)}, not an "
                                "837 claim: edi837 reads 837P and 837I claim files only; it was not read",
                        file=self.file, segment_seq=seg.seq, line=seg.line, byte_offset=seg.offset,
                        segment_id="ST", element="ST01", value=seg[1], transaction=seg[2]))
                    skipping = True
                    yield OtherSegment(seg)
                    continue
                if note:
                    yield Found(Finding(
                        rule="GRM-001", severity=Severity.INFO, snip=1, message=note, file=self.file,
                        segment_seq=seg.seq, line=seg.line, byte_offset=seg.offset, segment_id="ST",
                        element="ST03", transaction=seg[2]))
                in_st = True
                n_tx += 1
                lite = skip_tx is not None and skip_tx(n_tx)
                chunk_start = "header"
                chunk = [seg]
                toks = ["ST"]
                continue
            seg.loop = None
            if sid == "ISA":
                isa, isa_old = seg, old_version(seg[12], isa12=True)
                isa_said = False
                gs = None
                yield IsaSeen(seg)
            elif sid == "GS":
                gs08 = seg[8]
                gs, gs_said = seg, False
                yield GsSeen(seg)
            elif sid == "GE":
                gs = None
                yield GeSeen(seg)
            elif sid == "IEA":
                isa = isa_old = gs = None
                yield IeaSeen(seg)
            else:
                yield OtherSegment(seg)
        if body:
            n, c = reader.end_skip()
            body_n += n
            body_claims += c
            if held:
                found, held = held, []
                yield from map(Found, found)
            yield BodySkipped(body_n, body_claims)
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
