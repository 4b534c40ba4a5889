"""pyx12 4.0.0 as an oracle for SNIP 1-2 (issue 11): one-element mutations of files pyx12 accepts.

Wherever pyx12 reports an element or segment error in a mutated file, edi837 must report an
error at the same segment (and the same element when pyx12 names one); see tests/oracle.py
``matched``.  Deliberate differences are listed in edi837.checks.conformance.ORACLE_DISAGREE
(written to docs/conformance.md); a difference not listed there fails.  Gaps edi837 still has
(issue 11) are strict xfails below, per case: when a fix lands the case XPASSes and its entry
in GAPS must be removed.

A deterministic sample runs here; ``python benchmarks/oracle.py`` runs every mutation of every
fixture and corpus file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import oracle
from edi837.checks.conformance import oracle_reason
from shared_corpus import CORPUS, needs_corpus, rows

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_FILES = ("837p_tms_course.x12", "837i_ect_inpatient.x12", "837p_2000c_patient.x12")
#: every mutation of these kinds is in the sample; of the other kinds every STRIDE-th one
ALWAYS = ("date",)
STRIDE = 15


def sample() -> list[tuple[str, oracle.Mutation]]:
    out = []
    for name in SAMPLE_FILES:
        k = 0
        for m in oracle.mutations((ROOT / "fixtures" / name).read_text()):
            if m.kind not in ALWAYS:
                k += 1
                if k % STRIDE:
                    continue
            out.append((name, m))
    return out


def case_id(name: str, m: oracle.Mutation) -> str:
    return f"{name.split('.')[0]}:{m.kind}:{m.element or m.seg_id}@{m.seq}:{m.value!r}"


#: sample cases where edi837 misses an error pyx12 reports (strict xfail with the cause; the
#: dates named by a qualifier, the first list, were closed by S2-ELE-006/007 in issue 11)
GAPS: dict[str, str] = {}


def _params():
    out = []
    for name, m in sample():
        cid = case_id(name, m)
        marks = [pytest.mark.xfail(strict=True, reason=f"issue 11: {GAPS[cid]}")] if cid in GAPS else []
        out.append(pytest.param(name, m, id=cid, marks=marks))
    return out


@pytest.mark.parametrize("name,m", _params())
def test_oracle_sample(name, m):
    o = oracle.compare(m)
    if not o.agree and oracle_reason(f"fixtures/{name}", m.key):
        pytest.skip(f"deliberate difference: {oracle_reason(f'fixtures/{name}', m.key)}")
    assert o.agree, o.describe()


def test_sample_size_is_bounded():
    s = sample()
    assert 60 <= len(s) <= 160, len(s)
    assert len({case_id(n, m) for n, m in s}) == len(s)


def test_gaps_are_in_the_sample():
    ids = {case_id(n, m) for n, m in sample()}
    assert set(GAPS) <= ids, sorted(set(GAPS) - ids)


# -- the oracle itself --------------------------------------------------------------------
@pytest.mark.parametrize("name", ["837p_tms_course.x12", "no_line_breaks.x12", "bom_crlf.x12",
                                  "newline_terminator.x12", "multi_envelope.x12"])
def test_source_is_clean_and_round_trips(name):
    text = (ROOT / "fixtures" / name).read_text()
    x = oracle.X12.parse(text)
    assert x.text() == text
    assert oracle.pyx12_structured(text) == []
    assert oracle.ours(text.encode()) == []


@pytest.mark.parametrize("name", ["837p_tms_course.x12", "no_line_breaks.x12"])
def test_positions_are_segment_ordinals_in_both(name):
    """pyx12's Line: and edi837's segment_seq are the same number (ISA is 1), with or without line breaks."""
    text = (ROOT / "fixtures" / name).read_text()
    m = next(m for m in oracle.mutations(text) if m.kind == "date" and m.element == "BHT04")
    p = oracle.pyx12_structured(m.data())
    mine = oracle.ours(m.data())
    assert [(e.seq, e.element) for e in p] == [(m.seq, "BHT04")] * len(p)
    assert (m.seq, "BHT04") in {(o.seq, o.element) for o in mine}


def test_structured_pyx12_errors_match_its_log():
    """The structured errors are the ones pyx12 logs (same count, same order)."""
    from pyx12_check import pyx12_errors

    text = (ROOT / "fixtures" / "837p_tms_course.x12").read_text()
    m = next(m for m in oracle.mutations(text) if m.kind == "segment" and m.seg_id == "NM1")
    logged = pyx12_errors(m.data())
    got = oracle.pyx12_structured(m.data())
    assert len(logged) == len(got) > 0
    for line, e in zip(logged, got):
        assert line.startswith(f"Line:{e.seq} ") and e.message in line


def test_a_removed_segment_recounts_se01():
    text = (ROOT / "fixtures" / "837p_tms_course.x12").read_text()
    m = next(m for m in oracle.mutations(text) if m.kind == "segment")
    assert not any(e.level == "ST" for e in oracle.pyx12_structured(m.data()))


def test_an_unlisted_difference_fails():
    """compare() reports a missed pyx12 error when edi837 is silent (the test's teeth)."""
    text = (ROOT / "fixtures" / "837p_tms_course.x12").read_text()
    m = next(m for m in oracle.mutations(text) if m.kind == "date" and m.element == "BHT04")
    p = oracle.pyx12_structured(m.data())
    assert [e for e in p if not oracle.matched(e, [])] == p != []


# -- corpus files (read in place) ---------------------------------------------------------
def _corpus_ok():
    return [r for r in rows() if r["pyx12_4_0_0"] == "ok" and r["version"] in ("005010X222A1", "005010X223A2")]


@needs_corpus
def test_corpus_oracle_sample():
    """The date mutations of each accepted corpus file (the rest: benchmarks/oracle.py)."""
    missed = []
    for r in _corpus_ok()[:6]:
        text = (CORPUS / r["file"]).read_text()
        for m in oracle.mutations(text):
            if m.kind == "date" and m.element in ("BHT04", "DMG02"):
                o = oracle.compare(m)
                if not o.agree and not oracle_reason(r["file"], m.key):
                    missed.append(f"{r['file']}: {o.describe()}")
    assert not missed, "\n".join(missed)
