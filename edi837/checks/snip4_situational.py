"""WEDI SNIP type 4: inter-segment situational rules.

- S4-SBR-001 / 002  SBR02 = 18 exactly when there is no 2000C patient loop.
- S4-DX-001   every 837P SV107 diagnosis pointer names an HI diagnosis.
- S4-DX-002   a principal diagnosis (ABK / BK) is present.
- S4-DTE-001  837I line service dates lie inside the statement period (DTP*434).
- S4-DTE-002  no claim date is after the file's creation date (BHT04).
(A date range (RD8) that ends before it starts is an S2-ELE-006 format error: the S4
rules skip such ranges so one cause gives one finding.)
- S4-INP-001..003  an inpatient 837I claim has an admission date (DTP*435),
  a CL1 segment and an admitting diagnosis (ABJ / BJ).

Inpatient means the type of bill's facility code (CLM05-1) is one of
:data:`INPATIENT_FACILITY` (11 hospital inpatient, 18 swing bed, 21 SNF
inpatient, 41 religious non-medical inpatient).  The X223A2 notes require
DTP*435 "on all inpatient claims", CL1 on "institutional inpatient" claims and
the admitting diagnosis "when the claim involves an inpatient admission"; 12x
(inpatient Part B) is not an admission, so it is left out.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Iterator

from ..model.claims import DX_ADMITTING, DX_CODED, Claim, parse_date, parse_period
from .registry import Hit, rule

INPATIENT_FACILITY = frozenset({"11", "18", "21", "41"})


def _sbr(claim: Claim) -> Any:
    return claim.subscriber_loop.seg("SBR") if claim.subscriber_loop is not None else None


@rule("S4-SBR-001", "error", 4, "SBR02 is 18 (self) although a 2000C patient loop is present.",
      reads=("SBR02", "HL*23"), citation="TR3 2000B SBR02 note: required when the subscriber is the patient; "
      "if not required by this guide, do not send", ik3="8", ik4="I13")
def sbr_self_with_patient(claim: Claim, ctx: Any) -> list[Hit] | None:
    # (this rule and most below are plain functions, not generators: they run on every claim
    # or line and almost always find nothing, and a call costs less than a generator)
    if claim.patient_loop is None:
        return None
    sbr = _sbr(claim)
    if sbr is None or sbr[2] != "18":
        return None
    return [Hit(f"claim {claim.claim_id} has a separate patient (2000C, {claim.patient.last_name} "
                f"{claim.patient.first_name}) but SBR02 says the subscriber is the patient (18); "
                f"leave SBR02 empty or drop the 2000C loop", sbr, element="SBR02", value="18")]


@rule("S4-SBR-002", "error", 4, "SBR02 is not 18 (self) although there is no 2000C patient loop.",
      reads=("SBR02", "HL*23"), citation="TR3 2000B SBR02 note: required (18) when the subscriber is the patient; "
      "2000C is sent only when the patient is not the subscriber", ik3="8", ik4="I9")
def sbr_missing_self(claim: Claim, ctx: Any) -> list[Hit] | None:
    if claim.patient_loop is not None:
        return None
    sbr = _sbr(claim)
    if sbr is None or sbr[2] == "18":
        return None
    got = f"SBR02 is {sbr[2]!r}" if sbr[2] else "SBR02 is empty"
    return [Hit(f"claim {claim.claim_id} has no 2000C patient loop, so the subscriber is the patient, but "
                f"{got}; set SBR02 to 18 or add the 2000C patient loop", sbr, element="SBR02", value=sbr[2])]


@rule("S4-DX-001", "error", 4, "An SV107 diagnosis pointer does not point at a diagnosis in the claim's HI segment.",
      reads=("SV107", "HI"), citation="TR3 005010X222A1 2400 SV107: pointers to HI diagnosis positions 1-12",
      scope="line", applies_to=("837P",), ik3="8", ik4="7")
def dx_pointer(line: Any, ctx: Any) -> list[Hit] | None:
    sv = line.service
    if sv is None:
        return None
    f = sv.fields
    if f[0] != "SV1" or len(f) < 8 or not f[7]:  # (no SV107: no pointers, sv.components(7) is [])
        return None
    n = _coded(line.claim)
    ptrs = sv.components(7)
    if _POINTERS[n].issuperset(ptrs):  # (the usual case: every pointer is 1 .. n as written, or empty)
        return None
    bad = [(j, p) for j, p in enumerate(ptrs, 1)
           if p and (not (p.isascii() and p.isdigit()) or not (1 <= int(p) <= n))]
    if not bad:
        return None
    have = f"the claim has {n} diagnosis code{'s' if n != 1 else ''}" if n else "the claim has no diagnosis codes"
    return [Hit(f"line {line.line_number} diagnosis pointer SV107-{j} is {p!r} but {have}; "
                f"point at 1-{max(n, 1)}", sv, element=f"SV107-{j}", value=p) for j, p in bad]


_LAST_CODED: tuple[Claim | None, int] = (None, 0)


class _Pointers(dict[int, frozenset[str]]):
    """n -> "" and "1" .. str(n): SV107 components S4-DX-001 passes when a claim has n coded
    diagnoses (an empty one, or ASCII digits whose value is 1 .. n; "01" is one too, found
    by the rule's own test)."""

    def __missing__(self, n: int) -> frozenset[str]:
        got = self[n] = frozenset(["", *map(str, range(1, n + 1))])
        return got


_POINTERS = _Pointers()


def _coded(claim: Claim) -> int:
    """How many diagnoses of the claim a line may point at (counted once per claim, not per line)."""
    global _LAST_CODED
    last = _LAST_CODED
    if last[0] is claim:
        return last[1]
    n = len([d for d in claim.diagnoses if d.qualifier in DX_CODED])
    _LAST_CODED = (claim, n)
    return n


@rule("S4-DX-002", "error", 4, "The claim has no principal diagnosis (HI ABK or BK).",
      reads=("HI01-1",), citation="TR3 2300 HI Health Care Diagnosis Code / Principal Diagnosis: required", ik3="3")
def principal_dx(claim: Claim, ctx: Any) -> list[Hit] | None:
    if claim.principal_diagnosis is not None:
        return None
    hi = claim.loop.seg("HI")
    return [Hit(f"claim {claim.claim_id} has no principal diagnosis; send HI01 with qualifier ABK and the "
                f"ICD-10-CM code", hi or claim.clm, element="HI01-1" if hi else None)]


@rule("S4-DTE-001", "error", 4, "A service line date is outside the claim's statement period (DTP*434).",
      reads=("DTP*472", "DTP*434"), citation="TR3 005010X223A2 2400 DTP*472 / 2300 DTP*434: service dates fall "
      "within the statement covers period", scope="line", applies_to=("837I",))
def line_in_statement(line: Any, ctx: Any) -> list[Hit] | None:
    c = line.claim
    if line.service_date is None or c.statement_from is None or c.statement_to is None:
        return None
    lo, hi = line.service_date, line.service_date_end or line.service_date
    if hi < lo or c.statement_to < c.statement_from:
        return None  # a reversed range is malformed (S2-ELE-006), not a date outside the period
    if not (lo < c.statement_from or hi > c.statement_to):
        return None
    d = line.loop.seg("DTP", "472")
    return [Hit(f"line {line.line_number} service date {_span(lo, hi)} is outside the statement period "
                f"{_span(c.statement_from, c.statement_to)} (DTP*434)", d, element="DTP03",
                value=d[3] if d else None)]


def _span(a: _dt.date, b: _dt.date | None) -> str:
    return a.isoformat() if b is None or a == b else f"{a.isoformat()} to {b.isoformat()}"


def _claim_dates(claim: Claim) -> Iterator[tuple[tuple[Any, ...], _dt.date, Any, str, Any]]:
    """(what, date, segment, element, line) for every date in the claim; ``what``
    says what the date is, in words only through :func:`_what` (only a finding needs them)."""
    for d in claim.loop.segs("DTP"):
        a, b = parse_period(d[2], d[3][:8] if d[2] == "DT" else d[3])
        for x in (a, b):
            if x is not None:
                yield ("DTP", d), x, d, "DTP03", None
    for e in claim.occurrence_codes + claim.procedures:
        for x in (e.date, e.date_end):
            if x is not None:
                yield ("HI", e), x, e.segment, e.element.replace("-2", "-4"), None
    for ln in claim.lines:
        for d in ln.loop.segs("DTP"):
            a, b = parse_period(d[2], d[3][:8] if d[2] == "DT" else d[3])
            for x in (a, b):
                if x is not None:
                    yield ("line", d, ln), x, d, "DTP03", ln


def _what(w: tuple[Any, ...]) -> str:
    """The words for a date of :func:`_claim_dates`."""
    if w[0] == "DTP":
        return f"DTP*{w[1][1]} date"
    if w[0] == "HI":
        return f"HI {w[1].qualifier}:{w[1].code} date"
    return f"line {w[2].line_number} DTP*{w[1][1]} date"


@rule("S4-DTE-002", "error", 4, "A claim date (service, statement, admission or HI date) is after the file's "
      "creation date (BHT04).", reads=("BHT04", "DTP03", "HI0x-4"),
      citation="TR3 BHT04: date the transaction was created; services cannot be billed before they happen",
      ik3="8", ik4="8")
def no_future_dates(claim: Claim, ctx: Any) -> Iterator[Hit] | None:
    tx = claim.transaction
    created, text = _LAST_BHT[1] if _LAST_BHT[0] is tx else _creation(tx)
    if created is None:
        return None
    # (a plain function: almost every claim has no date after BHT04, which _may_be_after sees
    # on the segments' text, without building the dates; the findings come from _future_dates)
    if not _may_be_after(claim, created, text):
        return None
    return _future_dates(claim, created)


def _creation(tx: Any) -> tuple[_dt.date | None, str]:
    """The transaction's creation date (BHT04) and its text, kept for its next claims."""
    global _LAST_BHT
    bht = tx.bht if tx is not None else None
    got = (parse_date(bht[4]), bht[4]) if bht is not None else (None, "")
    _LAST_BHT = (tx, got)
    return got


_LAST_BHT: tuple[Any, tuple[_dt.date | None, str]] = (None, (None, ""))


def _may_be_after(claim: Claim, created: _dt.date, text: str) -> bool:
    """Whether a date of :func:`_claim_dates` may be after ``created`` (BHT04: ``text``, a valid CCYYMMDD).
    A date is only ever read from 8 ASCII digits (parse_date), and on those the text's order
    is the dates' order: a date after BHT04 is text greater than ``text``, in a DTP03 (one of
    the two halves of a range) or an HI date.  So False means no date of the claim is after it;
    True (text of another shape that sorts after it, too) leaves it to :func:`_future_dates`."""
    for e in claim.occurrence_codes + claim.procedures:
        for x in (e.date, e.date_end):
            if x is not None and x > created:
                return True
    for lp in [claim.loop, *[ln.loop for ln in claim.lines]]:
        for s in lp.segments:
            f = s.fields
            if f[0] != "DTP" or len(f) < 4:  # (no DTP03: no date, as s[3] == "" reads none)
                continue
            v = f[3][:8] if f[2] == "DT" else f[3]
            if f[2] == "RD8" or "-" in v:
                a, _, b = v.partition("-")
                if a > text or b > text:
                    return True
            elif v > text:
                return True
    return False


def _future_dates(claim: Claim, created: _dt.date) -> Iterator[Hit]:
    seen = set()
    for what, d, seg, el, ln in _claim_dates(claim):
        if d > created and (seg.seq if seg is not None else None, el) not in seen:
            seen.add((seg.seq if seg is not None else None, el))
            yield Hit(f"{_what(what)} {d.isoformat()} is after the file's creation date {created.isoformat()} (BHT04); "
                      f"correct the date or bill after the service", seg, element=el, line=ln,
                      value=seg[3] if seg is not None and seg.fields[0] == "DTP" else None)


def _inpatient(claim: Claim) -> bool:
    return claim.kind == "837I" and claim.facility_code in INPATIENT_FACILITY


_INP_CITE = "TR3 005010X223A2 2300 {}: required on inpatient claims"


@rule("S4-INP-001", "error", 4, "An inpatient 837I claim has no admission date (DTP*435).",
      reads=("CLM05-1", "DTP*435"), citation=_INP_CITE.format("DTP*435 Admission Date/Hour"),
      applies_to=("837I",), ik3="I6")
def inpatient_admission(claim: Claim, ctx: Any) -> Iterator[Hit] | None:
    if not _inpatient(claim):
        return None
    return _no_admission(claim)


def _no_admission(claim: Claim) -> Iterator[Hit]:
    if claim.loop.seg("DTP", "435") is None:
        yield Hit(f"claim {claim.claim_id} is inpatient (type of bill {claim.bill_type}) but has no admission "
                  f"date; add DTP*435*DT*CCYYMMDDHHMM", claim.clm, element="CLM05-1", value=claim.facility_code)


@rule("S4-INP-002", "error", 4, "An inpatient 837I claim has no CL1 institutional claim code segment.",
      reads=("CLM05-1", "CL1"), citation=_INP_CITE.format("CL1 Institutional Claim Code (CL101 admission type)"),
      applies_to=("837I",), ik3="I6")
def inpatient_cl1(claim: Claim, ctx: Any) -> Iterator[Hit] | None:
    if not _inpatient(claim):
        return None
    return _no_cl1(claim)


def _no_cl1(claim: Claim) -> Iterator[Hit]:
    cl1 = claim.loop.seg("CL1")
    if cl1 is None:
        yield Hit(f"claim {claim.claim_id} is inpatient (type of bill {claim.bill_type}) but has no CL1 segment; "
                  f"add CL1 with the admission type, source and patient status", claim.clm, element="CLM05-1",
                  value=claim.facility_code)
    elif not cl1[1]:
        yield Hit(f"claim {claim.claim_id} is inpatient (type of bill {claim.bill_type}) but CL101 admission "
                  f"type is empty", cl1, element="CL101")


@rule("S4-INP-003", "error", 4, "An inpatient 837I claim has no admitting diagnosis (HI ABJ / BJ).",
      reads=("CLM05-1", "HI*ABJ"), citation=_INP_CITE.format("HI Admitting Diagnosis"),
      applies_to=("837I",), ik3="I6")
def inpatient_admitting_dx(claim: Claim, ctx: Any) -> Iterator[Hit] | None:
    if not _inpatient(claim):
        return None
    return _no_admitting_dx(claim)


def _no_admitting_dx(claim: Claim) -> Iterator[Hit]:
    if not any(d.qualifier in DX_ADMITTING for d in claim.diagnoses):
        yield Hit(f"claim {claim.claim_id} is inpatient (type of bill {claim.bill_type}) but has no admitting "
                  f"diagnosis; add HI*ABJ:<ICD-10-CM code>", claim.clm, element="CLM05-1",
                  value=claim.facility_code)


_FREQ = {"7": "replacement", "8": "void"}


@rule("S4-FRQ-001", "error", 4, "A replacement (CLM05-3 7) or void (8) claim has no REF*F8 payer claim control "
      "number.", reads=("CLM05-3", "REF*F8"),
      citation="TR3 005010X222A1 / 005010X223A2 2300 REF*F8 Payer Claim Control Number: required when CLM05-3 "
      "is 7 (replacement) or 8 (void); the payer finds the original claim by it", ik3="I6")
def replacement_needs_f8(claim: Claim, ctx: Any) -> Iterator[Hit] | None:
    what = _FREQ.get(claim.frequency)
    if what is None:
        return None
    return _no_f8(claim, what)


def _no_f8(claim: Claim, what: str) -> Iterator[Hit]:
    ref = claim.loop.seg("REF", "F8")
    if ref is None or not ref[2].strip():
        yield Hit(f"claim {claim.claim_id} is a {what} (CLM05-3 {claim.frequency}) but has no REF*F8 with the "
                  f"payer's claim control number of the original claim; add REF*F8*<payer claim number> "
                  f"(from the 835 or 277CA of the original), or send it as a new claim (CLM05-3 1)",
                  claim.clm, element="CLM05-3", value=claim.frequency)
