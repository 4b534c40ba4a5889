"""X12 numbers are ASCII: Unicode digits and exponents in numeric places give a
finding (or are read as absent), never a traceback, through validate, lines and the gate."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from edi837.cli import main
from edi837.model.claims import parse_decimal

FX = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.mark.parametrize("v, want", [("450", Decimal("450")), ("-1.50", Decimal("-1.50")), (".5", Decimal(".5")),
                                     ("1E+999999999", None), ("1e2", None), ("١٢", None), ("1²", None),
                                     ("9" * 19, None), ("9" * 18, Decimal("9" * 18)), ("-", None), ("", None)])
def test_parse_decimal_reads_x12_r_values_only(v, want):
    assert parse_decimal(v) == want


def edited(tmp_path: Path, old: str, new: str) -> str:
    src = (FX / "837p_tms_course.x12").read_text()
    assert old in src
    p = tmp_path / "x.x12"
    p.write_text(src.replace(old, new, 1), encoding="utf-8")
    return str(p)


@pytest.mark.parametrize("old, new", [
    ("SV1*HC:90867*450*UN*1*11**1~", "SV1*HC:90867*450*UN*1*11**1:²~"),  # SV107 pointer
    ("SV1*HC:90867*450*UN*1*11**1~", "SV1*HC:90867*4E+999999999*UN*1*11**1~"),  # SV102 exponent
    ("*0930*1001*X*005010X222A1~", "*0930*1²01*X*005010X222A1~"),  # GS06 (999 AK102)
])
def test_unicode_digits_and_exponents_never_crash(tmp_path, old, new):
    f = edited(tmp_path, old, new)
    r = CliRunner()
    # lines reports only what the reader and grammar find (exit 0 here); validate and the gate reject
    for args, code in ((["validate", f, "--format", "json"], 1), (["lines", f], 0),
                       (["gate", f, "--out", str(tmp_path / "out"), "--now", "2026-01-15T06:00"], 1)):
        res = r.invoke(main, args)
        assert res.exception is None or isinstance(res.exception, SystemExit), (args, res.exception)
        assert res.exit_code == code, (args, res.output)
