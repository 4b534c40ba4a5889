"""Issue 13 item 7: bytes stay bytes.  The split files (NAME.accepted.x12 / NAME.rejected.x12)
carry the input's segments byte for byte, Windows-1252 / Latin-1 and UTF-8 text alike (no
transcoding to UTF-8); acknowledgments are ASCII (values copied from the input are kept to the
5010 character set, issue 11); a report quotes at most a bounded excerpt of a segment, so a
segment of megabytes gives a short excerpt, not a report three times its size."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import pickle
from pathlib import Path

from click.testing import CliRunner

from edi837.checks import Engine
from edi837.cli import main
from edi837.findings import EXCERPT, Finding, Severity, excerpt
from edi837.gate import gate
from edi837.model.build import stream
from edi837.outputs.split import ControlCounter, Splitter
from edi837.reader import read_segments
from evs import found  # noqa: E402

FIX = Path(__file__).resolve().parents[1] / "fixtures"
SRC = (FIX / "837p_tms_course.x12").read_bytes()
NOW = dt.datetime(2026, 1, 15, 6, 0)

LATIN = b"NM1*IL*1*DO\xc9\x80\x9c*JAN\xe9"  # latin-1 / Windows-1252 bytes (0xC9 E, 0x80 euro, 0x9C oe)
UTF8 = b"NTE*ADD*CAF\xc3\x89 \xe2\x82\xac 10"  # a UTF-8 segment (E-acute, euro sign)


def eight_bit() -> bytes:
    data = SRC.replace(b"NM1*IL*1*DOE*JANE", LATIN, 1)
    data = data.replace(b"CLM*TMS250902*1500***11:B:1*Y*A*Y*Y~\n",
                        b"CLM*TMS250902*1500***11:B:1*Y*A*Y*Y~\n" + UTF8 + b"~\n", 1)
    # SE01 counts the added NTE
    return data.replace(b"SE*72*0001~", b"SE*73*0001~", 1)


def segments(data: bytes) -> list[bytes]:
    return [s for s in data.replace(b"\r", b"").split(b"~\n") if s.strip()]


def transaction_body(data: bytes) -> list[bytes]:
    """The segments between ST and SE (control numbers aside: the split renumbers ST02/SE)."""
    segs = segments(data)
    st = next(i for i, s in enumerate(segs) if s.startswith(b"ST*"))
    se = next(i for i, s in enumerate(segs) if s.startswith(b"SE*"))
    return segs[st + 1:se]


def test_the_reader_knows_how_each_segment_was_read():
    segs = list(read_segments(eight_bit()))
    nm1 = next(s for s in segs if s.id == "NM1" and s[1] == "IL")
    nte = next(s for s in segs if s.id == "NTE")
    assert (nm1.utf8, nm1.encoding, nm1[3]) == (False, "latin-1", "DO\xc9\x80\x9c")
    assert (nte.utf8, nte.encoding, nte[2]) == (True, "utf-8", "CAF\xc9 \u20ac 10")
    assert nm1.text.encode(nm1.encoding) == LATIN + b"****MI*SYN100200301" and nte.text.encode(nte.encoding) == UTF8
    # the flag survives the trip to a worker process (--jobs, Spark)
    assert pickle.loads(pickle.dumps(nte)).utf8 and not pickle.loads(pickle.dumps(nm1)).utf8


def test_accepted_split_is_byte_identical_to_the_input(tmp_path):
    """Every claim accepted: the accepted file's transaction is the input's, byte for byte."""
    data = eight_bit()
    seqs = [e.claim.seq for e in stream(data) if type(e).__name__ == "ClaimRead"]
    paths = {"accepted": str(tmp_path / "a.x12"), "rejected": str(tmp_path / "r.x12")}
    with contextlib.ExitStack() as stack:
        # (HL04: the billing provider HL 1 has a child HL with an accepted claim, the subscriber HL 2 none)
        sp = Splitter(paths, {s: "accepted" for s in seqs}, {"accepted": {(1, "1")}},
                      ControlCounter(7), stack)
        sp.run(stream(data))
    out = (tmp_path / "a.x12").read_bytes()
    assert not (tmp_path / "r.x12").exists()
    assert transaction_body(out) == transaction_body(data)
    assert LATIN in out and UTF8 in out
    assert "DO\xc9".encode("utf-8") not in out  # no latin-1 text transcoded to UTF-8
    # the ISA and GS are the input's (new control numbers only)
    isa_in, isa_out = segments(data)[0], segments(out)[0]
    assert isa_out[:90] == isa_in[:90] and isa_out.split(b"*")[13] == b"000000007"


def test_gate_rejected_split_keeps_the_claims_bytes(tmp_path):
    src = tmp_path / "eight.x12"
    src.write_bytes(eight_bit())
    res = gate([str(src)], str(tmp_path / "out"), now=NOW, control_number=5)
    assert res.exit_code == 1  # the 8-bit characters are outside the X12 character set: rejected
    out = (tmp_path / "out" / "eight.rejected.x12").read_bytes()
    body_in, body_out = transaction_body(eight_bit()), transaction_body(out)
    # HL01/HL02/HL04 are renumbered by the split; every other segment is the input's bytes, in order
    assert [s for s in body_out if not s.startswith(b"HL*")] == [s for s in body_in if not s.startswith(b"HL*")]
    assert LATIN in out and UTF8 in out and "DO\xc9".encode("utf-8") not in out
    # acknowledgments are ASCII: input values are kept to the 5010 character set (issue 11)
    for name in ("eight.999.x12", "eight.277ca.x12"):
        ack = (tmp_path / "out" / name).read_bytes()
        assert ack.isascii(), name
    assert b"NM1*QC*1*DOE*JANe****MI*SYN100200301~" in (tmp_path / "out" / "eight.277ca.x12").read_bytes()


def test_gate_with_jobs_writes_the_same_bytes(tmp_path):
    src = tmp_path / "eight.x12"
    src.write_bytes(eight_bit())
    other = tmp_path / "plain.x12"
    other.write_bytes((FIX / "837i_tms_outpatient.x12").read_bytes())
    one = gate([str(src), str(other)], str(tmp_path / "one"), now=NOW, control_number=5)
    two = gate([str(src), str(other)], str(tmp_path / "two"), now=NOW, control_number=5, jobs=2)
    assert one.exit_code == two.exit_code == 1
    for name in ("eight.rejected.x12", "plain.accepted.x12", "eight.999.x12"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name


# -- reports quote a bounded excerpt ------------------------------------------------------------------------

# a huge segment, yet within what the reader takes (a longer one is RDR-009: tests/test_issue14_bounded.py)
BIG = 600_000


def huge_name() -> bytes:
    return SRC.replace(b"NM1*IL*1*DOE*JANE", b"NM1*IL*1*DOE" + b"X" * BIG + b"*JANE", 1)


def huge_claim_id() -> bytes:
    return SRC.replace(b"CLM*TMS250901*", b"CLM*TMS" + b"9" * BIG + b"*", 1)


def test_excerpt():
    assert excerpt("short") == "short"
    long = "a" * 1000
    e = excerpt(long)
    assert e == "a" * EXCERPT + "... (800 more)" and excerpt(e) == e
    f = Finding(rule="X", severity=Severity.ERROR, message="m" * 10_000 + " is too long", value="v" * 5000,
                segment_text="s" * 5000)
    assert len(f.message) < 1000 and f.message.endswith(" is too long") and "more)" in f.message
    assert f.value == "v" * EXCERPT + "... (4800 more)" and f.segment_text == "s" * EXCERPT + "... (4800 more)"


def test_findings_on_a_huge_segment_quote_an_excerpt():
    fs = found(Engine().run_file(huge_name(), file="t.x12"))
    f = next(x for x in fs if x.segment_id == "NM1")
    whole = len("NM1*IL*1*DOE*JANE****MI*SYN100200301") + BIG
    assert f.segment_text == "NM1*IL*1*DOE" + "X" * (EXCERPT - 12) + f"... ({whole - EXCERPT} more)"
    assert len(f.value or "") <= EXCERPT + 32 and len(f.message) < 1000


def test_validate_json_report_is_bounded(tmp_path):
    for name, data in (("name", huge_name()), ("clm", huge_claim_id())):
        p = tmp_path / f"{name}.x12"
        p.write_bytes(data)
        r = CliRunner().invoke(main, ["validate", str(p), "--format", "json"])
        assert r.exit_code == 1
        assert len(r.output) < 20_000, (name, len(r.output))
        rep = json.loads(r.output)
        for entry in rep["findings"] + rep["claims"]:
            for k, v in entry.items():
                if isinstance(v, str) and k != "message":
                    assert len(v) <= EXCERPT + 32, (name, k, len(v))
        if name == "clm":
            ids = [c["claim_id"] for c in rep["claims"]]
            assert ids[0].startswith("TMS999") and ids[0].endswith(f"... ({BIG + 3 - EXCERPT} more)")
            assert ids[1:] == ["TMS250902", "TMS250903", "TMS250904"]
        text = CliRunner().invoke(main, ["validate", str(p)]).output
        assert len(text) < 10_000 and "more)" in text


def test_gate_report_json_is_bounded(tmp_path):
    p = tmp_path / "big.x12"
    p.write_bytes(huge_name())
    res = gate([str(p)], str(tmp_path / "out"), now=NOW, control_number=5)
    assert res.exit_code == 1
    rep = (tmp_path / "out" / "big.report.json").read_text()
    assert len(rep) < 20_000
    assert json.loads(rep)["summary"]["errors"] >= 1
    # the split file still carries the whole segment: bytes stay bytes
    assert b"DOE" + b"X" * BIG + b"*JANE" in (tmp_path / "out" / "big.rejected.x12").read_bytes()
