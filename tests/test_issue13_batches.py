"""What a batch means (issue 13 items 2 and 3): the same claim twice is one
finding (DUP-001) on the later copy; an interchange sent twice is a duplicate
interchange (S1-ENV-015, TA1 note 025); replacements and voids need REF*F8 and
count the claim once, in the run and in the history store.  Synthetic files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from edi837.checks import Engine
from edi837.checks.editpack.synth import build
from edi837.events import ClaimVerdict, Found
from edi837.gate import gate

COURSE = {"id": "C100", "lines": [{"code": "90867", "date": "2025-03-03"},
                                   {"code": "90868", "date": "2025-03-04"}]}


def run(sources, **opts):
    evs = list(Engine(**opts).run(sources))
    verdicts = [(e.result.file, e.result.claim_id, e.result.verdict) for e in evs if isinstance(e, ClaimVerdict)]
    found = [e.finding for e in evs if isinstance(e, Found)]
    return verdicts, found


def errors(found, claim_id=None):
    return sorted({f.rule for f in found if f.severity.value == "error"
                   and (claim_id is None or f.claim_id == claim_id)})


def write(tmp: Path, name: str, data: bytes) -> str:
    p = tmp / name
    p.write_bytes(data)
    return str(p)


# -- DUP-001 ------------------------------------------------------------------------
def test_the_same_claim_in_two_interchanges_is_one_claim(tmp_path):
    a = write(tmp_path, "a.x12", build("837P", [COURSE], isa="000000101"))
    b = write(tmp_path, "b.x12", build("837P", [COURSE], isa="000000102"))
    verdicts, found = run([a, b])
    assert verdicts == [(a, "C100", "accepted"), (b, "C100", "rejected")]
    dup = [f for f in found if f.rule == "DUP-001"]
    assert len(dup) == 1 and dup[0].file == b and "a.x12, claim 1" in dup[0].message
    # one cause, one finding: the copy's 90867 is not also a second 90867 of the course
    assert errors(found, "C100") == ["DUP-001"]


def test_a_changed_claim_with_the_same_clm01_is_not_a_duplicate(tmp_path):
    other = {"id": "C100", "lines": [{"code": "90868", "date": "2025-03-05"}]}
    a = write(tmp_path, "a.x12", build("837P", [COURSE], isa="000000101"))
    b = write(tmp_path, "b.x12", build("837P", [other], isa="000000102"))
    verdicts, found = run([a, b])
    assert [v for _, _, v in verdicts] == ["accepted", "accepted"]
    assert "DUP-001" not in {f.rule for f in found}


def test_a_resubmission_of_a_rejected_claim_is_not_a_duplicate(tmp_path):
    """The original's interchange was rejected (IEA01 wrong): the same claim sent again
    in a sound interchange goes through."""
    bad = build("837P", [COURSE], isa="000000101").replace(b"IEA*1*", b"IEA*2*")
    a = write(tmp_path, "a.x12", bad)
    b = write(tmp_path, "b.x12", build("837P", [COURSE], isa="000000102"))
    for order in ([a, b], [b, a]):
        verdicts = dict(((f, v) for f, _, v in run(order)[0]))
        assert verdicts == {a: "rejected", b: "accepted"}, order


def test_duplicates_against_the_history_store(tmp_path):
    store = str(tmp_path / "h.sqlite")
    a = write(tmp_path, "a.x12", build("837P", [COURSE], isa="000000101"))
    b = write(tmp_path, "b.x12", build("837P", [COURSE], isa="000000102"))
    assert run([a], history=store)[0] == [(a, "C100", "accepted")]
    verdicts, found = run([b], history=store)
    assert verdicts == [(b, "C100", "rejected")]
    assert errors(found) == ["DUP-001"] and "earlier run" in next(f.message for f in found if f.rule == "DUP-001")


# -- duplicate interchange (TA1 025) --------------------------------------------------
def test_the_same_file_twice_in_one_gate_run_is_a_duplicate_interchange(tmp_path):
    a = write(tmp_path, "a.x12", build("837P", [COURSE], isa="000000101"))
    sub = tmp_path / "again"
    sub.mkdir()
    a2 = write(sub, "a.x12", build("837P", [COURSE], isa="000000101"))
    res = gate([a, a2], str(tmp_path / "out"), now=None)
    first, second = res.files
    assert first.result.accepted == 1 and "accepted" in first.paths
    assert second.result.accepted == 0 and "accepted" not in second.paths
    ta1 = Path(second.paths["ta1"]).read_text()
    assert "TA1*000000101*" in ta1 and "*R*025~" in ta1
    assert res.exit_code == 1
    # the 999 rejects the duplicate's group too
    assert "AK9*R" in Path(second.paths["999"]).read_text()


def test_an_interchange_already_accepted_by_an_earlier_run_is_a_duplicate(tmp_path):
    store = str(tmp_path / "h.sqlite")
    a = write(tmp_path, "a.x12", build("837P", [COURSE], isa="000000101"))
    r1 = gate([a], str(tmp_path / "out1"), history=store)
    assert r1.exit_code == 0 and r1.files[0].result.accepted == 1
    r2 = gate([a], str(tmp_path / "out2"), history=store)
    assert r2.files[0].result.accepted == 0 and r2.exit_code == 1
    assert "*R*025~" in Path(r2.files[0].paths["ta1"]).read_text()
    # re-submitting on purpose: a new ISA13 is a new interchange (its claim is then DUP-001)
    b = write(tmp_path, "b.x12", build("837P", [COURSE], isa="000000102"))
    verdicts, found = run([b], history=store)
    assert "S1-ENV-015" not in {f.rule for f in found}
    # the store still holds the claim once
    with sqlite3.connect(store) as c:
        assert c.execute("SELECT count(*) FROM claims").fetchone()[0] == 1


# -- replacements and voids ------------------------------------------------------------
def test_a_replacement_or_void_needs_ref_f8():
    for freq in ("7", "8"):
        claim = {**COURSE, "freq": freq}
        _, found = run([build("837P", [claim])])
        assert errors(found) == ["S4-FRQ-001"], freq
        hit = next(f for f in found if f.rule == "S4-FRQ-001")
        assert hit.element == "CLM05-3" and "REF*F8" in hit.message
        _, found = run([build("837P", [{**claim, "f8": "PAYERICN0001"}])])
        assert "S4-FRQ-001" not in {f.rule for f in found}, freq


def test_a_replacement_counts_the_claim_once(tmp_path):
    """The original and its replacement in one run: the replacement's 90867 is not a second
    initial session, and no DUP-001 either."""
    repl = {**COURSE, "freq": "7", "f8": "PAYERICN0001"}
    a = write(tmp_path, "a.x12", build("837P", [COURSE], isa="000000101"))
    b = write(tmp_path, "b.x12", build("837P", [repl], isa="000000102"))
    for order in ([a, b], [b, a]):
        verdicts, found = run(order)
        assert {v for _, _, v in verdicts} == {"accepted"}, order
        assert not {"TMS-003", "DUP-001"} & {f.rule for f in found}


def test_replacement_and_void_in_the_history_store(tmp_path):
    store = str(tmp_path / "h.sqlite")
    orig = write(tmp_path, "o.x12", build("837P", [COURSE], isa="000000101"))
    assert run([orig], history=store)[0][0][2] == "accepted"
    # a replacement moves the course start: its lines replace the original's in the store
    repl = {"id": "C100", "freq": "7", "f8": "PAYERICN0001",
            "lines": [{"code": "90867", "date": "2025-03-10"}, {"code": "90868", "date": "2025-03-11"}]}
    r = write(tmp_path, "r.x12", build("837P", [repl], isa="000000102"))
    assert run([r], history=store)[0][0][2] == "accepted"
    with sqlite3.connect(store) as c:
        assert sorted(d for (d,) in c.execute("SELECT date FROM lines")) == ["2025-03-10", "2025-03-11"]
    # a void removes the claim: a new course's 90867 a week later is not a repeat
    void = {**repl, "freq": "8"}
    v = write(tmp_path, "v.x12", build("837P", [void], isa="000000103"))
    assert run([v], history=store)[0][0][2] == "accepted"
    with sqlite3.connect(store) as c:
        assert c.execute("SELECT count(*) FROM lines").fetchone()[0] == 0
    new = write(tmp_path, "n.x12", build("837P", [{"id": "C200", "lines": [{"code": "90867",
                                                                            "date": "2025-03-17"}]}],
                                         isa="000000104"))
    verdicts, found = run([new], history=store)
    assert verdicts[0][2] == "accepted" and "TMS-003" not in {f.rule for f in found}
