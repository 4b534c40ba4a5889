"""The claim view: claims and service lines read from the loops.

A :class:`Claim` is built from its 2300 loop and the loops that enclose it
(2000A billing provider, 2000B subscriber, 2000C patient) and the
transaction; every value keeps a way back to its segment for findings.
"""

from __future__ import annotations

import datetime as _dt
import re
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

import attrs

from ..grammar.loop import Loop
from ..reader.segment import Segment

if TYPE_CHECKING:  # pragma: no cover
    from .envelope import Transaction

# HI qualifiers by meaning (837P and 837I)
DX_PRINCIPAL = {"ABK", "BK"}
DX_OTHER = {"ABF", "BF"}
DX_ADMITTING = {"ABJ", "BJ"}
DX_REASON = {"APR", "PR"}
DX_EXTERNAL = {"ABN", "BN"}
DX_QUALIFIERS = DX_PRINCIPAL | DX_OTHER | DX_ADMITTING | DX_REASON | DX_EXTERNAL
DX_CODED = DX_PRINCIPAL | DX_OTHER  # what service lines point at (SV107)
PROC_QUALIFIERS = {"BBR", "BBQ", "BR", "BQ", "CAH"}
CONDITION = "BG"
OCCURRENCE = "BH"


# parsed values by their text: dates and amounts repeat across a file's claims, and both
# results are immutable; bounded (cleared when full), so memory stays flat
_DATES: dict[str, _dt.date | None] = {}
_DECIMALS: dict[str, Decimal | None] = {}
_MEMO_MAX = 8192


def parse_date(v: str) -> _dt.date | None:
    """A CCYYMMDD date of ASCII digits (``str.isdigit`` alone takes Unicode digits), else None."""
    try:
        return _DATES[v]
    except KeyError:
        pass
    d: _dt.date | None = None
    if len(v) == 8 and v.isascii() and v.isdigit():
        try:
            d = _dt.date(int(v[:4]), int(v[4:6]), int(v[6:]))
        except ValueError:
            d = None
    if len(_DATES) >= _MEMO_MAX:
        _DATES.clear()
    _DATES[v] = d
    return d


def parse_period(fmt: str, v: str) -> tuple[_dt.date | None, _dt.date | None]:
    """D8 or RD8 value as (from, to)."""
    if fmt == "RD8" or "-" in v:
        a, _, b = v.partition("-")
        return parse_date(a), parse_date(b)
    d = parse_date(v)
    return d, d


_R = re.compile(r"-?[0-9]*(\.[0-9]+)?", re.ASCII)
R_DIGITS = 18  # the most digits an X12 R (decimal) element may hold


def parse_decimal(v: str) -> Decimal | None:
    """An X12 R value (amounts, units) as a Decimal: ASCII digits, an optional
    sign and decimal point, at most 18 digits -- no exponent, no Unicode
    digits, so arithmetic on it is exact and bounded.  None for anything else
    (SNIP 1 reports the element)."""
    try:
        return _DECIMALS[v]
    except KeyError:
        pass
    d: Decimal | None = None
    # the pattern allows one leading '-' and one '.': the rest are the digits
    if v and v not in ("-", "-.") and v.isascii() and _R.fullmatch(v) and \
            len(v) - v.startswith("-") - ("." in v) <= R_DIGITS:
        try:
            d = Decimal(v)
        except InvalidOperation:
            d = None
    if len(_DECIMALS) >= _MEMO_MAX:
        _DECIMALS.clear()
    _DECIMALS[v] = d
    return d


def _fmt_date(d: _dt.date | None) -> str | None:
    return d.isoformat() if d else None


@attrs.define(slots=True, eq=False)
class Person:
    last_name: str = ""
    first_name: str = ""
    member_id: str = ""
    birth_date: _dt.date | None = None
    gender: str = ""
    loop: Loop | None = None


@attrs.define(slots=True, eq=False)
class Provider:
    role: str  # billing, rendering, attending, operating, referring, ...
    name: str = ""
    npi: str = ""
    taxonomy: str = ""
    entity_type: str = ""  # NM102: 1 person, 2 organization
    loop: Loop | None = None
    npi_segment: Segment | None = None
    taxonomy_segment: Segment | None = None


@attrs.define(slots=True, eq=False)
class Diagnosis:
    qualifier: str  # ABK, ABF, BK, ABJ, ...
    code: str
    position: int  # 1-based position among the claim's diagnoses (SV107 pointers)
    segment: Segment | None = None
    element: str = ""  # e.g. "HI01-2"
    poa: str = ""  # present on admission indicator (837I HI0x-9)

    @property
    def icd10(self) -> bool:
        return self.qualifier.startswith("A")


@attrs.define(slots=True, eq=False)
class CodeEntry:
    """A code from an HI segment: condition, occurrence or ICD procedure code."""

    qualifier: str
    code: str
    date: _dt.date | None = None
    date_end: _dt.date | None = None
    segment: Segment | None = None
    element: str = ""


# Where each service-line field is read from, by claim kind (837I, else 837P):
# the element a finding about the field names (ServiceLine.source).
LINE_SOURCES: dict[str, dict[str, str]] = {
    "837P": {"procedure_code": "SV101-2", "modifiers": "SV101-3", "charge": "SV102", "unit_basis": "SV103",
             "units": "SV104", "place_of_service": "SV105", "diagnoses": "SV107-1"},
    "837I": {"revenue_code": "SV201", "procedure_code": "SV202-2", "modifiers": "SV202-3", "charge": "SV203",
             "unit_basis": "SV204", "units": "SV205", "diagnoses": "HI01-2"},
}


@attrs.define(slots=True, eq=False)
class ServiceLine:
    claim: "Claim"
    loop: Loop
    line_number: str = ""  # LX01
    procedure_qualifier: str = ""
    procedure_code: str = ""
    modifiers: list[str] = attrs.field(factory=list)
    charge: Decimal | None = None
    unit_basis: str = ""
    units: Decimal | None = None
    place_of_service: str = ""
    revenue_code: str = ""
    service_date: _dt.date | None = None
    service_date_end: _dt.date | None = None
    diagnosis_pointers: list[int] = attrs.field(factory=list)
    rendering: Provider | None = None
    prior_auth: list[str] = attrs.field(factory=list)
    service: Segment | None = None  # SV1 or SV2

    @property
    def diagnoses(self) -> list[Diagnosis]:
        """Diagnoses this line points to (837P) or the claim's (837I)."""
        c = self.claim
        if c.kind == "837I" or not self.service or self.service.fields[0] != "SV1":
            return [d for d in c.diagnoses if d.qualifier in DX_CODED]
        if not self.diagnosis_pointers:
            return []
        by_pos = c.coded_by_position()
        return [by_pos[p] for p in self.diagnosis_pointers if p in by_pos]

    @property
    def diagnosis_codes(self) -> list[str]:
        return [d.code for d in self.diagnoses]

    @property
    def rendering_npi(self) -> str:
        return self.rendering.npi if self.rendering else ""

    @property
    def rendering_taxonomy(self) -> str:
        return self.rendering.taxonomy if self.rendering else ""

    @property
    def dates(self) -> tuple[_dt.date | None, _dt.date | None]:
        return self.service_date, self.service_date_end

    def date_or_claim(self) -> _dt.date | None:
        """Service date, else the claim's statement from-date (837I)."""
        return self.service_date or self.claim.statement_from

    def source(self, field: str) -> str:
        """The element ``field`` of this line is read from (``LINE_SOURCES``):
        ``source("procedure_code")`` is SV101-2 on an 837P line, SV202-2 on an
        837I line.  ``place_of_service`` (837P) is SV105, or CLM05-1 when the
        line has no SV105."""
        el = LINE_SOURCES["837I" if self.claim.kind == "837I" else "837P"][field]
        if field == "place_of_service" and not (self.service is not None and self.service[5]):
            return "CLM05-1"
        return el


@attrs.define(slots=True, eq=False)
class Claim:
    """One claim (2300 loop) with what encloses it."""

    loop: Loop
    kind: str | None = None
    seq: int = 0  # 1-based ordinal of the claim in its file
    file: str | None = None
    transaction: "Transaction | None" = None
    billing_loop: Loop | None = None  # 2000A
    subscriber_loop: Loop | None = None  # 2000B
    patient_loop: Loop | None = None  # 2000C
    claim_id: str = ""
    charge: Decimal | None = None
    facility_code: str = ""  # CLM05-1: place of service (837P) or facility type (837I)
    facility_qualifier: str = ""  # CLM05-2: B (837P) or A (837I)
    frequency: str = ""  # CLM05-3
    patient: Person = attrs.field(factory=Person)
    subscriber: Person = attrs.field(factory=Person)
    payer_id: str = ""
    payer_name: str = ""
    providers: dict[str, Provider] = attrs.field(factory=dict)
    diagnoses: list[Diagnosis] = attrs.field(factory=list)
    condition_codes: list[CodeEntry] = attrs.field(factory=list)
    occurrence_codes: list[CodeEntry] = attrs.field(factory=list)
    procedures: list[CodeEntry] = attrs.field(factory=list)
    prior_auth: list[str] = attrs.field(factory=list)
    statement_from: _dt.date | None = None
    statement_to: _dt.date | None = None
    admission_date: _dt.date | None = None
    lines: list[ServiceLine] = attrs.field(factory=list)
    # more service lines than the guide allows + 1: the segments past them, which the claim leaves
    # out (grammar.stream.Structurer), as (first byte offset, end byte offset or None, how many)
    overflow: tuple[int, int | None, int] | None = None
    # coded_by_position's table, with the diagnoses list and its length it was made of
    _dx_table: "tuple[list[Diagnosis], int, dict[int, Diagnosis]] | None" = attrs.field(
        default=None, init=False, repr=False)

    def coded_by_position(self) -> dict[int, Diagnosis]:
        """The claim's coded diagnoses (principal and other: what SV107 points at) by position, made
        once per claim (its service lines each ask); made again if ``diagnoses`` was replaced or
        grew.  For reading only."""
        t = self._dx_table
        dx = self.diagnoses
        if t is not None and t[0] is dx and t[1] == len(dx):
            return t[2]
        by_pos = {d.position: d for d in dx if d.qualifier in DX_CODED}
        self._dx_table = (dx, len(dx), by_pos)
        return by_pos

    def unlink(self) -> None:
        """Break the claim's reference cycle (its service lines' links back to it), so that
        it is freed as soon as it is no longer used rather than by the cyclic garbage
        collector, after it has aged into the oldest generation (a run that keeps each claim
        for a while would otherwise spend a third of its time there).  Its loops form no
        cycle (a loop holds its parent weakly).  For the claim's last user: the claim has
        no lines afterwards."""
        self.lines = []

    @property
    def clm(self) -> Segment:
        return self.loop.segments[0]

    @property
    def place_of_service(self) -> str:
        return self.facility_code if self.kind != "837I" else ""

    @property
    def bill_type(self) -> str:
        """Type of bill (837I): facility type code + frequency, e.g. '111'."""
        if self.kind != "837I" or not self.facility_code:
            return ""
        return self.facility_code + self.frequency

    @property
    def patient_is_subscriber(self) -> bool:
        return self.patient_loop is None

    @property
    def patient_key(self) -> tuple[str, ...]:
        """Identifies the patient across claims and files: payer, member id, and
        the 2010CA name and birth date when the patient is a dependent."""
        key: tuple[str, ...] = (self.payer_id, self.subscriber.member_id)
        if self.patient_loop is not None:
            p = self.patient
            key += (p.last_name.upper(), p.first_name.upper(), _fmt_date(p.birth_date) or "")
        return key

    @property
    def billing(self) -> Provider | None:
        return self.providers.get("billing")

    @property
    def rendering(self) -> Provider | None:
        return self.providers.get("rendering")

    @property
    def principal_diagnosis(self) -> Diagnosis | None:
        for d in self.diagnoses:
            if d.qualifier in DX_PRINCIPAL:
                return d
        return None

    @property
    def control(self) -> tuple[str, str, str]:
        """(ISA13, GS06, ST02) of the enclosing envelope."""
        t = self.transaction
        g = t.group if t else None
        i = g.interchange if g else None
        return (i.control_number if i else "", g.control_number if g else "",
                t.control_number if t else "")


# -- building -------------------------------------------------------------

def _person(loop: Loop | None) -> Person:
    if loop is None:
        return Person()
    nm1 = loop.segments[0] if loop.segments else None
    dmg = loop.seg("DMG")
    return Person(
        last_name=nm1[3] if nm1 else "", first_name=nm1[4] if nm1 else "",
        member_id=nm1[9] if nm1 else "",
        birth_date=parse_date(dmg[2]) if dmg else None, gender=dmg[3] if dmg else "",
        loop=loop)


def _provider(role: str, loop: Loop | None, prv_loop: Loop | None = None) -> Provider | None:
    if loop is None:
        return None
    nm1 = loop.segments[0]
    f = nm1.fields  # (nm1[i] without the calls: "" past its last element)
    if len(f) < 10:
        f = f + [""] * (10 - len(f))
    last, first = f[3], f[4]
    # a person: "first last", or whichever of the two is given
    name = last if f[2] == "2" else f"{first} {last}" if first and last else first or last
    prv = None
    for s in (prv_loop or loop).segments:  # (.seg("PRV"), inline)
        if s.fields[0] == "PRV":
            prv = s
            break
    # (role, name, npi, taxonomy, entity_type, loop, npi_segment: positional, see build_claim)
    p = Provider(role, name, f[9] if f[8] == "XX" else "", "", f[2], loop, nm1)
    if prv is not None:
        pf = prv.fields
        if len(pf) > 2 and pf[2] == "PXC":
            p.taxonomy = pf[3] if len(pf) > 3 else ""
            p.taxonomy_segment = prv
    return p


PROVIDER_LOOPS = {
    "837P": {"2310A": "referring", "2310B": "rendering", "2310C": "service_facility",
             "2310D": "supervising", "2310E": "ambulance_pickup", "2310F": "ambulance_dropoff"},
    "837I": {"2310A": "attending", "2310B": "operating", "2310C": "other_operating",
             "2310D": "rendering", "2310E": "service_facility", "2310F": "referring"},
}
LINE_RENDERING = {"837P": "2420A", "837I": "2420C"}


# (subscriber, patient, payer id, payer name, billing provider)
_EnclosingValues = tuple[Person, Person, str, str, Provider | None]


class Enclosing:
    """What a claim takes from the HL loops enclosing it (subscriber, patient,
    payer, billing provider), read once per HL and shared by its claims."""

    __slots__ = ("billing", "subscriber", "patient", "kind", "values")

    def __init__(self) -> None:
        self.billing: Loop | None = None
        self.subscriber: Loop | None = None
        self.patient: Loop | None = None
        self.kind: str | None = None
        self.values: _EnclosingValues | tuple[()] = ()

    def get(self, kind: str | None, billing: Loop | None, subscriber: Loop | None,
            patient: Loop | None) -> _EnclosingValues:
        # identity of the live loops (kept referenced here, so never a reused id)
        if (billing is self.billing and subscriber is self.subscriber and patient is self.patient
                and kind == self.kind and self.values):
            return self.values
        sub = _person(subscriber.child("2010BA") if subscriber is not None else None)
        pat = _person(patient.child("2010CA")) if patient is not None else sub
        payer = subscriber.child("2010BB") if subscriber is not None else None
        payer_id = payer.segments[0][9] if payer is not None else ""
        payer_name = payer.segments[0][3] if payer is not None else ""
        bp = _provider("billing", billing.child("2010AA"), billing) if billing is not None else None
        self.billing, self.subscriber, self.patient, self.kind = billing, subscriber, patient, kind
        self.values = (sub, pat, payer_id, payer_name, bp)
        return self.values


def build_claim(loop: Loop, kind: str | None, seq: int, file: str | None, transaction: Transaction | None,
                billing: Loop | None, subscriber: Loop | None, patient: Loop | None,
                enclosing: Enclosing | None = None) -> Claim:
    """The claim view of a 2300 loop.  ``enclosing`` (one per stream) reuses
    what was read from the same HL loops for the previous claim."""
    clm = loop.segments[0]
    c5 = clm.components(5)
    n5 = len(c5)
    cf = clm.fields
    sub, pat, payer_id, payer_name, bp = (enclosing or Enclosing()).get(kind, billing, subscriber, patient)
    # Claim's fields in their order, up to payer_name (positional: a class called with keywords
    # builds a dict of them and unpacks it again, per claim; given, the two Persons are not made)
    c = Claim(loop, kind, seq, file, transaction, billing, subscriber, patient,
              cf[1] if len(cf) > 1 else "", parse_decimal(cf[2] if len(cf) > 2 else ""),  # claim_id, charge
              c5[0] if n5 else "", c5[1] if n5 > 1 else "", c5[2] if n5 > 2 else "",  # CLM05-1, -2, -3
              pat, sub, payer_id, payer_name)
    providers = c.providers
    if bp is not None:
        providers["billing"] = bp
    roles = PROVIDER_LOOPS.get(kind or "837P", {})
    lx_loops = []
    for ch in loop.children:
        cid = ch.id
        if cid == "2400":
            lx_loops.append(ch)
            continue
        role = roles.get(cid or "")
        if role and role not in providers:
            p = _provider(role, ch)
            if p is not None:
                providers[role] = p
    # HI: diagnoses, condition / occurrence codes, ICD procedures; REF*G1; DTP
    pos = 0
    for s in loop.segments:
        f = s.fields
        sid = f[0]
        if sid == "HI":
            d = s.delims
            rep, sep = d.repetition, d.component
            for i in range(1, len(f)):
                v = f[i]  # (s.components(i), inline)
                if not v:
                    continue
                if rep and rep in v:
                    v = v.split(rep, 1)[0]
                comps = v.split(sep)
                if not comps[0]:
                    continue
                q = comps[0]
                code = comps[1] if len(comps) > 1 else ""
                el = f"HI{i:02d}-2"
                if q in DX_QUALIFIERS:
                    pos += 1
                    c.diagnoses.append(Diagnosis(q, code, pos, s, el, comps[8] if len(comps) > 8 else ""))
                elif q == CONDITION:
                    c.condition_codes.append(CodeEntry(q, code, None, None, s, el))
                elif q == OCCURRENCE:
                    d1, d2 = parse_period(comps[2], comps[3]) if len(comps) > 3 else (None, None)
                    c.occurrence_codes.append(CodeEntry(q, code, d1, d2, s, el))
                elif q in PROC_QUALIFIERS:
                    d1, d2 = parse_period(comps[2], comps[3]) if len(comps) > 3 else (None, None)
                    c.procedures.append(CodeEntry(q, code, d1, d2, s, el))
        elif sid == "REF":  # (s[1], s[2] ... without the calls)
            if len(f) > 1 and f[1] == "G1":
                c.prior_auth.append(f[2] if len(f) > 2 else "")
        elif sid == "DTP":
            q = f[1] if len(f) > 1 else ""
            if q == "434":
                c.statement_from, c.statement_to = parse_period(f[2] if len(f) > 2 else "",
                                                                f[3] if len(f) > 3 else "")
            elif q == "435":
                c.admission_date = parse_date(f[3][:8] if len(f) > 3 else "")
    # service lines
    if lx_loops:
        line_rendering_id = LINE_RENDERING.get(kind or "837P", "2420A")
        claim_rendering = _with_taxonomy(providers.get("rendering") or providers.get("billing"), c)
        c.lines = [_line(c, lx, line_rendering_id, claim_rendering) for lx in lx_loops]
    return c


def _with_taxonomy(p: Provider | None, c: Claim) -> Provider | None:
    """The rendering provider with its taxonomy: its own PRV, else the claim's
    rendering provider's, else the billing provider's (2000A PRV*BI)."""
    if p is None or p.taxonomy:
        return p
    for cand in (c.providers.get("rendering"), c.providers.get("billing")):
        if cand is not None and cand.taxonomy:
            return attrs.evolve(p, taxonomy=cand.taxonomy, taxonomy_segment=cand.taxonomy_segment)
    return p


def _line(c: Claim, lp: Loop, rend_id: str, claim_rendering: Provider | None) -> ServiceLine:
    segs = lp.segments
    f0 = segs[0].fields
    ln = ServiceLine(c, lp, f0[1] if len(f0) > 1 else "")  # (claim, loop, line_number: positional, see build_claim)
    sv = None
    for s in segs:
        f = s.fields
        sid = f[0]
        if sid == "SV1" or sid == "SV2":
            if sv is None:
                sv = s
        elif sid == "DTP":
            if ln.service_date is None and len(f) > 1 and f[1] == "472":
                # (s[2], s[3] without the calls)
                ln.service_date, ln.service_date_end = parse_period(f[2] if len(f) > 2 else "",
                                                                    f[3] if len(f) > 3 else "")
        elif sid == "REF":
            if len(f) > 1 and f[1] == "G1":
                ln.prior_auth.append(f[2] if len(f) > 2 else "")
    ln.service = sv
    if sv is not None:
        f = sv.fields + [""] * (8 - len(sv.fields)) if len(sv.fields) < 8 else sv.fields
        is_sv1 = f[0] == "SV1"
        comps = sv.components(1 if is_sv1 else 2)
        ln.procedure_qualifier = comps[0] if comps else ""
        ln.procedure_code = comps[1] if len(comps) > 1 else ""
        if len(comps) > 2:
            ln.modifiers = [m for m in comps[2:6] if m]
        if is_sv1:
            ln.charge = parse_decimal(f[2])
            ln.unit_basis = f[3]
            ln.units = parse_decimal(f[4])
            ln.place_of_service = f[5] or c.facility_code
            v7 = f[7]
            if v7:
                d = sv.delims
                if d.component not in v7 and not (d.repetition and d.repetition in v7):
                    # one pointer (the usual case): sv.components(7) is [v7]
                    ln.diagnosis_pointers = [int(v7)] if v7.isascii() and v7.isdigit() else []
                else:
                    ln.diagnosis_pointers = [int(p) for p in sv.components(7) if p.isascii() and p.isdigit()]
        else:
            ln.revenue_code = f[1]
            ln.charge = parse_decimal(f[3])
            ln.unit_basis = f[4]
            ln.units = parse_decimal(f[5])
    else:
        ln.place_of_service = c.place_of_service
    rl = lp.child(rend_id) if lp.children else None
    ln.rendering = _with_taxonomy(_provider("rendering", rl), c) if rl is not None else claim_rendering
    return ln
