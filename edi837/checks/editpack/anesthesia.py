"""Anesthesia edits: ANE-001..ANE-004 (00104 for ECT, burn 01953, obstetric 01968/01969)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from ...codesets import is_anesthesia_code
from ...model.claims import ServiceLine
from ..registry import Hit
from .claim_facts import fmt, line_seg
from .codes import CODES, ECT, NOT_TIMED_ANESTHESIA
from .declare import erule, say
from .run_state import view

if TYPE_CHECKING:
    from ..engine import Context

BURN, BURN_BASE = CODES["burn_addon"], CODES["burn_base"]
OB_BASE, OB_ADD = CODES["ob_base"], frozenset(CODES["ob_addons"])
ANES = CODES["ect_anesthesia"]
# the codes ANE-001 is about: CPT anesthesia 00100-01999 (codesets.is_anesthesia_code) but those
# that are not time-based
TIMED_ANESTHESIA = frozenset(f"{n:05d}" for n in range(100, 2000)) - NOT_TIMED_ANESTHESIA


@erule("ANE-001", "error", "anesthesia time reported in minutes",
       citation="005010X222A1 SV103 note \"MJ ... Required for Anesthesia claims\", per X12 RFI #1571 and "
                "#1110; Stedi's published MJ edit. Codes that are not time-based are exempt (tables.toml "
                "[anesthesia]: 01953, 01996).",
       short="005010X222A1 SV103 note; X12 RFI #1571/#1110", reads=("SV101-2", "SV103", "SV104"),
       scope="line", applies_to=("837P",), group="anesthesia", codes=TIMED_ANESTHESIA)
def ane_001(ln: ServiceLine, ctx: Context) -> Iterator[Hit]:
    code = ln.procedure_code
    if code[:1] != "0" or not is_anesthesia_code(code) or code in NOT_TIMED_ANESTHESIA \
            or ln.unit_basis == "MJ":
        return
    yield Hit(say("ANE-001", f"anesthesia code {code} reports {ln.unit_basis or '?'} {ln.units}; time-based "
                  f"anesthesia lines report the time: set SV103 to MJ and SV104 to the anesthesia minutes"),
              seg=line_seg(ln), element=ln.source("unit_basis"), line=ln, value=ln.unit_basis)


@erule("ANE-002", "error", "burn add-on 01953 pairs with 01952 and is reported in units",
       citation="CMS Program Memorandum B-03-017 (CR 2539, 2003-02-28; now Pub. 100-04 Ch. 12 §50); S2; "
                "X12 RFI #2363 (follow the code-set maintainer for 01953).",
       short="CMS PM B-03-017; Pub. 100-04 Ch. 12 §50", reads=("SV101-2", "SV103", "SV104", "DTP*472"),
       scope="line", applies_to=("837P",), group="anesthesia", codes=(BURN,))
def ane_002(ln: ServiceLine, ctx: Context) -> Iterator[Hit]:
    d = ln.date_or_claim()
    if not any(o.procedure_code == BURN_BASE and o.date_or_claim() == d for o in ln.claim.lines):
        yield Hit(say("ANE-002", f"01953 on {fmt(d)} without 01952 on the same claim and date; the burn "
                      f"add-on requires 01952, which carries all the anesthesia time"),
                  seg=line_seg(ln), element=ln.source("procedure_code"), line=ln, value=BURN)
    if ln.unit_basis != "UN":
        yield Hit(say("ANE-002", f"01953 reports {ln.unit_basis} {ln.units}; it carries one unit (UN) per "
                      f"additional 9% of body surface, never time (time goes on 01952)"),
                  seg=line_seg(ln), element=ln.source("unit_basis"), line=ln, value=ln.unit_basis)


@erule("ANE-003", "error", "obstetric add-ons 01968/01969 pair with 01967, with time on each",
       citation="CMS PM B-03-017; S2.", short="CMS PM B-03-017; S2",
       reads=("SV101-2", "SV103", "SV104", "DTP*472"), scope="line", applies_to=("837P",),
       cross_claim=True, group="anesthesia", codes=OB_ADD)
def ane_003(ln: ServiceLine, ctx: Context) -> Iterator[Hit]:
    code = ln.procedure_code
    d = ln.date_or_claim()
    npi = ln.rendering_npi
    if not any(e.code == OB_BASE and e.npi == npi for e in view(ctx, ln.claim).on_date(ln, d, "all")):
        yield Hit(say("ANE-003", f"{code} on {fmt(d)} without 01967 by the same provider ({npi or 'no NPI'}) "
                      f"on that date"), seg=line_seg(ln), element=ln.source("procedure_code"), line=ln,
                  value=code)
    if ln.unit_basis != "MJ":
        yield Hit(say("ANE-003", f"{code} reports {ln.unit_basis} {ln.units}; each obstetric add-on reports "
                      f"its own anesthesia time in minutes (MJ)"),
                  seg=line_seg(ln), element=ln.source("unit_basis"), line=ln, value=ln.unit_basis)


@erule("ANE-004", "error", "psychiatrist-administered ECT anesthesia is not separately payable",
       citation="S2 (LCD text; \"Medicare Matters\" Nov 2002); AAPC Psychiatry Coding Alert (CCI 00104/90870, "
                "indicator 0).", short="S2; NCCI 90870/00104 indicator 0",
       reads=("SV101-2", "2420A NM109", "2310B NM109", "2010AA NM109", "DTP*472"), scope="line",
       applies_to=("837P",), cross_claim=True, group="anesthesia", codes=(ANES,))
def ane_004(ln: ServiceLine, ctx: Context) -> Iterator[Hit]:
    d = ln.date_or_claim()
    npi = ln.rendering_npi
    if not npi or d is None or d.year < 1994:
        return
    for e in view(ctx, ln.claim).on_date(ln, d, "all"):
        if e.code == ECT and e.npi == npi:
            yield Hit(say("ANE-004", f"00104 on {fmt(d)} is billed by NPI {npi}, the same provider who "
                          f"rendered 90870 that day "
                          f"({'this claim' if e.claim_id == ln.claim.claim_id else 'claim ' + e.claim_id}); "
                          f"anesthesia by the treating psychiatrist is included in 90870"),
                      seg=line_seg(ln), element=ln.source("procedure_code"), line=ln, value=npi)
            return
