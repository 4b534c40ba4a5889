"""Shared helpers that build synthetic X12 837P / 837I data.

Used by fixtures/make_fixtures.py and benchmarks/generate.py.  Everything here
is SYNTHETIC: invented people, member ids, payers and providers.  NPIs are
invented but carry a valid check digit (see :func:`npi`).

The building blocks write straight to a file-like object (``Writer``), so a
caller can stream an arbitrarily large transaction with flat memory.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import IO, Iterable, Sequence

__all__ = [
    "npi_check_digit", "npi", "is_valid_npi", "fmt_amount", "Delims", "Writer",
    "Provider", "Person", "Payer", "Line", "Claim",
    "write_isa", "write_iea", "write_gs", "write_ge", "write_st_header", "write_se",
    "write_billing_provider", "write_subscriber", "write_patient",
    "write_claim_837p", "write_claim_837i", "VERSION",
]

VERSION = {"837P": "005010X222A1", "837I": "005010X223A2"}


# --------------------------------------------------------------------------- NPI
def npi_check_digit(first9: str) -> str:
    """Luhn check digit of an NPI: Luhn over the prefix "80840" + the 9 digits."""
    if len(first9) != 9 or not first9.isdigit():
        raise ValueError("need exactly 9 digits")
    digits = [int(c) for c in "80840" + first9]
    total = 0
    # double every second digit starting from the rightmost of the payload
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def npi(first9: str) -> str:
    """A 10-digit NPI with a valid check digit."""
    return first9 + npi_check_digit(first9)


def is_valid_npi(value: str) -> bool:
    return len(value) == 10 and value.isdigit() and npi_check_digit(value[:9]) == value[9]


# ---------------------------------------------------------------- formatting
def fmt_amount(cents: int) -> str:
    """X12 'R' amount from integer cents: 35000 -> '350', 35050 -> '350.5'."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    whole, frac = divmod(cents, 100)
    if frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:02d}".rstrip("0")


def d8(d: _dt.date) -> str:
    return d.strftime("%Y%m%d")


@dataclass(frozen=True)
class Delims:
    seg: str = "~"
    ele: str = "*"
    comp: str = ":"
    rep: str = "^"
    suffix: str = "\n"  # written after each segment terminator ("" = one line)


class Writer:
    """Writes segments to a text stream and counts them for SE01."""

    def __init__(self, fh: IO[str], delims: Delims = Delims()):
        self.fh = fh
        self.d = delims
        self.st_count = 0  # segments since (and including) the current ST

    def seg(self, *elements) -> None:
        """Write one segment.  Elements may be str/int or a sequence (composite).

        Trailing empty elements are dropped, as X12 requires.
        """
        parts = []
        for e in elements:
            if e is None:
                parts.append("")
            elif isinstance(e, (list, tuple)):
                comp = [("" if c is None else str(c)) for c in e]
                while comp and comp[-1] == "":
                    comp.pop()
                parts.append(self.d.comp.join(comp))
            else:
                parts.append(str(e))
        while len(parts) > 1 and parts[-1] == "":
            parts.pop()
        self.fh.write(self.d.ele.join(parts) + self.d.seg + self.d.suffix)
        self.st_count += 1

    def raw(self, text: str) -> None:
        self.fh.write(text)


# ---------------------------------------------------------------- data model
@dataclass
class Provider:
    name: str                      # organisation name, or last name for a person
    npi: str
    taxonomy: str = ""
    first: str = ""                # person first name; empty -> organisation
    address: str = "100 SYNTHETIC WAY"
    city: str = "SPRINGFIELD"
    state: str = "IL"
    zip9: str = "627010001"
    ein: str = "990000001"

    @property
    def entity(self) -> str:
        return "1" if self.first else "2"


@dataclass
class Person:
    last: str
    first: str
    dob: _dt.date
    sex: str                       # F / M / U
    member_id: str = ""
    address: str = "12 EXAMPLE LANE"
    city: str = "SPRINGFIELD"
    state: str = "IL"
    zip: str = "62704"


@dataclass
class Payer:
    name: str
    payer_id: str
    filing: str = "CI"             # SBR09 claim filing indicator
    group: str = ""                # SBR03


@dataclass
class Line:
    code: str                      # CPT/HCPCS
    cents: int                     # charge
    date: _dt.date | None = None
    date_to: _dt.date | None = None  # RD8 end date when set
    units: str = "1"
    unit_basis: str = "UN"         # UN / MJ (837P), UN / DA (837I)
    modifiers: Sequence[str] = ()
    pointers: Sequence[int] = (1,)  # 837P SV107
    pos: str = ""                  # 837P SV105 (blank = same as claim)
    revenue: str = ""              # 837I SV201
    rate_cents: int | None = None  # 837I SV206 (room and board)


@dataclass
class Claim:
    clm_id: str
    lines: list
    dx: Sequence[str] = ("F332",)  # ICD-10-CM without the dot
    pos: str = "11"                # 837P: place of service; 837I: facility type code (2 digits)
    frequency: str = "1"
    rendering: Provider | None = None   # 837P 2310B / 837I 2310D
    facility: Provider | None = None    # 2310C (837P) / 2310E (837I) service facility
    prior_auth: str = ""
    # 837I
    attending: Provider | None = None
    statement: tuple | None = None      # (from, to)
    admission: _dt.datetime | None = None
    discharge_hour: str = ""
    cl1: tuple | None = None            # (admission type, source, patient status)
    admitting_dx: str = ""
    reason_dx: str = ""
    principal_pcs: tuple | None = None  # (code, date)
    other_pcs: Sequence[tuple] = ()     # [(code, date), ...]

    @property
    def total_cents(self) -> int:
        return sum(l.cents for l in self.lines)


# ---------------------------------------------------------------- envelopes
def write_isa(w: Writer, control: int, date: _dt.datetime, sender="EDI837SYNTH", receiver="SYNTHPAYER",
              usage="T") -> None:
    d = w.d
    isa = [
        "ISA", "00", " " * 10, "00", " " * 10,
        "ZZ", sender.ljust(15)[:15], "ZZ", receiver.ljust(15)[:15],
        date.strftime("%y%m%d"), date.strftime("%H%M"), d.rep, "00501",
        f"{control:09d}", "0", usage, d.comp,
    ]
    w.fh.write(d.ele.join(isa) + d.seg + d.suffix)


def write_iea(w: Writer, n_groups: int, control: int) -> None:
    w.seg("IEA", n_groups, f"{control:09d}")


def write_gs(w: Writer, control: int, date: _dt.datetime, kind: str, sender="EDI837SYNTH",
             receiver="SYNTHPAYER") -> None:
    w.seg("GS", "HC", sender, receiver, date.strftime("%Y%m%d"), date.strftime("%H%M"), control, "X",
          VERSION[kind])


def write_ge(w: Writer, n_sets: int, control: int) -> None:
    w.seg("GE", n_sets, control)


SUBMITTER = Provider("SYNTHETIC CLEARINGHOUSE", "SUB0001")
RECEIVER = Provider("SYNTHETIC HEALTH PLAN", "SYNPLAN01")


def write_st_header(w: Writer, kind: str, st_control: str, created: _dt.datetime, bht_ref: str,
                    submitter: Provider = SUBMITTER, receiver: Provider = RECEIVER) -> None:
    w.st_count = 0
    w.seg("ST", "837", st_control, VERSION[kind])
    w.seg("BHT", "0019", "00", bht_ref, created.strftime("%Y%m%d"), created.strftime("%H%M"), "CH")
    w.seg("NM1", "41", "2", submitter.name, "", "", "", "", "46", submitter.npi)
    w.seg("PER", "IC", "BILLING DESK", "TE", "2175550100")
    w.seg("NM1", "40", "2", receiver.name, "", "", "", "", "46", receiver.npi)


def write_se(w: Writer, st_control: str) -> None:
    w.seg("SE", w.st_count + 1, st_control)


# ---------------------------------------------------------------- loops
def _nm1_person_or_org(w: Writer, qual: str, p: Provider) -> None:
    if p.first:
        w.seg("NM1", qual, "1", p.name, p.first, "", "", "", "XX", p.npi)
    else:
        w.seg("NM1", qual, "2", p.name, "", "", "", "", "XX", p.npi)


def write_billing_provider(w: Writer, hl_id: int, prov: Provider) -> None:
    """2000A + 2010AA."""
    w.seg("HL", hl_id, "", "20", "1")
    if prov.taxonomy:
        w.seg("PRV", "BI", "PXC", prov.taxonomy)
    _nm1_person_or_org(w, "85", prov)
    w.seg("N3", prov.address)
    w.seg("N4", prov.city, prov.state, prov.zip9)
    w.seg("REF", "EI", prov.ein)


def write_subscriber(w: Writer, hl_id: int, parent: int, sub: Person, payer: Payer,
                     self_is_patient: bool) -> None:
    """2000B + 2010BA + 2010BB.  HL04=1 and SBR02 blank when a 2000C follows."""
    w.seg("HL", hl_id, parent, "22", "0" if self_is_patient else "1")
    w.seg("SBR", "P", "18" if self_is_patient else "", payer.group, "", "", "", "", "", payer.filing)
    w.seg("NM1", "IL", "1", sub.last, sub.first, "", "", "", "MI", sub.member_id)
    w.seg("N3", sub.address)
    w.seg("N4", sub.city, sub.state, sub.zip)
    if self_is_patient:
        w.seg("DMG", "D8", d8(sub.dob), sub.sex)
    w.seg("NM1", "PR", "2", payer.name, "", "", "", "", "PI", payer.payer_id)


def write_patient(w: Writer, hl_id: int, parent: int, pat: Person, relationship: str = "19") -> None:
    """2000C + 2010CA."""
    w.seg("HL", hl_id, parent, "23", "0")
    w.seg("PAT", relationship)
    w.seg("NM1", "QC", "1", pat.last, pat.first)
    w.seg("N3", pat.address)
    w.seg("N4", pat.city, pat.state, pat.zip)
    w.seg("DMG", "D8", d8(pat.dob), pat.sex)


def _dtp_date(line: Line):
    if line.date_to and line.date_to != line.date:
        return ("RD8", f"{d8(line.date)}-{d8(line.date_to)}")
    return ("D8", d8(line.date))


def write_claim_837p(w: Writer, c: Claim) -> None:
    """2300 + 2310B/C + 2400 of an 837P claim."""
    w.seg("CLM", c.clm_id, fmt_amount(c.total_cents), "", "", (c.pos, "B", c.frequency), "Y", "A", "Y", "Y")
    if c.prior_auth:
        w.seg("REF", "G1", c.prior_auth)
    hi = [("ABK" if i == 0 else "ABF", code) for i, code in enumerate(c.dx[:12])]
    w.seg("HI", *hi)
    if c.rendering:
        _nm1_person_or_org(w, "82", c.rendering)
        if c.rendering.taxonomy:
            w.seg("PRV", "PE", "PXC", c.rendering.taxonomy)
    if c.facility:
        _nm1_person_or_org(w, "77", c.facility)
        w.seg("N3", c.facility.address)
        w.seg("N4", c.facility.city, c.facility.state, c.facility.zip9)
    for n, line in enumerate(c.lines, 1):
        w.seg("LX", n)
        w.seg("SV1", ("HC", line.code, *line.modifiers), fmt_amount(line.cents), line.unit_basis, line.units,
              line.pos, "", tuple(str(p) for p in line.pointers))
        q, v = _dtp_date(line)
        w.seg("DTP", "472", q, v)


def write_claim_837i(w: Writer, c: Claim) -> None:
    """2300 + 2310A/D + 2400 of an 837I claim."""
    w.seg("CLM", c.clm_id, fmt_amount(c.total_cents), "", "", (c.pos, "A", c.frequency), "", "A", "Y", "Y")
    if c.discharge_hour:
        w.seg("DTP", "096", "TM", c.discharge_hour)
    if c.statement:
        w.seg("DTP", "434", "RD8", f"{d8(c.statement[0])}-{d8(c.statement[1])}")
    if c.admission:
        w.seg("DTP", "435", "DT", c.admission.strftime("%Y%m%d%H%M"))
    if c.cl1:
        w.seg("CL1", *c.cl1)
    if c.prior_auth:
        w.seg("REF", "G1", c.prior_auth)
    w.seg("HI", ("ABK", c.dx[0]))
    if c.admitting_dx:
        w.seg("HI", ("ABJ", c.admitting_dx))
    if c.reason_dx:
        w.seg("HI", ("APR", c.reason_dx))
    if len(c.dx) > 1:
        w.seg("HI", *[("ABF", code) for code in c.dx[1:13]])
    if c.principal_pcs:
        code, day = c.principal_pcs
        w.seg("HI", ("BBR", code, "D8", d8(day)))
    if c.other_pcs:
        w.seg("HI", *[("BBQ", code, "D8", d8(day)) for code, day in c.other_pcs[:12]])
    if c.attending:
        _nm1_person_or_org(w, "71", c.attending)
        if c.attending.taxonomy:
            w.seg("PRV", "AT", "PXC", c.attending.taxonomy)
    if c.rendering:
        _nm1_person_or_org(w, "82", c.rendering)
    for n, line in enumerate(c.lines, 1):
        w.seg("LX", n)
        proc = ("HC", line.code, *line.modifiers) if line.code else ""
        rate = fmt_amount(line.rate_cents) if line.rate_cents is not None else ""
        w.seg("SV2", line.revenue, proc, fmt_amount(line.cents), line.unit_basis, line.units, rate)
        if line.date:
            q, v = _dtp_date(line)
            w.seg("DTP", "472", q, v)


def write_claims(w: Writer, kind: str, claims: Iterable[Claim]) -> None:
    fn = write_claim_837p if kind == "837P" else write_claim_837i
    for c in claims:
        fn(w, c)


# ---------------------------------------------------------------- transactions
@dataclass
class SubscriberGroup:
    """One 2000B subscriber, optionally one 2000C patient, and its claims."""
    subscriber: Person
    payer: Payer
    claims: Sequence[Claim]
    patient: Person | None = None      # None -> subscriber is the patient (SBR02=18)
    relationship: str = "19"


def write_transaction(w: Writer, kind: str, st_control: str, created: _dt.datetime, bht_ref: str,
                      billing: Provider, groups: Iterable[SubscriberGroup]) -> None:
    """One ST..SE with a single 2000A billing provider.  ``groups`` may be a lazy iterator."""
    write_st_header(w, kind, st_control, created, bht_ref)
    write_billing_provider(w, 1, billing)
    hl = 1
    for g in groups:
        hl += 1
        sub_hl = hl
        write_subscriber(w, sub_hl, 1, g.subscriber, g.payer, self_is_patient=g.patient is None)
        if g.patient is not None:
            hl += 1
            write_patient(w, hl, sub_hl, g.patient, g.relationship)
        write_claims(w, kind, g.claims)
    write_se(w, st_control)


__all__ += ["SubscriberGroup", "write_transaction", "write_claims", "d8"]
