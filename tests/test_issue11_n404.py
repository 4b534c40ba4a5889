"""Issue 11: N404 country code.

N404 (data element 26, code source 5) is sent only for an address outside the
United States and is an ISO 3166-1 alpha-2 code, taken from pycountry.
S5-CTY-001 (error, as pyx12: "(USA) is not a valid code for Country Code
(N404)") and S5-CTY-002 (warning: US sent; pyx12 accepts it)."""

from __future__ import annotations

import json
from pathlib import Path

import pycountry
import pytest
from click.testing import CliRunner

from edi837 import codesets as cs
from edi837.checks import Engine
from edi837.cli import main
from edi837.findings import Severity
from evs import found, verdicts  # noqa: E402
from pyx12_check import pyx12_errors  # noqa: E402

FIX = Path(__file__).resolve().parents[1] / "fixtures"
P = (FIX / "837p_tms_course.x12").read_bytes()
BILLING_N4 = b"N4*SPRINGFIELD*IL*627040123~"  # 2010AA, line 12
FACILITY_N4 = b"N4*SPRINGFIELD*IL*627030789~"  # 2310C in 837p_ect_anesthesia (claim loops)


def billing(n4: bytes) -> bytes:
    assert P.count(BILLING_N4) == 1
    return P.replace(BILLING_N4, n4)


def cty(data: bytes) -> list:
    return [f for f in found(Engine().run_file(data, file="x.x12")) if f.rule.startswith("S5-CTY")]


def test_code_set_comes_from_pycountry():
    codes = {c.alpha_2 for c in pycountry.countries}
    assert len(codes) >= 249 and all(cs.country_is_valid(c) for c in codes)
    assert cs.country_is_valid("CA") and cs.country_is_valid("SS")  # South Sudan (2011)
    for bad in ("USA", "GBR", "gb", "XK", "ZZ", "840", ""):
        assert not cs.country_is_valid(bad)
    assert cs.country_alpha2_for("USA") == "US" and cs.country_alpha2_for("826") == "GB"
    assert cs.country_alpha2_for("XK") is None
    assert "countries" in cs.describe_sources()


@pytest.mark.parametrize("code,hint", [("USA", "for a US address leave N404 out"),
                                       ("GBR", "the alpha-2 code is GB"),
                                       ("ca", "the alpha-2 code is CA"),
                                       ("ZZ", "")])
def test_not_alpha2_is_an_error_where_pyx12_rejects_it_too(code, hint):
    n4 = b"N4*TORONTO*ON*M5V3L9*" + code.encode() + b"~"
    data = billing(n4)
    fs = cty(data)
    assert [(f.rule, f.severity) for f in fs] == [("S5-CTY-001", Severity.ERROR)]
    f = fs[0]
    assert (f.line, f.segment_id, f.element, f.loop, f.value) == (12, "N4", "N404", "2010AA", code)
    assert f.byte_offset == P.index(BILLING_N4)
    assert data[f.byte_offset:f.byte_offset + len(n4)] == n4
    assert hint in f.message
    assert f"({code}) is not a valid code for Country Code (N404)" in " ".join(pyx12_errors(data))
    # a billing provider error rejects every claim under it
    assert {v.verdict for v in verdicts(Engine().run_file(data, file="x.x12"))} == {"rejected"}


def test_us_is_a_warning_and_pyx12_accepts_it():
    data = billing(b"N4*SPRINGFIELD*IL*627040123*US~")
    fs = cty(data)
    assert [(f.rule, f.severity, f.element, f.line) for f in fs] == [("S5-CTY-002", Severity.WARNING, "N404", 12)]
    assert "outside the United States" in fs[0].message
    assert pyx12_errors(data) == []
    assert {v.verdict for v in verdicts(Engine().run_file(data, file="x.x12"))} == {"accepted"}


@pytest.mark.parametrize("n4", [BILLING_N4, b"N4*TORONTO*ON*M5V3L9*CA~", b"N4*LONDON**SW1A1AA*GB~"])
def test_no_country_or_a_foreign_alpha2_passes(n4):
    data = billing(n4)
    assert cty(data) == []
    assert pyx12_errors(data) == []


def test_claim_loop_n4_and_837i():
    a = (FIX / "837p_ect_anesthesia.x12").read_bytes()
    assert a.count(FACILITY_N4) == 2
    data = a.replace(FACILITY_N4, b"N4*SPRINGFIELD*IL*627030789*USA~", 1)
    fs = cty(data)
    assert [(f.rule, f.loop, f.line) for f in fs] == [("S5-CTY-001", "2310C", 27)]
    assert fs[0].claim_id  # attributed to its claim
    i = (FIX / "837i_ect_inpatient.x12").read_bytes()
    data = i.replace(b"N4*ROCHESTER*IL*62563~", b"N4*ROCHESTER*IL*62563*US~")
    assert [(f.rule, f.loop, f.line) for f in cty(data)] == [("S5-CTY-002", "2010BA", 18)]


def test_cli_validate(tmp_path):
    bad = tmp_path / "usa.x12"
    bad.write_bytes(billing(b"N4*SPRINGFIELD*IL*627040123*USA~"))
    warn = tmp_path / "us.x12"
    warn.write_bytes(billing(b"N4*SPRINGFIELD*IL*627040123*US~"))
    runner = CliRunner()
    res = runner.invoke(main, ["validate", str(bad), "--format", "json"])
    assert res.exit_code == 1, res.output
    fs = [f for f in json.loads(res.output)["findings"] if f["rule"] == "S5-CTY-001"]
    assert [(f["line"], f["byte_offset"], f["segment_id"], f["element"], f["severity"]) for f in fs] == [
        (12, P.index(BILLING_N4), "N4", "N404", "error")]
    res = runner.invoke(main, ["validate", str(warn), "--format", "json"])
    assert res.exit_code == 0, res.output  # warnings allowed
    assert [f["rule"] for f in json.loads(res.output)["findings"]] == ["S5-CTY-002"]
