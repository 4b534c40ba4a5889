"""ABN/liability modifier edits: MOD-001..MOD-004 (GA, GZ, GY, GX)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from ...model.claims import ServiceLine
from ..registry import Hit
from .claim_facts import line_seg
from .codes import NEURO, T
from .declare import erule, say
from .run_state import profile

if TYPE_CHECKING:
    from ..engine import Context


@erule("MOD-001", "error", "GA, GZ and GY are mutually exclusive on a line",
       citation="CMS carrier instructions as republished (\"If the GZ and GA modifiers are submitted for the "
                "same item or service ... unprocessable\"); S2.", short="CMS carrier instructions; S2",
       reads=("SV101-3..6", "SV202-3..6"), scope="line", group="modifiers",
       modifiers=T()["modifiers"]["exclusive"])
def mod_001(ln: ServiceLine, ctx: Context) -> Iterator[Hit]:
    if len(ln.modifiers) < 2:
        return
    both = [m for m in T()["modifiers"]["exclusive"] if m in ln.modifiers]
    if len(both) > 1:
        yield Hit(say("MOD-001", f"{ln.procedure_code or ln.revenue_code} carries {' and '.join(both)}; GA, GZ "
                      f"and GY are mutually exclusive and together make the line unprocessable"),
                  seg=line_seg(ln), element=ln.source("modifiers"), line=ln, value="-".join(both))


@erule("MOD-002", "error", "GX combinations",
       citation="CR 6563 (effective 2010-04-01), as summarized by XIFIN.", short="CMS CR 6563",
       reads=("SV101-3..6", "SV202-3..6", "SV203", "SV207"), scope="line", group="modifiers", modifiers=("GX",))
def mod_002(ln: ServiceLine, ctx: Context) -> Iterator[Hit]:
    if "GX" not in ln.modifiers:
        return
    bad = [m for m in T()["modifiers"]["gx_not_with"] if m in ln.modifiers]
    if bad:
        yield Hit(say("MOD-002", f"GX (voluntary ABN) appears with {', '.join(bad)}; GX is allowed only with "
                      f"GY and TS and is returned with GA, GZ, GL or EY"),
                  seg=line_seg(ln), element=ln.source("modifiers"), line=ln)
        return
    if ln.claim.kind == "837I" and ln.service is not None:
        from ...model.claims import parse_decimal
        total = ln.charge or 0
        nonc = parse_decimal(ln.service[7]) or 0
        if total - nonc > 0:
            yield Hit(say("MOD-002", f"GX (voluntary ABN) on an institutional line with covered charges "
                          f"({total - nonc}); GX lines must be reported as non-covered (SV207)"),
                      seg=line_seg(ln), element="SV207", line=ln)


@erule("MOD-003", "warning", "GA requires an ABN on file",
       citation="S2; medicarepaymentandreimbursement.com (occurrence code 32 and GZ auto-deny); rcmguide (MA).",
       short="S2; CMS ABN instructions", reads=("SV101-3..6", "SV202-3..6", "HI*BH", "2010BB NM109"),
       scope="line", group="modifiers", modifiers=("GA", "GZ"))
def mod_003(ln: ServiceLine, ctx: Context) -> Iterator[Hit]:
    c = ln.claim
    mods = ln.modifiers
    if "GA" not in mods and "GZ" not in mods:  # (the engine calls it only with one of them)
        return
    prof = profile(c, ctx)
    if ("GA" in mods or "GZ" in mods) and prof.medicare_advantage:
        yield Hit(say("MOD-003", f"ABN modifier {'GA' if 'GA' in mods else 'GZ'} on a claim to a Medicare "
                      f"Advantage payer ({prof.name}); ABN modifiers are not for MA enrollees"),
                  seg=line_seg(ln), element=ln.source("modifiers"), line=ln)
        return
    if "GA" in mods and c.kind == "837I":
        code = T()["modifiers"]["abn_occurrence_code"]
        if not any(o.code == code for o in c.occurrence_codes):
            yield Hit(say("MOD-003", f"GA (ABN on file) on revenue {ln.revenue_code} but the claim has no "
                          f"occurrence code {code} (ABN date) in HI*BH"),
                      seg=line_seg(ln), element=ln.source("modifiers"), line=ln)
    if "GZ" in mods:
        yield Hit(say("MOD-003", f"GZ on {ln.procedure_code or ln.revenue_code}: no ABN was obtained, so the "
                      f"line is denied automatically with provider liability (since 2011-07-01)"),
                  seg=line_seg(ln), element=ln.source("modifiers"), line=ln)


@erule("MOD-004", "warning", "GY on a covered neuromodulation service to Medicare",
       citation="S2 (GY = statutorily excluded or not a benefit); CMS GA/GY/GZ definitions (as above).",
       short="S2; CMS GA/GY/GZ definitions", reads=("SV101-2", "SV101-3..6", "2010BB NM109"),
       scope="line", group="modifiers", codes=NEURO, modifiers=("GY",))
def mod_004(ln: ServiceLine, ctx: Context) -> Iterator[Hit]:
    if "GY" not in ln.modifiers or ln.procedure_code not in NEURO:
        return
    prof = profile(ln.claim, ctx)
    if prof.medicare:
        yield Hit(say("MOD-004", f"{ln.procedure_code}-GY to {prof.name}: TMS and ECT are Medicare benefits, so "
                      f"non-coverage for an indication calls for GA or GZ (not reasonable and necessary), not GY"),
                  seg=line_seg(ln), element=ln.source("modifiers"), line=ln)
