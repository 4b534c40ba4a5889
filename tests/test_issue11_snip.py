"""Issue 11 (SNIP gaps): dates in AN elements, the envelope tied to the 837, a missing GS/GE, no
tracebacks under fuzzing.  Each case edits one element of a clean synthetic fixture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from edi837.checks import Engine
from edi837.cli import main
from edi837.findings import Severity
from evs import found, verdicts  # noqa: E402

FIX = Path(__file__).resolve().parents[1] / "fixtures"
P = (FIX / "837p_tms_course.x12").read_text()
I = (FIX / "837i_ect_inpatient.x12").read_text()
BASE = {"P": P, "I": I}


def sub(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def run(text: str, snip: str = "1-5") -> tuple[list, list]:
    evs = list(Engine(snip=snip).run_file(text.encode(), file="t.x12"))
    return found(evs), verdicts(evs)


def errors(text: str, snip: str = "1-5") -> list:
    return [f for f in run(text, snip)[0] if f.severity == Severity.ERROR]


def only(text: str, rule: str, seg: str, element: str, snip: str = "1-5"):
    """Exactly one error, of ``rule`` at ``seg``/``element``."""
    errs = errors(text, snip)
    assert [(f.rule, f.segment_id, f.element) for f in errs] == [(rule, seg, element)], \
        [(f.rule, f.segment_id, f.element, f.message) for f in errs]
    return errs[0]


def cli_json(tmp_path: Path, text: str) -> tuple[int, dict]:
    p = tmp_path / "t.x12"
    p.write_text(text)
    out = tmp_path / "r.json"
    r = CliRunner().invoke(main, ["validate", str(p), "--format", "json", "-o", str(out)])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.output
    return r.exit_code, json.loads(out.read_text())


# -- the fixtures are clean --------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["837p_tms_course.x12", "837i_ect_inpatient.x12", "837i_ect_outpatient.x12",
                                  "837i_tms_outpatient.x12", "837p_2000c_patient.x12", "837p_ect_anesthesia.x12",
                                  "multi_envelope.x12"])
def test_fixtures_have_no_errors(name):
    assert errors((FIX / name).read_text()) == []


# -- 1. dates named by a format qualifier ------------------------------------------------------------

DATE_CASES = [
    # (guide, old, new, rule, segment, element, 999 IK403); pyx12 reports each at the same element
    ("P", "DTP*472*D8*20250908", "DTP*472*D8*20250230", "S2-ELE-006", "DTP", "DTP03", "8"),
    ("P", "DTP*472*D8*20250908", "DTP*472*D8*20251345", "S2-ELE-006", "DTP", "DTP03", "8"),
    ("P", "DTP*472*D8*20250908", "DTP*472*D8*2025020", "S2-ELE-006", "DTP", "DTP03", "8"),
    ("P", "DMG*D8*19840512", "DMG*D8*19801399", "S2-ELE-006", "DMG", "DMG02", "8"),
    ("P", "DMG*D8*19840512", "DMG*D8*17991231", "S2-ELE-006", "DMG", "DMG02", "8"),  # pyx12: no year < 1800
    ("I", "DTP*434*RD8*20260202-20260209", "DTP*434*RD8*20151120-20151324", "S2-ELE-006", "DTP", "DTP03", "8"),
    ("I", "DTP*434*RD8*20260202-20260209", "DTP*434*RD8*20260202", "S2-ELE-006", "DTP", "DTP03", "8"),
    # a range whose start is after its end (pyx12 does not check this; S4-DTE-003 did, for DTP only)
    ("I", "DTP*434*RD8*20260202-20260209", "DTP*434*RD8*20260209-20260202", "S2-ELE-006", "DTP", "DTP03", "8"),
    ("I", "DTP*472*RD8*20260203-20260207", "DTP*472*RD8*20260207-20260203", "S2-ELE-006", "DTP", "DTP03", "8"),
    ("I", "DTP*435*DT*202602021430", "DTP*435*DT*202602021490", "S2-ELE-006", "DTP", "DTP03", "8"),
    ("I", "DTP*435*DT*202602021430", "DTP*435*DT*20260202", "S2-ELE-006", "DTP", "DTP03", "8"),
    ("I", "DTP*096*TM*1100", "DTP*096*TM*2460", "S2-ELE-007", "DTP", "DTP03", "9"),
    ("I", "DTP*096*TM*1100", "DTP*096*TM*110", "S2-ELE-007", "DTP", "DTP03", "9"),
    # HI procedure dates (composite components; pyx12 does not check these)
    ("I", "HI*BBR:GZB2ZZZ:D8:20260203", "HI*BBR:GZB2ZZZ:D8:20260230", "S2-ELE-006", "HI", "HI01-4", "8"),
    ("I", "*BBQ:GZB2ZZZ:D8:20260207", "*BBQ:GZB2ZZZ:D8:2026020", "S2-ELE-006", "HI", "HI02-4", "8"),
]


@pytest.mark.parametrize("base,old,new,rule,seg,element,ik4", DATE_CASES)
def test_date_formats(base, old, new, rule, seg, element, ik4):
    f = only(sub(BASE[base], old, new), rule, seg, element)
    assert f.severity == Severity.ERROR and f.snip == 2 and f.ik3 == "8" and f.ik4 == ik4
    assert f.value == new.split(":" if seg == "HI" else "*")[-1]
    # with SNIP 1-2 only: the same one finding
    only(sub(BASE[base], old, new), rule, seg, element, snip="1-2")


@pytest.mark.parametrize("base,old,new", [
    ("P", "DTP*472*D8*20250908", "DTP*472*D8*20240229"),  # leap day
    ("I", "DTP*472*RD8*20260203-20260207", "DTP*472*RD8*20260203-20260203"),  # one-day range
    ("I", "DTP*096*TM*1100", "DTP*096*TM*2359"),
    ("I", "DTP*435*DT*202602021430", "DTP*435*DT*202602020000"),
])
def test_date_formats_pass(base, old, new):
    assert errors(sub(BASE[base], old, new)) == []


def test_date_bad_qualifier_one_finding():
    # an unknown format qualifier is a code error at DTP02; DTP03 is not judged against it
    only(sub(P, "DTP*472*D8*20250908", "DTP*472*XX*20250908"), "S2-ELE-003", "DTP", "DTP02")
    # a format the guide does not allow here (DT for a service date): DTP02 only
    only(sub(P, "DTP*472*D8*20250908", "DTP*472*DT*20250908"), "S2-ELE-003", "DTP", "DTP02")


def test_date_rejects_the_claim_and_cli(tmp_path):
    t = sub(P, "DTP*472*D8*20250908", "DTP*472*D8*20250230")
    fs, vs = run(t)
    assert [v.verdict for v in vs][0] == "rejected" and set(v.verdict for v in vs[1:]) == {"accepted"}
    assert vs[0].reasons == ["S2-ELE-006"]
    code, rep = cli_json(tmp_path, t)
    assert code == 1
    f = [x for x in rep["findings"] if x["severity"] == "error"]
    assert [(x["rule"], x["segment_id"], x["element"], x["ik4"]) for x in f] == [("S2-ELE-006", "DTP", "DTP03", "8")]
    code, rep = cli_json(tmp_path, P)
    assert code == 0


# -- 4. no tracebacks under fuzzing ------------------------------------------------------------------

FUZZ = [
    # (guide, old, new, rule, segment, element)
    # an empty first repetition: IndexError in _value (v[-1])
    ("P", "PER*IC*BILLING DESK*TE*2175550100", "PER*IC*BILLING DESK*TE*^2175550100", "S1-SEG-003", "PER", "PER04"),
    # a huge exponent: decimal.Overflow in the CLM02 balance
    ("P", "SV1*HC:90867*450*UN", "SV1*HC:90867*1E+999999999*UN", "S1-ELE-001", "SV1", "SV102"),
    ("P", "CLM*TMS250901*450*", "CLM*TMS250901*1E+999999999*", "S1-ELE-001", "CLM", "CLM02"),
    ("P", "SV1*HC:90867*450*UN", "SV1*HC:90867*1234567890123456789*UN", "S1-ELE-003", "SV1", "SV102"),
    # Unicode digits: ValueError in valid_time ('1²' passes str.isdigit)
    ("P", "*20251015*0930*1001*", "*20251015*1²30*1001*", "S1-ELE-005", "GS", "GS05"),
    ("P", "*20251015*0930*1001*", "*20251015*1230.*1001*", "S1-ELE-005", "GS", "GS05"),
    ("P", "BHT*0019*00*B00011001*20251015*0930", "BHT*0019*00*B00011001*20251015*1²30", "S1-ELE-005", "BHT", "BHT05"),
    ("P", "DTP*472*D8*20250908", "DTP*472*D8*２０２５0908", "S1-ELE-001", "DTP", "DTP03"),
    ("P", "DMG*D8*19840512", "DMG*D8*1984051²", "S1-ELE-001", "DMG", "DMG02"),
]


@pytest.mark.parametrize("base,old,new,rule,seg,element", FUZZ)
def test_fuzz_findings_not_tracebacks(base, old, new, rule, seg, element):
    f = only(sub(BASE[base], old, new), rule, seg, element)
    assert f.severity == Severity.ERROR


def test_fuzz_cli(tmp_path):
    t = sub(P, "SV1*HC:90867*450*UN", "SV1*HC:90867*1E+999999999*UN")
    code, rep = cli_json(tmp_path, t)
    assert code == 1
    f = [x for x in rep["findings"] if x["severity"] == "error"]
    assert [(x["rule"], x["segment_id"], x["element"]) for x in f] == [("S1-ELE-001", "SV1", "SV102")]


def test_ascii_helpers():
    from edi837.checks import snip1_syntax as s1
    from edi837.model.claims import parse_date
    assert not s1.valid_time("1²00") and not s1.valid_date("２０２５0908") and not s1.digits("１")
    assert s1.valid_time("0930") and s1.valid_date("20250908") and s1.valid_date("250908")
    assert parse_date("２０２５0908") is None and parse_date("20250908") is not None


# -- 2. the envelope tied to the 837 -------------------------------------------------------------------

ENVELOPE_CASES = [
    # (guide, old, new, rule, segment, element); pyx12 finds no map for the first two (it rejects the
    # file), and reports ST03 as an invalid code (IK403 7) for 837I under its map
    ("P", "GS*HC*", "GS*HP*", "S1-ENV-011", "GS", "GS01"),
    ("I", "GS*HC*", "GS*HP*", "S1-ENV-011", "GS", "GS01"),
    ("P", "*X*005010X222A1~", "*X*005010X221A1~", "S1-ENV-012", "GS", "GS08"),
    ("I", "*X*005010X223A2~", "*X*005010~", "S1-ENV-012", "GS", "GS08"),
    # ST03 that is not the guide's version: the same code error for 837P and 837I
    ("P", "ST*837*0001*005010X222A1", "ST*837*0001*005010X222", "S2-ELE-003", "ST", "ST03"),
    ("I", "ST*837*0001*005010X223A2", "ST*837*0001*005010X223", "S2-ELE-003", "ST", "ST03"),
    # two adopted versions that differ: ST03 does not equal GS08
    ("P", "*X*005010X222A1~", "*X*005010X223A2~", "S1-ENV-013", "ST", "ST03"),
    ("I", "*X*005010X223A2~", "*X*005010X222A1~", "S1-ENV-013", "ST", "ST03"),
    # a GS01 / GS08 the control map does not list at all: its code error only
    ("P", "GS*HC*", "GS*XX*", "S2-ELE-003", "GS", "GS01"),
    ("P", "*X*005010X222A1~", "*X*005010X222~", "S2-ELE-003", "GS", "GS08"),
]


@pytest.mark.parametrize("base,old,new,rule,seg,element", ENVELOPE_CASES)
def test_envelope_versions(base, old, new, rule, seg, element):
    t = sub(BASE[base], old, new)
    f = only(t, rule, seg, element)
    assert f.severity == Severity.ERROR and f.ik4 == "7"
    fs, vs = run(t)
    assert vs and {v.verdict for v in vs} == {"rejected"}


def test_envelope_st03_alike_for_837p_and_837i():
    p = only(sub(P, "ST*837*0001*005010X222A1", "ST*837*0001*005010X222"), "S2-ELE-003", "ST", "ST03")
    i = only(sub(I, "ST*837*0001*005010X223A2", "ST*837*0001*005010X223"), "S2-ELE-003", "ST", "ST03")
    assert (p.severity, p.ik3, p.ik4) == (i.severity, i.ik3, i.ik4) == (Severity.ERROR, "8", "7")


def test_envelope_an_835_group_is_not_judged_as_an_837():
    # a GS*HP 835 group beside the 837 group: GS01 HP and GS08 005010X221A1 are right for it
    grp835 = "GS*HP*EDI837SYNTH*SYNTHPAYER*20251015*0930*1002*X*005010X221A1~\n" \
             "ST*835*9001*005010X221A1~BPR*I*100*C*ACH~SE*3*9001~\nGE*1*1002~\n"
    t = sub(sub(P, "IEA*1*", "IEA*2*"), "IEA*", grp835 + "IEA*")
    fs, vs = run(t, snip="1")
    assert not [f for f in fs if f.rule in ("S1-ENV-011", "S1-ENV-012", "S1-ENV-013", "S1-ENV-002")]
    assert {v.verdict for v in vs} == {"accepted"}


def test_envelope_cli(tmp_path):
    code, rep = cli_json(tmp_path, sub(P, "GS*HC*", "GS*HP*"))
    assert code == 1
    f = [x for x in rep["findings"] if x["severity"] == "error"]
    assert [(x["rule"], x["segment_id"], x["element"]) for x in f] == [("S1-ENV-011", "GS", "GS01")]
    assert {c["verdict"] for c in rep["claims"]} == {"rejected"}


# -- 3. a missing GS / GE --------------------------------------------------------------------------------

GS_LINE = "GS*HC*EDI837SYNTH*SYNTHPAYER*20251015*0930*1001*X*005010X222A1~\n"
GE_LINE = "GE*1*1001~\n"


def test_missing_gs_and_ge_one_finding_at_st():
    t = sub(sub(P, GS_LINE, ""), GE_LINE, "")
    f = only(t, "S1-ENV-014", "ST", "GS")
    assert "GS header and the GE trailer are missing" in f.message
    assert {v.verdict for v in run(t)[1]} == {"rejected"}  # not only IEA01's count


def test_missing_gs_one_finding_at_st():
    t = sub(P, GS_LINE, "")
    f = only(t, "S1-ENV-014", "ST", "GS")
    assert "GS header is missing" in f.message  # and no "GE without GS", no IEA01 count finding
    assert {v.verdict for v in run(t)[1]} == {"rejected"}


def test_missing_gs_and_a_wrong_count_are_two_causes():
    t = sub(sub(sub(P, GS_LINE, ""), GE_LINE, ""), "IEA*1*", "IEA*3*")
    errs = errors(t)
    assert sorted((f.rule, f.element) for f in errs) == [("S1-ENV-002", "IEA01"), ("S1-ENV-014", "GS")]


def test_missing_ge_rejects():
    t = sub(P, GE_LINE, "")
    f = only(t, "S1-ENV-006", "GS", "GE")
    assert {v.verdict for v in run(t)[1]} == {"rejected"}  # pyx12: "Unterminated Loop GS"
    assert f.severity == Severity.ERROR


def test_missing_gs_cli(tmp_path):
    code, rep = cli_json(tmp_path, sub(sub(P, GS_LINE, ""), GE_LINE, ""))
    assert code == 1
    f = [x for x in rep["findings"] if x["severity"] == "error"]
    assert [(x["rule"], x["segment_id"], x["element"]) for x in f] == [("S1-ENV-014", "ST", "GS")]
    assert {c["verdict"] for c in rep["claims"]} == {"rejected"}


def test_envelope_version_wrong_in_gs08_and_st03_alike_one_finding():
    # GS08 and ST03 both 005010X222 (a common real-world form): one cause, reported at GS08 only
    t = sub(sub(P, "*X*005010X222A1~", "*X*005010X222~"), "ST*837*0001*005010X222A1", "ST*837*0001*005010X222")
    only(t, "S2-ELE-003", "GS", "GS08")
    t = sub(sub(I, "*X*005010X223A2~", "*X*005010X223~"), "ST*837*0001*005010X223A2", "ST*837*0001*005010X223")
    only(t, "S2-ELE-003", "GS", "GS08")


def test_bare_transaction_no_envelope_one_finding():
    # a file that starts at ST (no ISA, no GS): the reader's RDR-005 says so; no second finding
    t = P[P.index("ST*837"):P.index("GE*")]
    errs = errors(t)
    assert [(f.rule, f.segment_id) for f in errs] == [("RDR-005", "ST")]
    assert {v.verdict for v in run(t)[1]} == {"rejected"}
