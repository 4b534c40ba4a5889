"""Issue 13 item 12: ``edi837.validate(paths_or_bytes, **options) -> Report`` as
the documented library entry point, typed (py.typed shipped), with
``python -m edi837`` and a LICENSE file."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

import edi837
from edi837.cli import main

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "fixtures"
COURSE = FIX / "837p_tms_course.x12"
SCHEMA = json.loads((ROOT / "docs" / "report.schema.json").read_text())


def cli_json(*args: str | os.PathLike[str]):
    res = CliRunner().invoke(main, ["validate", "--format", "json", *map(str, args)])
    return res.exit_code, res.stdout


@pytest.mark.parametrize("inputs,opts,cli_opts", [
    ([COURSE], {}, []),
    ([FIX], {"snip": "1-5"}, ["--snip", "1-5"]),  # a folder: its skipped files too
    ([FIX / "invalid" / "clm02_off_by_a_cent.x12", FIX / "invalid" / "empty.x12"], {}, []),
    ([FIX / "837p_tms_course.x12", FIX / "nosuch.x12"], {"snip": "1-2"}, ["--snip", "1-2"]),
    ([COURSE], {"profile": "medicare", "snip": "7"}, ["--profile", "medicare", "--snip", "7"]),
])
def test_report_is_the_json_and_exit_code_of_the_command(inputs, opts, cli_opts):
    rep = edi837.validate(inputs, **opts)
    code, text = cli_json(*inputs, *cli_opts)
    assert rep.to_json() == text
    assert rep.exit_code == code
    doc = json.loads(rep.to_json())
    jsonschema.validate(doc, SCHEMA)
    assert doc["summary"] == rep.counts
    assert [c.to_dict() for c in rep.claims] == doc["claims"]
    assert [f["file"] for f in doc["files"]] == [r.file for r in rep.files]
    assert doc["skipped"] == [s.to_dict() for s in rep.skipped]


def test_report_of_a_clean_file():
    rep = edi837.validate(str(COURSE))
    assert isinstance(rep, edi837.Report)
    assert rep.ok and rep.exit_code == 0 and rep.errors == [] and rep.rejected == []
    assert [c.claim_id for c in rep.accepted] == ["TMS250901", "TMS250902", "TMS250903", "TMS250904"]
    assert rep.counts == {"claims": 4, "accepted": 4, "rejected": 0, "errors": 0, "warnings": 0, "infos": 0,
                          "files": 1, "skipped": 0}
    assert [r.file for r in rep.files] == [str(COURSE)] and rep.files[0].claims == 4
    assert rep.to_text().endswith("1 file(s), 4 claims: 4 accepted, 0 rejected; 0 errors, 0 warnings, 0 infos\n")


def test_report_of_errors_and_of_an_unreadable_file(tmp_path):
    rep = edi837.validate(FIX / "invalid" / "clm02_off_by_a_cent.x12")
    assert not rep.ok and rep.exit_code == 1
    assert [c.claim_id for c in rep.rejected] == ["TMS250902"] and rep.rejected[0].reasons == ["S3-CLM-001"]
    assert [f.rule for f in rep.errors] == ["S3-CLM-001"] and rep.errors[0].element == "CLM02"
    rep = edi837.validate([COURSE, tmp_path / "missing.x12"])
    assert rep.exit_code == 2 and [r.could_not_read for r in rep.files] == [False, True]


def test_bytes_gzip_bytes_and_a_mixed_list():
    data = COURSE.read_bytes()
    one = edi837.validate(data)
    assert one.ok and [r.file for r in one.files] == ["<bytes>"] and len(one.claims) == 4
    packed = edi837.validate(gzip.compress(data))
    assert [c.to_dict() for c in packed.claims] == [c.to_dict() for c in one.claims]
    mixed = edi837.validate([data, str(COURSE), bytearray(data)])
    assert [r.file for r in mixed.files] == ["<bytes>", str(COURSE), "<bytes>"]
    with pytest.raises(TypeError, match="paths and bytes"):
        edi837.validate([COURSE, 42])  # type: ignore[list-item]


def test_jobs_gives_the_report_of_one_job():
    files = [FIX / "837p_tms_course.x12", FIX / "invalid", FIX / "837i_tms_outpatient.x12"]
    assert edi837.validate(files, jobs=2).to_json() == edi837.validate(files).to_json()


def test_an_empty_folder_raises_the_message_of_the_commands(tmp_path):
    d = tmp_path / "empty"
    d.mkdir()
    with pytest.raises(ValueError) as e:
        edi837.validate(d)
    res = CliRunner().invoke(main, ["validate", str(d)])
    assert res.exit_code == 2 and res.stderr.strip() == f"edi837 validate: {e.value}"
    with pytest.raises(ValueError, match="no input files"):
        edi837.validate([])


def test_options_reach_the_run(tmp_path):
    seen = []
    rep = edi837.validate(COURSE, snip=[1, 2], on_verdict=seen.append)
    assert [c.claim_id for c in seen] == [c.claim_id for c in rep.claims]
    rep = edi837.validate(FIX / "invalid" / "clm02_off_by_a_cent.x12", rules=["S5-NPI-001"])
    assert rep.ok  # S3-CLM-001 not among the rules asked for
    hist = tmp_path / "h.sqlite"
    edi837.validate(COURSE, history=str(hist))
    assert hist.exists()


# -- packaging -----------------------------------------------------------------------------
def test_python_m_edi837_runs_the_cli(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "edi837", "validate", "--format", "json", str(COURSE)],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout == cli_json(COURSE)[1]
    r = subprocess.run([sys.executable, "-m", "edi837", "--help"], capture_output=True, text=True, env=env,
                       timeout=300)
    assert r.returncode == 0 and "python -m edi837" in r.stdout and "validate" in r.stdout
    r = subprocess.run([sys.executable, "-m", "edi837", "validate", str(tmp_path / "nope")],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 2 and "nope" in r.stderr and "Traceback" not in r.stderr


def test_py_typed_is_shipped_and_the_package_is_typed():
    assert (ROOT / "edi837" / "py.typed").is_file()
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert "edi837" in build["packages"]  # the wheel takes every file of the package folder, py.typed too
    assert not any("py.typed" in x for x in build.get("exclude", []))
    if shutil.which("git"):  # not ignored, so it lands in the sdist and the wheel
        r = subprocess.run(["git", "check-ignore", "-q", "edi837/py.typed"], cwd=ROOT)
        assert r.returncode == 1


def test_a_user_script_type_checks_against_edi837(tmp_path):
    pytest.importorskip("mypy")
    script = tmp_path / "use.py"
    script.write_text(
        "import edi837\n"
        "rep: edi837.Report = edi837.validate(['a.x12', b'ISA'], snip='1-5', jobs=2)\n"
        "code: int = rep.exit_code\n"
        "ok: bool = rep.ok\n"
        "text: str = rep.to_json()\n"
        "ids: list[str] = [c.claim_id for c in rep.claims]\n"
        "rules: list[str] = [f.rule for f in rep.findings]\n"
        "bad: str = rep.exit_code\n")
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-error-summary",
                        "--cache-dir", str(tmp_path / "cache"), str(script)],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900)
    errors = [ln for ln in r.stdout.splitlines() if ": error:" in ln and ln.startswith("use.py")]
    assert len(errors) == 1 and "use.py:8:" in errors[0] and 'type "int"' in errors[0], r.stdout[-3000:]


def test_license_matches_pyproject():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]["text"]
    text = (ROOT / "LICENSE").read_text()
    assert declared == "Apache-2.0"
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text


def test_readme_shows_library_use_and_its_example_runs(tmp_path):
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    example = [b for b in blocks if "edi837.validate(" in b]
    assert example, "README has no edi837.validate example"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", example[0]], capture_output=True, text=True, env=env, cwd=ROOT,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith("1 False {'claims': ")
    # the set-up commands stay as they are
    assert 'python3 -m venv .venv && .venv/bin/pip install -e ".[test]" && .venv/bin/edi837 validate ' \
           "fixtures/837p_tms_course.x12" in readme
    assert ".venv/bin/python -m pytest" in readme
