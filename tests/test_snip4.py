"""SNIP 4 situational rules: pass on fixtures, fire on edited copies."""

from pathlib import Path

import pytest

from edi837.checks import Engine
from evs import found  # noqa: E402

FX = Path(__file__).resolve().parent.parent / "fixtures"


def ids(text, prefix="S4-"):
    return {o.rule for o in found(Engine().run_file(text.encode())) if o.rule.startswith(prefix)}


def fx(name):
    return (FX / name).read_text()


@pytest.mark.parametrize("name", ["837p_tms_course.x12", "837p_2000c_patient.x12", "837i_ect_inpatient.x12",
                                  "837i_ect_outpatient.x12", "837i_tms_outpatient.x12", "multi_envelope.x12",
                                  "837p_ect_anesthesia.x12"])
def test_valid_fixtures_pass(name):
    assert ids(fx(name)) == set()


def test_sbr02_self_with_2000c():
    t = fx("837p_2000c_patient.x12")
    assert "S4-SBR-001" in ids(t.replace("SBR*P**GRP00417", "SBR*P*18*GRP00417"))


def test_sbr02_missing_without_2000c():
    t = fx("837p_tms_course.x12")
    assert "SBR*P*18*" in t
    assert "S4-SBR-002" in ids(t.replace("SBR*P*18*", "SBR*P**"))


def test_dx_pointer():
    t = fx("837p_tms_course.x12")
    bad = t.replace("SV1*HC:90867*450*UN*1*11**1~", "SV1*HC:90867*450*UN*1*11**2~", 1)
    assert bad != t
    assert "S4-DX-001" in ids(bad)


def test_principal_dx():
    t = fx("837i_ect_inpatient.x12")
    assert "S4-DX-002" in ids(t.replace("HI*ABK:F332~", ""))


def test_service_date_outside_statement():
    t = fx("837i_ect_inpatient.x12")
    assert "S4-DTE-001" in ids(t.replace("DTP*472*RD8*20260203-20260207", "DTP*472*RD8*20260203-20260212"))


def test_date_after_creation():
    t = fx("837i_ect_inpatient.x12")
    assert "S4-DTE-002" in ids(t.replace("BHT*0019*00*B00011004*20260216", "BHT*0019*00*B00011004*20260205"))
    p = fx("837p_tms_course.x12")
    assert "S4-DTE-002" in ids(p.replace("BHT*0019*00*B00011001*20251015", "BHT*0019*00*B00011001*20250910"))


def test_range_reversed():
    # a reversed RD8 range is a format error of the value (S2-ELE-006, issue 11; it was S4-DTE-003):
    # one finding, no SNIP 4 cascade (S4-DTE-001 "outside the statement period")
    t = fx("837i_ect_inpatient.x12")
    bad = t.replace("DTP*472*RD8*20260203-20260207", "DTP*472*RD8*20260207-20260203")
    assert ids(bad, "S") == {"S2-ELE-006"}
    bad = t.replace("DTP*434*RD8*20260202-20260209", "DTP*434*RD8*20260209-20260202")
    assert ids(bad, "S") == {"S2-ELE-006"}


def test_inpatient_admission_date():
    t = fx("837i_ect_inpatient.x12")
    assert "S4-INP-001" in ids(t.replace("DTP*435*DT*202602021430~", ""))


def test_inpatient_cl1():
    t = fx("837i_ect_inpatient.x12")
    assert "S4-INP-002" in ids(t.replace("CL1*1*1*01~", ""))


def test_inpatient_admitting_dx():
    t = fx("837i_ect_inpatient.x12")
    assert "S4-INP-003" in ids(t.replace("HI*ABJ:F332~", ""))


def test_outpatient_needs_no_admission():
    t = fx("837i_ect_outpatient.x12")
    assert not ids(t) & {"S4-INP-001", "S4-INP-002", "S4-INP-003"}
