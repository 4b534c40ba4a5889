"""DUP-001: the same claim sent twice (issue 13).

Two claims are the same claim when they come from one sender (ISA06) for one
patient with one CLM01 and the same service lines (procedure, revenue code,
modifiers, dates, units).  The first copy (the history store's, else the one
that came first in the run) goes through; each later copy is rejected, naming
the first.  Only claims that passed their own checks count as a first copy, so
a corrected resubmission of a rejected claim is never a duplicate; a
replacement (CLM05-3 7) or void (8) is not a duplicate either.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from ...model.claims import Claim
from ..registry import Hit
from .claim_facts import fmt
from .declare import erule, say
from .history import Event
from .run_state import view

if TYPE_CHECKING:
    from ..engine import Context

_REPLACING = ("7", "8")

Sig = tuple[tuple[str, str, tuple[str, ...], str, str, float], ...]


def _sig(evs: list[Event]) -> Sig:
    return tuple(sorted((e.code, e.revenue, e.modifiers, fmt(e.date), fmt(e.date_end), e.units) for e in evs))


@erule("DUP-001", "error", "the same claim twice",
       citation="Payer duplicate-claim edits (CARC 18, \"exact duplicate claim/service\"); a clearinghouse "
                "forwards one copy.", short="CARC 18 duplicate claim",
       reads=("ISA06", "CLM01", "CLM05-3", "2010BA NM109", "SV101", "SV201", "SV202", "SV104", "SV205",
              "DTP*472"), cross_claim=True, group="duplicates")
def dup_001(claim: Claim, ctx: Context) -> Iterator[Hit]:
    if claim.frequency in _REPLACING:
        return
    cv = view(ctx, claim)
    if not cv.may_have_versions():  # (the usual case: no copy can exist, and no peers are gathered for it)
        return
    vers = cv.versions
    if not vers:
        return
    mine = _sig(cv.events)
    copies: dict[tuple[tuple[str, ...], int], list[Event]] = {}
    for e in vers:
        copies.setdefault((e.key, e.uid), []).append(e)
    firsts = sorted(((k, u) for k, u in copies if not u or u < cv.uid), key=lambda ku: (ku[1] != 0, ku[1]))
    for k, u in firsts:
        evs = copies[(k, u)]
        if any(e.freq in _REPLACING for e in evs) or _sig(evs) != mine:
            continue
        if u:
            where = f"first sent in this run: {cv.st.where(u)}"
        else:
            where = f"already accepted in an earlier run (interchange {k[1]}, transaction {k[3]})"
        yield Hit(say("DUP-001", f"claim {claim.claim_id} repeats a claim with the same sender, patient, CLM01, "
                      f"service lines and dates, {where}; a payer denies the copy as a duplicate: do not send "
                      f"it again, or send a replacement (CLM05-3 7 with REF*F8) if it changes the claim"),
                  seg=claim.clm, element="CLM01", value=claim.claim_id)
        return
