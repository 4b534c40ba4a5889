"""Issue 13 item 5: nothing skipped silently.

``validate``, ``lines`` and ``gate`` take their inputs the same way
(edi837.api.collect_inputs): files given by name are read whatever their name;
folders are searched recursively by one rule, and every file skipped is named
with the reason (validate: text and JSON report; lines: stderr; gate: its
summary lines); gzip input is read as it streams; inputs holding no file are
exit 2 with the same message for every command.  Run through the real CLI.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from edi837.api import collect_inputs, expand_paths
from edi837.checks.editpack.synth import build
from edi837.cli import main

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "fixtures"
SCHEMA = json.loads((ROOT / "docs" / "report.schema.json").read_text())
COURSE = (FIX / "837p_tms_course.x12").read_bytes()


def claim_file(cid: str, isa: str = "000000101") -> bytes:
    return build("837P", [{"id": cid, "lines": [{"code": "90868", "date": "2025-03-03"}]}], isa=isa)


def cli(*args: str | os.PathLike[str]):
    return CliRunner().invoke(main, [str(a) for a in args])


def validate_json(*args):
    res = cli("validate", "--format", "json", "--snip", "1-2", *args)
    assert res.exit_code in (0, 1), res.output
    doc = json.loads(res.stdout)
    jsonschema.validate(doc, SCHEMA)
    return res, doc


def lines_files(*args) -> tuple[set[str], str]:
    res = cli("lines", "--format", "csv", *args)
    assert res.exit_code in (0, 1), res.output
    return {r["file"] for r in csv.DictReader(io.StringIO(res.stdout))}, res.stderr


def gate_run(tmp_path: Path, *args, out: Path | None = None):
    out = out or tmp_path / "gate-out"
    res = cli("gate", *args, "--out", out, "--snip", "1-2", "--control-number", "1", "--now", "2026-01-01T12:00")
    return res, out


def gated_inputs(stdout: str) -> set[str]:
    return {ln.split(": ")[0] for ln in stdout.splitlines() if " claims in, " in ln}


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    """A folder as a clearinghouse inbox looks: X12 under several names, at
    several depths, compressed or not, beside files that are not claims."""
    d = tmp_path / "inbox"
    (d / "2026" / "01").mkdir(parents=True)
    (d / ".git").mkdir()
    (d / "a.x12").write_bytes(claim_file("A1", "000000101"))
    (d / "2026" / "b.EDI").write_bytes(claim_file("B1", "000000102"))  # suffixes in any case
    (d / "2026" / "01" / "c.dat.gz").write_bytes(gzip.compress(claim_file("C1", "000000103")))
    (d / "2026" / "01" / "CLAIMS_0104").write_bytes(claim_file("D1", "000000104"))  # no suffix: content says X12
    (d / "2026" / "01" / "e.gz").write_bytes(gzip.compress(claim_file("E1", "000000105")))  # gzip, content X12
    (d / "notes.md").write_text("# what came in today\nISA rules are in the guide\n")
    (d / "pay.csv").write_text("claim,amount\nA1,100\n")
    (d / ".part-a.x12").write_bytes(claim_file("H1"))
    (d / ".git" / "x.x12").write_bytes(claim_file("G1"))
    (d / "old.accepted.x12").write_bytes(claim_file("O1"))  # an output of an earlier gate run
    (d / "old.999.x12").write_bytes(b"ISA*...")
    return d


READ = {"a.x12", "2026/b.EDI", "2026/01/c.dat.gz", "2026/01/CLAIMS_0104", "2026/01/e.gz"}
SKIPPED = {"notes.md": "not an X12 file", "pay.csv": "not an X12 file", ".part-a.x12": "hidden file",
           ".git": "hidden folder", "old.accepted.x12": "an output of edi837 gate",
           "old.999.x12": "an output of edi837 gate"}


def rel(d: Path, paths) -> set[str]:
    return {Path(p).relative_to(d).as_posix() for p in paths}


def test_one_folder_rule_for_every_command(tmp_path, inbox):
    got = collect_inputs([inbox])
    assert rel(inbox, got.files) == READ
    assert {Path(s.path).relative_to(inbox).as_posix(): s.reason for s in got.skipped}.keys() == SKIPPED.keys()
    for s in got.skipped:
        assert SKIPPED[Path(s.path).relative_to(inbox).as_posix()] in s.reason
    assert list(expand_paths([inbox])) == got.files  # the library's expansion is the same

    res, doc = validate_json(inbox)
    assert rel(inbox, [f["file"] for f in doc["files"]]) == READ
    assert {c["claim_id"] for c in doc["claims"]} == {"A1", "B1", "C1", "D1", "E1"}
    assert rel(inbox, [s["path"] for s in doc["skipped"]]) == SKIPPED.keys()
    assert doc["summary"]["skipped"] == len(SKIPPED)

    files, err = lines_files(inbox)
    assert rel(inbox, files) == READ
    for name in SKIPPED:
        assert f"{inbox / name}: skipped: {SKIPPED[name]}" in err

    res, out = gate_run(tmp_path, inbox)
    assert res.exit_code == 0, res.output
    assert rel(inbox, gated_inputs(res.stdout)) == READ
    for name in SKIPPED:
        assert f"{inbox / name}: skipped: {SKIPPED[name]}" in res.stdout
    assert (out / "c.accepted.x12").exists() and (out / "e.accepted.x12").exists()  # .gz is not in the stem


def test_text_report_names_each_skipped_file_with_its_reason(inbox):
    res = cli("validate", "--snip", "1-2", inbox)
    assert res.exit_code == 0, res.output
    head = res.stdout.split("\n\n", 1)[0].splitlines()
    assert head[0] == f"skipped ({len(SKIPPED)} file(s) in the input folders not read):"
    listed = {ln.strip().split(": ", 1)[0]: ln.split(": ", 1)[1] for ln in head[1:]}
    assert rel(inbox, listed) == SKIPPED.keys()
    assert all(SKIPPED[Path(p).relative_to(inbox).as_posix()] in why for p, why in listed.items())
    assert res.stdout.rstrip().endswith(f"{len(SKIPPED)} file(s) skipped (listed at the top)")


def test_json_report_always_has_skipped_and_it_is_empty_when_nothing_was(tmp_path):
    (tmp_path / "a.x12").write_bytes(claim_file("A1"))
    res, doc = validate_json(tmp_path)
    assert doc["skipped"] == [] and doc["summary"]["skipped"] == 0


def test_gate_does_not_search_its_own_output_folder(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.x12").write_bytes(claim_file("A1"))
    res, out = gate_run(tmp_path, inbox, out=inbox / "out")
    assert res.exit_code == 0
    res, out = gate_run(tmp_path, inbox, out=inbox / "out")  # again: its outputs are not inputs
    assert res.exit_code == 0, res.output
    assert gated_inputs(res.stdout) == {str(inbox / "a.x12")}
    assert f"{inbox / 'out'}: skipped: the output folder (--out), not searched" in res.stdout


@pytest.mark.parametrize("name", ["claims.clm", "CLAIMS", "notes.md", "c.x12.gz"])
def test_a_file_given_by_name_is_read_whatever_its_name(tmp_path, name):
    p = tmp_path / name
    data = claim_file("N1")
    p.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    res, doc = validate_json(p)
    assert res.exit_code == 0 and [c["claim_id"] for c in doc["claims"]] == ["N1"] and doc["skipped"] == []
    files, err = lines_files(p)
    assert files == {str(p)} and "skipped" not in err
    res, out = gate_run(tmp_path, p)
    assert res.exit_code == 0 and gated_inputs(res.stdout) == {str(p)}


def test_a_named_file_that_is_not_x12_is_an_error_not_a_skip(tmp_path):
    p = tmp_path / "notes.md"
    p.write_text("nothing to see\n")
    res = cli("validate", "--format", "json", p)
    assert res.exit_code == 1
    assert [f["rule"] for f in json.loads(res.stdout)["findings"]] == ["RDR-002"]


# -- gzip -------------------------------------------------------------------------------
def test_gzip_reads_as_the_plain_file(tmp_path):
    plain, packed, disguised = tmp_path / "c.x12", tmp_path / "c2.x12.gz", tmp_path / "c3.x12"
    plain.write_bytes(COURSE)
    packed.write_bytes(gzip.compress(COURSE))
    disguised.write_bytes(gzip.compress(COURSE))  # compressed, but named .x12
    docs = [validate_json(p)[1] for p in (plain, packed, disguised)]
    strip = [[{k: v for k, v in c.items() if k != "file"} for c in d["claims"]] for d in docs]
    assert strip[0] == strip[1] == strip[2] and len(strip[0]) == 4
    assert all(d["findings"] == [] for d in docs)
    rows = [cli("lines", "--format", "jsonl", p).stdout.splitlines() for p in (plain, packed)]
    strip_rows = [[{k: v for k, v in json.loads(r).items() if k != "file"} for r in rs] for rs in rows]
    assert strip_rows[0] == strip_rows[1] and len(strip_rows[0]) > 4
    res, out = gate_run(tmp_path, plain, out=tmp_path / "o1")
    res2, out2 = gate_run(tmp_path, packed, out=tmp_path / "o2")
    assert res.exit_code == res2.exit_code == 0
    assert (out2 / "c2.accepted.x12").read_bytes() == (out / "c.accepted.x12").read_bytes()


def test_damaged_gzip_is_said_as_such_never_no_isa(tmp_path):
    bad = tmp_path / "bad.x12.gz"
    bad.write_bytes(b"\x1f\x8b" + b"\x00" * 40)  # gzip magic, then nothing gzip can read
    res = cli("validate", "--format", "json", bad)
    assert res.exit_code == 2, res.output  # could not read it at all
    doc = json.loads(res.stdout)
    msgs = [(f["rule"], f["message"]) for f in doc["findings"]]
    assert len(msgs) == 1 and msgs[0][0] == "RDR-007" and msgs[0][1].startswith("gzip: cannot decompress")
    cut = tmp_path / "cut.x12.gz"
    cut.write_bytes(gzip.compress(COURSE * 3)[:-30])  # truncated in transit
    res = cli("validate", "--format", "json", cut)
    doc = json.loads(res.stdout)
    assert res.exit_code == 1
    rules = [f["rule"] for f in doc["findings"]]
    assert "RDR-002" not in rules
    assert any(f["rule"] == "RDR-007" and "gzip: the compressed data is truncated" in f["message"]
               for f in doc["findings"])
    res = cli("lines", bad)
    assert res.exit_code == 2 and "gzip: cannot decompress" in res.stderr and "Traceback" not in res.output


# -- no input files -----------------------------------------------------------------------
def _no_input(tmp_path: Path, folder: Path) -> list[tuple[int, str]]:
    got = []
    for args in (["validate", folder], ["validate", "--format", "json", folder], ["lines", folder],
                 ["gate", folder, "--out", tmp_path / "o"]):
        res = cli(*args)
        assert "Traceback" not in res.output and isinstance(res.exception, SystemExit)
        last = res.stderr.strip().splitlines()[-1]
        cmd = args[0]
        assert last.startswith(f"edi837 {cmd}: ")
        got.append((res.exit_code, last.removeprefix(f"edi837 {cmd}: ")))
        assert res.stdout.strip() == "" or cmd == "gate"  # no report written
    assert not (tmp_path / "o").exists()
    return got


def test_an_empty_folder_is_the_same_outcome_for_every_command(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    got = _no_input(tmp_path, empty)
    assert got == [(2, f"could not run: no input files ({empty}: no file to read in this folder)")] * 4


def test_a_folder_of_skipped_files_names_them_and_is_the_same_outcome(tmp_path):
    d = tmp_path / "docs"
    d.mkdir()
    (d / "readme.txt.bak").write_text("hello\n")
    got = _no_input(tmp_path, d)
    assert got == [(2, f"could not run: no input files ({d}: no file to read in this folder "
                       f"(1 skipped, see above))")] * 4
    res = cli("validate", d)
    assert f"{d / 'readme.txt.bak'}: skipped: not an X12 file" in res.stderr
    res = cli("gate", d, "--out", tmp_path / "o")
    assert f"{d / 'readme.txt.bak'}: skipped: not an X12 file" in res.stdout


def test_an_empty_folder_beside_other_inputs_does_not_stop_the_run(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    f = tmp_path / "a.x12"
    f.write_bytes(claim_file("A1"))
    res, doc = validate_json(empty, f)
    assert res.exit_code == 0 and [c["claim_id"] for c in doc["claims"]] == ["A1"]
    res, out = gate_run(tmp_path, empty, f)
    assert res.exit_code == 0 and gated_inputs(res.stdout) == {str(f)}


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_links_to_folders_are_named_not_followed(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "a.x12").write_bytes(claim_file("A1"))
    (d / "loop").symlink_to(d, target_is_directory=True)
    (d / "gone.x12").symlink_to(tmp_path / "nowhere.x12")
    got = collect_inputs([d])
    assert got.files == [str(d / "a.x12")]
    assert {(Path(s.path).name, s.reason) for s in got.skipped} == {
        ("loop", "link to a folder, not followed"), ("gone.x12", "broken symbolic link")}


# -- --jobs ---------------------------------------------------------------------------------
@pytest.mark.parametrize("cmd", ["validate", "lines", "gate"])
@pytest.mark.parametrize("jobs", ["0", "-1", "two"])
def test_jobs_must_be_at_least_one_everywhere(tmp_path, cmd, jobs):
    args = [cmd, FIX / "837p_tms_course.x12", "--jobs", jobs]
    if cmd == "gate":
        args += ["--out", tmp_path / "o"]
    res = cli(*args)
    assert res.exit_code == 2 and "--jobs" in res.output and "Traceback" not in res.output
