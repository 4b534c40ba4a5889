"""Claim-line tables: one flat row per service line, the claim's columns repeated.

The columns are documented in docs/lines.md (kept in sync by a test).
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from ..model.claims import Claim, ServiceLine

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
LIST_SEP = "|"


def _s(v: Any) -> Any:
    if v is None:
        return None
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v) if not isinstance(v, (int, str)) else v


def _claim_part(c: Claim) -> dict[str, Any]:
    ic, gc, tc = c.control
    prov = c.providers
    pd = c.principal_diagnosis
    return {
        "file": c.file, "interchange": ic, "group": gc, "transaction": tc,
        "transaction_type": c.kind, "claim_seq": c.seq, "claim_id": c.claim_id,
        "claim_charge": _s(c.charge), "facility_code": c.facility_code,
        "claim_frequency": c.frequency, "bill_type": c.bill_type,
        "statement_from": _s(c.statement_from), "statement_to": _s(c.statement_to),
        "admission_date": _s(c.admission_date),
        "principal_diagnosis": pd.code if pd else "",
        "condition_codes": LIST_SEP.join(x.code for x in c.condition_codes),
        "billing_npi": prov["billing"].npi if "billing" in prov else "",
        "attending_npi": prov["attending"].npi if "attending" in prov else "",
        "operating_npi": prov["operating"].npi if "operating" in prov else "",
        "payer_id": c.payer_id, "payer_name": c.payer_name,
        "subscriber_id": c.subscriber.member_id,
        "patient_id": c.patient.member_id or c.subscriber.member_id,
        "patient_last_name": c.patient.last_name, "patient_first_name": c.patient.first_name,
        "patient_birth_date": _s(c.patient.birth_date),
    }


def _row(part: dict[str, Any], ln: ServiceLine) -> dict[str, Any]:
    c = ln.claim
    r = ln.rendering
    line = {
        "line_number": ln.line_number,
        "procedure_qualifier": ln.procedure_qualifier,
        "procedure_code": ln.procedure_code,
        "modifiers": LIST_SEP.join(ln.modifiers),
        "units": _s(ln.units),
        "unit_basis": ln.unit_basis,
        "charge": _s(ln.charge),
        "place_of_service": ln.place_of_service,
        "revenue_code": ln.revenue_code,
        "service_date": _s(ln.service_date),
        "service_date_end": _s(ln.service_date_end),
        "diagnosis_pointers": LIST_SEP.join(map(str, ln.diagnosis_pointers)),
        "diagnosis_codes": LIST_SEP.join(ln.diagnosis_codes),
        "rendering_npi": r.npi if r else "",
        "rendering_taxonomy": r.taxonomy if r else "",
        "prior_auth": LIST_SEP.join(ln.prior_auth or c.prior_auth),
    }
    return {k: part[k] if k in part else line[k] for k in COLUMN_NAMES}


def line_row(ln: ServiceLine) -> dict[str, Any]:
    """The row of one service line."""
    return _row(_claim_part(ln.claim), ln)


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


def rows(claims: Iterable[Claim]) -> Iterator[dict[str, Any]]:
    for c in claims:
        yield from claim_rows(c)
