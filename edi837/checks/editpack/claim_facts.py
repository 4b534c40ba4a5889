"""Facts the rules read off a claim or a service line: dates, units, facility
kind (IPF, PHP), the claim's key and the patient's id."""

from __future__ import annotations

import datetime as _dt
import json

from ...model.claims import Claim, ServiceLine
from ...reader.segment import Segment
from .profiles import tables


def fmt(d: _dt.date | None) -> str:
    return d.isoformat() if d else "no date"


def line_seg(ln: ServiceLine) -> Segment | None:
    """The segment a finding about the line points at: SV1/SV2, else the LX."""
    return ln.service or (ln.loop.segments[0] if ln.loop.segments else None)


def units(ln: ServiceLine) -> float:
    """The line's units (1 when not given)."""
    return float(ln.units) if ln.units is not None else 1.0


def norm_dx(code: str) -> str:
    return code.replace(".", "").upper()


_FAC = tables()["facility"]  # tables.toml [facility], read once


def facility_is(claim: Claim, which: str) -> bool:
    """Whether an 837I claim's facility type is ``tables.toml [facility] which``
    (``"inpatient_facility_type"``, ``"outpatient_facility_type"``)."""
    return claim.kind == "837I" and claim.facility_code == _FAC[which]


def claim_is_php(claim: Claim) -> bool:
    fac = _FAC
    return claim.kind == "837I" and claim.facility_code == fac["outpatient_facility_type"] and \
        any(c.code == fac["php_condition_code"] for c in claim.condition_codes)


def claim_is_ipf(claim: Claim) -> bool:
    fac = _FAC
    if claim.kind != "837I" or claim.facility_code != fac["inpatient_facility_type"]:
        return False
    b = claim.billing
    if b is not None and any(b.taxonomy.startswith(p) for p in fac["ipf_taxonomy_prefixes"]):
        return True
    pd = claim.principal_diagnosis
    return pd is not None and pd.code.upper().startswith("F")


def claim_key(claim: Claim) -> tuple[str, ...]:
    """(ISA06 sender, ISA13, GS06, ST02, CLM01): the claim across runs."""
    t = claim.transaction
    i = t.group.interchange if t is not None and t.group is not None else None
    sender = i.sender_id if i is not None else ""
    isa, gs, st = claim.control
    return (sender, isa, gs, st, claim.claim_id)


def patient_id(claim: Claim) -> str:
    """The patient key as a JSON list (the history store's patient column)."""
    return patient_id_of(claim.patient_key)


def patient_id_of(key: tuple[str, ...]) -> str:
    """:func:`patient_id` of a claim whose ``patient_key`` is ``key``."""
    if not key:
        return "[]"
    try:
        j = "".join(key)
    except TypeError:  # (a part that is not text)
        return json.dumps(list(key))
    # plain printable ASCII without quotes or backslashes (in every part, so in all of them
    # joined): what json.dumps writes as is
    if j.isascii() and j.isprintable() and '"' not in j and "\\" not in j:
        return '["' + '", "'.join(key) + '"]'
    return json.dumps(list(key))
