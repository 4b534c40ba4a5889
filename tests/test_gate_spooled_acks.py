"""Issue 14 item 6: the gate's memory does not grow with a file.

The gate keeps what pass 1 found (verdicts, HL chains, SNIP 1-2 errors) in a SQLite spool
(edi837/outputs/gatespool.py) and builds the 999 a transaction at a time and the TA1 an
interchange at a time (ack999.StreamingAcks).  These tests hold:

- the 999 built that way to the one built from everything in memory (``build_999``), on every
  fixture, generated files and the shared corpus, except where the streaming placement is
  deliberately different (broken envelopes, below);
- the gate's memory growth to that of validate on the same hostile shapes (tracemalloc: the
  gate adds nothing per interchange, claim or finding; the cross-claim state both share is
  the edit pack's);
- the spool's place (the run's private scratch folder, 0600) and its removal.
"""

from __future__ import annotations

import datetime as dt
import gc
import io
import os
import stat
import sys
import tracemalloc
from pathlib import Path

import pytest

import edi837.gate as gate_mod
from edi837.checks import Engine
from edi837.events import ClaimVerdict, Found
from edi837.gate import gate
from edi837.model.build import stream
from edi837.outputs.ack999 import EnvelopeCollector, memory_bodies, write_999
from edi837.outputs.gatespool import GateSpool
from edi837.outputs.split import ControlCounter, SegmentWriter
from edi837.outputs.ta1 import is_interchange_finding
import edi837.reader.interchanges as interchanges_mod
from edi837.reader import BLOCK, SegmentReader
from edi837.reader.segment import Delimiters
from shared_corpus import needs_corpus, rows
from shared_corpus import path as corpus_path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from generate import generate  # noqa: E402  (benchmarks/generate.py)
from shapes import write_shape  # noqa: E402  (benchmarks/shapes.py)

NOW = dt.datetime(2026, 1, 15, 6, 0)
FIXTURES = sorted(p for p in (ROOT / "fixtures").rglob("*.x12"))

# corpus files whose 999 the streaming placement changes on purpose (see StreamingAcks):
DIFFERENT = {
    # three groups reuse GS06 1 in one interchange: each duplicate's S1-ENV-009 goes in the AK9
    # of the group that has it, not all in the first group's
    "x12_multiple_gs.txt",
    # an ST without SE, then another interchange: the second interchange's errors are its own
    # transaction's, not the SE-less one's
    "837I-Examples.txt",
    # five interchanges and groups reusing ISA13 and GS06: each group's GS08 error is its own
    "all.txt",
}


def body_segments(data: bytes) -> list[str]:
    """The 999's segments without the envelope's control numbers (ISA, GS, GE, IEA)."""
    segs = [s.strip() for s in data.decode("latin-1").split("~") if s.strip()]
    return [s for s in segs if s.split("*")[0] not in ("ISA", "GS", "GE", "IEA")]


def memory_999(path: str) -> bytes:
    """The 999 as the gate built it before the spool: every finding and result in memory."""
    findings, results = [], {}
    for ev in Engine().run_file(path):
        match ev:
            case Found(f) if f.snip in (1, 2) or f.snip is None:
                findings.append(f)
            case ClaimVerdict(cr):
                results[cr.claim_seq] = cr
    env = EnvelopeCollector({f.segment_seq for f in findings
                             if f.ik3 == "3" and f.segment_seq is not None})
    for ev in stream(path):
        env(ev)
    bad = {f.interchange for f in findings if is_interchange_finding(f)}
    rejected = [isa for isa in env.interchanges if isa[13].strip() in bad]
    buf = io.BytesIO()
    if env.groups:
        write_999(SegmentWriter(buf, Delimiters()),
                  memory_bodies(env.groups, findings, list(results.values()),
                                rejected_interchanges=rejected, loops=env.loops),
                  ControlCounter(1), NOW)
    return buf.getvalue()


def gate_999(path: str, out: Path) -> bytes:
    gate([path], str(out), now=NOW, control_number=1, keep_results=False)
    got = [p for p in out.iterdir() if p.name.endswith(".999.x12")]
    return got[0].read_bytes() if got else b""


def test_the_spooled_999_is_the_one_built_in_memory_on_every_fixture(tmp_path):
    compared = 0
    for i, f in enumerate(FIXTURES):
        want = memory_999(str(f))
        got = gate_999(str(f), tmp_path / f"o{i}")
        assert body_segments(got) == body_segments(want), f
        compared += bool(want)
    assert compared >= 15


@pytest.mark.parametrize("kind", ["837P", "837I"])
def test_the_spooled_999_is_the_one_built_in_memory_on_generated_files(tmp_path, kind):
    p = tmp_path / "g.x12"
    generate(str(p), 300, kind, seed=3)
    want = memory_999(str(p))
    assert body_segments(gate_999(str(p), tmp_path / "o")) == body_segments(want)
    # and on a file of many errors in one transaction (the IK3s stream from the spool)
    q = tmp_path / "m.x12"
    write_shape(str(q), "many_findings", 40)
    want = memory_999(str(q))
    assert want.count(b"IK3*") >= 400
    assert body_segments(gate_999(str(q), tmp_path / "m")) == body_segments(want)


@needs_corpus
def test_the_spooled_999_is_the_one_built_in_memory_on_the_corpus(tmp_path):
    same = differ = 0
    for i, r in enumerate(rows()):
        p = corpus_path(r)
        want = body_segments(memory_999(str(p)))
        got = body_segments(gate_999(str(p), tmp_path / f"o{i}"))
        if p.name in DIFFERENT:
            differ += got != want
            continue
        assert got == want, p
        same += bool(want)
    assert same >= 100 and differ == len(DIFFERENT)


def _text(name: str) -> str:
    return (ROOT / "fixtures" / name).read_text()


def _segs(text: str) -> list[str]:
    return [s.strip() for s in text.split("~") if s.strip()]


def test_a_reused_gs06_is_answered_in_the_group_that_reuses_it(tmp_path):
    segs = _segs(_text("837p_tms_course.x12"))
    head = segs[:1]
    group = segs[1:-1]  # GS .. GE
    ge = [s for s in group if s.startswith("GE*")][0]
    assert group[0].startswith("GS*") and group[-1] == ge
    p = tmp_path / "dup.x12"
    p.write_text("~\n".join(head + group + group + [segs[-1].replace("IEA*1*", "IEA*2*")]) + "~\n")
    out = tmp_path / "out"
    gate([str(p)], str(out), now=NOW, control_number=1)
    ak9 = [s for s in _segs((out / "dup.999.x12").read_text()) if s.startswith("AK9")]
    assert len(ak9) == 2
    # the first group is accepted; the second, whose GS06 repeats the first's, is rejected
    assert ak9[0].split("*")[1] == "A" and ak9[1].split("*")[1] == "R" and ak9[1].endswith("*3"), ak9


def test_a_transaction_without_se_does_not_take_the_next_interchanges_errors(tmp_path):
    segs = _segs(_text("837p_tms_course.x12"))
    se = [i for i, s in enumerate(segs) if s.startswith("SE*")][0]
    first = segs[:se] + segs[se + 1:]  # no SE
    second = [s.replace("*000000001*", "*000000002*") if s.startswith("ISA") else
              s.replace("IEA*1*000000001", "IEA*1*000000002") for s in segs]
    k = [i for i, s in enumerate(second) if s.startswith("SE*")][0]
    second[k] = "SE*9*" + second[k].split("*")[2]  # a wrong count in the second interchange
    p = tmp_path / "nose.x12"
    p.write_text("~\n".join(first + second) + "~\n")
    out = tmp_path / "out"
    gate([str(p)], str(out), now=NOW, control_number=1)
    s999 = _segs((out / "nose.999.x12").read_text())
    # the first transaction: its own error (no SE, GRM-004), nothing of the second interchange;
    # the second: its SE01 at the SE's own position (the 72nd segment of its transaction)
    assert [s for s in s999 if s.startswith(("IK3", "IK4", "IK5"))] == [
        "IK5*R*3", "IK3*SE*72**8", "IK4*1**7*9", "IK5*R*4"]
    # (built from memory, the first transaction took the second's SE error at position 147)
    assert "IK3*SE*147**8" in memory_999(str(p)).decode()


@pytest.mark.parametrize("shape,n", [("envelope_errors", 50), ("tiny_interchanges", 50),
                                     ("many_findings", 100)])
def test_what_the_gate_holds_for_its_acknowledgments_does_not_grow_with_the_file(
        tmp_path, monkeypatch, shape, n):
    """The memory a gate run holds (traced, after a collection) when pass 1 is done and when the
    split is done and the 999 is about to be written, at n and 4n: the same.  SNIP 1-2 only (the
    edit pack's cross-claim state grows with a run, in validate too) and 16 KB read blocks (a
    file of these sizes would otherwise be one block, read whole).  Before the spool the gate
    held every SNIP 1-2 finding, claim result and envelope of the file at that point: 870 KB
    more at 200 interchanges of envelope_errors than at 50, 3 MB more at 400 claims of
    many_findings than at 100."""
    defaults = SegmentReader.__init__.__defaults__
    assert defaults is not None and BLOCK in defaults
    monkeypatch.setattr(SegmentReader.__init__, "__defaults__",
                        tuple(1 << 14 if d == BLOCK else d for d in defaults))
    monkeypatch.setattr(interchanges_mod, "BLOCK", 1 << 14)
    # the run's memory of the interchanges it read (to find one sent twice) is the run's, not
    # the file's: kept in its SQLite file from the first one here, as past 2,000 in a real run
    monkeypatch.setattr(interchanges_mod.SeenInterchanges, "MEMORY", 0)
    held: list[int] = []

    def note() -> None:
        if tracemalloc.is_tracing():
            gc.collect()
            held.append(tracemalloc.get_traced_memory()[0])

    real_999, real_end = gate_mod.write_999, GateSpool.end_pass1

    def write_999(*a, **k):
        note()
        return real_999(*a, **k)

    def end_pass1(self):
        real_end(self)
        note()

    monkeypatch.setattr(gate_mod, "write_999", write_999)
    monkeypatch.setattr(GateSpool, "end_pass1", end_pass1)
    at = {}
    for size in (n, 4 * n):
        p = tmp_path / f"{shape}{size}.x12"
        write_shape(str(p), shape, size)
        gate([str(p)], str(tmp_path / f"warm{size}"), now=NOW, control_number=1, snip="1-2")
        held.clear()
        gc.collect()
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            gate([str(p)], str(tmp_path / f"o{size}"), now=NOW, control_number=1, keep_results=False,
                 snip="1-2")
        finally:
            tracemalloc.stop()
        assert len(held) == 2, held
        at[size] = [h - base for h in held]
    grew = [b - a for a, b in zip(at[n], at[4 * n])]
    # (20-120 KB is left, depending on the machine and what ran before; the gate's old
    # per-file state grew 735 KB to 3 MB here)
    assert max(grew) < 250_000, at


def test_the_spool_is_private_and_removed(tmp_path, monkeypatch):
    seen = []
    real = GateSpool.__init__

    def spy(self, path):
        real(self, path)
        st = os.stat(path)
        seen.append((path, stat.S_IMODE(st.st_mode), stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode)))

    monkeypatch.setattr(GateSpool, "__init__", spy)
    out = tmp_path / "out"
    gate([str(ROOT / "fixtures" / "multi_envelope.x12")], str(out), now=NOW, control_number=1)
    assert len(seen) == 1
    path, mode, folder = seen[0]
    assert mode == 0o600 and folder == 0o700
    assert not os.path.exists(path) and not (out / gate_mod.SCRATCH).exists()


def test_small_pages_and_windows_give_the_same_outputs(tmp_path, monkeypatch):
    """The spool reads claims, errors and acknowledgment pieces a page at a time and a
    transaction's HL loops at once up to a limit; with pages of 2 and no limit (every HL asked
    one by one) every output is the same."""
    import edi837.outputs.gatespool as gs

    p = tmp_path / "g.x12"
    generate(str(p), 60, "837P", seed=5, claims_per_st=25)
    q = tmp_path / "m.x12"
    write_shape(str(q), "many_findings", 8)
    inputs = [str(p), str(q), str(ROOT / "fixtures" / "multi_envelope.x12"),
              str(ROOT / "fixtures" / "837i_ect_inpatient.x12")]
    gate(inputs, str(tmp_path / "a"), now=NOW, control_number=1)
    monkeypatch.setattr(gs, "_PAGE", 2)
    monkeypatch.setattr(gs, "_KIDS", 0)
    monkeypatch.setattr(gs, "_BATCH", 3)
    gate(inputs, str(tmp_path / "b"), now=NOW, control_number=1)
    names = sorted(x.name for x in (tmp_path / "a").iterdir() if not x.name.startswith("."))
    assert len(names) >= 16 and names == sorted(x.name for x in (tmp_path / "b").iterdir()
                                                if not x.name.startswith("."))
    for name in names:
        assert (tmp_path / "b" / name).read_bytes() == (tmp_path / "a" / name).read_bytes(), name


def test_ack_text_of_ascii_skips_the_unicode_work_and_gives_the_same_text():
    import random
    import re
    import unicodedata

    from edi837.outputs.split import _TRANSLIT, ack_text

    def slow(v, n=99):  # the function before its ASCII fast path
        if not v:
            return ""
        v = unicodedata.normalize("NFKD", v.translate(_TRANSLIT))
        v = "".join(ch for ch in v if not unicodedata.combining(ch))
        return re.sub(r"[^A-Za-z0-9!\"&'()+,\-./;?= %@\[\]_{}\\|<>`#$]", " ", v).strip()[:n]

    rng = random.Random(16)
    alphabet = "AZaz09 *:^~!\"&'()+,-./;?=%@[]_{}\\|<>`#$\t\x01éÉñ\u2018\u2014\u00a0ﬁ\u0301Ω"
    for _ in range(3000):
        v = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20)))
        n = rng.choice([1, 5, 15, 99])
        assert ack_text(v, n) == slow(v, n), repr(v)
