"""Payer, unit, place-of-service and authorization edits: EM-001, MUE-001,
TEL-001, POS-001, PA-001, PA-002."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from ...model.claims import ServiceLine
from ..registry import Hit
from .claim_facts import _FAC, fmt, line_seg
from .codes import CODES, ECT, EM, NEURO, TMS, T
from .declare import coverage, erule, say
from .run_state import profile, state, view

if TYPE_CHECKING:
    from ..engine import Context
    from .profiles import Profile
    from .run_state import RunState

EVAL = frozenset(CODES["psych_eval"])
ANES = CODES["ect_anesthesia"]
MUE_CODES = NEURO | {ANES}
EM_ANY = EM | EVAL | NEURO


@erule("EM-001", "error", "same-day E/M with TMS or ECT needs modifier 25",
       citation="AAPC Psychiatry Coding Alert (\"90870 along with E/M codes\", CCI); S1 and S0 for TMS. The "
                "TMS-E/M PTP pair is unverified. E/M families: tables.toml [em] (99202-99215, 99221-99239, "
                "99242-99255, 99281-99285, 99304-99316, 99341-99350).",
       short="AAPC Psychiatry Coding Alert (CCI); S0; S1",
       reads=("SV101-2", "SV101-3..6", "DTP*472", "2420A NM109", "2310B NM109"), scope="line",
       applies_to=("837P",), cross_claim=True, group="em", codes=EM_ANY)
def em_001(ln: ServiceLine, ctx: Context) -> Iterator[Hit] | None:
    # (a plain function that returns None where the generator below finds nothing without
    # looking, the finding left to it, which checks again from the start)
    code = ln.procedure_code
    if code in NEURO:
        st: RunState | None = ctx.pack_states.get("editpack")  # (state(ctx), written out)
        if (st if st is not None else state(ctx)).history is None:
            return None
    elif code in EM and "25" in ln.modifiers:  # (an E/M with modifier 25 that is no evaluation code)
        if code not in EVAL:
            return None
    return _em_001(ln, ctx)


def _em_001(ln: ServiceLine, ctx: Context) -> Iterator[Hit]:
    code = ln.procedure_code
    d = ln.date_or_claim()
    if d is None:
        return
    if code in NEURO and state(ctx).history is None:
        # a TMS or ECT line looks only for E/M lines of the history store (uid 0, below): a run
        # without one has none, so the patient's events of the day are not gathered for it
        # (NEURO, EM and EVAL are disjoint: the E/M and evaluation branches never apply here)
        return
    npi = ln.rendering_npi
    cv = view(ctx, ln.claim)
    pool = cv.on_date(ln, d, "all")
    if code in EM and "25" not in ln.modifiers:
        for e in pool:
            if e.code in NEURO and e.npi == npi:
                yield Hit(say("EM-001", f"E/M {code} on {fmt(d)} by NPI {npi} has no modifier 25 although the "
                              f"same provider bills {e.code} that day; if the E/M is separately identifiable, add "
                              f"modifier 25 to the {code} line, else remove the line"),
                          seg=line_seg(ln), element=ln.source("modifiers"), line=ln, value=code)
                return
    if code in EVAL:
        for e in pool:
            if e.code in TMS:
                yield Hit(say("EM-001", f"psychiatric evaluation {code} on {fmt(d)}, a TMS day ({e.code}); "
                              f"check that it is separately identifiable"),
                          seg=line_seg(ln), element=ln.source("procedure_code"), line=ln, severity="warning",
                          value=code)
                return
    if code in NEURO:
        # an E/M without -25 of an earlier run (the history store: uid 0) went out already, so
        # say it here; one of this run is rejected on its own line (above)
        mine = cv.mine
        for e in pool:
            if not e.uid and id(e) not in mine and e.code in EM and "25" not in e.modifiers and e.npi == npi:
                yield Hit(say("EM-001", f"{code} on {fmt(d)} by NPI {npi}: the same provider's E/M {e.code} "
                              f"that day (claim {e.claim_id}) has no modifier 25; correct claim {e.claim_id}: add modifier "
                              f"25 to its {e.code} line if the E/M is separately identifiable, else remove it"),
                          seg=line_seg(ln), element=ln.source("procedure_code"), line=ln, value=code)
                return


def _limit_of(st: RunState, prof: Profile, kind: str | None, code: str) -> tuple[int, int, str] | None:
    """(limit, mai, source) for the code, or None (MUE-001 keeps it per profile, claim kind and code)."""
    if st.mue is not None:
        table = st.mue.get("practitioner" if kind != "837I" else "facility", {})
        e = table.get(code)
        if e is not None:
            return e.value, e.mai, f"CMS MUE {e.table} table (MAI {e.mai}{', ' + e.rationale if e.rationale else ''})"
    lim = prof.units_per_day.get(code)
    if lim is None:
        return None
    return lim, 2, f"{prof.name} profile per-day unit limit ({T()['units_per_day']['source']})"


@erule("MUE-001", "error", "units per date for 90867, 90868, 90869, 90870 and 00104",
       citation="CMS MUE program (MAI definitions per First Coast, Palmetto and NGS). The actual MUE values "
                "are unverified; load the quarterly CMS files.", short="CMS MUE program",
       reads=("SV101-2", "SV202-2", "SV104", "SV205", "DTP*472"), scope="line", cross_claim=True,
       group="mue", codes=MUE_CODES)
def mue_001(ln: ServiceLine, ctx: Context) -> list[Hit] | None:
    # (a plain function, on every TMS, ECT and ECT anesthesia line: None or the one finding;
    # facility_is, date_or_claim and units written out)
    c = ln.claim
    if c.kind == "837I" and c.facility_code == _FAC["inpatient_facility_type"]:
        return None
    d = ln.service_date or c.statement_from
    if d is None or (ln.service_date_end and ln.service_date_end != ln.service_date):
        return None
    cv = view(ctx, c)
    code = ln.procedure_code
    st = cv.st
    mk = (cv.profile, c.kind != "837I", code)  # (_limit, written out)
    try:
        lim = st.limits[mk]
    except KeyError:
        lim = st.limits[mk] = _limit_of(st, cv.profile, c.kind, code)
    if lim is None:
        return None
    value, mai, src = lim
    n = cv.events[c.lines.index(ln)].units  # (units(ln): the line's event holds it)
    if mai in (2, 3):
        npi = ln.rendering_npi
        more: float = 0  # (summed apart, then added: as sum() did)
        for e in cv.on_date(ln, d):
            if e.code == code and e.npi == npi and not (e.date_end and e.date_end != e.date):
                more += e.units
        n += more
    if n > value:
        scope = "on this line" if mai == 1 else "for this patient, provider and date across lines and claims"
        return [Hit(say("MUE-001", f"{code} on {fmt(d)} totals {n:g} units {scope}, more than the limit of "
                        f"{value} ({src})"), seg=line_seg(ln), element=ln.source("units"), line=ln,
                    value=f"{n:g}")]
    return None


@erule("TEL-001", "error", "no telehealth for TMS or ECT",
       citation="S1; CR 12427 / Transmittal 11045 (POS 02 revised, POS 10 new, effective 2022-01-01); "
                "telehealth modifier definitions from Novitas and First Coast (95 audio-video; 93 audio-only; "
                "FQ audio-only for RHC/FQHC; GT CAH Method II; GQ asynchronous AK/HI demo).",
       short="S1; CMS CR 12427", reads=("SV105", "CLM05-1", "SV101-3..6", "SV202-3..6"), scope="line",
       group="telehealth", codes=MUE_CODES)
def tel_001(ln: ServiceLine, ctx: Context) -> Iterator[Hit] | None:
    tab = T()["telehealth"]
    # (as PA-001: None without a telehealth place of service or modifier)
    if (ln.place_of_service if ln.claim.kind != "837I" else "") in tab["pos"]:
        return _tel_001(ln, ctx)
    tele = tab["modifiers"]
    for m in ln.modifiers:  # (any(...), written out: on every TMS, ECT and anesthesia line)
        if m in tele:
            return _tel_001(ln, ctx)
    return None


def _tel_001(ln: ServiceLine, ctx: Context) -> Iterator[Hit]:
    tab = T()["telehealth"]
    mods = [m for m in ln.modifiers if m in tab["modifiers"]]
    pos = ln.place_of_service if ln.claim.kind != "837I" else ""
    if pos in tab["pos"] or mods:
        what = []
        if pos in tab["pos"]:
            what.append(f"telehealth place of service {pos}")
        if mods:
            what.append(f"telehealth modifier {', '.join(mods)}")
        src = ln.source("modifiers") if mods else ln.source("place_of_service")
        fix = []
        if pos in tab["pos"]:
            fix.append(f"set {ln.source('place_of_service')} to the place where the patient was treated")
        if mods:
            fix.append(f"remove modifier {', '.join(mods)}")
        yield Hit(say("TEL-001", f"{ln.procedure_code} is billed with {' and '.join(what)}; TMS, ECT and its "
                      f"anesthesia cannot be delivered by telehealth: {' and '.join(fix)}"),
                  seg=line_seg(ln) if src != "CLM05-1" else ln.claim.clm, element=src, line=ln)


@erule("POS-001", "warning", "line POS versus claim POS consistency for neuromodulation",
       citation="the CMS POS code set (51 IPF, 52 PHP, 49 Independent Clinic definitions, as republished); "
                "AAPC (use POS 52 for PHP patients).", short="CMS POS code set; AAPC",
       reads=("CLM05-1", "SV105"), scope="line", applies_to=("837P",), group="pos", codes=(ECT,))
def pos_001(ln: ServiceLine, ctx: Context) -> Iterator[Hit]:
    pos = ln.place_of_service
    ok = T()["pos"]["ect_ok"]
    if pos in ok:
        return
    src = ln.source("place_of_service")
    note = " (Office); ECT is a hospital-based procedure" if pos == "11" else ""
    yield Hit(say("POS-001", f"90870 with place of service {pos or '(none)'} from {src}{note}; ECT professional "
                  f"POS should be one of {', '.join(ok)}"),
              seg=line_seg(ln) if src == "SV105" else ln.claim.clm, element=src, line=ln, value=pos)


@erule("PA-001", "error", "prior authorization number present when the payer requires it",
       citation="S1; NY Medicaid notices (Healthfirst/MetroPlus/Optum Provider Express).",
       short="S1; NY Medicaid notices", reads=("2010BB NM109", "SV101-2", "DTP*472", "2300 REF*G1", "2400 REF*G1"),
       scope="line", group="payer")
def pa_001(ln: ServiceLine, ctx: Context) -> Iterator[Hit] | None:
    # (on every line: a plain function that returns None when the payer asks for no authorization,
    # the finding left to the generator below, which checks again from the start)
    if not profile(ln.claim, ctx).prior_auth:
        return None
    return _pa_001(ln, ctx)


def _pa_001(ln: ServiceLine, ctx: Context) -> Iterator[Hit]:
    c = ln.claim
    prof = profile(c, ctx)
    if not prof.prior_auth:
        return
    req = prof.pa_requirement(ln.procedure_code, ln.date_or_claim())
    if req is None or c.prior_auth or ln.prior_auth:
        return
    yield coverage(ln, "PA-001", f"{ln.procedure_code} on {fmt(ln.date_or_claim())} to {prof.name} requires a "
                   f"prior authorization number from {fmt(req.get('from'))} ({req.get('source', '')}); add the "
                   f"authorization number as REF*G1 (2300, or 2400 on this line)",
                   seg=line_seg(ln), element="REF*G1", line=ln)


@erule("PA-002", "warning", "payer coverage start dates",
       citation="NY Medicaid notices; S1 (DHCS July 2024); 247medicalbilling (August 1, 2024).",
       short="NY Medicaid notices; S1", reads=("2010BB NM109", "SV101-2", "DTP*472"), scope="line",
       group="payer")
def pa_002(ln: ServiceLine, ctx: Context) -> Iterator[Hit] | None:
    if not profile(ln.claim, ctx).coverage_start:  # (as PA-001: None when the profile has no start date)
        return None
    return _pa_002(ln, ctx)


def _pa_002(ln: ServiceLine, ctx: Context) -> Iterator[Hit]:
    cs = profile(ln.claim, ctx).coverage_start
    d = ln.date_or_claim()
    if not cs or d is None or ln.procedure_code not in cs.get("codes", TMS):
        return
    if d < cs["date"]:
        yield coverage(ln, "PA-002", f"{ln.procedure_code} on {fmt(d)} precedes {profile(ln.claim, ctx).name}'s "
                       f"TMS coverage start {fmt(cs['date'])} ({cs.get('source', '')}); check the date of "
                       f"service, or bill the patient or another payer for sessions before that date",
                       seg=line_seg(ln), element="DTP03", line=ln)
