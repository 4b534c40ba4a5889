"""Issue 13 item 6: a file that is not an 837 (an 835, 270, 277, 999 ...) or is a 4010 837 gets one
clear error, no cascade of guide errors, exit code 1, and the gate answers with a 999 (and a TA1
where the interchange is at fault) that rejects it and accepts nothing from it.

Before: an 835 was a warning (GRM-003) and passed validate and the gate with exit code 0 and a
999 that accepted it; a 4010 837 was read with the 5010 guides and gave dozens of guide errors."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from edi837.checks import Engine
from edi837.cli import main
from edi837.findings import Severity
from edi837.gate import gate
from edi837.grammar.stream import TRANSACTION_SETS, transaction_set_name
from evs import found, verdicts  # noqa: E402
from pyx12_check import pyx12_errors  # noqa: E402

FIX = Path(__file__).resolve().parents[1] / "fixtures"
P = (FIX / "837p_tms_course.x12").read_text()
NOW = dt.datetime(2026, 1, 15, 6, 0)


def other_set(st01: str, gs01: str, gs08: str, isa12: str = "00501") -> str:
    """A small synthetic interchange holding one transaction set ``st01`` (not an 837)."""
    body = {"835": ["BPR*I*450*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*999988880*DA*98765*20251020",
                    "TRN*1*12345*1512345678", "N1*PR*SYNTHETIC HEALTH PLAN", "N1*PE*SYNAPSE PSYCHIATRY*XX*1582739409",
                    "LX*1", "CLP*TMS250901*1*450*450**12*CLAIM001"]}.get(
        st01, ["BHT*0022*13*SYNTH0001*20251015*0930"])
    st = f"ST*{st01}*0001" + (f"*{gs08}" if isa12 >= "00501" else "")
    segs = [f"ISA*00*          *00*          *ZZ*SYNTHPAYER     *ZZ*EDI837SYNTH    *251015*0930*^*{isa12}*"
            "000000123*0*T*:", f"GS*{gs01}*SYNTHPAYER*EDI837SYNTH*20251015*0930*123*X*{gs08}", st, *body,
            f"SE*{len(body) + 2}*0001", "GE*1*123", "IEA*1*000000123"]
    return "~\n".join(segs) + "~\n"


def set_se01(text: str) -> str:
    """Recount SE01 of every transaction (after segments were added)."""
    segs = text.strip().split("~\n")
    n = 0
    for i, s in enumerate(segs):
        if s.startswith("ST*"):
            n = 0
        n += 1
        if s.startswith("SE*"):
            f = s.split("*")
            f[1] = str(n)
            segs[i] = "*".join(f)
    return "~\n".join(segs) + "~\n"


def as_4010(text: str, isa12: bool = True, gs08: bool = True, st03: str | None = "") -> str:
    """The fixture as a 4010 837P: ISA12 00401, GS08 004010X098A1, no ST03 (4010 has none), and 4010
    segments the 5010 guide does not have (REF*87 in the header, NM108 24): read with the 5010 guide,
    each would be an error."""
    if isa12:
        text = text.replace("*^*00501*", "*U*00401*", 1)
    if gs08:
        text = text.replace("*X*005010X222A1~", "*X*004010X098A1~", 1)
    text = text.replace("ST*837*0001*005010X222A1~", "ST*837*0001" + (f"*{st03}" if st03 else "") + "~", 1)
    text = text.replace("CH~\n", "CH~\nREF*87*004010X098A1~\n", 1)
    text = text.replace("*****XX*1582739409~", "*****24*990012345~")
    return set_se01(text)


def run(text: str) -> tuple[list, list]:
    evs = list(Engine().run_file(text.encode(), file="t.x12"))
    return found(evs), verdicts(evs)


def errors(text: str) -> list:
    return [f for f in run(text)[0] if f.severity is Severity.ERROR]


def gate_text(tmp_path: Path, text: str, name: str = "in", **kw) -> tuple[int, Path]:
    src = tmp_path / f"{name}.x12"
    src.write_text(text)
    out = tmp_path / "out"
    res = gate([str(src)], str(out), now=NOW, control_number=5, **kw)
    return res.exit_code, out


def body(ack: str) -> list[str]:
    """The segments of an acknowledgment inside its ST/SE (no envelope)."""
    return [s for s in ack.strip().split("~\n") if s[:3] not in ("ISA", "GS*", "ST*", "SE*", "GE*", "IEA")]


# -- the transaction set table ---------------------------------------------------------------------------

def test_transaction_set_names():
    assert {"270", "271", "276", "277", "278", "820", "834", "835", "837", "997", "999"} <= set(TRANSACTION_SETS)
    assert transaction_set_name("835") == "an 835 remittance (Health Care Claim Payment/Advice)"
    assert transaction_set_name("270", "005010X279A1") == \
        "a 270 eligibility inquiry (Health Care Eligibility Benefit Inquiry, 005010X279A1)"
    assert transaction_set_name("834").startswith("an 834 enrollment")
    assert transaction_set_name("XYZ") == "a 'XYZ' transaction set"


# -- another transaction set: one error naming it ----------------------------------------------------------

OTHERS = [("835", "HP", "005010X221A1", "835 remittance"), ("270", "HS", "005010X279A1", "270 eligibility inquiry"),
          ("271", "HB", "005010X279A1", "271 eligibility response"),
          ("276", "HR", "005010X212", "276 claim status request"),
          ("277", "HN", "005010X214", "277 claim status response"),
          ("278", "HI", "005010X217", "278 prior authorization"),
          ("834", "BE", "005010X220A1", "834 enrollment file"),
          ("999", "FA", "005010X231A1", "999 implementation acknowledgment"),
          ("997", "FA", "005010", "997 functional acknowledgment"),
          ("835", "HP", "004010X091A1", "835 remittance")]


@pytest.mark.parametrize("st01,gs01,gs08,name", OTHERS, ids=[f"{o[0]}-{o[2]}" for o in OTHERS])
def test_another_transaction_set_is_one_error_naming_it(st01, gs01, gs08, name):
    text = other_set(st01, gs01, gs08, isa12="00401" if gs08.startswith("0040") else "00501")
    errs = errors(text)
    # one cause, one finding: no GS08 code error (005010X231A1 is not in the control map's list), no
    # ISA12 error for the 4010 835, no guide errors on the body
    assert [(f.rule, f.segment_id, f.element, f.value) for f in errs] == [("GRM-003", "ST", "ST01", st01)]
    assert f"is {'an' if st01[0] == '8' else 'a'} {name}" in errs[0].message
    assert "not an 837 claim" in errs[0].message


def test_an_835_fails_validate_with_exit_code_1(tmp_path):
    p = tmp_path / "remit.x12"
    p.write_text(other_set("835", "HP", "005010X221A1"))
    r = CliRunner().invoke(main, ["validate", str(p)])
    assert r.exit_code == 1, r.output
    assert r.output.count("GRM-003") == 1 and "835 remittance" in r.output
    r = CliRunner().invoke(main, ["validate", str(p), "--format", "json"])
    assert r.exit_code == 1
    rep = json.loads(r.output)
    assert [(f["rule"], f["severity"]) for f in rep["findings"]] == [("GRM-003", "error")]
    assert rep["summary"]["errors"] == 1 and rep["summary"]["accepted"] == 0


def test_gate_rejects_an_835_in_the_999(tmp_path):
    code, out = gate_text(tmp_path, other_set("835", "HP", "005010X221A1"), "remit")
    assert code == 1
    assert sorted(p.name for p in out.glob("remit.*")) == ["remit.999.x12", "remit.report.json"]
    ack = (out / "remit.999.x12").read_text()
    # AK101 names the HP group, AK201 the 835; IK502 1 and AK905 1: transaction set / group not supported
    assert body(ack) == ["AK1*HP*123*005010X221A1", "AK2*835*0001*005010X221A1", "IK5*R*1", "AK9*R*1*1*0*1"]
    assert pyx12_errors(ack.encode()) == []
    rep = json.loads((out / "remit.report.json").read_text())
    assert rep["summary"]["errors"] == 1 and rep["claims"] == []


def test_gate_rejects_a_999_without_an_ak2_it_cannot_name(tmp_path):
    # X231A1 lets AK201 name 270 ... 837 only: a 999 (or 997) is counted in AK9 as received, not accepted
    code, out = gate_text(tmp_path, other_set("999", "FA", "005010X231A1"), "ack")
    assert code == 1
    ack = (out / "ack.999.x12").read_text()
    assert body(ack) == ["AK1*HC*123*005010X231A1", "AK9*R*1*1*0*1"]
    assert pyx12_errors(ack.encode()) == []


def test_an_835_beside_837s_rejects_only_itself(tmp_path):
    """The 835 in the 837's own group: its claims are accepted, the 835 is rejected (AK9 P)."""
    t835 = "ST*835*0002*005010X221A1~\nBPR*I*450*C*ACH~\nTRN*1*12345*1512345678~\nSE*4*0002~\n"
    text = P.replace("GE*1*1001~", t835 + "GE*2*1001~", 1)
    errs = errors(text)
    assert [(f.rule, f.transaction) for f in errs] == [("GRM-003", "0002")]
    code, out = gate_text(tmp_path, text, "both")
    assert code == 1
    assert not (out / "both.rejected.x12").exists()
    accepted = (out / "both.accepted.x12").read_text()
    assert accepted.count("CLM*") == 4 and "ST*835" not in accepted and "BPR*" not in accepted
    assert body((out / "both.999.x12").read_text()) == [
        "AK1*HC*1001*005010X222A1", "AK2*837*0001*005010X222A1", "IK5*A",
        "AK2*835*0002*005010X221A1", "IK5*R*1", "AK9*P*2*2*1"]


# -- a 4010 837: one error, not read ------------------------------------------------------------------------

def test_the_4010_test_file_would_cascade_under_the_5010_guide():
    """(why the 4010 837 is not read: the same file with 5010 envelopes has errors on its 4010 segments)"""
    five = as_4010(P, isa12=False, gs08=False, st03="005010X222A1")
    rules = {f.rule for f in errors(five)}
    assert len(rules) >= 2 and not rules & {"GRM-007", "GRM-003"}


def test_a_4010_837_is_one_error_at_isa12():
    text = as_4010(P)
    fs, vs = run(text)
    errs = [f for f in fs if f.severity is Severity.ERROR]
    assert [(f.rule, f.segment_id, f.element, f.value) for f in errs] == [("GRM-007", "ISA", "ISA12", "00401")]
    msg = errs[0].message
    assert msg.startswith("this is a 4010 837 (ISA12 00401, GS08 004010X098A1)")
    assert "004010 is not supported: 837 files use 5010 (005010X222A1 / 005010X223A2) since 2012" in msg
    assert vs == []  # not read: no claim is accepted (or judged) from it
    assert not [f for f in fs if f.rule == "GRM-001"]  # not "read with the grammar of a neighbouring version"


@pytest.mark.parametrize("isa12,gs08,st03,place", [
    (False, True, "", ("GS", "GS08", "004010X098A1")),  # a 4010 group in a 5010 interchange
    (False, False, "004010X098A1", ("ST", "ST03", "004010X098A1")),  # a 4010 transaction in a 5010 group
    (True, True, "004010X098A1", ("ISA", "ISA12", "00401")),  # said once, at the outermost 4010 place
])
def test_a_4010_837_is_said_once_at_its_outermost_4010_place(isa12, gs08, st03, place):
    errs = errors(as_4010(P, isa12=isa12, gs08=gs08, st03=st03))
    assert [(f.rule, f.segment_id, f.element, f.value) for f in errs] == [("GRM-007", *place)]


def test_a_4010_interchange_of_two_837s_is_one_error():
    two = as_4010(P)
    st = two.index("ST*837")
    se_end = two.index("GE*")
    tx2 = two[st:se_end].replace("ST*837*0001", "ST*837*0002").replace("SE*", "SE*", 1)
    tx2 = re.sub(r"SE\*(\d+)\*0001", r"SE*\1*0002", tx2)
    text = two[:se_end] + tx2 + two[se_end:].replace("GE*1*", "GE*2*", 1)
    errs = errors(text)
    assert [f.rule for f in errs] == ["GRM-007"]


def test_a_4010_835_is_one_error_naming_the_835():
    errs = errors(other_set("835", "HP", "004010X091A1", isa12="00401"))
    assert [f.rule for f in errs] == ["GRM-003"]


def test_5010_claims_in_a_4010_interchange_one_error_at_isa12():
    """ISA12 00401 around a 5010 837: the transaction is read; ISA12 is one envelope error (TA1 017)
    that rejects every claim, said clearly."""
    text = P.replace("*^*00501*", "*^*00401*", 1)
    fs, vs = run(text)
    errs = [f for f in fs if f.severity is Severity.ERROR]
    assert [(f.rule, f.element) for f in errs] == [("S1-ISA-002", "ISA12")]
    assert "this is a 4010 interchange; 837 files use 5010" in errs[0].message
    assert vs and {v.verdict for v in vs} == {"rejected"}


def test_a_5010_then_a_4010_837_in_a_4010_interchange_is_one_error():
    text = P.replace("*^*00501*", "*^*00401*", 1)
    old = as_4010(P, st03="004010X098A1")  # (in the 5010 group, its ST03 says it is 4010)
    tx = old[old.index("ST*837"):old.index("GE*")].replace("ST*837*0001", "ST*837*0002")
    tx = re.sub(r"SE\*(\d+)\*0001", r"SE*\1*0002", tx)
    ge = text.index("GE*")
    text = text[:ge] + tx + text[ge:].replace("GE*1*", "GE*2*", 1)
    fs, vs = run(text)
    assert [(f.rule, f.element) for f in fs if f.severity is Severity.ERROR] == [("S1-ISA-002", "ISA12")]
    assert len(vs) == 4 and {v.verdict for v in vs} == {"rejected"}  # the 4010 837 is not read


def test_an_empty_4010_interchange_is_one_error_at_isa12():
    lines = P.split("\n")
    text = "\n".join([lines[0].replace("*^*00501*", "*^*00401*"), lines[1], "GE*0*1001~", "IEA*1*000001001~", ""])
    assert [(f.rule, f.element) for f in errors(text)] == [("S1-ISA-002", "ISA12")]


def test_a_4010_group_under_a_5010_837_is_s1_env_012():
    # GS08 004010X098A1 but ST03 005010X222A1: the transaction is read; the group's version is the error
    text = P.replace("*X*005010X222A1~", "*X*004010X098A1~", 1)
    assert [(f.rule, f.element) for f in errors(text)] == [("S1-ENV-012", "GS08")]


def test_validate_cli_4010_exit_code_1_one_error(tmp_path):
    p = tmp_path / "old.x12"
    p.write_text(as_4010(P))
    r = CliRunner().invoke(main, ["validate", str(p)])
    assert r.exit_code == 1
    assert re.findall(r"ERROR +(\S+):", r.output) == ["GRM-007"]
    assert "0 claims" in r.output


def test_gate_answers_a_4010_837_with_ta1_and_999_rejections(tmp_path):
    code, out = gate_text(tmp_path, as_4010(P), "old")
    assert code == 1
    names = sorted(p.name for p in out.glob("old.*"))
    assert names == ["old.999.x12", "old.report.json", "old.ta1.x12"]  # nothing accepted, no claim read
    assert "TA1*000001001*251015*0930*R*017~" in (out / "old.ta1.x12").read_text()
    ack = (out / "old.999.x12").read_text()
    assert body(ack) == ["AK1*HC*1001*004010X098A1", "AK2*837*0001", "IK5*R*1", "AK9*R*1*1*0"]
    assert pyx12_errors(ack.encode()) == []


def test_gate_4010_group_is_rejected_in_the_999_with_ak905_2(tmp_path):
    code, out = gate_text(tmp_path, as_4010(P, isa12=False), "grp")
    assert code == 1
    assert not (out / "grp.ta1.x12").exists()
    ack = (out / "grp.999.x12").read_text()
    assert body(ack) == ["AK1*HC*1001*004010X098A1", "AK2*837*0001", "IK5*R*1", "AK9*R*1*1*0*2"]
    assert pyx12_errors(ack.encode()) == []


def test_gate_with_jobs_rejects_both(tmp_path):
    a = tmp_path / "remit.x12"
    a.write_text(other_set("835", "HP", "005010X221A1"))
    b = tmp_path / "old.x12"
    b.write_text(as_4010(P))
    r = CliRunner().invoke(main, ["gate", str(a), str(b), "--out", str(tmp_path / "out"), "--jobs", "2",
                                  "--now", "2026-01-15T06:00"])
    assert r.exit_code == 1, r.output
    assert not list((tmp_path / "out").glob("*.accepted.x12"))
    assert "IK5*R*1~" in (tmp_path / "out" / "remit.999.x12").read_text()
