"""SNIP 1 (X12 syntax and envelope): one fixture-derived failing case per rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from edi837.checks import Engine
from evs import found  # noqa: E402

FIX = Path(__file__).resolve().parents[1] / "fixtures"
# one segment per line in the fixtures; joined so "~SE*" finds segment starts
P = (FIX / "837p_tms_course.x12").read_text().replace("~\n", "~")
I = (FIX / "837i_ect_inpatient.x12").read_text().replace("~\n", "~")


def findings(text: str, snip: str = "1-2") -> list:
    return found(Engine(snip=snip).run_file(text.encode(), file="t.x12"))


def errors(text: str, snip: str = "1-2") -> list:
    return [f for f in findings(text, snip) if f.severity.value == "error"]


def one(text: str, rule: str, element: str | None = "*", seg: str | None = None):
    got = [f for f in findings(text) if f.rule == rule]
    assert got, f"{rule} not reported; got {[(f.rule, f.element, f.message) for f in findings(text)]}"
    if element != "*":
        assert any(f.element == element for f in got), [(f.element, f.message) for f in got]
    if seg is not None:
        assert any(f.segment_id == seg for f in got), [(f.segment_id, f.message) for f in got]
    f = got[0]
    assert f.segment_seq is not None and f.snip == 1
    return got


def sub(text: str, old: str, new: str, count: int = 1) -> str:
    assert old in text, old
    return text.replace(old, new, count)


@pytest.mark.parametrize("name", ["837p_tms_course.x12", "837i_ect_inpatient.x12", "837i_ect_outpatient.x12",
                                  "837i_tms_outpatient.x12", "837p_2000c_patient.x12",
                                  "837p_ect_anesthesia.x12", "multi_envelope.x12"])
def test_clean_fixtures_have_no_snip12_errors(name):
    errs = errors((FIX / name).read_text())
    assert errs == [], [str(e) for e in errs]


def test_isa_fixed_width():
    got = one(sub(P, "*ZZ*EDI837SYNTH    *", "*ZZ*EDI837SYNTH*"), "S1-ISA-001", "ISA06", "ISA")
    assert "ISA06" in got[0].message and got[0].segment_seq == 1


def test_isa_values():
    one(sub(P, "*0*T*:~", "*0*X*:~"), "S1-ISA-002", "ISA15")
    one(sub(P, "*000001001*0*T", "*00000100A*0*T"), "S1-ISA-002", "ISA13")


def test_isa_date_time():
    one(sub(P, "*251015*0930*^", "*251315*0930*^"), "S1-ISA-003", "ISA09")
    one(sub(P, "*251015*0930*^", "*251015*2590*^"), "S1-ISA-003", "ISA10")


def test_separators_distinct():
    # repetition separator equal to the component separator
    one(sub(P, "*^*00501*", "*:*00501*"), "S1-ISA-004", "ISA16")


def test_iea_control_number():
    one(sub(P, "IEA*1*000001001", "IEA*1*000001002"), "S1-ENV-001", "IEA02", "IEA")


def test_iea_group_count():
    one(sub(P, "IEA*1*", "IEA*2*"), "S1-ENV-002", "IEA01", "IEA")


def test_missing_iea():
    i = P.index("IEA*")
    one(P[:i], "S1-ENV-003", "IEA", "ISA")


def test_ge_control_number():
    one(sub(P, "GE*1*1001", "GE*1*1002"), "S1-ENV-004", "GE02", "GE")


def test_ge_transaction_count():
    one(sub(P, "GE*1*1001", "GE*3*1001"), "S1-ENV-005", "GE01", "GE")


def test_missing_ge():
    i, j = P.index("~GE*") + 1, P.index("IEA*")
    one(P[:i] + P[j:], "S1-ENV-006", "GE", "GS")


def test_se_control_number():
    se = P[P.index("~SE*") + 1:].split("~")[0]
    one(sub(P, se, se.rsplit("*", 1)[0] + "*9999"), "S1-ENV-007", "SE02", "SE")


def test_se_segment_count():
    se = P[P.index("~SE*") + 1:].split("~")[0]
    n = se.split("*")[1]
    one(sub(P, se, f"SE*{int(n) + 1}*" + se.split("*")[2]), "S1-ENV-008", "SE01", "SE")


def test_duplicate_control_number():
    body = P[:P.index("IEA*")]
    tx = body[body.index("~ST*") + 1:body.index("~GE*") + 1]
    # a second ST..SE with the same ST02/SE02 in the same group
    two = sub(sub(P, tx, tx + tx), "GE*1*", "GE*2*")
    one(two, "S1-ENV-009", "ST02", "ST")


def test_gs_date():
    # one finding (the GS04 DT element check; S1-ENV-010 said the same and is retired, issue 11)
    t = sub(P, "*20251015*0930*1001*", "*20251035*0930*1001*")
    one(t, "S1-ELE-004", "GS04", "GS")
    assert [f.rule for f in findings(t) if f.element == "GS04"] == ["S1-ELE-004"]


def test_element_type_not_a_number():
    got = one(sub(P, "CLM*TMS250901*450*", "CLM*TMS250901*450X*"), "S1-ELE-001", "CLM02", "CLM")
    assert got[0].claim_id == "TMS250901" and got[0].ik4 == "6"


def test_element_too_short():
    # N403 postal code min length 3
    one(sub(P, "N4*SPRINGFIELD*IL*627040123~", "N4*SPRINGFIELD*IL*62~"), "S1-ELE-002", "N403", "N4")


def test_element_too_long():
    one(sub(P, "CLM*TMS250901*450*", "CLM*TMS250901*4500000000000000000*"), "S1-ELE-003", "CLM02")


def test_element_bad_date():
    one(sub(P, "BHT*0019*00*B00011001*20251015*", "BHT*0019*00*B00011001*20251315*"), "S1-ELE-004", "BHT04")


def test_element_bad_time():
    one(sub(P, "BHT*0019*00*B00011001*20251015*0930*", "BHT*0019*00*B00011001*20251015*0990*"),
        "S1-ELE-005", "BHT05")


def test_too_many_elements():
    one(sub(P, "N3*400 CORTEX AVE STE 2~", "N3*400 CORTEX AVE STE 2*X*Y~"), "S1-SEG-001", "N303", "N3")


def test_too_many_components():
    sv = P[P.index("~SV1*") + 1:].split("~")[0]
    el = sv.split("*")
    el[1] = el[1] + ":A:B:C:D:E:F:G"
    one(sub(P, sv, "*".join(el)), "S1-SEG-002", "SV101", "SV1")


def test_too_many_repetitions():
    one(sub(P, "N3*400 CORTEX AVE STE 2~", "N3*400 CORTEX AVE^STE 2~"), "S1-SEG-003", "N301", "N3")


def test_syntax_note():
    # PER: PER03/PER04 are paired (P0304)
    one(sub(P, "PER*IC*BILLING DESK*TE*2175550100~", "PER*IC*BILLING DESK*TE~"), "S1-SEG-004", "PER04", "PER")


def test_trailing_separator():
    one(sub(P, "N3*400 CORTEX AVE STE 2~", "N3*400 CORTEX AVE STE 2**~"), "S1-SEG-005", None, "N3")


def test_snip_filter():
    bad = sub(P, "IEA*1*", "IEA*2*")
    assert not [f for f in findings(bad, snip="2") if f.rule.startswith("S1-")]


@pytest.mark.parametrize("name,rule,element", [("missing_iea.x12", "S1-ENV-003", "IEA"),
                                               ("se_count_wrong.x12", "S1-ENV-008", "SE01")])
def test_invalid_fixtures(name, rule, element):
    fs = [f for f in findings((FIX / "invalid" / name).read_text()) if f.rule == rule]
    assert fs and fs[0].element == element and fs[0].claim_seq is None
