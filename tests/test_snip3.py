"""SNIP 3 balancing rules: each rule passes on a fixture and fires on an edited copy."""

from pathlib import Path

import pytest

from edi837.checks import Engine
from evs import found, verdicts  # noqa: E402

FX = Path(__file__).resolve().parent.parent / "fixtures"


def run(text, snip="1-5"):
    ev = list(Engine(snip=snip).run_file(text.encode() if isinstance(text, str) else text))
    return found(ev), verdicts(ev)


def ids(text, prefix="S3-"):
    return {f.rule for f in run(text)[0] if f.rule.startswith(prefix)}


def fx(name):
    return (FX / name).read_text()


@pytest.mark.parametrize("name", ["837p_tms_course.x12", "837p_2000c_patient.x12", "837i_ect_inpatient.x12",
                                  "837i_ect_outpatient.x12", "multi_envelope.x12", "837p_ect_anesthesia.x12"])
def test_valid_fixtures_pass(name):
    assert ids(fx(name)) == set()


def test_clm02_off_by_a_cent_fixture():
    findings, claims = run((FX / "invalid" / "clm02_off_by_a_cent.x12").read_bytes())
    hits = [f for f in findings if f.rule == "S3-CLM-001"]
    assert len(hits) == 1
    assert hits[0].claim_id == "TMS250902" and hits[0].element == "CLM02"
    assert "1500.01" in hits[0].message and "1500.00" in hits[0].message
    verdicts = {c.claim_id: c.verdict for c in claims}
    assert verdicts["TMS250902"] == "rejected" and verdicts["TMS250901"] == "accepted"


def test_clm02_837i():
    t = fx("837i_ect_inpatient.x12")
    assert "S3-CLM-001" in ids(t.replace("CLM*IPF26020201*12900*", "CLM*IPF26020201*12901*"))


def test_lx_numbering():
    t = fx("837i_ect_inpatient.x12")
    assert "S3-LX-001" in ids(t.replace("LX*2~", "LX*3~"))
    assert "S3-LX-001" not in ids(t)


def test_hl_duplicate_id():
    t = fx("837p_2000c_patient.x12")
    assert "S3-HL-001" in ids(t.replace("HL*3*2*23*0", "HL*2*2*23*0"))


def test_hl_parent_missing():
    t = fx("837p_2000c_patient.x12")
    assert "S3-HL-002" in ids(t.replace("HL*3*2*23*0", "HL*3*9*23*0"))


def test_hl_level_order():
    t = fx("837p_2000c_patient.x12")
    assert "S3-HL-003" in ids(t.replace("HL*3*2*23*0", "HL*3*1*23*0"))


def test_hl_child_flag():
    t = fx("837p_2000c_patient.x12")
    assert "S3-HL-004" in ids(t.replace("HL*3*2*23*0", "HL*3*2*23*1"))
    assert "S3-HL-004" in ids(t.replace("HL*2*1*22*1", "HL*2*1*22*0"))


def test_hl_numbering_warning():
    t = fx("837p_2000c_patient.x12").replace("HL*3*2*23*0", "HL*7*2*23*0")
    f = [x for x in run(t)[0] if x.rule == "S3-HL-005"]
    assert f and f[0].severity.value == "warning"


def test_hl_errors_reject_only_their_transaction():
    t = fx("multi_envelope.x12")
    i = t.index("ST*837*0002")
    j = t.index("\nSE*", i)
    bad = t[:i] + t[i:j].replace("HL*2*1*22*0", "HL*2*1*22*1", 1) + t[j:]
    findings, claims = run(bad)
    assert "S3-HL-004" in {f.rule for f in findings}
    v = {(c.transaction, c.group, c.claim_id): c.verdict for c in claims}
    assert {k for k, x in v.items() if x == "rejected"} == {k for k in v if k[0] == "0002"}
