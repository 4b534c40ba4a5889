"""Claim-line tables: one flat row per service line, the claim's columns repeated.

The columns are documented in docs/lines.md (kept in sync by a test).
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable, Iterable, Iterator

from ..events import ClaimRead, Found, ModelEvent
from ..findings import Finding
from ..grammar.stream import overflow_finding
from ..model.build import ClaimLoopRead
from ..model.claims import Claim, ServiceLine
from .columnar import LIST_SEP, claim_line_rows

# (column, description) -- the order is the CSV column order
COLUMNS: list[tuple[str, str]] = [
    ("file", "Input file the claim was read from"),
    ("interchange", "ISA13 interchange control number"),
    ("group", "GS06 group control number"),
    ("transaction", "ST02 transaction set control number"),
    ("transaction_type", "837P or 837I"),
    ("claim_seq", "1-based ordinal of the claim (CLM segment) in its file"),
    ("claim_id", "CLM01 patient control number"),
    ("claim_charge", "CLM02 total claim charge"),
    ("facility_code", "CLM05-1: place of service (837P) or facility type code (837I)"),
    ("claim_frequency", "CLM05-3 claim frequency code"),
    ("bill_type", "837I type of bill: CLM05-1 + CLM05-3 (e.g. 111); empty for 837P"),
    ("line_number", "LX01 service line number"),
    ("procedure_qualifier", "SV101-1 / SV202-1 (HC, ...)"),
    ("procedure_code", "SV101-2 (837P) or SV202-2 (837I) procedure code"),
    ("modifiers", "Procedure modifiers 1-4, joined with '|'"),
    ("units", "SV104 (837P) or SV205 (837I) units"),
    ("unit_basis", "SV103 / SV204 unit basis (UN, MJ, DA)"),
    ("charge", "SV102 / SV203 line charge"),
    ("place_of_service", "SV105, else the claim's CLM05-1 (837P); empty for 837I"),
    ("revenue_code", "SV201 revenue code (837I)"),
    ("service_date", "DTP*472 service date (the from-date of a range), ISO format"),
    ("service_date_end", "DTP*472 through-date of a range, ISO format"),
    ("statement_from", "DTP*434 statement period from (837I)"),
    ("statement_to", "DTP*434 statement period through (837I)"),
    ("admission_date", "DTP*435 admission date (837I)"),
    ("diagnosis_pointers", "SV107 pointers (837P), joined with '|'"),
    ("diagnosis_codes", "Diagnosis codes the line points to (837P) or the claim's principal and "
                        "other diagnoses (837I), joined with '|'"),
    ("principal_diagnosis", "HI ABK/BK principal diagnosis"),
    ("condition_codes", "HI*BG condition codes, joined with '|'"),
    ("rendering_npi", "Line rendering NPI (2420A / 2420C), else the claim's (2310B / 2310D), "
                      "else the billing provider's"),
    ("rendering_taxonomy", "Rendering taxonomy: line PRV, else claim 2310B PRV, else 2000A PRV"),
    ("billing_npi", "2010AA NM109 billing provider NPI"),
    ("attending_npi", "2310A attending provider NPI (837I)"),
    ("operating_npi", "2310B operating physician NPI (837I)"),
    ("payer_id", "2010BB NM109 payer identifier"),
    ("payer_name", "2010BB NM103 payer name"),
    ("subscriber_id", "2010BA NM109 member identifier"),
    ("patient_id", "Member id of the patient: 2010CA NM109 when sent, else 2010BA NM109"),
    ("patient_last_name", "2010CA (or 2010BA when the patient is the subscriber) NM103"),
    ("patient_first_name", "2010CA (or 2010BA) NM104"),
    ("patient_birth_date", "DMG02 of the patient, ISO format"),
    ("prior_auth", "REF*G1 prior authorization: the line's (837P 2400), else the claim's (2300)"),
]
COLUMN_NAMES = [c for c, _ in COLUMNS]

# CSV injection (OWASP "CSV Injection"): a spreadsheet opening the CSV runs a cell that starts
# with one of these as a formula (=HYPERLINK(...), +cmd|..., @SUM(...), -2+3 ...)
FORMULA_START = frozenset("=+-@\t\r")
_PLAIN_NUMBER = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)").fullmatch


def csv_row(values: Iterable[Any]) -> list[Any]:
    """A row for the CSV of ``edi837 lines``: a text cell that a spreadsheet would take for a
    formula (it starts with = + - @, a tab or a carriage return) gets a leading ``'``, as OWASP
    recommends; a plain decimal number (``-12.50``: a negative amount) is kept as it is, and so
    is every other cell.  Only the CSV is neutralised: JSON Lines and Parquet carry the values."""
    row = list(values)
    for v in row:  # (most rows have no such cell: one scan)
        if v.__class__ is str and v[:1] in FORMULA_START:
            return [("'" + x) if x.__class__ is str and x[:1] in FORMULA_START and _PLAIN_NUMBER(x) is None
                    else x for x in row]
    return row


# a claim's columns, in the four runs _claim_part returns
_Part = tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]]


def _s(v: Any) -> Any:
    if v is None:
        return None
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v) if not isinstance(v, (int, str)) else v


def _claim_part(c: Claim) -> _Part:
    """The claim's columns, in four runs that the line columns interleave."""
    ic, gc, tc = c.control
    prov = c.providers
    pd = c.principal_diagnosis
    pat, sub = c.patient, c.subscriber
    return (
        (c.file, ic, gc, tc, c.kind, c.seq, c.claim_id, _s(c.charge), c.facility_code, c.frequency,
         c.bill_type),
        (_s(c.statement_from), _s(c.statement_to), _s(c.admission_date)),
        (pd.code if pd else "", LIST_SEP.join(x.code for x in c.condition_codes)),
        (prov["billing"].npi if "billing" in prov else "",
         prov["attending"].npi if "attending" in prov else "",
         prov["operating"].npi if "operating" in prov else "",
         c.payer_id, c.payer_name, sub.member_id, pat.member_id or sub.member_id,
         pat.last_name, pat.first_name, _s(pat.birth_date)),
    )


def _row(part: _Part, ln: ServiceLine) -> dict[str, Any]:
    r = ln.rendering
    a, b, c, d = part
    sd, se = ln.service_date, ln.service_date_end
    return dict(zip(COLUMN_NAMES, (
        *a,
        ln.line_number, ln.procedure_qualifier, ln.procedure_code, LIST_SEP.join(ln.modifiers),
        _s(ln.units), ln.unit_basis, _s(ln.charge), ln.place_of_service, ln.revenue_code,
        sd.isoformat() if sd else None, se.isoformat() if se else None,
        *b,
        LIST_SEP.join(map(str, ln.diagnosis_pointers)), LIST_SEP.join(ln.diagnosis_codes),
        *c,
        r.npi if r else "", r.taxonomy if r else "",
        *d,
        LIST_SEP.join(ln.prior_auth or ln.claim.prior_auth),
    ), strict=True))


def claim_rows(claim: Claim) -> Iterator[dict[str, Any]]:
    """Rows of one claim; a claim with no service line still gives one row."""
    part = _claim_part(claim)
    if not claim.lines:
        from ..grammar.loop import Loop
        empty = ServiceLine(claim=claim, loop=Loop("2400"))
        empty.place_of_service = claim.place_of_service
        empty.rendering = claim.rendering or claim.billing
        row = _row(part, empty)
        row["line_number"] = None
        yield row
        return
    for ln in claim.lines:
        yield _row(part, ln)


def model_forced() -> bool:
    """``EDI837_LINES_MODEL=1``: every claim's rows are read through the claim model (the
    path before issue 16's columnar lines; the differential test compares the two)."""
    return os.environ.get("EDI837_LINES_MODEL", "") not in ("", "0")


def rows(events: Iterable[ModelEvent | ClaimLoopRead], on_finding: Callable[[Finding], None] | None = None,
         model: bool | None = None, skip: int = 0) -> Iterator[dict[str, Any]]:
    """The rows of every claim in a model event stream (:func:`edi837.model.stream`, or
    :func:`edi837.model.build.loop_stream`, whose claims are read column by column from their
    segments, :mod:`.columnar`); reader and grammar findings go to ``on_finding``.  With
    ``model`` (default: ``EDI837_LINES_MODEL`` set) every claim is read through the claim model.
    The one loop behind ``edi837 lines``, :func:`edi837.api.lines` and its parallel twin.  The
    claims of ordinal ``skip`` or lower give no rows (:mod:`.fastlines` gave them; their findings
    are given here all the same)."""
    if model is None:
        model = model_forced()
    for ev in events:
        if isinstance(ev, ClaimLoopRead):
            if ev.overflow is not None and on_finding is not None and ev.loop.segments:
                on_finding(overflow_finding(ev.loop.segments[0], ev.kind, ev.overflow, ev.file))
            if ev.seq <= skip:
                continue
            got = None if model else claim_line_rows(ev, COLUMN_NAMES)
            if got is None:
                yield from claim_rows(ev.build())
            else:
                yield from got
        elif isinstance(ev, ClaimRead):
            c = ev.claim
            if c.overflow is not None and on_finding is not None and c.loop.segments:
                on_finding(overflow_finding(c.loop.segments[0], c.kind, c.overflow, c.file))
            if c.seq > skip:
                yield from claim_rows(c)
        elif on_finding is not None and isinstance(ev, Found):
            on_finding(ev.finding)
