"""TMS edits: TMS-001..TMS-009 (90867 initial, 90868 subsequent, 90869 re-determination)."""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING, Any, Iterator

from ...codesets import taxonomy_is_physician, taxonomy_kind
from ...model.claims import Claim, ServiceLine
from ..registry import Hit
from .claim_facts import fmt, line_seg, units
from .codes import CODES, TMS, T
from .declare import coverage, erule, say
from .run_state import profile, rank, state, view
from .history import Event

if TYPE_CHECKING:
    from ..engine import Context
    from .profiles import Profile
    from .run_state import ClaimView

INITIAL = CODES["tms_initial"]
REDET = CODES["tms_redetermination"]
SUBSEQ = frozenset(CODES["tms_subsequent"])
_COURSE = T()["tms_course"]


def retreatment_days(prof: Profile) -> int:
    """TMS-010's window: the profile's ``[tms] retreatment_warn_days``, else tables.toml [tms_course]."""
    return int(prof.tms.get("retreatment_warn_days", _COURSE["retreatment_warn_days"]))


def _on(e: Event, d: _dt.date) -> bool:
    if e.date is None:
        return False
    return e.date <= d <= (e.date_end or e.date)


def _pairs(key: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for a, b in T()["same_day_exclusive"][key]:
        out.setdefault(a, set()).add(b)
        out.setdefault(b, set()).add(a)
    return out


REDET_PAIRS = _pairs("redetermination_pairs")
INITIAL_PAIRS = _pairs("initial_pairs")


def _same_day(ln: ServiceLine, ctx: Context, pairs: dict[str, set[str]]) -> Event | None:
    """The first of the patient's events before line ``ln`` on its date whose code ``pairs``
    excludes with the line's, or None."""
    want = pairs.get(ln.procedure_code)
    if want is None:
        return None
    c = ln.claim
    d = ln.service_date or c.statement_from  # (ln.date_or_claim())
    if d is None:
        return None
    cv = view(ctx, c)
    if cv.ranged:  # a multi-day line of the patient: test each event's span
        for e in cv.others(ln):
            if e.code in want and _on(e, d):
                return e
        return None
    for e in cv.on_date(ln, d):  # every dated event is one day: _on(e, d) is e.date == d
        if e.code in want:
            return e
    return None


def _where(e: Event, ln: ServiceLine, cv: ClaimView) -> str:
    return "earlier on this claim" if id(e) in cv.mine else f"on claim {e.claim_id}"


@erule("TMS-001", "error", "90868 and 90869 are mutually exclusive on one date",
       citation="S1; NYS Medicaid Update Jul 2025 (Vol 41 No 7), restated in Healthfirst and MetroPlus "
                "notices (Nov 2025): \"90867, 90868 and 90869 may not be billed on the same date of "
                "service\". NCCI PTP pair unverified.",
       short="NYS Medicaid Update Jul 2025; S1", reads=("SV101-2", "SV202-2", "DTP*472"),
       scope="line", cross_claim=True, group="tms", codes=REDET_PAIRS)
def tms_001(ln: ServiceLine, ctx: Context) -> list[Hit] | None:
    e = _same_day(ln, ctx, REDET_PAIRS)
    if e is None:
        return None
    code = ln.procedure_code
    return [Hit(say("TMS-001", f"{code} is billed on {fmt(ln.date_or_claim())} although {e.code} is already "
                      f"billed for this patient that day ({_where(e, ln, view(ctx, ln.claim))}); a "
                      f"motor-threshold "
                      f"re-determination is billed as 90869 alone, never with 90868 on the same date"),
                seg=line_seg(ln), element=ln.source("procedure_code"), line=ln, value=code)]


@erule("TMS-002", "error", "90867 is not billed with 90868 or 90869 on the same date",
       citation="NYS Medicaid notice (Update Jul 2025, Vol 41 No 7); S0. The NCCI PTP pair is unverified.",
       short="NYS Medicaid Update Jul 2025; S0", reads=("SV101-2", "SV202-2", "DTP*472"),
       scope="line", cross_claim=True, group="tms", codes=INITIAL_PAIRS)
def tms_002(ln: ServiceLine, ctx: Context) -> list[Hit] | None:
    e = _same_day(ln, ctx, INITIAL_PAIRS)
    if e is None:
        return None
    code = ln.procedure_code
    return [Hit(say("TMS-002", f"{code} is billed on {fmt(ln.date_or_claim())} together with {e.code} for the "
                      f"same patient and date ({_where(e, ln, view(ctx, ln.claim))}); 90867 already "
                      f"includes mapping, motor "
                      f"threshold, delivery and management, so no subsequent-session code that day"),
                seg=line_seg(ln), element=ln.source("procedure_code"), line=ln, value=code)]


_NOT_YET: Any = object()  # (a _course memo miss)


def _course(cv: ClaimView, ln: ServiceLine) -> tuple[list[Event], _dt.date, _dt.date] | None:
    """The patient's TMS events in the course that holds this line's date: a course ends when
    the patient has no TMS session for ``course_gap_days`` (the payer profile's [tms]
    course_gap_days; 30 in the shipped profiles), so courses are runs of TMS dates less than
    that apart (memoised per line).  The line's own event is left in the course (the rules
    count events before the line, :func:`_before`, which it never is): the list is the
    course's, shared by the claim's lines of that course."""
    memo = cv.memo
    mk = ("course", ln)
    got = memo.get(mk, _NOT_YET)
    if got is not _NOT_YET:
        return got  # type: ignore[no-any-return]
    d = ln.service_date or ln.claim.statement_from  # (ln.date_or_claim())
    out: tuple[list[Event], _dt.date, _dt.date] | None
    if d is None:
        out = None
    else:
        gap = cv.profile.course_gap_days
        out = cv.tms_course(d, gap - 1, TMS)  # runs of dates at most gap - 1 apart
    memo[mk] = out
    return out


def _before(ln: ServiceLine, cv: ClaimView, course: list[Event]) -> list[Event]:
    """Course events before this line: this claim's earlier lines dated on or
    before it, other claims' lines before it (``ClaimView.before``: an earlier
    date, or the same date and a lower rank)."""
    d = ln.date_or_claim()
    if d is None:  # never: the line has a course, so it has a date
        return []
    idx = cv.idx(ln)
    mine = cv.mine
    return [e for e in course if e.date is not None and e.date <= d
            and (e.seq < idx if id(e) in mine else cv.before(e, d))]


def _initial_before(ln: ServiceLine, cv: ClaimView, course: list[Event]) -> list[Event]:
    """The course's 90867 lines before this line (as :func:`_before`)."""
    d = ln.date_or_claim()
    if d is None:
        return []
    idx = cv.idx(ln)
    mine = cv.mine
    return [e for e in course if e.code == INITIAL
            and (e.seq < idx if id(e) in mine else cv.before(e, d))]


@erule("TMS-003", "error", "90867 once per treatment course",
       citation="MCD article A57528 (\"90867 ... billable once per treatment episode\"); CPT parenthetical "
                "\"reported only once per course of treatment\" (quoted by Codoxo); S1.",
       short="MCD article A57528; CPT parenthetical", reads=("SV101-2", "DTP*472"),
       scope="line", cross_claim=True, group="tms", codes=(INITIAL,))
def tms_003(ln: ServiceLine, ctx: Context) -> Iterator[Hit]:
    cv = view(ctx, ln.claim)
    c = _course(cv, ln)
    if c is None:
        return
    course, start, _ = c
    prior = _initial_before(ln, cv, course)
    if prior:
        e = prior[0]
        yield Hit(say("TMS-003", f"a second 90867 (initial TMS session) on {fmt(ln.date_or_claim())} inside the "
                      f"open course that already has 90867 on {fmt(e.date)} ({_where(e, ln, cv)}); 90867 is "
                      f"billable once per course, and a course ends only after {cv.profile.course_gap_days} days without a "
                      f"TMS session: bill this session as 90868 (or 90869 for a motor-threshold "
                      f"re-determination)"),
                  seg=line_seg(ln), element=ln.source("procedure_code"), line=ln, value=INITIAL)


@erule("TMS-010", "warning", "early retreatment",
       citation="LCD L37086 / A57692 (retreatment of prior responders); commercial criteria (\"improvement "
                "maintained at least two months\").",
       short="LCD L37086 / A57692", reads=("SV101-2", "DTP*472"), scope="line", cross_claim=True,
       group="tms", codes=(INITIAL,))
def tms_010(ln: ServiceLine, ctx: Context) -> Iterator[Hit]:
    cv = view(ctx, ln.claim)
    c = _course(cv, ln)
    d = ln.date_or_claim()
    if c is None or d is None:
        return
    course, start, _ = c
    if _initial_before(ln, cv, course):
        return  # not the course's first 90867: TMS-003's
    last = max((e.date for evs in (cv.peers, cv.events) for e in evs
                if e.code in TMS and e.date is not None and e.date < start), default=None)
    if last is None:
        return
    days = (d - last).days
    limit = retreatment_days(cv.profile)
    if days < limit:
        yield Hit(say("TMS-010", f"90867 on {fmt(d)} opens a retreatment course {days} days after the previous "
                      f"course's last TMS session ({fmt(last)}), less than {limit} days; most payers require a "
                      f"new prior authorization and documented relapse after a response to the previous "
                      f"course (Medicare LCD L37086: retreatment of prior responders only): get the new "
                      f"authorization and document the response and the relapse"),
                  seg=line_seg(ln), element=ln.source("procedure_code"), line=ln, value=str(days))


@erule("TMS-004", "warning", "subsequent TMS needs a prior initial session",
       citation="S0 and S1 (\"should not be billed without a prior initial session\").",
       short="S0; S1", reads=("SV101-2", "DTP*472"), scope="line", cross_claim=True, group="tms", codes=SUBSEQ)
def tms_004(ln: ServiceLine, ctx: Context) -> list[Hit] | None:
    # (TMS-004 and TMS-005: plain functions, None or the one finding, on every TMS line)
    cv = view(ctx, ln.claim)
    c = _course(cv, ln)
    if c is None:  # (a line with a course has a date)
        return None
    d = ln.service_date or ln.claim.statement_from
    assert d is not None
    course, start, _ = c
    for e in course:
        if e.code == INITIAL and e.date is not None and e.date <= d:
            return None
    if cv.memo.get("TMS-004"):  # one warning per claim
        return None
    cv.memo["TMS-004"] = True
    n = sum(1 for o in ln.claim.lines if o.procedure_code in SUBSEQ)
    lines = f"{ln.procedure_code} on {fmt(d)}" + (f" and {n - 1} more TMS line(s) of this claim" if n > 1 else "")
    if state(ctx).history is None:
        where = (f"the data of this run (its course starts {fmt(start)} here): if the course began before "
                 f"this batch, run with --history PATH (the history store of earlier runs) so the initial "
                 f"session is on file")
    else:
        where = f"this run or the history store (the course starts {fmt(start)})"
    return [Hit(say("TMS-004", f"{lines}: no initial session 90867 for this patient's current course is in "
                    f"{where}; otherwise bill the course's first session as 90867, unless the patient "
                    f"transferred mid-series"),
                seg=line_seg(ln), element=ln.source("procedure_code"), line=ln, value=ln.procedure_code)]


@erule("TMS-005", "warning", "course length cap",
       citation="LCD L37088/A57598, L37086/A57692 (MCD excerpts); L34522 (up to 6 weeks); Harvard Pilgrim "
                "notice (30 + 6 taper); S1.",
       short="LCD L37088/L37086/L34522; payer course cap", reads=("SV101-2", "SV104", "DTP*472"),
       scope="line", cross_claim=True, group="tms", codes=TMS)
def tms_005(ln: ServiceLine, ctx: Context) -> list[Hit] | None:
    cv = view(ctx, ln.claim)
    c = _course(cv, ln)
    if c is None:
        return None
    course, start, _ = c
    # the units of the course's events before this line (_before, written out: this runs on
    # every TMS line), summed in course order from 0 as sum() did, then this line's
    d = ln.service_date or ln.claim.statement_from
    assert d is not None
    before: float = 0
    idx = cv.claim.lines.index(ln)  # (cv.idx(ln))
    if course:
        mine = cv.mine
        r = cv.rank
        for e in course:
            ed = e.date
            if ed is not None and ed <= d and (e.seq < idx if id(e) in mine else (ed < d or rank(e) < r)):
                before += e.units
    n = before + cv.events[idx].units  # (units(ln): the line's event holds it)
    prof = cv.profile
    if n > prof.course_cap:
        return [coverage(ln, "TMS-005", f"TMS session {int(n)} of the course that began {fmt(start)} exceeds "
                         f"the {prof.name} payer cap of {prof.course_cap} sessions per course "
                         f"({prof.tms.get('course_cap_source', '')}); get a new authorization for sessions "
                         f"past {prof.course_cap} (Medicare: document at least 25% improvement)",
                         seg=line_seg(ln), element=ln.source("units"), line=ln, value=str(int(n)))]
    return None


@erule("TMS-006", "warning", "90869 frequency per course",
       citation="S1 (\"typically one or two times per series\"). This is unverified against any LCD.",
       short="S1 (unverified)", reads=("SV101-2", "SV104", "DTP*472"), scope="line",
       cross_claim=True, group="tms", codes=(REDET,))
def tms_006(ln: ServiceLine, ctx: Context) -> Iterator[Hit]:
    cv = view(ctx, ln.claim)
    c = _course(cv, ln)
    if c is None:
        return
    course, start, _ = c
    n = sum(e.units for e in _before(ln, cv, course) if e.code == REDET) + units(ln)
    prof = cv.profile
    if n > prof.max_redetermination:
        yield Hit(say("TMS-006", f"90869 (motor-threshold re-determination) unit {int(n)} in the course that "
                      f"began {fmt(start)}: more than {prof.max_redetermination} per course is unusual"),
                  seg=line_seg(ln), element=ln.source("units"), line=ln, value=str(int(n)))


@erule("TMS-007", "warning", "TMS place of service",
       citation="S1; POS definitions from the CMS POS code set (19 and 22 revised 2016-01-01, as "
                "republished by NCTracks).",
       short="S1; CMS POS code set", reads=("SV105", "CLM05-1"), scope="line", applies_to=("837P",),
       group="tms", codes=TMS)
def tms_007(ln: ServiceLine, ctx: Context) -> Iterator[Hit] | None:
    # (on every TMS line: a plain function that returns None for a place of service that needs no
    # word, the finding left to the generator below, which checks again from the start)
    pos = ln.place_of_service
    if pos in T()["pos"]["tms_ok"] or pos in T()["telehealth"]["pos"]:
        return None
    return _tms_007(ln, ctx)


def _tms_007(ln: ServiceLine, ctx: Context) -> Iterator[Hit]:
    pos = ln.place_of_service
    tab = T()["pos"]
    el = ln.source("place_of_service")
    seg = line_seg(ln) if el == "SV105" else ln.claim.clm
    if pos in tab["tms_ok"] or pos in T()["telehealth"]["pos"]:  # telehealth POS: TEL-001's error says it
        return
    if pos in tab["tms_facility"]:
        yield Hit(say("TMS-007", f"{ln.procedure_code} at POS {pos} (outpatient hospital) is paid at the "
                      f"facility rate"), seg=seg, element=el, line=ln, severity="info", value=pos)
        return
    yield Hit(say("TMS-007", f"{ln.procedure_code} carries place of service {pos or '(none)'}; TMS "
                  f"professional lines should be POS 11 (Office) or 49 (Independent Clinic)"),
              seg=seg, element=el, line=ln, value=pos)


@erule("TMS-008", "warning", "TMS rendering provider type",
       citation="LCD L34522 and L37086 (psychiatrist or physician order and supervision); taxonomy codes "
                "from the NUCC set as published in the HL7 FHIR value set.",
       short="LCD L34522/L37086; NUCC taxonomy", reads=("2420A PRV03", "2310B PRV03", "2000A PRV03"),
       scope="line", applies_to=("837P",), group="tms", codes=TMS)
def tms_008(ln: ServiceLine, ctx: Context) -> Iterator[Hit] | None:
    # (as TMS-007: None when the payer asks for no physician or the taxonomy is a physician's)
    if not profile(ln.claim, ctx).physician_required:
        return None
    tax = ln.rendering_taxonomy
    if not tax or taxonomy_is_physician(tax):
        return None
    return _tms_008(ln, ctx)


def _tms_008(ln: ServiceLine, ctx: Context) -> Iterator[Hit]:
    if not profile(ln.claim, ctx).physician_required:
        return
    tax = ln.rendering_taxonomy
    if not tax or taxonomy_is_physician(tax):
        return
    seg = ln.rendering.taxonomy_segment if ln.rendering is not None else None
    yield Hit(say("TMS-008", f"{ln.procedure_code} rendered under taxonomy {tax} "
                  f"({taxonomy_kind(tax).replace('_', ' ')}), not a physician code (20xxxxxxxX); TMS "
                  f"should be ordered and supervised by a physician"),
              seg=seg or line_seg(ln), element="PRV03", line=ln, value=tax)


def age_on(birth: _dt.date, d: _dt.date) -> int:
    return d.year - birth.year - ((d.month, d.day) < (birth.month, birth.day))


@erule("TMS-009", "warning", "patient age for TMS",
       citation="NY Medicaid (members aged 18+); LCDs L34522/L34998 (\"adults\"); 247medicalbilling "
                "(Medi-Cal 15+, unverified).",
       short="NY Medicaid; LCD L34522/L34998", reads=("DMG02", "DTP*472"), group="tms", codes=TMS)
def tms_009(claim: Claim, ctx: Context) -> Iterator[Hit] | None:
    # (as TMS-007: None when no TMS line of the claim is dated before the minimum age)
    b = claim.patient.birth_date
    if b is None:
        return None
    floor = profile(claim, ctx).min_age
    for ln in claim.lines:
        d = ln.date_or_claim()
        if ln.procedure_code in TMS and d is not None and age_on(b, d) < floor:
            return _tms_009(claim, ctx)
    return None


def _tms_009(claim: Claim, ctx: Context) -> Iterator[Hit]:
    b = claim.patient.birth_date
    if b is None:
        return
    prof = profile(claim, ctx)
    for ln in claim.lines:
        d = ln.date_or_claim()
        if ln.procedure_code in TMS and d is not None and age_on(b, d) < prof.min_age:
            loop = claim.patient.loop
            dmg = loop.seg("DMG") if loop is not None else None
            yield coverage(ln, "TMS-009", f"the patient (born {fmt(b)}) is {age_on(b, d)} on {fmt(d)}, under the "
                           f"{prof.name} payer's minimum age of {prof.min_age} for TMS; check the birth date "
                           f"(DMG02) or the payer's coverage for minors",
                           seg=dmg, element="DMG02", line=ln, value=fmt(b))
            return
