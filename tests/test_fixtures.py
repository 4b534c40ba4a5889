"""Every fixture outside fixtures/invalid/ and the generator output validate clean with pyx12."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from pyx12_check import pyx12_errors  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
VALID = sorted(p for p in FIXTURES.glob("*.x12"))


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


sys.path.insert(0, str(ROOT / "benchmarks"))
generate_mod = _load("edi837_bench_generate", ROOT / "benchmarks" / "generate.py")
import x12gen  # noqa: E402  (benchmarks/ is on sys.path)




def test_fixture_set_present():
    names = {p.name for p in VALID}
    for expected in ["837p_tms_course.x12", "837p_ect_anesthesia.x12", "837p_2000c_patient.x12",
                     "837i_ect_inpatient.x12", "837i_ect_outpatient.x12", "837i_tms_outpatient.x12",
                     "multi_envelope.x12", "no_line_breaks.x12", "bom_crlf.x12", "newline_terminator.x12"]:
        assert expected in names
    invalid = {p.name for p in (FIXTURES / "invalid").iterdir()}
    assert {"clm02_off_by_a_cent.x12", "bad_npi_check_digit.x12", "unknown_icd10.x12", "missing_iea.x12",
            "truncated.x12", "empty.x12", "binary.x12", "se_count_wrong.x12"} <= invalid


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_fixture_validates_clean(path: Path):
    assert pyx12_errors(path.read_bytes()) == []


@pytest.mark.parametrize("kind", ["837P", "837I"])
def test_generator_output_validates_clean(tmp_path, kind):
    out = tmp_path / f"gen_{kind}.x12"
    stats = generate_mod.generate(out, 20, kind, lines_per_claim=3, claims_per_st=8, seed=0)
    assert stats["claims"] == 20 and stats["transactions"] == 3
    data = out.read_bytes()
    assert data.count(b"\nCLM*") == 20
    assert pyx12_errors(data) == []


def test_npi_check_digit():
    assert x12gen.npi("123456789") == "1234567893"  # CMS example NPI
    assert x12gen.is_valid_npi("1234567893")
    assert not x12gen.is_valid_npi("1234567890")


def test_fixtures_are_reproducible():
    """The committed fixtures are exactly what make_fixtures.py writes."""
    mk = _load("edi837_make_fixtures", FIXTURES / "make_fixtures.py")
    for name, data in mk.valid_files().items():
        assert (FIXTURES / name).read_bytes() == data, name
    for name, data in mk.invalid_files().items():
        assert (FIXTURES / "invalid" / name).read_bytes() == data, name


@pytest.mark.parametrize("name", ["se_count_wrong.x12", "missing_iea.x12", "truncated.x12"])
def test_harness_sees_envelope_errors(name):
    """Guards the harness itself: pyx12 must report the structural invalid fixtures."""
    assert pyx12_errors((FIXTURES / "invalid" / name).read_bytes())
