"""Diagnosis edits: DX-001..DX-005."""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING, Iterator

from ...model.claims import Claim, Diagnosis, ServiceLine
from ...reader.segment import Segment
from ..registry import Hit
from .claim_facts import facility_is, fmt, line_seg, norm_dx
from .codes import NEURO, TMS, T
from .declare import coverage, erule, say
from .run_state import profile

if TYPE_CHECKING:
    from ..engine import Context


# (line, its pointed diagnoses): DX-001..003 ask in turn for one line
_LAST: tuple[ServiceLine | None, list[tuple[Diagnosis, str]]] = (None, [])


def _pointed(ln: ServiceLine) -> list[tuple[Diagnosis, str]]:
    global _LAST
    last = _LAST
    if last[0] is ln:
        return last[1]
    out = [(d, norm_dx(d.code)) for d in ln.diagnoses]
    _LAST = (ln, out)
    return out


# DX-001..DX-003 run on every TMS (or neuromodulation) line and almost always find nothing:
# each is a plain function that returns None when its line cannot fire, and leaves the
# finding to the generator below it (which checks again, from the start).


def _dx_seg(ln: ServiceLine, dxs: list[tuple[Diagnosis, str]]) -> Segment | None:
    return dxs[0][0].segment if dxs else line_seg(ln)


@erule("DX-001", "error", "TMS needs a supporting MDD diagnosis pointed to by the line",
       citation="S1 (cites A57072, not found); NY Medicaid notices (2025-11-01); LCD L34522/L37086 "
                "(\"severe MDD\").",
       short="S1; NY Medicaid notices; LCD L34522/L37086",
       reads=("HI ABK/ABF", "SV107-1..4"), scope="line", group="dx", codes=TMS)
def dx_001(ln: ServiceLine, ctx: Context) -> Iterator[Hit] | None:
    covered = profile(ln.claim, ctx).covered_dx
    for _, c in _pointed(ln):
        if c in covered:  # (the usual case: a covered diagnosis)
            return None
    return _dx_001(ln, ctx)


def _dx_001(ln: ServiceLine, ctx: Context) -> Iterator[Hit]:
    prof = profile(ln.claim, ctx)
    dxs = _pointed(ln)
    codes = [c for _, c in dxs]
    if any(c in prof.covered_dx for c in codes):
        return
    kinds = [_class(c) for c in codes]
    if _dx002_owns(kinds):  # one cause, one finding: DX-002 names the unspecified depression
        return
    covered = _dotted(prof.covered_dx)
    ocd = T()["diagnoses"]["ocd_prefix"]
    if codes and prof.ocd_warning and all(c.startswith(ocd) for c in codes):
        yield coverage(ln, "DX-001", f"{ln.procedure_code} points only to OCD ({_dotted(codes)}); TMS coverage "
                       f"for OCD depends on the payer (covered list for {prof.name}: {covered}): check the "
                       f"payer's policy, or point SV107 to a covered diagnosis",
                       seg=line_seg(ln), element=ln.source("diagnoses"), line=ln, severity="warning")
        return
    named = sorted({k for k in kinds if k is not None and k != "ocd"})
    what = (f"points to {_dotted(codes)}{' (' + ', '.join(named) + ')' if named else ''}" if codes
            else "points to no diagnosis")
    yield coverage(ln, "DX-001", f"{ln.procedure_code} {what}, none of which supports TMS under the {prof.name} "
                   f"payer ({prof.covered_dx_source}); {_fix(ln, prof.covered_dx)}",
                   seg=line_seg(ln), element=ln.source("diagnoses"), line=ln)


def _dotted(codes: list[str]) -> str:
    return ", ".join(f"{c[:3]}.{c[3:]}" if len(c) > 3 else c for c in codes)


def _fix(ln: ServiceLine, covered: list[str]) -> str:
    """What to change: point SV107 to a covered diagnosis on the claim, or add one."""
    for d in ln.claim.diagnoses:
        c = norm_dx(d.code)
        if c in covered:
            return f"point SV107 to {_dotted([c])} (HI position {d.position})"
    return f"add the covered diagnosis the record supports ({_dotted(covered)}) to HI and point SV107 to it"


def _dx002_owns(kinds: list[str | None]) -> bool:
    """Whether DX-002 reports the line rather than DX-001: every pointed diagnosis is
    non-supporting and one is an unspecified depression (F32.9, F32.A, F33.9), whose
    fix is to code the depression specifically."""
    return bool(kinds) and None not in kinds and "unspecified depression" in kinds


def _class(code: str) -> str | None:
    try:
        return _CLASS[code]  # (asked for every pointed diagnosis of every TMS line)
    except KeyError:
        pass
    if len(_CLASS) >= 8192:
        _CLASS.clear()
    k = _CLASS[code] = _class_of(code)
    return k


_CLASS: dict[str, str | None] = {}  # code -> _class_of(code): the tables do not change in a run


def _class_of(code: str) -> str | None:
    t = T()["diagnoses"]
    if code.startswith(t["ocd_prefix"]):
        return "ocd"
    if code in t["unspecified_depression"]:
        return "unspecified depression"
    for p in t["non_supporting_prefixes"]:
        if code.startswith(p):
            return {"F40": "anxiety", "F41": "anxiety", "F431": "PTSD", "F90": "ADHD"}.get(p, "non-supporting")
    return None


@erule("DX-002", "error", "non-supporting or unspecified diagnoses on TMS",
       citation="S1; L34522 and L34998 exclude OCD.", short="S1; LCD L34522/L34998",
       reads=("HI", "SV107"), scope="line", group="dx", codes=TMS)
def dx_002(ln: ServiceLine, ctx: Context) -> Iterator[Hit] | None:
    dxs = _pointed(ln)
    if not dxs:
        return None
    kinds = [_class(c) for _, c in dxs]
    if None in kinds:  # (the usual case: a supporting diagnosis)
        return None
    if not _dx002_owns(kinds):  # anxiety, PTSD, ADHD or OCD alone: DX-001 says it (one cause, one finding)
        return None
    return _dx_002(ln, ctx, dxs, kinds)


def _dx_002(ln: ServiceLine, ctx: Context, dxs: list[tuple[Diagnosis, str]], kinds: list[str | None]
            ) -> Iterator[Hit]:
    codes = _dotted([c for _, c in dxs])
    prof = profile(ln.claim, ctx)
    names = sorted({k for k in kinds if k is not None and k != "ocd"})  # none is None here
    yield coverage(ln, "DX-002", f"{ln.procedure_code} is supported only by {', '.join(names)} diagnoses "
                   f"({codes}), which do not support TMS; {_fix(ln, prof.covered_dx)}",
                   seg=line_seg(ln), element=ln.source("diagnoses"), line=ln)


@erule("DX-003", "warning", "screening-only diagnosis on neuromodulation lines",
       citation="S2 (\"screening ... V codes for a screening denial\"). The Z-code mapping is our own inference.",
       short="S2 (Z13.3x mapping inferred)", reads=("HI", "SV107"), scope="line", group="dx", codes=NEURO)
def dx_003(ln: ServiceLine, ctx: Context) -> list[Hit] | None:
    dxs = _pointed(ln)
    if not dxs:
        return None
    pre = T()["diagnoses"]["screening_prefix"]
    for _, c in dxs:
        if not c.startswith(pre):  # (the usual case: the first one already)
            return None
    return [Hit(say("DX-003", f"{ln.procedure_code} points only to screening code(s) "
                    f"{', '.join(c for _, c in dxs)}; expect a screening denial"),
                seg=_dx_seg(ln, dxs), element=ln.source("diagnoses"), line=ln)]


_ICD = T()["icd"]
_ICD10_FROM = _ICD["icd10_from"]


def _ref_date(claim: Claim) -> tuple[_dt.date | None, str]:
    """The date that decides the ICD version: inpatient through date, else the earliest DOS."""
    if facility_is(claim, "inpatient_facility_type"):
        return claim.statement_to or claim.statement_from, "discharge/through date"
    ds = _line_dates(claim)
    if ds:
        return min(ds), "date of service"
    return claim.statement_from, "statement date"


def _line_dates(claim: Claim) -> list[_dt.date]:
    """The lines' dates (:meth:`ServiceLine.date_or_claim`), those there are."""
    global _LAST_DATES
    last = _LAST_DATES  # (DX-004 and DX-005 ask in turn for one claim)
    if last[0] is claim:
        return last[1]
    out = [d for ln in claim.lines if (d := ln.date_or_claim())]
    _LAST_DATES = (claim, out)
    return out


_LAST_DATES: tuple[Claim | None, list[_dt.date]] = (None, [])


# (qualifier, code, segment, element)
_Entry = tuple[str, str, Segment | None, str]
_LAST_ENTRIES: tuple[Claim | None, list[_Entry]] = (None, [])  # (claim, its entries): DX-004 and DX-005 ask in turn


def _entries(claim: Claim) -> list[_Entry]:
    """(qualifier, code, segment, element) of each HI diagnosis and procedure but CAH."""
    global _LAST_ENTRIES
    last = _LAST_ENTRIES
    if last[0] is claim:
        return last[1]
    out = [(d.qualifier, d.code, d.segment, d.element.replace("-2", "-1")) for d in claim.diagnoses]
    out += [(p.qualifier, p.code, p.segment, p.element.replace("-2", "-1")) for p in claim.procedures
            if p.qualifier != "CAH"]
    _LAST_ENTRIES = (claim, out)
    return out


def _families() -> dict[str, str]:
    out = {}
    for k in ("icd9_dx", "icd9_proc"):
        for q in _ICD[k]:
            out[q] = "ICD-9"
    for k in ("icd10_dx", "icd10_proc"):  # ICD-10 first in the test, so it wins
        for q in _ICD[k]:
            out[q] = "ICD-10"
    return out


_FAMILY = _families()


def _family(q: str) -> str | None:
    return _FAMILY.get(q)


def _families_in(claim: Claim) -> set[str]:
    """The code-set families of the qualifiers of :func:`_entries` (without building them;
    DX-004 and DX-005 ask in turn for one claim)."""
    global _LAST_FAMS
    last = _LAST_FAMS
    if last[0] is claim:
        return last[1]
    fams = _FAMILY
    out = {f for d in claim.diagnoses if (f := fams.get(d.qualifier)) is not None}
    if claim.procedures:
        out.update(f for p in claim.procedures if p.qualifier != "CAH" and (f := fams.get(p.qualifier)) is not None)
    _LAST_FAMS = (claim, out)
    return out


_LAST_FAMS: tuple[Claim | None, set[str]] = (None, set())


@erule("DX-004", "error", "ICD version qualifier must match the date",
       citation="CMS ICD-10 transition guidance (SE1325, MM7492 as cited by payer EDI guides); Security "
                "Health EDI notice (BK vs ABK); pyx12 map code lists.",
       short="CMS SE1325, MM7492", reads=("HI01-1..HI12-1", "DTP*472", "DTP*434", "CLM05-1"), group="dx")
def dx_004(claim: Claim, ctx: Context) -> Iterator[Hit] | None:
    fams = _families_in(claim)
    if not fams:  # (no HI qualifier of either family: nothing to match the date)
        return None
    d, what = _ref_date(claim)
    if d is None:
        return None
    need = "ICD-10" if d >= _ICD10_FROM else "ICD-9"
    if fams == {need}:  # (the usual case: every qualifier of the family the date needs)
        return None
    return _dx_004(claim, d, what, need)


def _dx_004(claim: Claim, d: _dt.date, what: str, need: str) -> Iterator[Hit]:
    fams = _FAMILY
    for q, code, seg, el in _entries(claim):
        fam = fams.get(q)
        if fam is not None and fam != need:
            yield Hit(say("DX-004", f"HI qualifier {q} ({fam}) on {code} but the {what} {fmt(d)} is "
                          f"{'on or after' if need == 'ICD-10' else 'before'} 2015-10-01, which requires "
                          f"{need} qualifiers"), seg=seg, element=el, value=q)


@erule("DX-005", "error", "no mixing of ICD-9 and ICD-10 on one claim",
       citation="CMS MM7492 and SE1325 (via the IVHP 837 ICD-10 guide); Security Health.",
       short="CMS MM7492, SE1325", reads=("HI qualifiers", "DTP*472", "DTP*434"), group="dx")
def dx_005(claim: Claim, ctx: Context) -> Iterator[Hit] | None:
    if len(_families_in(claim)) > 1:
        return _dx_005(claim)
    if facility_is(claim, "inpatient_facility_type"):
        return None
    cut = _ICD10_FROM
    ds = _line_dates(claim)
    if ds and min(ds) < cut <= max(ds):
        return _dx_005(claim)
    return None  # (the usual case: one family, and the services on one side of 2015-10-01)


def _dx_005(claim: Claim) -> Iterator[Hit]:
    fams: dict[str, _Entry] = {}
    for q, code, seg, el in _entries(claim):
        f = _FAMILY.get(q)
        if f is not None and f not in fams:
            fams[f] = (q, code, seg, el)
    if len(fams) > 1:
        q, code, seg, el = fams["ICD-9"]
        q10 = fams["ICD-10"][0]
        yield Hit(say("DX-005", f"the claim mixes ICD-10 ({q10}) and ICD-9 ({q} on {code}) qualifiers; every "
                      f"HI qualifier on a claim must come from one code-set family"), seg=seg, element=el,
                  value=q)
        return
    inpatient = facility_is(claim, "inpatient_facility_type")
    if not inpatient:
        cut = _ICD10_FROM
        ds = _line_dates(claim)
        if ds and min(ds) < cut <= max(ds):
            yield Hit(say("DX-005", f"the services span 2015-10-01 ({fmt(min(ds))} to {fmt(max(ds))}); "
                          f"outpatient and professional claims that span the ICD-10 date must be split"),
                      seg=claim.clm, element="CLM01")
