"""ECT edits: ECT-001..ECT-010 (90870, IPF/OPPS/PHP facility billing)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from ...codesets import taxonomy_is_physician, taxonomy_kind
from ...model.claims import Claim, CodeEntry, ServiceLine
from ..registry import Hit, supersede
from .claim_facts import claim_is_ipf, claim_is_php, facility_is, fmt, line_seg, units
from .codes import CODES, ECT, ECT_REV, T
from .declare import erule, say
from .run_state import state

if TYPE_CHECKING:
    from ..engine import Context

ANES = CODES["ect_anesthesia"]


@erule("ECT-001", "error", "90871 is not a valid code",
       citation="current AMA 90870 descriptor \"Electroconvulsive therapy (includes necessary monitoring)\", "
                "without \"single seizure\" (Codingahead excerpts, ©2025/2026 AMA); S2 (OIG memo: "
                "multiple-monitored ECT not recommended; repeats are 90870). Deletion year unverified.",
       short="AMA CPT 90870 descriptor; S2", reads=("SV101-2", "SV202-2"), scope="line", group="ect",
       codes=CODES["ect_deleted"])
def ect_001(ln: ServiceLine, ctx: Context) -> Iterator[Hit]:
    yield Hit(say("ECT-001", f"{ln.procedure_code} is not a valid code: ECT is 90870, one unit per "
                  f"session, and re-stimulation for an adequate seizure is still one 90870"),
              seg=line_seg(ln), element=ln.source("procedure_code"), line=ln, value=ln.procedure_code)


@erule("ECT-002", "error", "90870 is physician-only (MD/DO)",
       citation="S2, quoting the LCD Part B guideline \"90870 is limited to use by physicians (MD/DO) only\" "
                "(unverified in a current LCD); NUCC codes (HL7 FHIR value set).",
       short="S2 quoting LCD Part B guideline", reads=("2420A PRV03", "2310B PRV03", "2000A PRV03", "NM1*82 NM102"),
       scope="line", applies_to=("837P",), group="ect", codes=(ECT,))
def ect_002(ln: ServiceLine, ctx: Context) -> Iterator[Hit]:
    tax = ln.rendering_taxonomy
    seg = (ln.rendering.taxonomy_segment if ln.rendering is not None else None) or line_seg(ln)
    if not tax:
        yield Hit(say("ECT-002", "90870 has no rendering taxonomy (2420A, 2310B or 2000A PRV03), so it "
                      "cannot be shown that a physician (MD/DO) rendered it"),
                  seg=line_seg(ln), element="PRV03", line=ln, severity="warning")
        return
    if not taxonomy_is_physician(tax):
        yield Hit(say("ECT-002", f"90870 rendered under taxonomy {tax} "
                      f"({taxonomy_kind(tax).replace('_', ' ')}); ECT is limited to physicians (MD/DO, "
                      f"taxonomy 20xxxxxxxX)"), seg=seg, element="PRV03", line=ln, value=tax)


@erule("ECT-003", "info", "outpatient facility ECT with anesthesia (OPPS packaging)",
       citation="S2 citing Pub. 100-04 Ch. 4 §10.4 (packaging) and \"APC 0320\". The APC number is "
                "historical and the current APC is unverified.",
       short="S2; Pub. 100-04 Ch. 4 §10.4", reads=("CLM05-1", "SV202-2", "SV203", "DTP*472"),
       scope="line", applies_to=("837I",), group="ect", codes=(ANES,))
def ect_003(ln: ServiceLine, ctx: Context) -> Iterator[Hit]:
    c = ln.claim
    if not facility_is(c, "outpatient_facility_type"):
        return
    d = ln.date_or_claim()
    if not any(o.procedure_code == ECT and o.date_or_claim() == d for o in c.lines):
        return
    if not ln.charge:
        yield Hit(say("ECT-003", f"00104 on {fmt(d)} with 90870 is packaged under OPPS but must still be "
                      f"reported with its charges; this line reports none"),
                  seg=line_seg(ln), element=ln.source("charge"), line=ln)


def _gzb(claim: Claim) -> list[CodeEntry]:
    pre = T()["icd"]["ect_pcs_prefix"]
    return [p for p in claim.procedures if p.qualifier in ("BBR", "BBQ") and p.code.startswith(pre)]


def _icd9_ect(claim: Claim) -> bool:
    icd9 = T()["icd"]["ect_icd9"]
    return any(p.code.replace(".", "") in icd9 for p in claim.procedures)


@erule("ECT-004", "error", "IPF ECT adjustment needs revenue code 0901 units",
       citation="S2 quoting Pub. 100-04 Ch. 3 §190.7.3 and CR 6077; the ICD-10-PCS GZB table (copies of "
                "CMS code files); Noridian IPF billing guide (TOB 111-118, CCN ranges).",
       short="Pub. 100-04 Ch. 3 §190.7.3; CR 6077", reads=("CLM05-1", "SV201", "SV205", "HI BBR/BBQ"),
       applies_to=("837I",), group="ect")
def ect_004(claim: Claim, ctx: Context) -> Iterator[Hit]:
    if not claim_is_ipf(claim):
        return
    gzb = _gzb(claim)
    rev = [ln for ln in claim.lines if ln.revenue_code == ECT_REV]
    n = len({p.date for p in gzb})
    if gzb and not rev:
        yield Hit(say("ECT-004", f"the IPF claim reports ECT ({gzb[0].code}) but has no revenue code 0901 "
                      f"line; add a revenue code 0901 line with SV205 = the number of ECT treatments in the stay "
                      f"(no HCPCS needed on an IPF claim)"),
                  seg=gzb[0].segment, element=gzb[0].element)
        return
    if rev and not gzb:
        if _icd9_ect(claim):  # ECT reported as ICD-9 94.27: ECT-006 says to send the GZB code instead
            return
        yield Hit(say("ECT-004", "revenue code 0901 (ECT) on an IPF claim with no ICD-10-PCS ECT code "
                      "(GZB0ZZZ-GZB4ZZZ) in HI BBR/BBQ; add the GZB code of the last treatment, dated that day, as "
                      "HI*BBR (or BBQ)"), seg=line_seg(rev[0]),
                  element=rev[0].source("revenue_code"), line=rev[0])
        return
    total = sum(units(ln) for ln in rev)
    if rev and total <= 0:
        yield Hit(say("ECT-004", f"0901 reports {int(total)} ECT treatment units; set SV205 on the 0901 line to "
                      f"the number of ECT treatments in the stay (at least 1)"),
                  seg=line_seg(rev[0]), element=rev[0].source("units"), line=rev[0], value=str(int(total)))
    elif rev and total < n:
        yield Hit(say("ECT-004", f"0901 reports {int(total)} ECT treatment unit(s) but the claim lists {n} "
                      f"distinct ECT procedure dates (GZB codes); set SV205 on the 0901 line to the number "
                      f"of ECT treatments in the stay, at least {n}"),
                  seg=line_seg(rev[0]), element=rev[0].source("units"), line=rev[0], value=str(int(total)))


@erule("ECT-005", "error", "the ECT procedure date is the last treatment, inside the stay",
       citation="S2 / Ch. 3 §190.7.3 (\"date of the last ECT treatment\").",
       short="S2; Pub. 100-04 Ch. 3 §190.7.3", reads=("HI0x-2", "HI0x-4", "DTP*434"),
       applies_to=("837I",), group="ect")
def ect_005(claim: Claim, ctx: Context) -> Iterator[Hit]:
    gzb = [p for p in _gzb(claim) if p.date]
    if not gzb:
        return
    a, b = claim.statement_from, claim.statement_to
    for p in gzb:
        if a and b and p.date is not None and not (a <= p.date <= b):
            yield Hit(say("ECT-005", f"ECT procedure {p.code} is dated {fmt(p.date)}, outside the statement "
                          f"period {fmt(a)} to {fmt(b)}"), seg=p.segment,
                      element=p.element.replace("-2", "-4"), value=fmt(p.date))
    princ = [p for p in gzb if p.qualifier == "BBR"]
    latest = max(p.date for p in gzb if p.date is not None)  # every one is dated
    if princ and princ[0].date is not None and princ[0].date < latest:
        p = princ[0]
        yield Hit(say("ECT-005", f"the principal ECT procedure {p.code} is dated {fmt(p.date)} but another "
                      f"ECT date ({fmt(latest)}) is later; the ECT procedure date should be the last "
                      f"treatment"), seg=p.segment, element=p.element.replace("-2", "-4"),
                  severity="warning", value=fmt(p.date))


@erule("ECT-006", "error", "ICD-9 94.27 versus ICD-10-PCS for ECT",
       citation="S2 (94.27); ICD-10-PCS GZB codes (CMS code file copies; the IPF pricer client dates them "
                "from 2015-10-01); CMS discharge-date rule (SE1325).",
       short="S2; ICD-10-PCS GZB; CMS SE1325", reads=("HI BBR/BBQ/BR/BQ", "DTP*434"),
       applies_to=("837I",), group="ect")
def ect_006(claim: Claim, ctx: Context) -> Iterator[Hit]:
    d = claim.statement_to or claim.statement_from
    if d is None:
        return
    icd = T()["icd"]
    after = d >= icd["icd10_from"]
    for p in claim.procedures:
        code = p.code.replace(".", "")
        if after and (code in icd["ect_icd9"] or p.qualifier in ("BR", "BQ") and code in icd["ect_icd9"]):
            yield Hit(say("ECT-006", f"ECT reported as ICD-9 {p.qualifier}:{code} for a discharge on "
                          f"{fmt(d)}; from 2015-10-01 send the ICD-10-PCS code (GZB0ZZZ-GZB4ZZZ) with "
                          f"qualifier BBR/BBQ instead"),
                      seg=p.segment, element=p.element.replace("-2", "-1"), value=code)
        elif not after and code.startswith(icd["ect_pcs_prefix"]):
            yield Hit(say("ECT-006", f"ECT reported as ICD-10-PCS {code} for a discharge on {fmt(d)}, before "
                          f"2015-10-01; send ICD-9 94.27 with qualifier BR/BQ instead"), seg=p.segment,
                      element=p.element.replace("-2", "-1"),
                      value=code)


# One cause, one finding: ECT reported in the wrong ICD version is ECT-006's, at the HI
# qualifier that DX-004, DX-005 and SNIP 5's S5-ICD-003/004 also read
supersede("ECT-006", "DX-004", "DX-005", "S5-ICD-003", "S5-ICD-004")


@erule("ECT-007", "error", "ECT during an IPF stay belongs on the IPF claim (under arrangements)",
       citation="S2 citing 42 CFR 412.404(d)(3), Ch. 3 §190.7.3 and CR 6077; Noridian IPF guide (\"Psych "
                "Facility is responsible for all services provided by other facilities during the "
                "inpatient stay\").",
       short="42 CFR 412.404(d)(3); CR 6077", reads=("CLM05-1", "DTP*435", "DTP*434", "SV202-2", "DTP*472"),
       scope="line", applies_to=("837I",), cross_claim=True, group="ect")
def ect_007(ln: ServiceLine, ctx: Context) -> Iterator[Hit] | None:
    # (on every 837I line: a plain function that returns None off ECT lines, the finding left
    # to the generator below)
    if ln.procedure_code != ECT and ln.revenue_code != ECT_REV:
        return None
    return _ect_007(ln, ctx)


def _ect_007(ln: ServiceLine, ctx: Context) -> Iterator[Hit]:
    c = ln.claim
    if claim_is_ipf(c):
        return
    d = ln.date_or_claim()
    if d is None:
        return
    for s in state(ctx).peer_stays(c):
        if s.start and s.end and s.start <= d <= s.end:
            yield Hit(say("ECT-007", f"ECT on {fmt(d)} falls inside the patient's IPF stay {fmt(s.start)} to "
                          f"{fmt(s.end)} (claim {s.claim_id}); the psychiatric facility bills it under "
                          f"arrangements on its inpatient claim"),
                      seg=line_seg(ln), element=ln.source("procedure_code"), line=ln)
            return


@erule("ECT-008", "error", "ECT on a partial-hospitalization day goes on the PHP claim with condition code 41",
       citation="S2 citing Pub. 100-04 Ch. 4 §170 (older numbering; current section unverified); condition "
                "code 41 = partial hospitalization (Novitas/Noridian, as quoted).",
       short="S2; Pub. 100-04 Ch. 4 §170", reads=("CLM05-1", "HI*BG", "SV202-2", "DTP*472"),
       applies_to=("837I",), cross_claim=True, group="ect", codes=(ECT,))
def ect_008(claim: Claim, ctx: Context) -> Iterator[Hit]:
    if not facility_is(claim, "outpatient_facility_type"):
        return
    ect_lines = [ln for ln in claim.lines if ln.procedure_code == ECT]
    if not ect_lines:
        return
    fac = T()["facility"]
    php_lines = [ln for ln in claim.lines if ln.revenue_code in fac["php_revenue_codes"]]
    if php_lines and not claim_is_php(claim):
        yield Hit(say("ECT-008", "the claim mixes partial-hospitalization services "
                      f"(revenue {php_lines[0].revenue_code}) and ECT 90870 without condition code 41"),
                  seg=claim.clm, element="HI*BG")
    for ln in ect_lines:
        d = ln.date_or_claim()
        if d is None:  # no line date and no statement dates (a SNIP 2 error): no day to compare
            continue
        for e in state(ctx).peers(claim):
            if e.php and e.date and e.date <= d <= (e.date_end or e.date):
                yield Hit(say("ECT-008", f"90870 on {fmt(d)} is a partial-hospitalization day already billed "
                              f"on claim {e.claim_id}; ECT and PHP services of one day go on one 13x claim "
                              f"with condition code 41"), seg=line_seg(ln),
                          element=ln.source("procedure_code"), line=ln)
                break


@erule("ECT-009", "info", "outpatient mental-health limitation",
       citation="S2 (limitation \"applies to this ECT policy\"). The phase-out is unverified.",
       short="S2; 42 CFR 410.155", reads=("DTP*472",), scope="line", group="ect", codes=(ECT,))
def ect_009(ln: ServiceLine, ctx: Context) -> Iterator[Hit]:
    d = ln.date_or_claim()
    end = T()["mental_health_limitation"]["ends"]
    if d is not None and d < end:
        yield Hit(say("ECT-009", f"90870 on {fmt(d)} predates {fmt(end)}: the 42 CFR 410.155 outpatient "
                      f"mental-health limitation may apply to this historical claim (it is not applied "
                      f"from 2014)"), seg=line_seg(ln), element="DTP03", line=ln)


@erule("ECT-010", "error", "ECT session units on the facility line",
       citation="S2; medpayiq (bill each session on its date). The facility MUE value is unverified.",
       short="S2; medpayiq", reads=("SV201", "SV202-2", "SV204", "SV205", "DTP*472"), scope="line",
       applies_to=("837I",), group="ect", codes=(ECT,))
def ect_010(ln: ServiceLine, ctx: Context) -> Iterator[Hit]:
    if not (facility_is(ln.claim, "outpatient_facility_type") and ln.revenue_code == ECT_REV):
        return
    if ln.unit_basis != "UN" or units(ln) != 1:
        yield Hit(say("ECT-010", f"0901/90870 reports {ln.unit_basis or '?'} {int(units(ln))}; bill one line "
                      f"per ECT date with SV204=UN and SV205=1"),
                  seg=line_seg(ln), element=ln.source("units"), line=ln)
    elif ln.service_date_end and ln.service_date_end != ln.service_date:
        yield Hit(say("ECT-010", f"0901/90870 covers {fmt(ln.service_date)} to {fmt(ln.service_date_end)}; "
                      f"bill one line per ECT date with its own DTP*472"),
                  seg=line_seg(ln), element="DTP03", line=ln)
