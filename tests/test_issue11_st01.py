"""A blank ST01 (found by the pyx12 oracle: pyx12 reports 'Segment ST* not found'): the
transaction cannot be read as an 837, which is an error (GRM-005 at ST01), and the 999
acknowledges and rejects it instead of leaving it out."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from click.testing import CliRunner

from edi837.checks.engine import Engine
from edi837.cli import main
from edi837.events import Found
from edi837.gate import gate

FX = Path(__file__).resolve().parent.parent / "fixtures"


def blank_st01(tmp_path: Path) -> Path:
    src = (FX / "837p_tms_course.x12").read_text()
    p = tmp_path / "st01.x12"
    p.write_text(re.sub(r"ST\*837\*", "ST**", src, count=1))
    return p


def test_blank_st01_is_an_error_at_st01(tmp_path):
    p = blank_st01(tmp_path)
    found = [e.finding for e in Engine().run_file(str(p)) if isinstance(e, Found)]
    f = next(x for x in found if x.rule == "GRM-005")
    assert (f.severity.value, f.segment_id, f.element, f.line) == ("error", "ST", "ST01", 3)
    assert CliRunner().invoke(main, ["validate", str(p)]).exit_code == 1
    # a transaction whose ST01 is 835 is another transaction set: an error that names it (GRM-003,
    # an error since issue 13; tests/test_issue13_not837.py), not a blank ST01
    other = (FX / "837p_tms_course.x12").read_text().replace("ST*837*", "ST*835*", 1).encode()
    rules = {e.finding.rule: e.finding.severity.value for e in Engine().run_file(other) if isinstance(e, Found)}
    assert rules.get("GRM-003") == "error" and "GRM-005" not in rules


def test_blank_st01_transaction_is_rejected_in_the_999(tmp_path):
    p = blank_st01(tmp_path)
    res = gate([str(p)], str(tmp_path / "out"), now=dt.datetime(2026, 1, 15, 6, 0), control_number=5)
    assert res.exit_code == 1
    ack = (tmp_path / "out" / "st01.999.x12").read_text()
    assert "AK2*837*0001*005010X222A1~" in ack and "IK3*ST*1**8~" in ack and "IK4*1**1~" in ack
    assert "IK5*R" in ack and "AK9*R*1*1*0~" in ack


def test_an_837_of_a_guide_we_do_not_read_is_an_error_and_rejected_in_the_999(tmp_path):
    """ST03 = ZZ (found by the oracle: pyx12 says ZZ is not a valid ST03): the 837 cannot be read,
    so its claims cannot be checked: an error at ST03 (GRM-006), never a silent skip."""
    src = (FX / "837i_tms_outpatient.x12").read_text()
    assert "ST*837*0001*005010X223A2~" in src
    p = tmp_path / "zz.x12"
    p.write_text(src.replace("ST*837*0001*005010X223A2~", "ST*837*0001*ZZ~", 1))
    found = [e.finding for e in Engine().run_file(str(p)) if isinstance(e, Found)]
    f = next(x for x in found if x.rule == "GRM-006")
    assert (f.severity.value, f.segment_id, f.element, f.value) == ("error", "ST", "ST03", "ZZ")
    res = gate([str(p)], str(tmp_path / "out"), now=dt.datetime(2026, 1, 15, 6, 0), control_number=5)
    assert res.exit_code == 1
    ack = (tmp_path / "out" / "zz.999.x12").read_text()
    assert "IK3*ST*1**8~" in ack and "IK4*3**7*ZZ~" in ack and "AK9*R*1*1*0~" in ack
