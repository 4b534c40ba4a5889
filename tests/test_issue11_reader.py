"""Issue 11: characters between segments.

Only line breaks (CR, LF) may stand between a segment terminator and the next
segment; anything else (indentation, a trailing tab, a NUL) is one RDR-008
finding per place, pointing at the segment that follows.  pyx12 rejects the
same files ("Segment contains a leading space")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from edi837.checks import Engine
from edi837.cli import main
from edi837.findings import Severity
from edi837.reader import SegmentReader
from evs import found, verdicts  # noqa: E402
from pyx12_check import pyx12_errors  # noqa: E402

FIX = Path(__file__).resolve().parents[1] / "fixtures"
BODY = (FIX / "837p_tms_course.x12").read_bytes()
LINES = BODY.split(b"\n")


def with_line(i: int, new: bytes) -> bytes:
    """BODY with its 0-based line ``i`` replaced."""
    v = LINES[:]
    v[i] = new
    return b"\n".join(v)


def read(data: bytes) -> tuple[list, list]:
    r = SegmentReader(data, "x.x12")
    segs = list(r)
    return segs, r.findings


def rdr008(data: bytes) -> list:
    return [f for f in found(Engine().run_file(data, file="x.x12")) if f.rule == "RDR-008"]


def test_indented_segment_is_one_finding_at_the_segment_that_follows():
    data = with_line(4, b"  " + LINES[4])  # line 5: NM1*41
    segs, fs = read(data)
    assert [f.rule for f in fs] == ["RDR-008"]
    f = fs[0]
    assert f.severity is Severity.ERROR and f.snip == 1
    assert (f.file, f.line, f.segment_id, f.segment_seq) == ("x.x12", 5, "NM1", 5)
    # the byte offset is the segment's first byte, after the spaces
    assert data[f.byte_offset:f.byte_offset + 6] == b"NM1*41"
    assert f.byte_offset == BODY.index(b"NM1*41") + 2
    assert "' '" in f.message or "'  '" in f.message
    # reading stays correct: the same segments, the NM1 at its own place
    base, _ = read(BODY)
    assert [s.fields for s in segs] == [s.fields for s in base]
    nm1 = segs[4]
    assert (nm1.id, nm1.line, nm1.offset) == ("NM1", 5, f.byte_offset)
    assert pyx12_errors(data) == ["Line:5 SEG:1 - Segment contains a leading space"]


def test_trailing_tab_after_the_terminator_points_at_the_next_line():
    data = with_line(3, LINES[3] + b"\t")  # after BHT~, before the line break
    _, fs = read(data)
    assert [(f.rule, f.line, f.segment_id) for f in fs] == [("RDR-008", 5, "NM1")]
    assert "'\\t'" in fs[0].message
    assert pyx12_errors(data)  # pyx12 rejects it too


def test_one_finding_per_place_through_the_engine():
    data = BODY.replace(b"~\nCLM*", b"~\n   CLM*").replace(b"~\nSE*", b"~\x00\nSE*")
    fs = rdr008(data)
    clm_lines = [i + 1 for i, ln in enumerate(LINES) if ln.startswith(b"CLM*")]
    se_line = next(i + 1 for i, ln in enumerate(LINES) if ln.startswith(b"SE*"))
    assert [(f.line, f.segment_id) for f in fs] == [(n, "CLM") for n in clm_lines] + [(se_line, "SE")]
    for f in fs:
        assert data[f.byte_offset:f.byte_offset + len(f.segment_id)].decode() == f.segment_id
    # every claim is still read (and the indented ones are rejected for it)
    vs = verdicts(Engine().run_file(data, file="x.x12"))
    assert len(vs) == 4 and all(v.verdict == "rejected" for v in vs)


def test_no_line_breaks_between_segments():
    flat = BODY.replace(b"\n", b"")
    data = flat.replace(b"~NM1*41", b"~ NM1*41")
    _, fs = read(data)
    assert [(f.rule, f.line, f.segment_id) for f in fs] == [("RDR-008", 1, "NM1")]
    assert data[fs[0].byte_offset:fs[0].byte_offset + 6] == b"NM1*41"


def test_between_interchanges():
    data = BODY + b"  " + BODY
    _, fs = read(data)
    assert [(f.rule, f.segment_id, f.segment_seq) for f in fs] == [("RDR-008", "ISA", 77)]
    assert fs[0].byte_offset == len(BODY) + 2 and fs[0].line == len(LINES)


def test_newline_terminator_indented():
    nl = (FIX / "newline_terminator.x12").read_bytes()
    lines = nl.split(b"\n")
    data = b"\n".join(lines[:3] + [b"    " + lines[3]] + lines[4:])
    _, fs = read(data)
    assert [(f.rule, f.line) for f in fs] == [("RDR-008", 4)]


@pytest.mark.parametrize("data", [
    BODY,
    BODY.replace(b"\n", b"\r\n"),  # CRLF
    BODY.replace(b"~\n", b"~\n\n"),  # blank lines
    BODY.replace(b"~\n", b"~\r\r\n"),  # stray CR
    BODY.replace(b"\n", b""),  # no line breaks
    BODY + b"  \n",  # white space after the last segment: no segment follows
], ids=["lf", "crlf", "blank-lines", "cr-cr-lf", "no-breaks", "trailing-space-at-eof"])
def test_line_breaks_are_tolerated(data):
    assert rdr008(data) == []


def test_cli_validate(tmp_path):
    bad = tmp_path / "indented.x12"
    bad.write_bytes(with_line(4, b"\t" + LINES[4]))
    good = tmp_path / "crlf.x12"
    good.write_bytes(BODY.replace(b"\n", b"\r\n"))
    runner = CliRunner()
    res = runner.invoke(main, ["validate", str(bad), "--format", "json"])
    assert res.exit_code == 1, res.output
    rep = json.loads(res.output)
    fs = [f for f in rep["findings"] if f["rule"] == "RDR-008"]
    assert len(fs) == 1
    f = fs[0]
    assert (f["line"], f["segment_id"], f["severity"]) == (5, "NM1", "error")
    assert f["byte_offset"] == BODY.index(b"NM1*41") + 1
    res = runner.invoke(main, ["validate", str(good), "--format", "json"])
    assert res.exit_code == 0, res.output
    assert not [f for f in json.loads(res.output)["findings"] if f["rule"] == "RDR-008"]


@pytest.mark.parametrize("block", [1, 2, 3, 7, 64])
def test_gaps_across_read_blocks(block):
    # the reader reads in blocks; a gap cut by a block boundary is still found once
    data = BODY.replace(b"~\nCLM*", b"~  \n  CLM*").replace(b"~\nSE*", b"~\t\r\nSE*").replace(b"\n", b"\r\n")
    want = [(f.line, f.byte_offset, f.segment_id) for f in read(data)[1]]
    assert len(want) == 5
    r = SegmentReader(data, "x.x12", block=block)
    segs = list(r)
    assert [(f.line, f.byte_offset, f.segment_id) for f in r.findings] == want
    assert [s.fields for s in segs] == [s.fields for s in read(BODY)[0]]


def test_a_reader_finding_in_a_transaction_header_rejects_only_that_transaction():
    """Found by the property test: RDR-008 in the header of transaction 0002 (a space before
    PER) used to arrive before 0002's ST reached the engine, so it was placed in the group and
    rejected the claims of transaction 0001 too."""
    from edi837.checks.engine import Engine
    from edi837.events import ClaimVerdict

    raw = (FIX / "multi_envelope.x12").read_bytes()
    i = raw.index(b"~\nPER*IC*BILLING DESK", raw.index(b"ST*837*0002")) + 2
    data = raw[:i] + b" " + raw[i + 1:]  # 'PER' becomes ' ER'
    got = {(r.group, r.transaction, r.claim_id): r.verdict
           for r in (e.result for e in Engine().run_file(data, "x.x12") if isinstance(e, ClaimVerdict))}
    assert got[("2001", "0001", "ME1A01")] == "accepted" and got[("2001", "0001", "ME1A02")] == "accepted"
    assert got[("2001", "0002", "ME1B01")] == "rejected"
