"""Issue 14 items 4-6: bounded work on hostile and huge input.

The pathological shapes of benchmarks/shapes.py at small sizes: what each gives (findings,
acknowledgments, report sizes), and that the work done is linear (counted calls, bounded memory;
never timed: benchmarks/hostile.py measures time and memory at large sizes)."""

from __future__ import annotations

import datetime as dt
import json
import random
import sys
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner

import edi837.gate as gate_mod
import edi837.reader as reader_mod
from edi837.checks import Engine
from edi837.checks.engine import line_cap
from edi837.checks.verdicts import ClaimResult, Pending
from edi837.cli import main
from edi837.findings import EXCERPT, Finding, Severity
from edi837.gate import gate
from edi837.guide.loader import load_guide
from edi837.guide.model import LoopDef
from edi837.outputs.ack999 import GroupInfo, TxInfo, _Places
from edi837.reader import BLOCK, MAX_SEGMENT, SegmentReader
from evs import found  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from shapes import shape_bytes, write_shape  # noqa: E402  (benchmarks/shapes.py)

NOW = dt.datetime(2026, 1, 15, 6, 0)


def segments(path: Path) -> list[list[str]]:
    return [s.split("*") for s in path.read_text().replace("\n", "").split("~") if s]


# -- item 5: segment sizes -------------------------------------------------------------------------

def _longest_segment(kind: str) -> int:
    """The longest segment the guide allows: each element (or component) at its maximum length,
    with its separator, times its repeats."""
    def size(sd) -> int:
        total = len(sd.id) + 1
        for e in sd.elements:
            if e.composite is not None:
                comp = sum((c.max_len or 0) + 1 for c in e.composite.elements)
                total += (comp + 1) * (e.composite.repeat or e.repeat or 1)
            else:
                total += ((e.max_len or 0) + 1) * (e.repeat or 1)
        return total

    def walk(lp):
        for c in lp.children:
            yield from walk(c) if isinstance(c, LoopDef) else (c,)

    return max(size(s) for s in walk(load_guide(kind).root))


def test_the_segment_limit_is_far_above_what_the_guides_allow():
    longest = max(_longest_segment("837P"), _longest_segment("837I"))
    assert 1000 < longest < 10_000  # HI: 12 composites
    assert MAX_SEGMENT >= 100 * longest


def _rdr9(fs: list[Finding]) -> list[Finding]:
    return [f for f in fs if f.rule == "RDR-009"]


def test_no_terminator_is_one_clear_finding_with_a_bounded_excerpt(tmp_path):
    p = tmp_path / "noterm.x12"
    write_shape(str(p), "no_terminator", 3 * MAX_SEGMENT)
    r = CliRunner().invoke(main, ["validate", str(p), "--format", "json"])
    assert r.exit_code == 1, r.output
    assert len(r.output) < 10_000
    rep = json.loads(r.output)
    (f,) = [x for x in rep["findings"] if x["rule"] == "RDR-009"]
    assert f["severity"] == "error" and f["segment_id"] == "ST" and f["line"] == 3 and f["segment_seq"] == 3
    assert "end of the file" in f["message"] and f"{3 * MAX_SEGMENT:,}" in f["message"]
    assert f["segment_text"].startswith("ST*837*0001") and len(f["segment_text"]) <= EXCERPT + 32
    # the envelope is left open: said, once each
    assert sorted(x["rule"] for x in rep["findings"]) == ["RDR-009", "S1-ENV-003", "S1-ENV-006"]
    text = CliRunner().invoke(main, ["validate", str(p)])
    assert text.exit_code == 1 and "RDR-009" in text.output and "Traceback" not in text.output


def test_gate_rejects_the_interchange_of_a_file_with_no_terminator_in_small_outputs(tmp_path):
    p = tmp_path / "noterm.x12"
    write_shape(str(p), "no_terminator", 2 * MAX_SEGMENT)
    res = gate([str(p)], str(tmp_path / "out"), now=NOW, control_number=5)
    assert res.exit_code == 1
    out = tmp_path / "out"
    assert all(f.stat().st_size < 5000 for f in out.iterdir()), [(f.name, f.stat().st_size) for f in out.iterdir()]
    rep = json.loads((out / "noterm.report.json").read_text())
    assert [f["rule"] for f in rep["findings"]].count("RDR-009") == 1
    ta1 = [s for s in segments(out / "noterm.ta1.x12") if s[0] == "TA1"]
    assert len(ta1) == 1 and ta1[0][4] == "R"
    assert [s for s in segments(out / "noterm.999.x12") if s[0] == "AK9"][0][1] == "R"
    assert not (out / "noterm.accepted.x12").exists()


def test_a_giant_segment_is_skipped_and_the_rest_is_read():
    data = shape_bytes("giant_segment", MAX_SEGMENT + 10)
    fs = found(Engine().run_file(data, file="g.x12"))
    (f,) = _rdr9(fs)
    assert f.segment_id == "NTE" and "up to its segment terminator" in f.message
    assert f.segment_text.startswith("NTE*ADD*LONG NOTE") and len(f.segment_text) <= EXCERPT + 32
    # the segments after it are read (the claim's lines are there): nothing else is said of the NTE
    assert not [x for x in fs if x.segment_id == "NTE" and x.rule != "RDR-009"]
    # just under the limit it is an ordinary (too long) segment
    under = found(Engine().run_file(shape_bytes("giant_segment", MAX_SEGMENT - 100), file="g.x12"))
    assert not _rdr9(under) and any(x.segment_id == "NTE" and x.element == "NTE02" for x in under)


def test_the_gate_rejects_what_a_giant_segment_belongs_to(tmp_path):
    p = tmp_path / "giant.x12"
    p.write_bytes(shape_bytes("giant_segment", MAX_SEGMENT + 10) + shape_bytes("tiny_interchanges", 1)
                  .replace(b"000000001", b"000000002").replace(b"CLM*C1*", b"CLM*C2*"))
    res = gate([str(p)], str(tmp_path / "out"), now=NOW, control_number=5)
    assert res.exit_code == 1
    by_id = {c.claim_id: c for c in res.claims}
    assert by_id["C1"].verdict == "rejected" and "RDR-009" in by_id["C1"].reasons
    assert by_id["C1"].interchange == "000000001"
    # the next interchange is read and judged on its own
    assert by_id["C2"].verdict == "accepted" and by_id["C2"].interchange == "000000002"
    rep = (tmp_path / "out" / "giant.report.json").stat().st_size
    assert rep < 20_000
    # the rejected file holds what was read of the interchange, not the megabyte skipped
    assert (tmp_path / "out" / "giant.rejected.x12").stat().st_size < 10_000


@pytest.mark.parametrize("block,limit,size,bound", [(1 << 16, 1 << 16, 6_000_000, 1_000_000),
                                                    (BLOCK, MAX_SEGMENT, 24_000_000, 10_000_000)])
def test_reading_a_file_with_no_terminator_holds_a_bounded_amount(tmp_path, block, limit, size, bound):
    p = tmp_path / "noterm.x12"
    write_shape(str(p), "no_terminator", size)
    tracemalloc.start()
    try:
        r = SegmentReader(str(p), block=block, max_segment=limit)
        n = sum(1 for _ in r)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert n == 2 and [f.rule for f in r.findings] == ["RDR-009"]
    assert peak < bound, peak


def test_text_of_megabytes_with_no_isa_is_skipped_as_it_is_read():
    one = shape_bytes("tiny_interchanges", 1)
    data = b"JUNK " * (MAX_SEGMENT // 2) + b"\n" + one
    r = SegmentReader(data, "j.x12", block=1 << 16)
    segs = list(r)
    assert [s.id for s in segs] == [s.id for s in SegmentReader(one, "o.x12")]
    (f,) = r.findings
    assert f.rule == "RDR-003" and "text before the ISA was skipped: 'JUNK JUNK" in f.message
    assert (f.line, f.byte_offset) == (1, 0) and segs[0].line == 2 and segs[0].offset == len(data) - len(one)


# -- item 4: bounded work --------------------------------------------------------------------------

def test_tiny_interchanges_are_split_once(monkeypatch):
    """The reader splits each block once, not the rest of its buffer again after every IEA."""
    calls = []
    real = reader_mod._space_after
    monkeypatch.setattr(reader_mod, "_space_after", lambda t: calls.append(t) or real(t))
    data = shape_bytes("tiny_interchanges", 200)
    segs = list(SegmentReader(data, "t.x12"))
    assert len(data) < BLOCK and sum(s.id == "IEA" for s in segs) == 200
    assert len(calls) <= 2
    # the same segments as read a few bytes at a time
    small = list(SegmentReader(data, "t.x12", block=97))
    assert [(s.fields, s.seq, s.line, s.offset) for s in segs] == [(s.fields, s.seq, s.line, s.offset) for s in small]


def test_many_interchanges_with_an_envelope_error_each(tmp_path, monkeypatch):
    n = 40
    p = tmp_path / "env.x12"
    write_shape(str(p), "envelope_errors", n)
    calls = []
    real = gate_mod.is_interchange_finding
    monkeypatch.setattr(gate_mod, "is_interchange_finding", lambda f: calls.append(1) or real(f))
    res = gate([str(p)], str(tmp_path / "out"), now=NOW, control_number=5)
    assert res.exit_code == 1 and len(res.claims) == n
    assert all(c.verdict == "rejected" and c.reasons == ["S1-ENV-001"] for c in res.claims)
    out = tmp_path / "out"
    ta1 = [s for s in segments(out / "env.ta1.x12") if s[0] == "TA1"]
    assert [s[1] for s in ta1] == [f"{i:09d}" for i in range(1, n + 1)]
    assert all(s[4] == "R" and s[5] == "001" for s in ta1)  # IEA02 does not match ISA13
    ak9 = [s for s in segments(out / "env.999.x12") if s[0] == "AK9"]
    assert len(ak9) == n and all(s[1] == "R" for s in ak9)
    # each finding is looked at once, not once per interchange
    rep = json.loads((out / "env.report.json").read_text())
    assert len(calls) <= len(rep["findings"]) < 3 * n


def _walk_tx_of(f: Finding, groups: list[GroupInfo]):
    """The walk the 999 placed findings with before issue 14 (the reference)."""
    if f.segment_seq is not None:
        for g in groups:
            for t in g.txs:
                if t.st_seq <= f.segment_seq and (t.end_seq is None or f.segment_seq <= t.end_seq):
                    later = [u for u in g.txs if u.st_seq > t.st_seq]
                    if t.end_seq is None and later and f.segment_seq >= later[0].st_seq:
                        continue
                    return g, t
    for g in groups:
        isa13 = g.isa[13].strip() if g.isa is not None else ""
        gs06 = g.gs[6] if len(g.gs) > 6 else ""
        if f.interchange and isa13 and f.interchange != isa13:
            continue
        if not f.group or f.group != gs06:
            continue
        if f.transaction:
            for t in g.txs:
                if t.st[2] == f.transaction:
                    return g, t
            continue
        return g, None
    return None, None


class _Isa(list):
    def __getitem__(self, i):  # like a Segment: "" past the end
        return list.__getitem__(self, i) if i < len(self) else ""


def test_the_999_places_findings_as_the_walk_did():
    rng = random.Random(14)
    for _ in range(300):
        seq, groups = 1, []
        for gi in range(rng.randint(0, 5)):
            isa = _Isa(["ISA"] + [""] * 12 + [rng.choice(["000000001", "000000002", ""])])
            g = GroupInfo(gs=["GS", "HC", "", "", "", "", rng.choice(["1", "2"])] if rng.random() < .9 else [],
                          isa=isa if rng.random() < .9 else None, gs_seq=seq)
            seq += 1
            for _t in range(rng.randint(0, 4)):
                st = seq
                seq += rng.randint(1, 6)
                end = seq if rng.random() < .7 else None
                seq += 1
                g.txs.append(TxInfo(st=["ST", "837", rng.choice(["0001", "0002"])], st_seq=st, tx_no=1, end_seq=end))
            groups.append(g)
            seq += rng.randint(0, 3)
        for _f in range(20):
            f = Finding(rule="X", severity=Severity.ERROR, message="m",
                        segment_seq=rng.choice([None, rng.randint(0, seq + 2)]),
                        interchange=rng.choice([None, "000000001", "000000002"]),
                        group=rng.choice([None, "1", "2"]), transaction=rng.choice([None, "0001", "0002"]))
            want = _walk_tx_of(f, groups)
            got = _Places(groups).of(f)
            assert got[0] is want[0] and got[1] is want[1], (f, groups)


def _cr(seq: int, tx: int, grp: int) -> ClaimResult:
    return ClaimResult(file="f", claim_seq=seq, claim_id=f"C{seq}", verdict="accepted", tx_no=tx, grp_no=grp)


@pytest.mark.parametrize("spill", [1000, 7])
def test_pending_flags_the_claims_of_their_transaction_and_group(monkeypatch, spill):
    monkeypatch.setattr(Pending, "SPILL_AT", spill)
    p = Pending("f")
    claims = [(s, 1 + s // 4, 1 + s // 12) for s in range(1, 60)]  # 4 claims a transaction, 3 a group
    for s, tx, grp in claims:
        p.append(_cr(s, tx, grp))
    for tx in range(1, 16, 2):
        p.flag("transaction", tx, ["T", "T2"])
    p.flag("group", 3, ["G"])
    got = {c.claim_seq: (c.errors, c.reasons) for c in p.drain()}
    want = {}
    for s, tx, grp in claims:
        reasons = (["T", "T2"] if tx % 2 else []) + (["G"] if grp == 3 else [])
        want[s] = ((1 if tx % 2 else 0) + (1 if grp == 3 else 0), reasons)
    assert got == want


def test_pending_flags_claims_out_of_order_too():
    p = Pending("f")
    for s, tx in ((1, 2), (2, 1), (3, 2)):
        p.append(_cr(s, tx, 1))
    p.flag("transaction", 2, ["T"])
    assert {c.claim_seq: c.errors for c in p.drain()} == {1: 1, 2: 0, 3: 1}


def test_a_claim_of_many_lines_is_capped_as_the_guide_says():
    cap = line_cap("837P")
    n = 3 * cap
    data = shape_bytes("many_lines", n)
    # every line has an element error (its unit count is no number), whatever its number
    data = data.replace(b"SV1*HC:90868*300*UN*1*", b"SV1*HC:90868*300*UN*X*")
    fs = found(Engine().run_file(data, file="l.x12"))
    ele = [f for f in fs if f.rule == "S1-ELE-001"]
    # the grammar keeps one line past the guide's maximum (the one S2-LOOP-002 names) and holds
    # none after it (docs/conformance.md: pyx12 goes on to the element errors of every line)
    assert sorted(f.line_number for f in ele) == list(range(1, cap + 2))
    assert sum(f.rule == "S2-LOOP-002" for f in fs) == 1  # more lines than the guide allows: once
    # the segments not held still count in SE01, and the charge total is not judged on part of
    # the lines (one cause, one finding)
    assert not [f for f in fs if f.rule in ("S1-ENV-008", "S3-CLM-001")]
    # the edit pack's line rules stop at the guide's maximum
    pack = [f for f in fs if f.snip == 7 and f.line_number is not None]
    assert pack and max(f.line_number for f in pack) <= cap


def _claim_segments(data: bytes, cid: str) -> list[bytes]:
    """The segments of claim ``cid`` (its CLM up to the next CLM, HL or SE), line breaks removed."""
    segs = [s.strip(b"\r\n") for s in data.split(b"~")]
    i = next(k for k, s in enumerate(segs) if s.startswith(b"CLM*" + cid.encode() + b"*"))
    j = next(k for k in range(i + 1, len(segs)) if segs[k][:3] in (b"CLM", b"HL*", b"SE*"))
    return segs[i:j]


@pytest.mark.parametrize("kind", ["837P", "837I"])
def test_a_claim_of_too_many_lines_is_held_only_up_to_one_line_past_the_guide(kind):
    """The structure stage holds a claim's lines up to the guide's maximum + 1 (837P 50, 837I 999),
    however many it has; its event counts every segment and names the byte range left out."""
    from edi837.events import ClaimChunk
    from edi837.grammar.stream import events

    cap = line_cap(kind)
    data = shape_bytes("many_lines", cap + 30)
    if kind == "837I":
        data = data.replace(b"005010X222A1", b"005010X223A2")
    chunks = [e for e in events(data, "l.x12") if isinstance(e, ClaimChunk)]
    assert len(chunks) == 1
    ch = chunks[0]
    lines = [s for s in ch.loop.iter_segments() if s.fields[0] == "LX"]
    assert len(lines) == cap + 1
    start, end, n = ch.overflow
    assert n == 29 * 3  # 29 lines of LX, SV1, DTP
    assert data[start:end].startswith(f"LX*{cap + 2}~".encode()) and data[end:].startswith(b"SE*")
    assert ch.n == 5 + (cap + 30) * 3
    # a claim within the guide's maximum + 1 carries no overflow
    ok = shape_bytes("many_lines", cap + 1)
    if kind == "837I":
        ok = ok.replace(b"005010X222A1", b"005010X223A2")
    assert [e.overflow for e in events(ok, "l.x12") if isinstance(e, ClaimChunk)] == [None]


def test_the_gate_writes_every_line_of_a_claim_of_too_many_lines_to_the_rejected_file(tmp_path):
    """The lines the grammar leaves out are copied from the input: the rejected file holds the
    claim as it came (in the middle of a file, and as the last claim of a file without SE)."""
    cap = line_cap("837P")
    one = shape_bytes("many_lines", cap + 40).decode()
    # a second claim after the long one, in the same transaction: the long claim's range ends at it
    head, tail = one.split("\nSE*", 1)
    second = "CLM*C2*300***11:B:1*Y*A*Y*Y~\nHI*ABK:F332~\nLX*1~\nSV1*HC:90868*300*UN*1*11**1~\nDTP*472*D8*20250909~\n"
    n_se = int(tail.split("*", 1)[0]) + 5
    data = (head + "\n" + second + "SE*" + str(n_se) + tail[tail.index("*"):]).encode()
    p = tmp_path / "long.x12"
    p.write_bytes(data)
    res = gate([str(p)], str(tmp_path / "out"), now=NOW, control_number=5)
    assert res.exit_code == 1
    out = tmp_path / "out"
    rejected = (out / "long.rejected.x12").read_bytes()
    assert _claim_segments(rejected, "C1") == _claim_segments(data, "C1")
    assert len([s for s in _claim_segments(rejected, "C1") if s.startswith(b"LX*")]) == cap + 40
    # SE01 of the rejected file counts what was written
    segs = [s.strip(b"\r\n") for s in rejected.split(b"~") if s.strip()]
    st = next(i for i, s in enumerate(segs) if s.startswith(b"ST*"))
    se = next(i for i, s in enumerate(segs) if s.startswith(b"SE*"))
    assert int(segs[se].split(b"*")[1]) == se - st + 1
    assert b"CLM*C2*" in (out / "long.accepted.x12").read_bytes()
    # the long claim as the file's last, with no SE after it: copied to the end of the file
    cut = data[:data.index(b"CLM*C2*")]
    q = tmp_path / "cut.x12"
    q.write_bytes(cut)
    gate([str(q)], str(tmp_path / "out2"), now=NOW, control_number=5)
    assert _claim_segments((tmp_path / "out2" / "cut.rejected.x12").read_bytes() + b"SE*~", "C1") == \
        _claim_segments(cut + b"SE*~", "C1")


def test_lines_names_a_claim_of_too_many_lines(tmp_path):
    cap = line_cap("837P")
    p = tmp_path / "long.x12"
    p.write_bytes(shape_bytes("many_lines", cap + 10))
    r = CliRunner().invoke(main, ["lines", str(p), "--format", "csv", "-o", str(tmp_path / "l.csv")])
    assert r.exit_code == 1
    assert "GRM-008" in r.stderr and f"the {cap} its guide allows" in r.stderr
    rows = (tmp_path / "l.csv").read_text().splitlines()
    assert len(rows) == 1 + cap + 1  # the header, the lines read


@pytest.mark.parametrize("block", [7, 199, 200, 201, 333, 1 << 20])
def test_the_interchange_scan_reads_a_block_at_a_time(tmp_path, monkeypatch, block):
    """interchange_ids reads a file a block at a time (no mapping of the whole file), with the
    answers of a scan of the whole."""
    import edi837.reader.interchanges as ics

    rng = random.Random(block)
    monkeypatch.setattr(ics, "BLOCK", block)
    one = shape_bytes("tiny_interchanges", 3)
    for k in range(30):
        parts = [one[:rng.randint(0, len(one))], b"xISA*00*" * rng.randint(0, 2), one, b"\n" * rng.randint(0, 3),
                 one.replace(b"000000002", b"000000777")]
        rng.shuffle(parts)
        data = b"".join(parts)
        p = tmp_path / f"{k}.x12"
        p.write_bytes(data)
        assert ics.interchange_ids(str(p)) == ics._scan(data)
    assert len(ics.interchange_ids(str(tmp_path / "0.x12"))) >= 3


def test_the_interchanges_seen_in_a_run_are_held_in_bounded_memory(tmp_path, monkeypatch):
    """A run remembers every (ISA06, ISA13) it read, to find an interchange sent twice: the first
    MEMORY in a dict, the rest in a temporary SQLite database; an interchange sent again is found
    on either side of that line."""
    from edi837.reader.interchanges import SeenInterchanges

    monkeypatch.setattr(SeenInterchanges, "MEMORY", 3)
    data = shape_bytes("tiny_interchanges", 8)  # ISA13 1 .. 8
    a = tmp_path / "a.x12"
    a.write_bytes(data)
    sub = tmp_path / "again"
    sub.mkdir()
    # the same interchanges 2 (held in the dict) and 7 (in the database) in another file
    parts = [b"ISA*" + p for p in data.split(b"ISA*") if p]
    b = sub / "b.x12"
    b.write_bytes(parts[1] + parts[6])
    e = Engine()
    fs = found(e.run([str(a), str(b)]))
    dup = sorted((f.file, f.interchange) for f in fs if f.rule == "S1-ENV-015")
    assert dup == [(str(b), "000000002"), (str(b), "000000007")]
    seen = e._ics_seen
    assert seen is not None and len(seen.mem) == 3 and seen.conn is not None
    assert seen.get(("EDI837SYNTH", "000000007")) == 1 and seen.get(("EDI837SYNTH", "000000099")) is None


def test_a_gate_run_can_leave_out_the_claim_results_it_holds(tmp_path):
    """keep_results=False (the CLI, the service, watch): the run returns its counts and writes every
    output, and holds no ClaimResult per claim (a run of millions of claims)."""
    p = tmp_path / "t.x12"
    p.write_bytes(shape_bytes("tiny_interchanges", 3))
    kept = gate([str(p)], str(tmp_path / "a"), now=NOW, control_number=5)
    lean = gate([str(p)], str(tmp_path / "b"), now=NOW, control_number=5, keep_results=False)
    assert len(kept.claims) == 3 and len(kept.files[0].results) == 3
    assert lean.claims == [] and lean.files[0].results == []
    assert lean.files[0].result.claims == 3 and lean.exit_code == kept.exit_code
    for name in sorted(x.name for x in (tmp_path / "a").iterdir() if not x.name.startswith(".")):
        assert (tmp_path / "b" / name).read_bytes() == (tmp_path / "a" / name).read_bytes()


def test_a_claim_of_too_many_segments_without_lines_is_cut_and_rejected(tmp_path, monkeypatch):
    """Segments that no LX marks as lines (misplaced SV1s) are held up to MAX_CLAIM_SEGMENTS a claim:
    the rest is left out as lines past the guide's maximum are, and GRM-008 rejects the claim (its
    lines are not all checked); the gate's rejected file still holds every segment."""
    import edi837.grammar.stream as gstream

    monkeypatch.setattr(gstream, "MAX_CLAIM_SEGMENTS", 40)
    data = shape_bytes("many_lines", 30).replace(b"LX*", b"NTE*ADD*")  # no LX: 90 unmarked segments
    fs = found(Engine().run_file(data, file="n.x12"))
    grm = [f for f in fs if f.rule == "GRM-008"]
    assert len(grm) == 1 and grm[0].severity is Severity.ERROR and grm[0].segment_id == "CLM"
    p = tmp_path / "n.x12"
    p.write_bytes(data)
    res = gate([str(p)], str(tmp_path / "out"), now=NOW, control_number=5)
    assert res.exit_code == 1 and [c.claim_id for c in res.claims if "GRM-008" in c.reasons] == ["C1"]
    assert _claim_segments((tmp_path / "out" / "n.rejected.x12").read_bytes(), "C1") == _claim_segments(data, "C1")
