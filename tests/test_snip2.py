"""SNIP 2 (implementation guide): one fixture-derived failing case per rule."""

from __future__ import annotations

from pathlib import Path

from edi837.checks import Engine
from evs import found  # noqa: E402

FIX = Path(__file__).resolve().parents[1] / "fixtures"
P = (FIX / "837p_tms_course.x12").read_text().replace("~\n", "~")
I = (FIX / "837i_ect_inpatient.x12").read_text().replace("~\n", "~")


def findings(text: str, snip: str = "1-2") -> list:
    return found(Engine(snip=snip).run_file(text.encode(), file="t.x12"))


def one(text: str, rule: str, element: str | None = "*", seg: str | None = None):
    allf = findings(text)
    got = [f for f in allf if f.rule == rule]
    assert got, f"{rule} not reported; got {[(f.rule, f.element, f.message) for f in allf]}"
    if element != "*":
        assert any(f.element == element for f in got), [(f.element, f.message) for f in got]
    if seg is not None:
        assert any(f.segment_id == seg for f in got), [(f.segment_id, f.message) for f in got]
    assert got[0].segment_seq is not None and got[0].snip == 2
    return got, allf


def sub(text: str, old: str, new: str, count: int = 1) -> str:
    assert old in text, old
    return text.replace(old, new, count)


def seg_count_fix(text: str, delta: int) -> str:
    """Keep SE01 right after adding/removing segments (so only the SNIP 2 finding shows)."""
    i = text.index("~SE*") + 1
    se = text[i:].split("~")[0]
    _, n, cn = se.split("*")
    return text[:i] + f"SE*{int(n) + delta}*{cn}" + text[i + len(se):]


def test_unknown_segment():
    t = seg_count_fix(sub(P, "~N3*400 CORTEX AVE STE 2~", "~N3*400 CORTEX AVE STE 2~ZZZ*1~"), 1)
    got, allf = one(t, "S2-SEG-001", None, "ZZZ")
    assert got[0].ik3 == "1"
    assert not [f for f in allf if f.segment_id == "ZZZ" and f.rule != "S2-SEG-001"]


def test_misplaced_segment_one_finding():
    # a DMG (subscriber demographics) in the billing provider loop
    t = seg_count_fix(sub(P, "~REF*EI*990012345~", "~REF*EI*990012345~DMG*D8*19800101*F~"), 1)
    got, allf = one(t, "S2-SEG-002", None, "DMG")
    assert len([f for f in allf if f.segment_id == "DMG"]) == 1


def test_qualifier_not_allowed():
    # 2010AA has several REF segments told apart by REF01: an unknown REF01 matches none of them
    t = sub(P, "~REF*EI*990012345~", "~REF*ZZ*990012345~")
    got, _ = one(t, "S2-SEG-002", None, "REF")
    assert "'ZZ'" in got[0].message


def test_required_segment_missing():
    t = seg_count_fix(sub(P, "~N3*400 CORTEX AVE STE 2~", "~"), -1)
    got, _ = one(t, "S2-SEG-003", "N3", "NM1")
    assert "2010AA" in got[0].message


def test_segment_over_max_use():
    t = seg_count_fix(sub(P, "~PER*IC*BILLING DESK*TE*2175550100~",
                          "~PER*IC*BILLING DESK*TE*2175550100~PER*IC*A*TE*2175550101~"
                          "PER*IC*B*TE*2175550102~"), 2)
    got, _ = one(t, "S2-SEG-004", None, "PER")
    assert got[0].ik3 == "5"


def test_required_loop_missing_one_finding():
    # drop the payer name loop 2010BB (NM1*PR ...) of the first subscriber
    i = P.index("~NM1*PR*") + 1
    nm1 = P[i:].split("~")[0]
    t = seg_count_fix(P[:i] + P[i + len(nm1) + 1:], -1)
    got, allf = one(t, "S2-LOOP-001")
    assert len(got) == 1 and "2010BB" in got[0].message


def test_loop_over_repeat():
    # a second 2010AA billing provider name loop
    blk = "NM1*85*2*SYNAPSE PSYCHIATRY ASSOCIATES*****XX*1582739409~N3*400 CORTEX AVE STE 2~" \
          "N4*SPRINGFIELD*IL*627040123~"
    t = seg_count_fix(sub(P, "~REF*EI*990012345~", "~REF*EI*990012345~" + blk), 3)
    allf = findings(t)
    assert any(f.rule in ("S2-LOOP-002", "S2-SEG-002") and f.segment_id == "NM1" for f in allf), \
        [(f.rule, f.message) for f in allf]


def test_required_element_missing():
    got, _ = one(sub(P, "~HI*ABK:F332~", "~HI*ABK~"), "S2-ELE-001", "HI01-2", "HI")
    assert got[0].claim_id == "TMS250901" and got[0].ik4 == "1"


def test_not_used_element_present():
    # CLM03 and CLM04 are not used
    got, _ = one(sub(P, "CLM*TMS250901*450***", "CLM*TMS250901*450**X*"), "S2-ELE-002", "CLM04", "CLM")
    assert got[0].ik4 == "I10"


def test_invalid_code():
    got, _ = one(sub(P, "~SBR*P*18*", "~SBR*Q*18*"), "S2-ELE-003", "SBR01", "SBR")
    assert got[0].ik4 == "7" and "'Q'" in got[0].message


def test_pattern_mismatch_837i_billing_zip():
    # 837I billing provider ZIP must be 9 digits (pyx12 map regex)
    got, _ = one(sub(I, "N4*SPRINGFIELD*IL*627020456~", "N4*SPRINGFIELD*IL*62702~"), "S2-ELE-004", "N403", "N4")
    assert got[0].ik4 == "I12"


def test_trailing_spaces_warning():
    got, _ = one(sub(P, "NM1*IL*1*DOE*JANE*", "NM1*IL*1*DOE *JANE*"), "S2-ELE-005", "NM103", "NM1")
    assert got[0].severity.value == "warning"


def test_hl_parent():
    got, _ = one(sub(P, "~HL*2*1*22*0~", "~HL*2*7*22*0~"), "S2-HL-001", "HL02", "HL")


def test_envelope_st03_code():
    t = P.replace("*005010X222A1~BHT", "*005010X222A9~BHT")
    allf = findings(t)
    assert any(f.rule == "S2-ELE-003" and f.element == "ST03" for f in allf) or \
        any(f.rule.startswith("GRM") for f in allf)


def test_snip_filter_2_only():
    t = sub(P, "~SBR*P*18*", "~SBR*Q*18*")
    fs = findings(t, snip="2")
    assert any(f.rule == "S2-ELE-003" for f in fs)
    assert not [f for f in fs if f.rule.startswith("S1-")]


def test_segment_out_of_order_within_its_loop_is_reported():
    from edi837.checks import Engine

    text = (Path(__file__).resolve().parents[1] / "fixtures" / "837p_tms_course.x12").read_text()
    lines = text.split("\n")
    i = next(k for k, ln in enumerate(lines) if ln.startswith("NM1*85"))
    # 2010AA: NM1 N3 N4 REF -> NM1 N4 N3 REF
    lines[i + 1], lines[i + 2] = lines[i + 2], lines[i + 1]
    fs = found(Engine(snip="2").run_file("\n".join(lines).encode(), file="x.x12"))
    hits = [f for f in fs if f.rule == "S2-SEG-002" and "out of order" in f.message]
    assert len(hits) == 1 and hits[0].segment_id == "N3" and hits[0].loop == "2010AA"
