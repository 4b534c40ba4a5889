"""WEDI SNIP type 1: X12 syntax and envelope integrity.

:class:`EnvelopeChecker` checks the ISA header (fixed width, values, date and
time, separators) and the envelope pairs and counts (ISA13/IEA02, IEA01,
GS06/GE02, GE01, ST02/SE02, SE01), missing trailers and duplicate control
numbers.  Element data types and lengths of every segment the guide defines
(``S1-ELE-*``) are checked by :class:`edi837.checks.snip2_guide.GuideChecker`
in the same pass that matches segments to the guide (it needs the matched
SegmentDef); those rules are declared here.

Rule ids: ``S1-ISA-nnn`` (ISA header), ``S1-ENV-nnn`` (envelope pairs and
counts), ``S1-ELE-nnn`` (element syntax), ``S1-SEG-nnn`` (segment syntax).
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from ..events import (GroupEnd, GroupStart, InterchangeEnd, InterchangeStart, ModelEvent, OtherSegment,
                      TransactionEnd, TransactionStart)
from ..findings import Finding
from ..grammar.stream import GUIDES, OLD_VERSION_NOTE, is_other_version, old_version, transaction_version_old
from ..guide import load_control
from .registry import RULES, checker, declare

X12 = "ASC X12.6 / X12 005010 control segments"
TR3 = "ASC X12N TR3 005010X222A1 / 005010X223A2"

# -- rule declarations --------------------------------------------------------
declare("S1-ISA-001", "error", 1, "An ISA element does not have its fixed width (the ISA is 106 characters, "
        "every element padded to its exact size).", reads=("ISA01-ISA16",), citation=X12 + ", ISA", ik4="4")
declare("S1-ISA-002", "error", 1, "An ISA element holds a value X12 does not allow (ISA01, ISA03, ISA05, "
        "ISA07, ISA12, ISA13, ISA14, ISA15).", reads=("ISA",), citation=X12 + ", ISA", ik4="7")
declare("S1-ISA-003", "error", 1, "The interchange date ISA09 (YYMMDD) or time ISA10 (HHMM) is not a valid "
        "date or time.", reads=("ISA09", "ISA10"), citation=X12 + ", ISA", ik4="8")
declare("S1-ISA-004", "error", 1, "The element, component, repetition and segment separators are not all "
        "different, or one is a letter or digit.", reads=("ISA", "ISA11", "ISA16"), citation=X12 + ", ISA")
declare("S1-ENV-001", "error", 1, "IEA02 does not equal the ISA13 interchange control number.",
        reads=("ISA13", "IEA02"), citation=X12 + ", IEA")
declare("S1-ENV-002", "error", 1, "IEA01 does not equal the number of functional groups in the interchange.",
        reads=("IEA01",), citation=X12 + ", IEA")
declare("S1-ENV-003", "error", 1, "The interchange has no IEA trailer.", reads=("IEA",), citation=X12 + ", IEA")
declare("S1-ENV-004", "error", 1, "GE02 does not equal the GS06 group control number.",
        reads=("GS06", "GE02"), citation=X12 + ", GE")
declare("S1-ENV-005", "error", 1, "GE01 does not equal the number of transaction sets in the group.",
        reads=("GE01",), citation=X12 + ", GE")
declare("S1-ENV-006", "error", 1, "The functional group has no GE trailer.", reads=("GE",), citation=X12 + ", GE")
declare("S1-ENV-007", "error", 1, "SE02 does not equal the ST02 transaction set control number.",
        reads=("ST02", "SE02"), citation=TR3 + ", SE", ik3="8", ik4="7")
declare("S1-ENV-008", "error", 1, "SE01 does not equal the number of segments from ST to SE.",
        reads=("SE01",), citation=TR3 + ", SE", ik3="8", ik4="7")
declare("S1-ENV-009", "error", 1, "A control number is used twice: ISA13 in the file, GS06 in the "
        "interchange or ST02 in the group.", reads=("ISA13", "GS06", "ST02"), citation=X12)
declare("S1-ENV-015", "error", 1, "Duplicate interchange: an interchange with this sender (ISA06) and "
        "control number (ISA13) was already sent in this run or accepted in an earlier one (history store); "
        "nothing in it is accepted twice (TA1 note 025).", reads=("ISA06", "ISA13"),
        citation=X12 + ", TA1 note code 025 (duplicate interchange control number); a sender re-submits on "
        "purpose under a new ISA13")
declare("S1-ENV-011", "error", 1, "GS01 is not HC (Health Care Claim) in a functional group holding 837 "
        "transaction sets.", reads=("GS01",), citation=X12 + ", GS01 functional identifier code (HC = 837)",
        ik3="8", ik4="7")
declare("S1-ENV-012", "error", 1, "GS08 is not an adopted 837 version (005010X222A1 or 005010X223A2) in a "
        "functional group holding 837 transaction sets.", reads=("GS08",),
        citation=TR3 + ", GS08: 005010X222A1 / 005010X223A2", ik3="8", ik4="7")
declare("S1-ENV-013", "error", 1, "ST03 does not equal GS08 (both adopted 837 versions, but different).",
        reads=("ST03", "GS08"), citation=TR3 + ", ST03 note: the value is the same as GS08", ik3="8", ik4="7")
declare("S1-ENV-014", "error", 1, "A transaction set stands outside any functional group: the GS header (and "
        "with it, usually, the GE trailer) is missing.", reads=("GS", "GE", "ST"), citation=X12 + ", GS/GE")
declare("S1-ELE-001", "error", 1, "An element's value does not fit its X12 data type (N0 integer, R decimal, "
        "ID/AN printable text).", reads=("every element",), citation=TR3 + ", data element dictionary",
        ik3="8", ik4="6")
declare("S1-ELE-002", "error", 1, "An element is shorter than its minimum length.", reads=("every element",),
        citation=TR3 + ", data element dictionary", ik3="8", ik4="4")
declare("S1-ELE-003", "error", 1, "An element is longer than its maximum length.", reads=("every element",),
        citation=TR3 + ", data element dictionary", ik3="8", ik4="5")
declare("S1-ELE-004", "error", 1, "A date element (DT) is not a valid date.", reads=("DT elements",),
        citation=TR3, ik3="8", ik4="8")
declare("S1-ELE-005", "error", 1, "A time element (TM) is not a valid time.", reads=("TM elements",),
        citation=TR3, ik3="8", ik4="9")
declare("S1-SEG-001", "error", 1, "A segment has more elements than the segment defines.",
        reads=("every segment",), citation=TR3, ik3="8", ik4="3")
declare("S1-SEG-002", "error", 1, "A composite element has more components than it defines.",
        reads=("composites",), citation=TR3, ik3="8", ik4="13")
declare("S1-SEG-003", "error", 1, "An element repeats more times than it may.", reads=("every element",),
        citation=TR3, ik3="8", ik4="12")
declare("S1-SEG-004", "error", 1, "An X12 syntax note of the segment is violated (paired, required, "
        "exclusion, conditional or list-conditional elements).", reads=("every segment",),
        citation=TR3 + ", syntax notes", ik3="8", ik4="2")
declare("S1-SEG-005", "error", 1, "A segment ends with empty elements (trailing separators must not be sent).",
        reads=("every segment",), citation=X12 + " syntax: trailing delimiters", ik3="8", ik4="3")

ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)
ISA_NAMES = ("Authorization Information Qualifier", "Authorization Information",
             "Security Information Qualifier", "Security Information", "Interchange ID Qualifier",
             "Interchange Sender ID", "Interchange ID Qualifier", "Interchange Receiver ID",
             "Interchange Date", "Interchange Time", "Repetition Separator", "Interchange Control Version",
             "Interchange Control Number", "Acknowledgment Requested", "Usage Indicator",
             "Component Element Separator")
ID_QUALS = frozenset({"01", "14", "20", "27", "28", "29", "30", "33", "ZZ"})
ISA_CODES = {1: frozenset({"00", "03"}), 3: frozenset({"00", "01"}), 5: ID_QUALS, 7: ID_QUALS,
             12: frozenset({"00501"}), 14: frozenset({"0", "1"}), 15: frozenset({"P", "T"})}


def digits(v: str) -> bool:
    """True if ``v`` is one or more ASCII digits (X12 numbers, dates and times are ASCII:
    ``str.isdigit`` also takes Unicode digits such as ``'\u00b2'``)."""
    return v.isascii() and v.isdigit()


def valid_date(v: str) -> bool:
    """CCYYMMDD or YYMMDD, a real calendar date (years before 1800 are not, as in pyx12)."""
    if len(v) not in (6, 8) or not digits(v):
        return False
    if len(v) == 6:
        v = "20" + v
    year = int(v[:4])
    if year < 1800:
        return False
    try:
        _dt.date(year, int(v[4:6]), int(v[6:8]))
    except ValueError:
        return False
    return True


def valid_time(v: str) -> bool:
    """HHMM, HHMMSS or HHMMSSd..d."""
    if len(v) < 4 or len(v) == 5 or len(v) > 8 or not digits(v):
        return False
    if int(v[:2]) > 23 or int(v[2:4]) > 59:
        return False
    if len(v) >= 6 and int(v[4:6]) > 59:
        return False
    return True


#: the date/time formats a date time period format qualifier (X12 element 1250) names,
#: as (what the value must be, whether it is a time); see :func:`format_problem`
FORMATS = {"D8": ("a CCYYMMDD date", False), "D6": ("a YYMMDD date", False),
           "RD8": ("a CCYYMMDD-CCYYMMDD date range", False), "DT": ("a CCYYMMDDHHMM date and time", False),
           "TM": ("an HHMM time", True)}


def format_problem(fmt: str, v: str) -> str | None:
    """Why ``v`` is not a value of format ``fmt`` (a code of X12 element 1250), or None if it is
    (or ``fmt`` names no date/time format this checks)."""
    if fmt == "D8":
        return None if len(v) == 8 and valid_date(v) else "is not a valid CCYYMMDD date"
    if fmt == "D6":
        return None if len(v) == 6 and valid_date(v) else "is not a valid YYMMDD date"
    if fmt == "RD8":
        a, sep, b = v.partition("-")
        if not sep or not (len(a) == 8 and valid_date(a)) or not (len(b) == 8 and valid_date(b)):
            return "is not a valid CCYYMMDD-CCYYMMDD date range"
        if a > b:
            return "is a date range whose start is after its end"
        return None
    if fmt == "DT":
        ok = len(v) == 12 and valid_date(v[:8]) and valid_time(v[8:])
        return None if ok else "is not a valid CCYYMMDDHHMM date and time"
    if fmt == "TM":
        return None if len(v) == 4 and valid_time(v) else "is not a valid HHMM time"
    return None


_CONTROL_CODES: dict[str, frozenset[str] | None] = {}


def control_codes(xid: str) -> frozenset[str] | None:
    """The codes the X12 control map lists for envelope element ``xid`` (``GS01``)."""
    if xid not in _CONTROL_CODES:
        codes = None
        for sd in load_control().all_segment_defs():
            if sd.id == xid[:2]:
                e = sd.element(int(xid[2:]))
                codes = e.valid_codes if e is not None else None
                break
        _CONTROL_CODES[xid] = codes
    return _CONTROL_CODES[xid]


def _interchange_level(f: Finding) -> Finding:
    """Mark an envelope finding as the interchange's (no group or transaction of its own), so it
    rejects what the interchange encloses."""
    f.group = ""
    f.transaction = ""
    return f


def _f(rule: str, message: str, seg: Any, element: str | None = None, value: str | None = None) -> Finding:
    return RULES[rule].finding(message, seg, element=element, value=value)


@checker("S1-ISA-001", "S1-ISA-002", "S1-ISA-003", "S1-ISA-004", "S1-ENV-001", "S1-ENV-002", "S1-ENV-003",
         "S1-ENV-004", "S1-ENV-005", "S1-ENV-006", "S1-ENV-007", "S1-ENV-008", "S1-ENV-009", "S1-ENV-011",
         "S1-ENV-012", "S1-ENV-013", "S1-ENV-014", "S1-ENV-015")
class EnvelopeChecker:
    """Envelope syntax and control-count integrity (ISA/IEA, GS/GE, ST/SE)."""

    def __init__(self, ctx: Any):
        self.ctx = ctx
        self.isa: Any = None  # open interchange's ISA segment
        self.gs: Any = None  # open group's GS segment
        self.isa13s: set[str] = set()
        self.gs06s: set[str] = set()
        self.st02s: set[str] = set()
        self.skipped_st: Any = None  # ST of a transaction we do not read (an 835 in the file)
        self.skipped_count = 0
        self.gs_judged = False  # GS01/GS08 judged for the open group (at its first 837)
        self.orphan_st: Any = None  # first ST of a run of transaction sets outside any group
        # an ISA whose ISA12 is before 00501 (00401), until said: by GRM-007 (the structure stage) at its
        # first 4010 837, which it does not read; here (S1-ISA-002) at its first 837 read, or at its end
        # unless it holds another transaction set (GRM-003: the file is not an 837 at all)
        self.old_isa: Any = None
        self.old_isa_other = False
        self.missing_groups = 0  # such runs in the open interchange (each one group IEA01 counts)
        self.n_isa = 0  # interchanges seen in the file
        # ordinal of an interchange in the file -> where it was sent before (the run's
        # duplicate-interchange scan: Engine.dup_ics)
        self.dups: dict[int, str] = getattr(ctx.engine, "dup_ics", {}) or {}

    # -- helpers -----------------------------------------------------------
    def _close_group(self, at: Any, out: list[Finding]) -> None:
        if self.gs is not None:
            # the group never ended, so it is the interchange that is broken (pyx12: ISA "Unterminated
            # Loop GS"): an interchange-level error, not one of a group that is never settled
            out.append(_interchange_level(_f(
                "S1-ENV-006", f"functional group {self.gs[6]!r} has no GE trailer: "
                f"{at.fields[0] if at is not None else 'end of file'} found first", self.gs, "GE")))
        self.gs = None

    def _orphan(self, st: Any) -> None:
        """A transaction set with no open group: the first of a run is remembered, to be reported once.
        Outside any interchange the reader's RDR-005 (no ISA: the file starts at ST) says it already."""
        if self.gs is None and self.orphan_st is None and self.isa is not None:
            self.orphan_st = st

    def _close_orphans(self, ge: Any, out: list[Finding]) -> None:
        """End a run of transaction sets outside any group (at a GE without GS, a GS, an IEA, the end):
        one finding at its first ST naming what is missing."""
        st = self.orphan_st
        if st is None:
            return
        self.orphan_st = None
        self.missing_groups += 1
        what = "the GS header is missing (its GE trailer is there)" if ge is not None else \
            "the GS header and the GE trailer are missing"
        out.append(_interchange_level(_f(
            "S1-ENV-014", f"transaction set {st[2]!r} is not inside a functional group: {what}", st, "GS")))

    def _old_isa(self, out: list[Finding]) -> None:
        """S1-ISA-002 for a 4010 ISA12 not said otherwise (see ``old_isa``): it rejects the interchange."""
        isa, self.old_isa = self.old_isa, None
        if isa is not None and not self.old_isa_other:
            old = old_version(isa[12], isa12=True) or ""
            out.append(_interchange_level(_f(
                "S1-ISA-002", f"ISA12 Interchange Control Version {isa[12]!r} is not one of 00501: this is a "
                f"{int(old[:4])}{old[4:]} interchange; {OLD_VERSION_NOTE}", isa, "ISA12", isa[12])))

    def _old_isa_said(self, st: Any) -> None:
        """A transaction the grammar did not read: GRM-007 said the 4010 ISA12 if it is a 4010 837;
        GRM-003 says what the file is if it is another transaction set."""
        if self.old_isa is None:
            return
        if st[1] == "837":
            gs08 = self.gs[8] if self.gs is not None else ""
            if transaction_version_old(st[3], gs08, old_version(self.old_isa[12], isa12=True)):
                self.old_isa = None
        elif st[1]:
            self.old_isa_other = True

    def _close_interchange(self, at: Any, out: list[Finding]) -> None:
        self._old_isa(out)
        self._close_orphans(None, out)
        self._close_group(at, out)
        if self.isa is not None:
            out.append(_f("S1-ENV-003", f"interchange {self.isa[13]!r} has no IEA trailer: "
                          f"{at.fields[0] if at is not None else 'end of file'} found first", self.isa, "IEA"))
        self.isa = None

    def on_event(self, ev: ModelEvent) -> list[Finding]:
        out: list[Finding] = []
        match ev:
            case OtherSegment(seg):
                self._segment(seg, out)
            case InterchangeStart(ic):
                self._interchange(ic, out)
            case GroupStart(grp):
                self._group(grp, out)
            case TransactionStart(tx):
                self._old_isa(out)
                self._orphan(tx.st)
                self._st(tx.st, out)
                self._versions(tx, out)
            case TransactionEnd(tx):
                if tx.se is not None:
                    self._se(tx.st, tx.se, tx.segment_count, out)
            case GroupEnd(grp):
                self._group_end(grp, out)
            case InterchangeEnd(ic):
                self._interchange_end(ic, out)
        return out

    def _interchange(self, obj: Any, out: list[Finding]) -> None:
        isa = obj.isa
        self._close_interchange(isa, out)
        self.isa = isa
        self.missing_groups = 0
        self.gs06s = set()
        if isa is not None:
            self._isa(isa, out)
            self.n_isa += 1
            before = self.dups.get(self.n_isa)
            if before is not None:
                out.append(_f("S1-ENV-015", f"duplicate interchange: sender {isa[6].strip()!r} already sent "
                              f"interchange control number ISA13 {isa[13]!r} ({before}); nothing in it is "
                              f"accepted again: to send it again on purpose, give it a new ISA13", isa,
                              "ISA13", isa[13]))

    def _group(self, obj: Any, out: list[Finding]) -> None:
        gs = obj.gs
        self._close_orphans(None, out)
        self._close_group(gs, out)
        self.gs = gs
        self.st02s = set()
        self.gs_judged = False
        if gs is not None:
            cn = gs[6]
            if cn in self.gs06s:
                out.append(_f("S1-ENV-009", f"group control number GS06 {cn!r} is used twice in this "
                              "interchange", gs, "GS06", cn))
            self.gs06s.add(cn)
            # GS04 (DT) and GS05 (TM) are checked with every element of the GS against the control map
            # (S1-ELE-002/004/005 in snip2_guide), once

    def _group_end(self, obj: Any, out: list[Finding]) -> None:
        ge = obj.ge
        gs = obj.gs
        if ge is not None:
            if gs is not None and ge[2] != gs[6]:
                out.append(_f("S1-ENV-004", f"GE02 {ge[2]!r} does not match the group control number "
                              f"GS06 {gs[6]!r}", ge, "GE02", ge[2]))
            if ge[1] != str(obj.transaction_count):
                out.append(_f("S1-ENV-005", f"GE01 says {ge[1]!r} transaction sets but the group "
                              f"holds {obj.transaction_count}", ge, "GE01", ge[1]))
        self.gs = None

    def _interchange_end(self, obj: Any, out: list[Finding]) -> None:
        iea = obj.iea
        isa = obj.isa
        self._old_isa(out)
        self._close_orphans(None, out)
        self._close_group(iea, out)
        if iea is not None:
            if isa is not None and iea[2] != isa[13]:
                out.append(_f("S1-ENV-001", f"IEA02 {iea[2]!r} does not match the interchange control "
                              f"number ISA13 {isa[13]!r}", iea, "IEA02", iea[2]))
            # a group whose GS is missing (S1-ENV-014) is one the sender counted: not a second finding
            if iea[1] != str(obj.group_count) and iea[1] != str(obj.group_count + self.missing_groups):
                out.append(_f("S1-ENV-002", f"IEA01 says {iea[1]!r} functional groups but the "
                              f"interchange holds {obj.group_count}", iea, "IEA01", iea[1]))
        self.isa = None

    def finish(self) -> list[Finding]:
        out: list[Finding] = []
        self._close_interchange(None, out)
        return out

    # -- segments outside 837 transactions ------------------------------------
    def _segment(self, seg: Any, out: list[Finding]) -> None:
        sid = seg.fields[0]
        if self.skipped_st is not None:
            self.skipped_count += 1
            if sid == "SE":
                self._se(self.skipped_st, seg, self.skipped_count, out)
                self.skipped_st = None
            return
        if sid == "ST":
            self._old_isa_said(seg)
            self._orphan(seg)
            self._st(seg, out)
            self.skipped_st = seg
            self.skipped_count = 1
        elif sid == "GE" and self.gs is None:
            if self.orphan_st is not None:
                self._close_orphans(seg, out)  # the missing GS says it (S1-ENV-014)
            else:
                out.append(_f("S1-ENV-006", "GE trailer without a GS header", seg))
        elif sid == "IEA" and self.isa is None:
            out.append(_f("S1-ENV-003", "IEA trailer without an ISA header", seg))

    def _st(self, st: Any, out: list[Finding]) -> None:
        cn = st[2]
        if cn in self.st02s:
            out.append(_f("S1-ENV-009", f"transaction set control number ST02 {cn!r} is used twice in this "
                          "group", st, "ST02", cn))
        self.st02s.add(cn)

    def _versions(self, tx: Any, out: list[Finding]) -> None:
        """An 837 ties its group: GS01 HC, GS08 an adopted 837 version, ST03 equal to GS08.

        A value the control map (GS01, GS08) or the guide (ST03) does not list at all is a code error
        there (S2-ELE-003) and is not reported again here."""
        gs = self.gs
        if gs is None:
            return
        gs01, gs08, st03 = gs[1], gs[8], tx.st[3]
        adopted = frozenset(GUIDES.values())
        if not self.gs_judged:
            self.gs_judged = True
            codes = control_codes("GS01")
            if gs01 and gs01 != "HC" and (codes is None or gs01 in codes):
                out.append(_f("S1-ENV-011", f"GS01 functional identifier {gs01!r} is not HC (Health Care Claim): "
                              f"the group holds an 837", gs, "GS01", gs01))
            codes = control_codes("GS08")
            if gs08 and gs08 not in adopted and (codes is None or gs08 in codes or is_other_version(gs08)):
                out.append(_f("S1-ENV-012", f"GS08 version {gs08!r} is not an 837 version (005010X222A1 837P or "
                              f"005010X223A2 837I): the group holds an 837", gs, "GS08", gs08))
        if st03 in adopted and gs08 in adopted and st03 != gs08:
            out.append(_f("S1-ENV-013", f"ST03 version {st03!r} does not equal GS08 {gs08!r} of its group",
                          tx.st, "ST03", st03))

    def _se(self, st: Any, se: Any, count: int, out: list[Finding]) -> None:
        if st is not None and se[2] != st[2]:
            out.append(_f("S1-ENV-007", f"SE02 {se[2]!r} does not match the transaction set control number "
                          f"ST02 {st[2]!r}", se, "SE02", se[2]))
        if se[1] != str(count):
            out.append(_f("S1-ENV-008", f"SE01 says {se[1]!r} segments but the transaction set has {count} "
                          "(ST to SE inclusive)", se, "SE01", se[1]))

    def _isa(self, isa: Any, out: list[Finding]) -> None:
        f = isa.fields
        bad_width = []
        for i, w in enumerate(ISA_WIDTHS, 1):
            v = f[i] if i < len(f) else None
            if v is None:
                bad_width.append(f"ISA{i:02d} is missing")
            elif len(v) != w and not (i == 16 and len(v) >= 1):
                bad_width.append(f"ISA{i:02d} {ISA_NAMES[i - 1]} is {len(v)} characters, not {w}")
        if len(f) > 17:
            bad_width.append(f"the ISA has {len(f) - 1} elements, not 16")
        if bad_width:
            first = next((i for i, w in enumerate(ISA_WIDTHS, 1)
                          if i >= len(f) or (len(f[i]) != w and i != 16)), None)
            out.append(_f("S1-ISA-001", "the ISA header is not fixed width: " + "; ".join(bad_width),
                          isa, f"ISA{first:02d}" if first else None))
        for i, codes in ISA_CODES.items():
            v = isa[i].strip() if i != 12 else isa[i]
            if i == 12 and old_version(v, isa12=True):
                # a 4010 interchange: said once, by what it holds (_old_isa_said)
                self.old_isa, self.old_isa_other = isa, False
                continue
            if v not in codes:
                out.append(_f("S1-ISA-002", f"ISA{i:02d} {ISA_NAMES[i - 1]} {isa[i]!r} is not one of "
                              f"{', '.join(sorted(codes))}", isa, f"ISA{i:02d}", isa[i]))
        cn = isa[13]
        if not (len(cn) == 9 and digits(cn)):
            out.append(_f("S1-ISA-002", f"ISA13 interchange control number {cn!r} must be 9 digits", isa,
                          "ISA13", cn))
        elif cn in self.isa13s:
            out.append(_f("S1-ENV-009", f"interchange control number ISA13 {cn!r} is used twice in this file",
                          isa, "ISA13", cn))
        self.isa13s.add(cn)
        if not (len(isa[9]) == 6 and valid_date(isa[9])):
            out.append(_f("S1-ISA-003", f"ISA09 interchange date {isa[9]!r} is not a valid YYMMDD date",
                          isa, "ISA09", isa[9]))
        if not (len(isa[10]) == 4 and valid_time(isa[10])):
            out.append(_f("S1-ISA-003", f"ISA10 interchange time {isa[10]!r} is not a valid HHMM time",
                          isa, "ISA10", isa[10]))
        d = isa.delims
        comp = isa[16][:1] or d.component
        seps = [("element", d.element), ("component", comp), ("segment", d.segment)]
        rep = isa[11] if isa[12] >= "00501" else ""  # ISA11 is the repetition separator from 00501
        if rep:
            seps.append(("repetition", rep))
        vals = [s for _, s in seps]
        if len(set(vals)) != len(vals):
            out.append(_f("S1-ISA-004", "the separators are not all different: " + ", ".join(
                f"{n} {s!r}" for n, s in seps), isa, "ISA16"))
        bad = [(n, s) for n, s in seps if s.isalnum()]
        if bad:
            where = "ISA11" if [n for n, _ in bad] == ["repetition"] else "ISA16"
            out.append(_f("S1-ISA-004", "a separator is a letter or digit: " + ", ".join(
                f"{n} {s!r}" for n, s in bad), isa, where, bad[0][1] if where == "ISA11" else None))
