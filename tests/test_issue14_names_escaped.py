"""Issue 14 item 9 (text): a newline or control character in a file name, or in a value
quoted from the input, cannot forge a line of the text report, of the gate's summary lines
or of a log line; it is shown escaped (``\\n``, ``\\x1b``).  JSON keeps the exact name.

A real file whose name holds "\\n" and "\\x1b[31m" (Linux allows both), run through the CLI.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from edi837.checks.editpack.synth import build
from edi837.cli import main
from edi837.findings import printable

FORGED = "== forged.x12: 9 claims: 9 accepted, 0 rejected; 0 errors, 0 warnings"
NAME = f"a.x12\n{FORGED}\x1b[31m.x12"
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d (debug|info|warning|error) edi837\.")


@pytest.fixture()
def hostile(tmp_path: Path) -> Path:
    """A folder holding one claim file with a hostile name and a hostile patient name."""
    x12 = build("837P", [{"id": "C1", "lines": [{"code": "90834", "date": "2025-12-05"}]}])
    x12 = x12.replace(b"NM1*IL*1*DOE*JANE*", b"NM1*IL*1*DOE\x1b[2J\n" + FORGED.encode() + b"*JANE*")
    d = tmp_path / "in"
    d.mkdir()
    (d / NAME).write_bytes(x12)
    return d


def run(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


def escaped(path: Path) -> str:
    return str(path).replace("\n", "\\n").replace("\x1b", "\\x1b")


def no_forged_line(text: str) -> None:
    assert "\x1b" not in text
    assert not any(ln.startswith(FORGED) for ln in text.splitlines())


def test_printable():
    assert printable("plain name.x12 é") == "plain name.x12 é"
    assert printable("a\nb\x1b[31m\r\t\x00\x85\u2028\u202e") == "a\\nb\\x1b[31m\\r\\t\\x00\\x85\\u2028\\u202e"
    assert printable("C:\\in\\a.x12") == "C:\\in\\a.x12"  # nothing to escape: kept as it is
    assert printable("C:\\in\n") == "C:\\\\in\\n"  # else a backslash is escaped too (no ambiguity)
    assert printable("not utf-8 \udcff") == "not utf-8 \\udcff"
    assert printable(printable(NAME)) == printable(NAME)


def test_validate_text_report(hostile):
    res = run("validate", "--snip", "1-5", hostile)
    assert res.exit_code == 1, res.output
    out = res.stdout
    no_forged_line(out)
    path = hostile / NAME
    heads = [ln for ln in out.splitlines() if ln.startswith("== ")]
    # one file: its two heading lines, nothing forged; the one error is the hostile NM103
    assert heads == [f"== {escaped(path)}",
                     f"== {escaped(path)}: 1 claims: 0 accepted, 1 rejected; 1 errors, 0 warnings"]
    # the finding on the hostile NM103 quotes the segment, escaped
    assert f"> NM1*IL*1*DOE\\x1b[2J\\n{FORGED}*JANE" in out


def test_validate_json_keeps_the_exact_name(hostile):
    res = run("validate", "--format", "json", "--snip", "1-2", hostile)
    doc = json.loads(res.stdout)
    assert [f["file"] for f in doc["files"]] == [str(hostile / NAME)]
    assert {f["file"] for f in doc["findings"]} == {str(hostile / NAME)}


def test_gate_summary_and_logs(hostile, tmp_path):
    res = run("gate", hostile, "--out", tmp_path / "out", "--snip", "1-2", "--control-number", "1",
              "--now", "2026-01-01T12:00", "--log-level", "info")
    assert res.exit_code == 1, res.output
    no_forged_line(res.stdout)
    assert res.stdout.splitlines() == [f"{escaped(hostile / NAME)}: 1 claims in, 0 accepted, 1 rejected"]
    no_forged_line(res.stderr)
    lines = res.stderr.splitlines()
    assert lines and all(LOG_LINE.match(ln) for ln in lines), lines
    done = [ln for ln in lines if " file done " in ln]
    assert len(done) == 1 and ' file="' + str(hostile / NAME).replace("\n", "\\n").replace(
        "\x1b", "\\u001b") + '"' in done[0]


def test_lines_stderr_names_a_skipped_file_on_one_line(hostile):
    (hostile / ".hidden\nsecond line").write_text("x")
    res = run("lines", hostile)
    assert res.exit_code == 0, res.output
    assert res.stderr.splitlines() == [f"{escaped(hostile)}/.hidden\\nsecond line: skipped: "
                                       "hidden file (name starts with '.')"]


def test_missing_input_named_on_one_line(tmp_path):
    res = run("validate", tmp_path / "no\nsuch\x1b.x12")
    assert res.exit_code == 2
    no_forged_line(res.stderr)
    assert f"{escaped(tmp_path)}/no\\nsuch\\x1b.x12: error: no such file or folder" in res.stderr.splitlines()
