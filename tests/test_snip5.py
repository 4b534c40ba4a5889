"""SNIP 5 code-set rules: pass on fixtures, fire on edited copies."""

from pathlib import Path

import pytest

from edi837 import codesets as cs
from edi837.checks import Engine
from evs import found, verdicts  # noqa: E402

FX = Path(__file__).resolve().parent.parent / "fixtures"


def findings(text):
    data = text.encode() if isinstance(text, str) else text
    return found(Engine().run_file(data))


def ids(text, prefix="S5-"):
    return {f.rule for f in findings(text) if f.rule.startswith(prefix)}


def fx(name):
    return (FX / name).read_text()


def edit(name, old, new, count=-1):
    t = fx(name)
    assert old in t, old
    return t.replace(old, new, count)


@pytest.mark.parametrize("name", ["837p_tms_course.x12", "837p_2000c_patient.x12", "837i_ect_inpatient.x12",
                                  "837i_ect_outpatient.x12", "837i_tms_outpatient.x12", "multi_envelope.x12",
                                  "837p_ect_anesthesia.x12", "bom_crlf.x12", "no_line_breaks.x12",
                                  "newline_terminator.x12"])
def test_valid_fixtures_pass(name):
    assert ids((FX / name).read_bytes()) == set()


def test_invalid_fixtures():
    npi = [f for f in findings((FX / "invalid" / "bad_npi_check_digit.x12").read_bytes()) if f.rule == "S5-NPI-001"]
    assert npi and npi[0].loop == "2010AA" and npi[0].value == "1582739400"
    icd = [f for f in findings((FX / "invalid" / "unknown_icd10.x12").read_bytes()) if f.rule == "S5-ICD-001"]
    assert icd and icd[0].value == "F3399" and icd[0].ik4 == "7"


def test_bad_billing_npi_rejects_every_claim():
    claims = verdicts(Engine().run_file(FX / "invalid" / "bad_npi_check_digit.x12"))
    assert claims and all(c.verdict == "rejected" for c in claims)


def test_npi_in_claim_loop():
    t = edit("837p_tms_course.x12", "XX*1324509870", "XX*1324509871", 1)
    f = [x for x in findings(t) if x.rule == "S5-NPI-001"]
    assert f and f[0].loop == "2310B" and f[0].claim_id == "TMS250901"


def test_icd_header_code():
    assert cs.icd10cm_status("F33") == "header"
    assert "S5-ICD-002" in ids(edit("837p_tms_course.x12", "HI*ABK:F332~", "HI*ABK:F33~", 1))


def test_icd9_qualifier_after_cutover():
    assert "S5-ICD-003" in ids(edit("837p_tms_course.x12", "HI*ABK:F332~", "HI*BK:29620~", 1))


def test_icd10_qualifier_before_cutover():
    t = edit("837p_tms_course.x12", "DTP*472*D8*20250908", "DTP*472*D8*20150908")
    assert "S5-ICD-004" in ids(t)
    t9 = t.replace("HI*ABK:F332~", "HI*BK:29620~", 1)
    assert "S5-ICD-004" not in {f.rule for f in findings(t9) if f.claim_id == "TMS250901"}


def test_icd_qualifier_837i_uses_statement_date():
    assert "S5-ICD-003" in ids(edit("837i_ect_inpatient.x12", "HI*ABJ:F332~", "HI*BJ:29620~"))


def test_pcs_format():
    assert "S5-ICD-005" in ids(edit("837i_ect_inpatient.x12", "HI*BBR:GZB2ZZZ", "HI*BBR:GZB2ZZ"))


def test_place_of_service():
    assert "S5-POS-001" in ids(edit("837p_tms_course.x12", "*11:B:1*", "*00:B:1*", 1))
    assert "S5-POS-002" in ids(edit("837p_tms_course.x12", "*UN*1*11**1~", "*UN*1*00**1~", 1))


def test_taxonomy():
    assert "S5-TAX-001" in ids(edit("837p_tms_course.x12", "PRV*BI*PXC*2084P0800X", "PRV*BI*PXC*2084P0800Y"))
    assert "S5-TAX-001" in ids(edit("837p_tms_course.x12", "PRV*PE*PXC*2084P0800X", "PRV*PE*PXC*2084P08", 1))


def test_hcpcs_format():
    assert "S5-PROC-001" in ids(edit("837p_tms_course.x12", "HC:90867", "HC:9086X", 1))
    assert "S5-PROC-001" in ids(edit("837i_ect_outpatient.x12", "HC:90870", "HC:9O870", 1))


def test_revenue_codes():
    f = [x for x in findings(edit("837i_ect_outpatient.x12", "SV2*0901*", "SV2*901*", 1)) if x.rule == "S5-REV-001"]
    assert f and f[0].severity.value == "error"
    unknown = next(c for c in (f"{i:04d}" for i in range(1, 10000)) if cs.revenue_code_status(c) == "unknown")
    w = [x for x in findings(edit("837i_ect_outpatient.x12", "SV2*0901*", f"SV2*{unknown}*", 1))
         if x.rule == "S5-REV-002"]
    assert w and w[0].severity.value == "warning"


def test_condition_codes():
    ok = edit("837i_ect_outpatient.x12", "HI*APR:F332~", "HI*APR:F332~\nHI*BG:41~")
    assert "S5-CC-001" not in ids(ok)
    bad = edit("837i_ect_outpatient.x12", "HI*APR:F332~", "HI*APR:F332~\nHI*BG:Q9~")
    assert "S5-CC-001" in ids(bad)


def test_state_code():
    assert "S5-ST-001" in ids(edit("837p_tms_course.x12", "N4*SPRINGFIELD*IL*62704~", "N4*SPRINGFIELD*XX*62704~"))


def test_zip_format():
    assert "S5-ZIP-001" in ids(edit("837p_tms_course.x12", "N4*SPRINGFIELD*IL*62704~", "N4*SPRINGFIELD*IL*6270~"))


def test_zip_nine_digits_in_2010aa():
    f = [x for x in findings(edit("837p_tms_course.x12", "*IL*627040123~", "*IL*62704~")) if x.rule == "S5-ZIP-002"]
    assert f and f[0].loop == "2010AA"
