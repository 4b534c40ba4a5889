"""`edi837 validate`: the JSON report against its schema, exit codes, --snip, what pyx12 misses."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from edi837.cli import main

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "fixtures"
SCHEMA = json.loads((ROOT / "docs" / "report.schema.json").read_text())


def run(*args):
    return CliRunner().invoke(main, ["validate", *map(str, args)])


def report(*args):
    res = run(*args, "--format", "json")
    doc = json.loads(res.stdout)
    jsonschema.validate(doc, SCHEMA)
    return res, doc


def test_clean_fixture_exits_0_and_report_matches_schema():
    res, doc = report(FIX / "837p_tms_course.x12")
    assert res.exit_code == 0
    assert [c["verdict"] for c in doc["claims"]] == ["accepted"] * 4
    assert doc["summary"]["errors"] == 0


@pytest.mark.parametrize("name,rule", [("clm02_off_by_a_cent.x12", "S3-CLM-001"),
                                       ("bad_npi_check_digit.x12", "S5-NPI-001"),
                                       ("unknown_icd10.x12", "S5-ICD-001")])
def test_what_pyx12_misses_is_caught(name, rule):
    res, doc = report(FIX / "invalid" / name)
    assert res.exit_code == 1
    hits = [f for f in doc["findings"] if f["rule"] == rule]
    assert hits, [f["rule"] for f in doc["findings"]]
    f = hits[0]
    assert f["severity"] == "error" and f["segment_seq"] and f["line"] and f["element"]


def test_every_claim_of_a_rejected_transaction_is_listed():
    res, doc = report(FIX / "invalid" / "se_count_wrong.x12")
    assert res.exit_code == 1
    assert len(doc["claims"]) == 4 and {c["verdict"] for c in doc["claims"]} == {"rejected"}
    assert all("S1-ENV-008" in c["reasons"] for c in doc["claims"])


def test_folder_input_and_snip_selection():
    res, doc = report(FIX / "invalid", "--snip", "1,2")
    assert {f["snip"] for f in doc["findings"]} <= {1, 2}
    assert len(doc["files"]) >= 8
    res, doc = report(FIX / "invalid" / "clm02_off_by_a_cent.x12", "--snip", "1-2")
    assert res.exit_code == 0  # the balancing error is SNIP 3


def test_bad_snip_is_a_usage_error():
    res = run(FIX / "837p_tms_course.x12", "--snip", "9")
    assert res.exit_code == 2 and "Traceback" not in res.output


def test_missing_file_exits_2_naming_it():
    res = run("no/such.x12")
    assert res.exit_code == 2 and "no/such.x12" in res.stderr


def test_text_report_shows_place_segment_and_rule():
    res = run(FIX / "invalid" / "clm02_off_by_a_cent.x12")
    assert res.exit_code == 1
    out = res.stdout
    assert "claim #2 'TMS250902': REJECTED" in out
    assert "S3-CLM-001" in out and "> CLM*TMS250902*1500.01" in out and "CLM02" in out


def test_output_file_is_written_atomically(tmp_path):
    out = tmp_path / "r.json"
    res = run(FIX / "837p_tms_course.x12", "--format", "json", "-o", out)
    assert res.exit_code == 0
    jsonschema.validate(json.loads(out.read_text()), SCHEMA)
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_output_file_is_private_whatever_the_umask(tmp_path):
    """Reports may hold patient data: 0600, not the umask's mode nor the replaced
    file's (issue 14 item 7)."""
    import os
    import stat

    old = os.umask(0)
    try:
        out = tmp_path / "r.json"
        assert run(FIX / "837p_tms_course.x12", "--format", "json", "-o", out).exit_code == 0
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        out.chmod(0o644)  # a file replaced does not pass its mode on
        assert run(FIX / "837p_tms_course.x12", "--format", "json", "-o", out).exit_code == 0
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
    finally:
        os.umask(old)


@pytest.mark.parametrize("opt,value,says", [("--profile", "nosuch", "unknown payer profile"),
                                            ("--mue", "README.md", "cannot read the MUE file"),
                                            ("--history", "README.md", "not an SQLite database")])
def test_bad_edit_pack_option_is_a_usage_error(opt, value, says, monkeypatch):
    monkeypatch.chdir(ROOT)
    res = run(FIX / "837p_tms_course.x12", opt, value)
    assert res.exit_code == 2 and says in res.output and "Traceback" not in res.output


@pytest.mark.parametrize("command", ["validate", "lines", "parse"])
def test_an_output_in_a_folder_that_is_not_there_is_a_message(tmp_path, command):
    """-o into a missing folder: exit 2 with a message naming the output, no traceback, nothing
    written."""
    out = tmp_path / "nosuch" / "out.json"
    res = CliRunner().invoke(main, [command, str(FIX / "837p_tms_course.x12"), "-o", str(out)])
    assert res.exit_code == 2, res.output
    assert f"{out}: error: cannot write the output here" in res.output
    assert "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert not (tmp_path / "nosuch").exists()
