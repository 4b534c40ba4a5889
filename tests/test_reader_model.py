"""The reader, the loop structure and the claim view on our own fixtures."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

import edi837
from edi837.cli import main
from edi837.findings import Severity
from edi837.model import stream
from edi837.reader import SegmentReader
from evs import claims, found, others  # noqa: E402
from edi837.events import GroupEnd  # noqa: E402

FIX = Path(__file__).resolve().parents[1] / "fixtures"


def claims_of(name: str) -> list:
    return [c for tx in edi837.read(FIX / name) for c in tx.claims]


def findings_of(source) -> list:
    return found(stream(source))


# -- reader ----------------------------------------------------------------

def test_positions_are_seq_line_and_byte_offset():
    data = (FIX / "837p_tms_course.x12").read_bytes()
    segs = list(SegmentReader(data, "x"))
    assert [s.seq for s in segs] == list(range(1, len(segs) + 1))
    for s in segs[:30]:
        # the segment's text starts at its byte offset, on its line
        assert data[s.offset:s.offset + len(s.id)].decode() == s.id
        assert data[:s.offset].count(b"\n") + 1 == s.line


@pytest.mark.parametrize("name", ["no_line_breaks.x12", "bom_crlf.x12", "newline_terminator.x12"])
def test_delimiter_variants_read_the_same_claims(name):
    cs = claims_of(name)
    assert len(cs) == 2
    assert [ln.procedure_code for ln in cs[0].lines] == ["90867"]
    assert [ln.procedure_code for ln in cs[1].lines] == ["90868"] * 3
    assert not [f for f in findings_of(FIX / name) if f.severity is Severity.ERROR]


def test_bom_offsets_count_the_bom_bytes():
    data = (FIX / "bom_crlf.x12").read_bytes()
    assert data[:3] == b"\xef\xbb\xbf"
    first = next(iter(SegmentReader(data)))
    assert first.id == "ISA" and first.offset == 3 and first.line == 1


def test_no_line_breaks_all_on_line_one():
    segs = list(SegmentReader(FIX / "no_line_breaks.x12"))
    assert {s.line for s in segs} == {1}


def test_newline_terminator_lines_match_segments():
    segs = list(SegmentReader(FIX / "newline_terminator.x12"))
    assert [s.line for s in segs] == list(range(1, len(segs) + 1))
    assert segs[0].delims.segment == "\n"


def test_text_before_isa_is_a_warning_and_indented_segments_read():
    body = (FIX / "837p_tms_course.x12").read_text()
    text = "Example claim file\nsent by the billing office\n\n" + body.replace("\n", "\n   ")
    fs = findings_of(text.encode())
    # the indentation itself is an RDR-008 per indented segment (issue 11); the segments still read
    assert [f.rule for f in fs if f.rule != "RDR-008"] == ["RDR-003"]
    assert fs[0].severity is Severity.WARNING
    assert len([c for c in edi837.iter_claims(text.encode())]) == 4


def test_isa_not_fixed_width_reads():
    body = (FIX / "837p_tms_course.x12").read_text()
    isa, rest = body.split("~", 1)
    f = isa.split("*")
    f[2], f[4], f[6], f[8] = "", "", f[6].strip(), f[8].strip()
    text = "*".join(f) + "~" + rest
    assert len(list(edi837.iter_claims(text.encode()))) == 4


def test_interchanges_with_different_delimiters():
    a = (FIX / "837p_tms_course.x12").read_text()
    b = (FIX / "837p_2000c_patient.x12").read_text()
    b2 = b.replace("*", "|").replace("~", "!")
    b2 = b2.replace("|:!", "|>!", 1)  # ISA16 must differ from '!'
    cs = list(edi837.iter_claims((a + b2).encode()))
    assert [c.claim_id for c in cs][-2:] == ["DEP2511031", "DEP2511041"]
    assert len(cs) == 6


@pytest.mark.parametrize("name,rule", [("empty.x12", "RDR-001"), ("binary.x12", "RDR-002"),
                                       ("truncated.x12", "RDR-006")])
def test_broken_files_give_findings_not_exceptions(name, rule):
    fs = findings_of(FIX / "invalid" / name)
    assert rule in {f.rule for f in fs}
    assert all(f.file and f.file.endswith(name) for f in fs)


def test_non_837_transaction_is_skipped_with_a_finding():
    body = (FIX / "837p_tms_course.x12").read_text()
    st = body.index("ST*837")
    extra = "ST*835*9001~BPR*I*100*C*ACH~SE*3*9001~\n"
    text = body[:st] + extra + body[st:]
    text = text.replace("GE*1*", "GE*2*")
    evs = list(stream(text.encode()))
    rules = [o.rule for o in found(evs)]
    assert "GRM-003" in rules
    assert len(claims(evs)) == 4
    assert [o.id for o in others(evs)] == ["ST", "BPR", "SE"]
    # GE01 counts every transaction set of the group, the skipped 835 too
    assert [e.group.transaction_count for e in evs if isinstance(e, GroupEnd)] == [2]
    from edi837.checks import Engine
    assert not [o for o in found(Engine(snip="1").run_file(text.encode(), file="x")) if o.rule == "S1-ENV-005"]


def test_version_note_for_neighbouring_guide():
    text = (FIX / "837p_tms_course.x12").read_text().replace("005010X222A1", "005010X222A2")
    fs = findings_of(text.encode())
    assert [(f.rule, f.severity) for f in fs] == [("GRM-001", Severity.INFO)]


def test_misplaced_segment_is_kept_with_position():
    text = (FIX / "837p_tms_course.x12").read_text().replace("HI*ABK:F332~", "HI*ABK:F332~ZZZ*1~", 1)
    evs = list(stream(text.encode()))
    claim = claims(evs)[0]
    zzz = [s for s in claim.loop.iter_segments() if s.id == "ZZZ"]
    assert len(zzz) == 1 and zzz[0].misplaced and zzz[0].loop == "2300"


# -- loops and claims ------------------------------------------------------

def test_loop_tree_and_paths():
    tx = next(edi837.read(FIX / "837p_2000c_patient.x12"))
    assert tx.kind == "837P" and tx.control_number == "0001"
    billing = tx.loops[0]
    assert billing.id == "2000A"
    sub = billing.child("2000B")
    pat = sub.child("2000C")
    assert [c.id for c in pat.children] == ["2010CA", "2300", "2300"]
    assert pat.children[1].path == "2000A/2000B/2000C/2300"
    c = tx.claims[0]
    assert c.patient_loop is pat and not c.patient_is_subscriber
    assert c.patient.first_name == "JAMIE" and c.patient.birth_date == dt.date(2007, 2, 20)
    assert c.subscriber.first_name == "JANE"


def test_837p_claim_view():
    cs = claims_of("837p_tms_course.x12")
    assert [c.claim_id for c in cs] == ["TMS250901", "TMS250902", "TMS250903", "TMS250904"]
    c = cs[1]
    assert c.kind == "837P" and c.charge == Decimal("1500") and c.place_of_service == "11"
    assert c.frequency == "1" and c.bill_type == ""
    assert [(d.qualifier, d.code, d.position) for d in c.diagnoses][0] == ("ABK", "F332", 1)
    assert c.prior_auth and c.payer_id == "SYNHP1"
    ln = c.lines[0]
    assert (ln.line_number, ln.procedure_code, ln.units, ln.unit_basis) == ("1", "90868", Decimal("1"), "UN")
    assert ln.place_of_service == "11" and ln.service_date == dt.date(2025, 9, 9)
    assert ln.diagnosis_codes == ["F332"]
    assert ln.rendering_npi == c.providers["rendering"].npi and ln.rendering_taxonomy == "2084P0800X"


def test_837p_anesthesia_line_and_modifiers():
    ane = claims_of("837p_ect_anesthesia.x12")[1]
    ln = ane.lines[0]
    assert ln.procedure_code == "00104" and ln.modifiers == ["QZ"]
    assert ln.unit_basis == "MJ" and ln.units == Decimal("24")
    assert ln.rendering_taxonomy == "367500000X"


def test_837i_claim_view():
    c = claims_of("837i_ect_inpatient.x12")[0]
    assert c.kind == "837I" and c.bill_type == "111" and c.facility_code == "11"
    assert c.statement_from == dt.date(2026, 2, 2) and c.statement_to == dt.date(2026, 2, 9)
    assert c.admission_date == dt.date(2026, 2, 2)
    assert c.principal_diagnosis.code == "F332"
    assert any(d.qualifier == "ABJ" for d in c.diagnoses)
    assert [(p.qualifier, p.code, p.date) for p in c.procedures][0] == ("BBR", "GZB2ZZZ", dt.date(2026, 2, 3))
    assert c.providers["attending"].taxonomy
    revs = [ln.revenue_code for ln in c.lines]
    assert revs == ["0124", "0901"]
    ect = c.lines[1]
    assert ect.procedure_code == "90870" and ect.units == Decimal("3")
    assert ect.service_date == dt.date(2026, 2, 3) and ect.service_date_end == dt.date(2026, 2, 7)
    assert ect.place_of_service == ""


def test_multi_envelope_control_numbers_and_claim_seq():
    cs = list(edi837.iter_claims(FIX / "multi_envelope.x12"))
    assert [c.seq for c in cs] == list(range(1, 13))
    assert {c.control for c in cs} == {("000001101", "2001", "0001"), ("000001101", "2001", "0002"),
                                       ("000001101", "2002", "0003"), ("000001102", "2003", "0001")}


# -- the CLI faces ---------------------------------------------------------

def test_lines_csv_columns_and_one_claim_seq_per_claim():
    res = CliRunner().invoke(main, ["lines", str(FIX / "multi_envelope.x12"), "--format", "jsonl"])
    assert res.exit_code == 0
    rows = [json.loads(x) for x in res.stdout.splitlines()]
    for col in ("file", "claim_seq", "claim_id", "line_number", "procedure_code", "modifiers", "units",
                "unit_basis", "charge", "place_of_service", "revenue_code", "service_date",
                "diagnosis_codes", "condition_codes", "rendering_npi", "payer_id", "patient_id"):
        assert col in rows[0]
    assert sorted({r["claim_seq"] for r in rows}) == list(range(1, 13))


def test_parse_json_is_the_loop_tree():
    res = CliRunner().invoke(main, ["parse", str(FIX / "837p_2000c_patient.x12"), "--format", "json"])
    assert res.exit_code == 0
    doc = json.loads(res.stdout)
    tx = doc["interchanges"][0]["groups"][0]["transactions"][0]
    assert tx["loops"][0]["loop"] == "2000A"
    sub = tx["loops"][0]["loops"][-1]
    assert sub["loop"] == "2000B" and sub["loops"][-1]["loop"] == "2000C"


@pytest.mark.parametrize("args,code", [
    (["parse", "fixtures/invalid/empty.x12"], 1),
    (["parse", "fixtures/invalid/binary.x12"], 1),
    (["lines", "fixtures/invalid/truncated.x12"], 1),
    (["lines", "no/such/file.x12"], 2),
    (["parse", "fixtures"], 2),
    (["lines", "fixtures/837p_tms_course.x12"], 0),
])
def test_exit_codes_and_messages_name_the_file(args, code, monkeypatch):
    monkeypatch.chdir(FIX.parent)
    res = CliRunner().invoke(main, args)
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    if code:
        assert args[1] in res.stderr


def test_lines_jobs_2_equals_jobs_1(monkeypatch):
    monkeypatch.chdir(FIX.parent)
    one = CliRunner().invoke(main, ["lines", "fixtures", "--format", "jsonl"])
    two = CliRunner().invoke(main, ["lines", "fixtures", "--format", "jsonl", "--jobs", "2"])
    assert one.exit_code == two.exit_code == 1  # fixtures/invalid holds broken files
    assert one.stdout == two.stdout and one.stdout.count("\n") > 40
    assert sorted(one.stderr.splitlines()) == sorted(two.stderr.splitlines())
