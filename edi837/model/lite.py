"""A claim sent between processes as plain values, for the cross-claim rules alone.

``validate --jobs N`` on one file (edi837/parallel.py) runs the cross-claim rules in the
parent process on every claim of the file, while workers read and check their own
transactions.  Rather than read and build the workers' claims again, the parent takes each
from its worker as a :func:`record` (tuples, strings, numbers, dates: what pickle writes and
reads at C speed) and makes a :class:`LiteClaim` of it (:func:`from_record`).

A :class:`LiteClaim` is a :class:`Claim` with every value of the claim, its lines, providers,
persons, diagnoses and codes, and the segments those point at (the CLM, each line's LX and
SV1/SV2, the NM1/PRV of providers, the HI of codes, with their places in the file), but
without its loops or envelope: what is read from those is computed by the worker and given
here (the claim's key, control numbers, patient key, SBR09, the payer's N402, and the HL01
of its HL loops for the gate).  Its loop and envelope attributes raise :class:`LiteClaimError` when read, so
that a rule that reads more than a record holds fails loudly instead of reading nothing.
"""

from __future__ import annotations

from typing import Any, cast

import attrs

from ..grammar.loop import Loop
from ..reader.segment import Segment
from .claims import Claim, CodeEntry, Diagnosis, Person, Provider, ServiceLine


class LiteClaimError(AttributeError):
    """A LiteClaim was asked for what a record does not hold."""


class _Absent:
    """Stands for a loop or an envelope a LiteClaim does not have: reading any of its
    attributes raises."""

    __slots__ = ("what",)

    def __init__(self, what: str):
        self.what = what

    def __getattr__(self, name: str) -> Any:
        raise LiteClaimError(f"a claim sent from a worker process has no {self.what} ({name} was asked for)")

    def __bool__(self) -> bool:
        raise LiteClaimError(f"a claim sent from a worker process has no {self.what}")


_NO_CLAIM_LOOP = cast(Loop, _Absent("2300 loop"))
_NO_HL_LOOP = cast(Loop, _Absent("HL loop"))
_NO_TRANSACTION = cast(Any, _Absent("transaction"))
_NO_NAME_LOOP = cast(Loop, _Absent("name loop"))


class _LineLoop:
    """A service line's 2400 loop as a LiteClaim holds it: its id and its first segment (the
    LX) alone; reading anything else raises."""

    __slots__ = ("id", "segments")

    def __init__(self, id: str | None, segments: list[Segment]):
        self.id = id
        self.segments = segments

    def __getattr__(self, name: str) -> Any:
        raise LiteClaimError(f"a claim sent from a worker process has only the LX of a 2400 loop ({name} was "
                             f"asked for)")


@attrs.define(slots=True, eq=False)
class LiteClaim(Claim):
    """A claim made from a :func:`record`: see the module doc.  What the rules read from its
    loops and envelope, computed by the worker: ``sent_clm``, ``sent_control`` and
    ``sent_patient_key`` (for :attr:`clm`, :attr:`control`, :attr:`patient_key`), the claim's
    key (``claim_key``, for claim_facts.claim_key), SBR09 and the payer's N402 (profiles) and
    the HL01 of its billing, subscriber and patient HL loops (``hl_chain``, for the gate)."""

    sent_clm: Segment | None = None
    sent_control: tuple[str, str, str] = ("", "", "")
    sent_patient_key: tuple[str, ...] = ()
    claim_key: tuple[str, ...] = ()
    filing_indicator: str = ""
    payer_state: str = ""
    hl_chain: tuple[str, str, str] = ("", "", "")

    @property
    def clm(self) -> Segment:
        assert self.sent_clm is not None
        return self.sent_clm

    @property
    def control(self) -> tuple[str, str, str]:
        return self.sent_control

    @property
    def patient_key(self) -> tuple[str, ...]:
        return self.sent_patient_key


def record(claim: Claim, key: tuple[str, ...], sbr09: str, n402: str) -> tuple[Any, ...]:
    """``claim`` as plain values (see the module doc); ``key``, ``sbr09``, ``n402``: what the
    cross-claim rules read from its envelope and subscriber loop, computed by the caller."""
    segs: list[tuple[Any, ...]] = []
    seg_at: dict[int, int] = {}

    def sg(s: Segment | None) -> int:
        if s is None:
            return -1
        i = seg_at.get(id(s))
        if i is None:
            i = seg_at[id(s)] = len(segs)
            segs.append((s.fields, s.seq, s.line, s.offset, s.delims, s.loop, s.misplaced, s.utf8))
        return i

    provs: list[tuple[Any, ...]] = []
    prov_at: dict[int, int] = {}

    def pv(p: Provider | None) -> int:
        if p is None:
            return -1
        i = prov_at.get(id(p))
        if i is None:
            i = prov_at[id(p)] = len(provs)
            provs.append((p.role, p.name, p.npi, p.taxonomy, p.entity_type, sg(p.npi_segment),
                          sg(p.taxonomy_segment)))
        return i

    def ps(p: Person) -> tuple[Any, ...]:
        return (p.last_name, p.first_name, p.member_id, p.birth_date, p.gender)

    def codes(entries: list[CodeEntry]) -> list[tuple[Any, ...]]:
        return [(e.qualifier, e.code, e.date, e.date_end, sg(e.segment), e.element) for e in entries]

    providers = [(role, pv(p)) for role, p in claim.providers.items()]
    lines = [(sg(ln.loop.segments[0] if ln.loop.segments else None), ln.line_number, ln.procedure_qualifier,
              ln.procedure_code, ln.modifiers, ln.charge, ln.unit_basis, ln.units, ln.place_of_service,
              ln.revenue_code, ln.service_date, ln.service_date_end, ln.diagnosis_pointers, pv(ln.rendering),
              ln.prior_auth, sg(ln.service), ln.loop.id) for ln in claim.lines]
    dx = [(d.qualifier, d.code, d.position, sg(d.segment), d.element, d.poa) for d in claim.diagnoses]
    head = (claim.kind, claim.seq, claim.claim_id, claim.charge, claim.facility_code, claim.facility_qualifier,
            claim.frequency, ps(claim.patient), ps(claim.subscriber), claim.payer_id, claim.payer_name,
            claim.prior_auth, claim.statement_from, claim.statement_to, claim.admission_date, claim.overflow,
            claim.patient_loop is None)
    hl = tuple(lp.segments[0][1] if lp is not None and lp.segments else ""
               for lp in (claim.billing_loop, claim.subscriber_loop, claim.patient_loop))
    sent = (key, claim.control, claim.patient_key, sbr09, n402, sg(claim.clm), hl)
    return (head, sent, providers, dx, codes(claim.condition_codes), codes(claim.occurrence_codes),
            codes(claim.procedures), lines, segs, provs)


def _person(p: tuple[Any, ...]) -> Person:
    return Person(p[0], p[1], p[2], p[3], p[4], _NO_NAME_LOOP)


def from_record(rec: tuple[Any, ...], file: str | None) -> LiteClaim:
    """The :class:`LiteClaim` of a :func:`record`, its segments in ``file``."""
    head, sent, providers, dx, cond, occ, procs, lines, segs, provs = rec
    segments: list[Segment | None] = [Segment(f, seq, line, off, delims, file, lp, mis, utf8)
                                      for f, seq, line, off, delims, lp, mis, utf8 in segs]
    segments.append(None)  # (index -1: none)
    prov_objs = [Provider(role, name, npi, tax, ent, _NO_NAME_LOOP, segments[ns], segments[ts])
                 for role, name, npi, tax, ent, ns, ts in provs]
    prov_objs.append(None)  # type: ignore[arg-type]
    (kind, seq, claim_id, charge, fc, fq, freq, pat, sub, payer_id, payer_name, prior_auth, sfrom, sto, adm,
     overflow, own) = head
    k, ctl, pkey, sbr09, n402, clm, hl = sent
    c = LiteClaim(_NO_CLAIM_LOOP, kind, seq, file, _NO_TRANSACTION, _NO_HL_LOOP, _NO_HL_LOOP,
                  None if own else _NO_HL_LOOP, claim_id, charge, fc, fq, freq,
                  _person(pat), _person(sub), payer_id, payer_name,
                  {role: prov_objs[i] for role, i in providers},
                  [Diagnosis(q, code, pos, segments[s], el, poa) for q, code, pos, s, el, poa in dx],
                  [CodeEntry(q, code, d1, d2, segments[s], el) for q, code, d1, d2, s, el in cond],
                  [CodeEntry(q, code, d1, d2, segments[s], el) for q, code, d1, d2, s, el in occ],
                  [CodeEntry(q, code, d1, d2, segments[s], el) for q, code, d1, d2, s, el in procs],
                  prior_auth, sfrom, sto, adm, [], overflow, segments[clm], ctl, pkey, k, sbr09, n402, hl)
    c.lines = [ServiceLine(c, cast(Loop, _LineLoop(lid, [] if lx < 0 else [segments[lx]])), num, pq, code, mods, lcharge, basis,
                           units, pos, rev, sd, sde, ptrs, prov_objs[r], pa, segments[sv])
               for lx, num, pq, code, mods, lcharge, basis, units, pos, rev, sd, sde, ptrs, r, pa, sv, lid in lines]
    return c
