"""A claim as the run state keeps it: one :class:`Event` per service line and,
for an IPF claim, its :class:`Stay`.  Equal values in events share one object
(interned), since the run keeps every line's event."""

from __future__ import annotations

from typing import Any

from ...model.claims import Claim
from .claim_facts import claim_is_ipf, claim_is_php, claim_key
from .codes import ECT_REV, NEURO, PHP_REV
from .history import Event, Stay

# one shared object per value, by type; bounded (it only saves memory)
_I_STR: dict[str, str] = {}
_I_DATE: dict[Any, Any] = {}
_I_FLOAT: dict[float, float] = {}
_I_TUPLE: dict[tuple[str, ...], tuple[str, ...]] = {}
_INTERN_MAX = 200_000
_new = tuple.__new__


def _interned_size() -> int:
    return len(_I_STR) + len(_I_DATE) + len(_I_FLOAT) + len(_I_TUPLE)


def _intern_clear() -> None:
    for m in (_I_STR, _I_DATE, _I_FLOAT, _I_TUPLE):
        m.clear()


def claim_events(claim: Claim, key: tuple[str, ...] | None = None, uid: int = 0) -> list[Event]:
    """The claim's events, one per line (``events[i]`` is line ``i``); ``uid``: the
    claim's number in the run."""
    if key is None:
        key = claim_key(claim)
    php_claim = claim.kind == "837I" and claim_is_php(claim)
    out: list[Event] = []
    # equal values share one object: the run keeps every line's event, so this
    # is most of the edit pack's memory (codes, NPIs, dates, units repeat)
    if len(_I_STR) + len(_I_DATE) + len(_I_FLOAT) + len(_I_TUPLE) >= _INTERN_MAX:  # (_interned_size)
        _intern_clear()
    s, d, f, t = _I_STR.setdefault, _I_DATE.setdefault, _I_FLOAT.setdefault, _I_TUPLE.setdefault
    kind, bill_type = s(claim.kind or "", claim.kind or ""), claim.bill_type
    bill_type = s(bill_type, bill_type)
    cid = claim.claim_id
    freq = claim.frequency
    freq = s(freq, freq)
    stmt = claim.statement_from
    for i, ln in enumerate(claim.lines):
        code, rev = ln.procedure_code, ln.revenue_code
        php = rev in PHP_REV or (php_claim and code not in NEURO and rev != ECT_REV)
        # (ln.date_or_claim(), units(ln) and ln.rendering_npi written out: this runs for every line)
        dt = ln.service_date or stmt
        de = ln.service_date_end
        lu = ln.units
        u = float(lu) if lu is not None else 1.0
        mods = tuple(ln.modifiers)
        r = ln.rendering
        npi = r.npi if r else ""
        # (tuple.__new__ as Event's own __new__ does, without its Python frame: every field is given)
        out.append(_new(Event, (key, cid, kind, bill_type, s(code, code), s(rev, rev), t(mods, mods),
                                None if dt is None else d(dt, dt), None if de is None else d(de, de),
                                f(u, u), s(npi, npi), php, i, uid, freq)))
    return out


def claim_stay(claim: Claim, key: tuple[str, ...] | None = None, uid: int = 0) -> Stay | None:
    """The claim's inpatient psychiatric stay, or None if it is not an IPF claim."""
    if not claim_is_ipf(claim):
        return None
    return Stay(key=key if key is not None else claim_key(claim), claim_id=claim.claim_id, bill_type=claim.bill_type,
                start=claim.admission_date or claim.statement_from, end=claim.statement_to, uid=uid)
