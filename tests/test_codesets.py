"""Tests for edi837.codesets (external code sets, WEDI SNIP type 5)."""

from datetime import date

import pytest

from edi837 import codesets as cs


def test_npi():
    assert cs.npi_is_valid("1234567893")
    assert not cs.npi_is_valid("1234567890")
    assert cs.npi_problem("1234567893") is None
    assert cs.npi_problem("1234567890") == "NPI check digit should be 3, not 0"
    assert cs.npi_problem("1234567894") == "NPI check digit should be 3, not 4"
    for bad in ("123456789", "12345678931", "12345678A3", "", " 234567893"):
        assert cs.npi_problem(bad) == "NPI must be 10 digits"
    assert cs.npi_check_digit("123456789") == 3


def test_icd10cm_status():
    assert cs.icd10cm_status("F332") == "billable"
    assert cs.icd10cm_status("F33.2") == "billable"
    assert cs.icd10cm_status("F33") == "header"
    assert cs.icd10cm_status("F9999") == "unknown"
    assert cs.icd10cm_status("F30-F39") == "unknown"
    assert cs.icd10cm_status("5") == "unknown"
    assert cs.icd10cm_status("f332") == "unknown"
    assert cs.icd10cm_status("S72001A") == "billable"
    assert cs.icd10cm_status("S72001") == "header"


def test_icd_formats_and_qualifiers():
    assert cs.icd10pcs_format_ok("0210093")
    assert cs.icd10pcs_format_ok("GZ3ZZZZ")
    assert not cs.icd10pcs_format_ok("0I10093")  # no I or O
    assert not cs.icd10pcs_format_ok("021009")
    assert cs.icd9_dx_format_ok("29620") and cs.icd9_dx_format_ok("V7010") and cs.icd9_dx_format_ok("E8889")
    assert not cs.icd9_dx_format_ok("F332") and not cs.icd9_dx_format_ok("29")
    assert cs.icd9_proc_format_ok("9425") and not cs.icd9_proc_format_ok("0210093")
    assert "ABK" in cs.ICD10_DX_QUALIFIERS and "BK" in cs.ICD9_DX_QUALIFIERS
    assert cs.ICD10_PROC_QUALIFIERS == {"BBR", "BBQ"} and cs.ICD9_PROC_QUALIFIERS == {"BR", "BQ"}
    assert cs.ICD10_EFFECTIVE == date(2015, 10, 1)


def test_pos():
    assert cs.pos_is_valid("11") and cs.pos_name("11") == "Office"
    assert cs.pos_is_valid("02") and cs.pos_is_valid("10") and cs.pos_is_valid("53")
    assert not cs.pos_is_valid("00") and not cs.pos_is_valid("30") and not cs.pos_is_valid("11 ")
    assert cs.pos_status("30") == "unassigned" and cs.pos_status("00") == "unknown"
    assert cs.pos_name("30") is None


def test_revenue_codes():
    for good in ("0114", "0124", "0134", "0144", "0154", "0204", "0250", "0300", "0370",
                 "0513", "0900", "0912", "0913", "0914", "0944", "0961", "0981", "1001"):
        assert cs.revenue_code_status(good) == "valid", good
    assert cs.revenue_code_status("114") == "format"
    assert cs.revenue_code_status("01A4") == "format"
    assert cs.revenue_code_status("8888") == "unknown"
    assert cs.revenue_code_name("0914") == "Behavioral Health Treatments/Services - Extension of 090X - Individual Therapy"


def test_condition_occurrence_frequency_facility():
    assert cs.condition_code_known("41") and cs.condition_code_known("D9")
    assert not cs.condition_code_known("ZZ") and not cs.condition_code_known("4")
    assert cs.occurrence_code_known("11") and cs.occurrence_code_known("32")
    assert not cs.occurrence_code_known("99")
    assert "ABN" in cs.occurrence_code_name("32")
    for c in "178":
        assert cs.claim_frequency_is_valid(c, professional=True)
    assert not cs.claim_frequency_is_valid("2", professional=True)
    assert cs.claim_frequency_is_valid("2") and not cs.claim_frequency_is_valid("X")
    assert cs.facility_type_name("13").startswith("Hospital") and cs.facility_type_name("99") is None


def test_taxonomy():
    for good in ("2084P0800X", "363LP0808X", "207Q00000X", "101YM0800X", "1041C0700X"):
        assert cs.taxonomy_format_ok(good), good
    for bad in ("2084P0800", "2084p0800X", "A084P0800X", "2084P08000"):
        assert not cs.taxonomy_format_ok(bad), bad
    assert cs.taxonomy_is_physician("2084P0800X") and not cs.taxonomy_is_physician("363LP0808X")
    assert cs.taxonomy_kind("2084P0800X") == "physician"
    assert cs.taxonomy_kind("363LP0808X") == "nurse_practitioner"
    assert cs.taxonomy_kind("363A00000X") == "physician_assistant"
    assert cs.taxonomy_kind("364SP0808X") == "clinical_nurse_specialist"
    assert cs.taxonomy_kind("103T00000X") == "psychologist"
    assert cs.taxonomy_kind("1041C0700X") == "social_worker"
    assert cs.taxonomy_kind("101YP2500X") == "counselor"
    assert cs.taxonomy_kind("367500000X") == "anesthesia"
    assert cs.taxonomy_kind("332B00000X") == "other"
    assert cs.taxonomy_kind("bad") == "invalid"


def test_procedure_codes():
    for good in ("90837", "99213", "3074F", "0042T", "0001U", "H0015", "J3490", "G0463"):
        assert cs.hcpcs_format_ok(good), good
    for bad in ("9083", "908370", "F0015", "h0015", "I1234", "30740F"):
        assert not cs.hcpcs_format_ok(bad), bad
    assert cs.is_anesthesia_code("00100") and cs.is_anesthesia_code("01999") and cs.is_anesthesia_code("00104")
    assert not cs.is_anesthesia_code("02000") and not cs.is_anesthesia_code("00099") and not cs.is_anesthesia_code("90837")


def test_states_and_zip():
    for good in ("NY", "DC", "PR", "VI", "GU", "AS", "MP", "AA", "AE", "AP"):
        assert cs.state_is_valid(good), good
    assert not cs.state_is_valid("XX") and not cs.state_is_valid("ny")
    assert cs.zip_format_ok("10001") and cs.zip_format_ok("100011234")
    assert not cs.zip_format_ok("1000") and not cs.zip_format_ok("10001-1234")
    assert cs.zip_format_ok("SW1A1AA", country="GB")
    assert cs.zip_problem("10001") is None
    assert cs.zip_problem("10001", require_9=True) == "ZIP code must be 9 digits (ZIP+4)"
    assert cs.zip_problem("100011234", require_9=True) is None
    assert cs.zip_problem("1000A") == "ZIP code must be 5 or 9 digits"


@pytest.mark.parametrize("table", ["pos", "revenue_codes", "condition_codes", "occurrence_codes",
                                   "claim_frequency", "facility_types", "taxonomy", "states", "icd10cm"])
def test_sources(table):
    info = cs.SOURCES[table]
    assert info["source"] and info["url"] and info["compiled"]
    assert table in cs.describe_sources()
