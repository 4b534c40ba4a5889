"""WEDI SNIP type 5: external code sets (values checked with :mod:`edi837.codesets`).

- S5-ICD-001  ICD-10-CM diagnosis code is not a code (error).
- S5-ICD-002  ICD-10-CM diagnosis code is a category/subcategory header, not
  billable (error: payers and the CMS code edits reject codes that need more
  characters, so the claim cannot be paid as sent).
- S5-ICD-003 / 004  ICD-9 qualifiers (BK, BF, BJ, PR, BN, BR, BQ) on or after
  2015-10-01, ICD-10 qualifiers (ABK, ABF, ..., BBR, BBQ) before it.  The
  date is the latest line service date (DTP*472) on an 837P and the statement
  through-date (DTP*434) on an 837I.
- S5-ICD-005  ICD-10-PCS procedure code format (BBR / BBQ).
- S5-NPI-001  NPI check digit, on every NM109 with NM108 = XX in any loop
  (billing provider 2010AA via a stream checker on the HL loops, the rest via
  the claim).
- S5-POS-001 / 002  place of service CLM05-1 (837P) and SV105.
- S5-TAX-001  provider taxonomy PRV03 format.
- S5-PROC-001 HCPCS/CPT code format (SV101-2, SV202-2 when the qualifier is HC).
- S5-REV-001 / 002  revenue code SV201 format (error) / not in the table (warning:
  the NUBC table bundled is partial).
- S5-CC-001   condition code (HI BG) not in the NUBC table (warning: partial table).
- S5-ST-001   N402 state code.
- S5-ZIP-001 / 002  N403 ZIP format; 9 digits in 2010AA and the service facility loops.
- S5-CTY-001 / 002  N404 country: an ISO 3166-1 alpha-2 code (pycountry), error as in pyx12;
  US is a warning (N404 is sent only for addresses outside the United States).
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING, Any, Iterable, Iterator, TypedDict

from .. import codesets as cs
from ..events import HlRead, ModelEvent, TransactionStart
from ..findings import Finding
from ..model.claims import Claim
from .registry import Hit, checker, get, rule, supersede

if TYPE_CHECKING:
    from ..reader.segment import Segment

class _IK(TypedDict, total=False):
    ik3: str
    ik4: str


IK: _IK = {"ik3": "8", "ik4": "7"}
ICD_CITE = "ICD-10-CM (CDC/NCHS, April 2026 release via simple-icd-10-cm); TR3 2300 HI"


@rule("S5-ICD-001", "error", 5, "An ICD-10-CM diagnosis code is not in the ICD-10-CM code set.",
      reads=("HI0x-2",), citation=ICD_CITE, **IK)
def icd_unknown(claim: Claim, ctx: Any) -> list[Hit] | None:
    # (this rule and most below are plain functions, not generators: they run on every claim
    # or line and almost always find nothing, and a call costs less than a generator)
    bad = [d for d, st in _not_billable(claim) if st == "unknown"]
    return [Hit(f"diagnosis {d.code} ({d.qualifier}, {d.element}) is not an ICD-10-CM code; "
                f"check the code (sent without the dot, e.g. F332 for F33.2)",
                d.segment, element=d.element, value=d.code) for d in bad] if bad else None


@rule("S5-ICD-002", "error", 5, "An ICD-10-CM diagnosis code is a header code, not billable (needs more characters).",
      reads=("HI0x-2",), citation=ICD_CITE + "; ICD-10-CM guidelines I.B.2 (code to the highest specificity)", **IK)
def icd_header(claim: Claim, ctx: Any) -> list[Hit] | None:
    bad = [d for d, st in _not_billable(claim) if st == "header"]
    return [Hit(f"diagnosis {d.code} ({d.qualifier}, {d.element}) is an ICD-10-CM category, not a billable "
                f"code; send the full code with all its characters", d.segment, element=d.element,
                value=d.code) for d in bad] if bad else None


_LAST_ICD: tuple[Claim | None, list[tuple[Any, cs.IcdStatus]]] = (None, [])


def _not_billable(claim: Claim) -> list[tuple[Any, cs.IcdStatus]]:
    """(diagnosis, status) of the claim's ICD-10-CM codes that are not billable, in order
    (S5-ICD-001 and S5-ICD-002 ask in turn for one claim: looked up once)."""
    global _LAST_ICD
    last = _LAST_ICD
    if last[0] is claim:
        return last[1]
    # (the memoised status first, the qualifier's property then: most codes are billable)
    status = cs.icd10cm_status
    out: list[tuple[Any, cs.IcdStatus]] = [
        (d, st) for d in claim.diagnoses if d.code and (st := status(d.code)) != "billable" and d.icd10]
    _LAST_ICD = (claim, out)
    return out


def _icd_date(claim: Claim) -> tuple[_dt.date | None, str]:
    if claim.kind == "837I":
        return claim.statement_to, "statement through-date (DTP*434)"
    global _LAST_DATE
    last = _LAST_DATE  # (S5-ICD-003 and S5-ICD-004 ask in turn for one claim)
    if last[0] is claim:
        return last[1], "service date (DTP*472)"
    dates = [d for ln in claim.lines if (d := ln.service_date_end or ln.service_date) is not None]
    when = max(dates) if dates else None
    _LAST_DATE = (claim, when)
    return when, "service date (DTP*472)"


_LAST_DATE: tuple[Claim | None, _dt.date | None] = (None, None)


def _hi_codes(claim: Claim) -> Iterator[tuple[str, str, Any, str]]:
    for d in claim.diagnoses:
        yield d.qualifier, d.code, d.segment, d.element
    for p in claim.procedures:
        yield p.qualifier, p.code, p.segment, p.element


@rule("S5-ICD-003", "error", 5, "An ICD-9 qualifier is used for services on or after 2015-10-01.",
      reads=("HI0x-1", "DTP*472", "DTP*434"), citation="45 CFR 162.1002(c)(2): ICD-10-CM/PCS from 2015-10-01", **IK)
def icd9_after(claim: Claim, ctx: Any) -> Iterator[Hit] | None:
    when, what = _icd_date(claim)
    if when is None or when < cs.ICD10_EFFECTIVE or not _has_qualifier(claim, cs.ICD9_QUALIFIERS):
        return None
    return _icd9_after(claim, when, what)


def _has_qualifier(claim: Claim, qs: frozenset[str]) -> bool:
    """Whether an HI code of :func:`_hi_codes` has one of the qualifiers ``qs``."""
    return any(d.qualifier in qs for d in claim.diagnoses) or any(p.qualifier in qs for p in claim.procedures)


def _icd9_after(claim: Claim, when: _dt.date, what: str) -> Iterator[Hit]:
    for q, code, seg, el in _hi_codes(claim):
        if q in cs.ICD9_QUALIFIERS:
            yield Hit(f"{q}:{code} uses an ICD-9 qualifier but the {what} is {when.isoformat()}, on or after "
                      f"2015-10-01; send the ICD-10 code with qualifier A{q}" if len(q) == 2 and q.startswith("B")
                      and q[1] in "KFJN" else
                      f"{q}:{code} uses an ICD-9 qualifier but the {what} is {when.isoformat()}, on or after "
                      f"2015-10-01; send the ICD-10 code and qualifier", seg, element=el.replace("-2", "-1"), value=q)


@rule("S5-ICD-004", "error", 5, "An ICD-10 qualifier is used for services before 2015-10-01.",
      reads=("HI0x-1", "DTP*472", "DTP*434"), citation="45 CFR 162.1002(b)(1): ICD-9-CM before 2015-10-01", **IK)
def icd10_before(claim: Claim, ctx: Any) -> Iterator[Hit] | None:
    when, what = _icd_date(claim)
    if when is None or when >= cs.ICD10_EFFECTIVE:
        return None
    return _icd10_before(claim, when, what)


def _icd10_before(claim: Claim, when: _dt.date, what: str) -> Iterator[Hit]:
    for q, code, seg, el in _hi_codes(claim):
        if q in cs.ICD10_QUALIFIERS:
            yield Hit(f"{q}:{code} uses an ICD-10 qualifier but the {what} is {when.isoformat()}, before "
                      f"2015-10-01; services before then are coded in ICD-9", seg,
                      element=el.replace("-2", "-1"), value=q)


@rule("S5-ICD-005", "error", 5, "An ICD-10-PCS procedure code (BBR / BBQ) is not 7 valid characters.",
      reads=("HI0x-2",), citation="ICD-10-PCS (CMS): 7 characters, digits and letters except I and O",
      applies_to=("837I",), **IK)
def pcs_format(claim: Claim, ctx: Any) -> list[Hit] | None:
    bad = [p for p in claim.procedures if p.qualifier in cs.ICD10_PROC_QUALIFIERS and not cs.icd10pcs_format_ok(p.code)]
    return [Hit(f"procedure {p.qualifier}:{p.code} ({p.element}) is not an ICD-10-PCS code: 7 characters, "
                f"digits and letters except I and O", p.segment, element=p.element, value=p.code)
            for p in bad] if bad else None


# -- provider and address segments (any loop) --------------------------------

_NINE_DIGIT_ZIP = {"837P": {"2010AA", "2310C", "2420C"}, "837I": {"2010AA", "2310E"}}


def _segment_hits(segs: Iterable[Segment], kind: str | None) -> Iterator[tuple[str, Hit]]:
    """(rule id, hit) for NPI, taxonomy, state and ZIP of the given segments."""
    nine = _NINE_DIGIT_ZIP.get(kind or "837P", {"2010AA"})
    for s in segs:
        f = s.fields
        sid = f[0]
        if sid == "NM1":
            if len(f) > 9 and f[8] == "XX" and f[9]:  # (s[8], s[9] without the calls: every NM1 comes here)
                why = cs.npi_problem(f[9])
                if why:
                    yield "S5-NPI-001", Hit(f"NPI {f[9]} of {_who(s)} (loop {s.loop or '?'}) is not valid: {why}; "
                                            f"check the NPI in NPPES", s, element="NM109", value=f[9])
        elif sid == "PRV":
            # (s[2], s[3] without the calls)
            if len(f) > 3 and f[2] == "PXC" and f[3] and not cs.taxonomy_format_ok(f[3]):
                yield "S5-TAX-001", Hit(f"taxonomy {f[3]!r} (PRV03, loop {s.loop or '?'}) is not a NUCC taxonomy "
                                        f"code (10 characters: 3 digits, 6 letters/digits, then X, e.g. 2084P0800X)",
                                        s, element="PRV03", value=f[3])
        elif sid == "N4":
            n = len(f)
            n402 = f[2] if n > 2 else ""  # (s[2], s[3], s[4] without the calls)
            n403 = f[3] if n > 3 else ""
            n404 = f[4] if n > 4 else ""
            if n404:
                yield from _country_hits(s)
            country = n404 or "US"
            if country != "US":
                continue
            if n402 and not cs.state_is_valid(n402):
                yield "S5-ST-001", Hit(f"state {n402!r} (N402, loop {s.loop or '?'}) is not a USPS state code",
                                       s, element="N402", value=n402)
            if n403:
                need9 = s.loop in nine
                why = cs.zip_problem(n403)
                if why:
                    yield "S5-ZIP-001", Hit(f"ZIP code {n403!r} (N403, loop {s.loop or '?'}) is malformed: {why}",
                                            s, element="N403", value=n403)
                elif need9 and len(n403) != 9:
                    yield "S5-ZIP-002", Hit(f"ZIP code {n403} (N403, loop {s.loop}) must be the full 9-digit "
                                            f"ZIP+4 in this loop", s, element="N403", value=n403)


def _country_hits(n4: Segment) -> Iterator[tuple[str, Hit]]:
    """N404: an ISO 3166-1 alpha-2 code, and only for an address outside the United States."""
    code = n4[4]
    where = f"N404, loop {n4.loop or '?'}"
    if code == "US":
        yield "S5-CTY-002", Hit(f"country code US ({where}) is sent: N404 is used only for addresses outside the "
                                f"United States; leave it out for a US address", n4, element="N404", value=code)
    elif not cs.country_is_valid(code):
        alt = cs.country_alpha2_for(code)
        hint = ("; for a US address leave N404 out" if alt == "US" else
                f"; the alpha-2 code is {alt}" if alt else "")
        yield "S5-CTY-001", Hit(f"country code {code!r} ({where}) is not an ISO 3166-1 alpha-2 code{hint}",
                                n4, element="N404", value=code)


def _who(nm1: Segment) -> str:
    name = nm1[3] if nm1[2] == "2" else " ".join(x for x in (nm1[4], nm1[3]) if x)
    return f"{name} (NM101 {nm1[1]})" if name else f"NM101 {nm1[1]}"


# rule id -> (title, reads, citation, 999 codes)
_SEG_RULES: dict[str, tuple[str, tuple[str, ...], str, _IK]] = {
    "S5-NPI-001": ("An NPI (NM109 with NM108 = XX) fails the check digit or is not 10 digits starting 1 or 2.",
                   ("NM108", "NM109"), "45 CFR 162.406; NPI check digit: ISO/IEC 7812 Luhn over 80840 + NPI", IK),
    "S5-TAX-001": ("A provider taxonomy code (PRV03) is not in the NUCC format.", ("PRV03",),
                   "NUCC Health Care Provider Taxonomy code set", IK),
    "S5-ST-001": ("A state code (N402) is not a USPS state, territory or military code.", ("N402",),
                  "USPS Publication 28 Appendix B; TR3 N402 (code source 22)", IK),
    "S5-ZIP-001": ("A ZIP code (N403) is not 5 or 9 digits.", ("N403",),
                   "USPS ZIP code; TR3 N403 (code source 51)", {"ik3": "8", "ik4": "6"}),
    "S5-ZIP-002": ("A ZIP code (N403) in the billing provider or service facility loop is not the full 9 digits.",
                   ("N403",), "TR3 2010AA / service facility N403 note: the full nine-digit ZIP code is required",
                   {"ik3": "8", "ik4": "I12"}),
    "S5-CTY-001": ("A country code (N404) is not an ISO 3166-1 alpha-2 code (USA, GBR and lower case are not).",
                   ("N404",), "ISO 3166-1 alpha-2 via pycountry; TR3 N404 (data element 26, code source 5)", IK),
    "S5-CTY-002": ("A country code (N404) is US: N404 is sent only for an address outside the United States.",
                   ("N404",), "TR3 N404 situational rule: required when the address is outside the United States "
                   "of America; if not required, do not send", {}),
}
_SEG_SEVERITY = {"S5-CTY-002": "warning"}  # (the rest are errors)


_CODE_SEGS = frozenset({"NM1", "PRV", "N4"})  # the segments _segment_hits looks at


def _code_segments(loop: Any) -> list[Segment]:
    """The NM1, PRV and N4 segments of ``loop`` and its descendants, in the order of
    ``loop.iter_segments()`` (the only ones of them :func:`_segment_hits` reads).  The same
    walk (a loop's own segments, then its children's), filtered first: iter_segments sorts
    by seq when the walk is out of order, and a stable sort of the filtered walk keeps the
    same segments in the same order as filtering the sorted one."""
    ids = _CODE_SEGS
    built = getattr(loop, "built", None)
    if built is not None:  # (a claim loop: its walk is kept, grammar.loop.Loop.built)
        out = [s for s in built[1] if s.fields[0] in ids]
        for a, b in zip(out, out[1:]):
            if a.seq > b.seq:
                out.sort(key=_seq)
                break
        return out
    out = []
    stack = [loop]
    while stack:  # (depth first, children in order: pushed reversed)
        lp = stack.pop()
        for s in lp.segments:
            if s.fields[0] in ids:
                out.append(s)
        if lp.children:
            stack.extend(reversed(lp.children))
    for a, b in zip(out, out[1:]):
        if a.seq > b.seq:
            out.sort(key=_seq)
            break
    return out


def _seq(s: Segment) -> int:
    return s.seq


# (claim, rule id -> its hits): the last claim's one scan, shared by the rules of _SEG_RULES
_LAST_HITS: tuple[Claim | None, dict[str, list[Hit]]] = (None, {})


def _claim_hits(claim: Claim) -> dict[str, list[Hit]]:
    global _LAST_HITS
    last = _LAST_HITS
    if last[0] is claim:
        return last[1]
    hits: dict[str, list[Hit]] = {}
    for r, h in _segment_hits(_code_segments(claim.loop), claim.kind):
        hits.setdefault(r, []).append(h)
    _LAST_HITS = (claim, hits)
    return hits


def _seg_rule(rid: str) -> None:
    title, reads, cite, ik = _SEG_RULES[rid]

    def f(claim: Claim, ctx: Any) -> list[Hit] | None:
        # the claim's own loops (2300, 23xx, 2400, 24xx); 2000A/B/C go through the checker.
        # One scan per claim, shared by the rules of _SEG_RULES (_claim_hits: the hits depend
        # on the claim alone).  (A plain function, not a generator: seven of them run on every
        # claim, and find nothing.)
        last = _LAST_HITS
        return (last[1] if last[0] is claim else _claim_hits(claim)).get(rid)

    f.__name__ = "claim_" + rid.replace("-", "_")
    rule(rid, _SEG_SEVERITY.get(rid, "error"), 5, title, reads=reads, citation=cite, **ik)(f)


for _rid in _SEG_RULES:
    _seg_rule(_rid)


@checker(*_SEG_RULES)
class HLCodeSetChecker:
    """NPI, taxonomy, state and ZIP in the HL loops (2000A/2010AA, 2010BA, 2010CA ...)."""

    def __init__(self, ctx: Any):
        self.ctx = ctx
        self.kind: str | None = None

    def on_event(self, ev: ModelEvent) -> Iterable[Finding]:
        if isinstance(ev, TransactionStart):
            self.kind = ev.transaction.kind
            return ()
        if not isinstance(ev, HlRead) or 5 not in self.ctx.snip:
            return ()
        out = []
        for rid, h in _segment_hits(_code_segments(ev.loop), self.kind):
            out.append(get(rid).from_hit(h, file=self.ctx.file))
        return out


# -- claim and line codes -----------------------------------------------------

@rule("S5-POS-001", "error", 5, "The claim place of service (CLM05-1) is not an assigned CMS place-of-service code.",
      reads=("CLM05-1",), citation="CMS Place of Service Code Set", applies_to=("837P",), **IK)
def claim_pos(claim: Claim, ctx: Any) -> list[Hit] | None:
    if not claim.facility_code or cs.pos_is_valid(claim.facility_code):
        return None
    return [Hit(f"place of service {claim.facility_code!r} (CLM05-1) is not an assigned CMS place-of-service "
                f"code (e.g. 11 office, 22 outpatient hospital)", claim.clm, element="CLM05-1",
                value=claim.facility_code)]


@rule("S5-POS-002", "error", 5, "A service line place of service (SV105) is not an assigned CMS place-of-service code.",
      reads=("SV105",), citation="CMS Place of Service Code Set", applies_to=("837P",), scope="line", **IK)
def line_pos(line: Any, ctx: Any) -> list[Hit] | None:
    sv = line.service
    if sv is None:
        return None
    f = sv.fields
    if f[0] != "SV1" or len(f) < 6 or not f[5] or cs.pos_is_valid(f[5]):  # (no SV105: sv[5] is "")
        return None
    return [Hit(f"line {line.line_number} place of service {f[5]!r} (SV105) is not an assigned CMS "
                f"place-of-service code", sv, element="SV105", value=f[5])]


@rule("S5-PROC-001", "error", 5, "A HCPCS/CPT procedure code (SV101-2 / SV202-2, qualifier HC) is not in HCPCS format.",
      reads=("SV101-2", "SV202-2"), citation="HCPCS Level I (CPT, AMA) and Level II (CMS) code formats",
      scope="line", **IK)
def proc_format(line: Any, ctx: Any) -> list[Hit] | None:
    if line.procedure_qualifier != "HC" or not line.procedure_code or cs.hcpcs_format_ok(line.procedure_code):
        return None
    el = line.source("procedure_code")
    return [Hit(f"line {line.line_number} procedure code {line.procedure_code!r} ({el}) is not a CPT/HCPCS code "
                f"(5 digits, 4 digits + F/T/U, or a letter + 4 digits)", line.service, element=el,
                value=line.procedure_code)]


@rule("S5-REV-001", "error", 5, "A revenue code (SV201) is not 4 digits.",
      reads=("SV201",), citation="NUBC UB-04 revenue codes (4 digits, leading zero)", applies_to=("837I",),
      scope="line", **IK)
def rev_format(line: Any, ctx: Any) -> list[Hit] | None:
    if not line.revenue_code or cs.revenue_code_status(line.revenue_code) != "format":
        return None
    return [Hit(f"line {line.line_number} revenue code {line.revenue_code!r} (SV201) must be 4 digits, "
                f"e.g. 0901", line.service, element=line.source("revenue_code"), value=line.revenue_code)]


@rule("S5-REV-002", "warning", 5, "A revenue code (SV201) is not in edi837's NUBC revenue code table.",
      reads=("SV201",), citation="NUBC UB-04 revenue codes (edi837 table is partial, hence a warning)",
      applies_to=("837I",), scope="line", **IK)
def rev_known(line: Any, ctx: Any) -> list[Hit] | None:
    if not line.revenue_code or cs.revenue_code_status(line.revenue_code) != "unknown":
        return None
    return [Hit(f"line {line.line_number} revenue code {line.revenue_code} (SV201) is not a known NUBC revenue "
                f"code; check it", line.service, element=line.source("revenue_code"), value=line.revenue_code)]


@rule("S5-CC-001", "warning", 5, "A condition code (HI BG) is not in edi837's NUBC condition code table.",
      reads=("HI0x-2",), citation="NUBC condition codes (edi837 table is partial, hence a warning)", **IK)
def condition_known(claim: Claim, ctx: Any) -> list[Hit] | None:
    bad = [c for c in claim.condition_codes if c.code and not cs.condition_code_known(c.code)]
    return [Hit(f"condition code {c.code!r} ({c.element}) is not a known NUBC condition code",
                c.segment, element=c.element, value=c.code) for c in bad] if bad else None


# one cause, one finding: where both find something at the same element, the
# code-set finding says more than the guide's pattern or the edit pack's date edit
supersede("S5-ZIP-001", "S2-ELE-004")  # N403 not 5 or 9 digits: also fails the guide's pattern
supersede("S5-ZIP-002", "S2-ELE-004")  # 2010AA / service facility N403 not 9 digits: the same
supersede("S5-ICD-003", "DX-004")  # ICD-9 qualifier on or after 2015-10-01: DX-004 reads the same qualifier
supersede("S5-ICD-004", "DX-004")  # ICD-10 qualifier before 2015-10-01
