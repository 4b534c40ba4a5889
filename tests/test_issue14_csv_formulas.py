"""Issue 14 item 9 (CSV): the CSV of ``edi837 lines`` neutralises spreadsheet formulas.

A patient or subscriber name sent as ``=HYPERLINK(...)``, ``+1``, ``@SUM(...)``
or ``-cmd`` is written with a leading ``'`` (OWASP "CSV Injection"); a negative
amount stays a number; the CSV still parses back with csv.reader; JSON Lines
keeps the values as read.  Run through the real CLI on synthetic claims.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from edi837.checks.editpack.synth import build
from edi837.cli import main
from edi837.outputs.tables import COLUMN_NAMES, csv_row

HOSTILE = {  # (patient last name, first name) as sent in NM1*IL
    "link": ('=HYPERLINK("http://example.invalid/x","CLICK")', "+1"),
    "at": ("@SUM(1+1)", "-cmd"),
}


def hostile_file(tmp_path: Path, last: str, first: str) -> Path:
    x12 = build("837P", [{"id": "C1", "lines": [{"code": "90834", "charge": -12, "date": "2026-01-05"},
                                                 {"code": "90834", "charge": 40, "date": "2026-01-06"}]}])
    x12 = x12.replace(b"NM1*IL*1*DOE*JANE*", f"NM1*IL*1*{last}*{first}*".encode())
    x12 = x12.replace(b"SV1*HC:90834*-12*", b"SV1*HC:90834*-12.50*")
    assert last.encode() in x12 and b"-12.50" in x12
    p = tmp_path / "hostile.x12"
    p.write_bytes(x12)
    return p


def lines(*args: object) -> str:
    res = CliRunner().invoke(main, ["lines", *map(str, args)])
    assert res.exit_code in (0, 1), res.output
    return res.stdout


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_formula_names_are_quoted_and_numbers_kept(tmp_path, case):
    last, first = HOSTILE[case]
    path = hostile_file(tmp_path, last, first)
    rows = list(csv.reader(io.StringIO(lines("--format", "csv", path))))  # still parses back
    assert rows[0] == COLUMN_NAMES and len(rows) == 3
    recs = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    for r in recs:
        assert r["patient_last_name"] == "'" + last
        assert r["patient_first_name"] == "'" + first
        assert r["claim_charge"] == "28"  # (CLM02 as synth sums the lines)
        assert r["procedure_code"] == "90834" and r["file"] == str(path)
    assert [r["charge"] for r in recs] == ["-12.50", "40"]  # a negative amount: a number, not text
    # no cell starts with a formula character, but plain negative numbers
    for r in recs:
        for k, v in r.items():
            assert not v[:1] in ("=", "+", "@", "\t", "\r") and (v[:1] != "-" or v == "-12.50"), (k, v)


def test_jsonl_keeps_the_values(tmp_path):
    last, first = HOSTILE["link"]
    path = hostile_file(tmp_path, last, first)
    recs = [json.loads(x) for x in lines("--format", "jsonl", path).splitlines()]
    assert [(r["patient_last_name"], r["patient_first_name"], r["charge"]) for r in recs] == \
        [(last, first, "-12.50"), (last, first, "40")]


def test_ordinary_rows_are_unchanged():
    row = {c: f"v{i}" for i, c in enumerate(COLUMN_NAMES)} | {"claim_seq": 3, "line_number": None,
                                                             "charge": "-0.5", "units": ".5"}
    assert csv_row(row.values()) == list(row.values())


@pytest.mark.parametrize("cell, out", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1+2", "'-1+2"), ("@A1", "'@A1"), ("\tX", "'\tX"),
    ("\rX", "'\rX"), ("-", "'-"), ("-12.50", "-12.50"), ("-.5", "-.5"), ("12", "12"), ("a=b", "a=b"),
    ("", ""), (None, None), (7, 7),
])
def test_one_cell(cell, out):
    assert csv_row(["x", cell]) == ["x", out]
