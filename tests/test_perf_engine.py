"""Behaviour kept by the engine's packed pending claims and the SNIP 2 element cache."""

from __future__ import annotations

from pathlib import Path

from edi837.checks import Engine
from edi837.checks.verdicts import ClaimResult, Pending
from edi837.events import ClaimVerdict, Found  # noqa: E402

FIX = Path(__file__).resolve().parent.parent / "fixtures"


def _cr(seq: int, tx: int = 1, grp: int = 1, **kw) -> ClaimResult:
    base = dict(file="f", claim_seq=seq, claim_id=f"C{seq}", verdict="accepted", kind="837P",
                interchange="1", group="1", transaction="0001", charge="100", patient_key=("P", str(seq % 2)),
                first_seq=seq * 10, last_seq=seq * 10 + 5, tx_no=tx, grp_no=grp)
    base.update(kw)
    return ClaimResult(**base)


def test_pending_round_trip_and_flags():
    p = Pending("f")
    p.append(_cr(1, tx=1))
    p.append(_cr(2, tx=1, errors=1, warnings=2, reasons=["X-1"]))
    p.append(_cr(5, tx=2, charge=None))
    p.add_error(2, "X-1")
    p.add_error(2, "X-2")
    p.add_error(3, "X-9")  # not pending: ignored
    p.flag("transaction", 2, ["S1-ENV-007"])
    p.flag("interchange", None, ["S1-ENV-001"])
    out = list(p.drain())
    assert len(p) == 0
    assert [c.claim_seq for c in out] == [1, 2, 5]
    a, b, c = out
    assert (a.errors, a.reasons) == (1, ["S1-ENV-001"])
    assert (b.errors, b.warnings, b.reasons) == (4, 2, ["X-1", "X-2", "S1-ENV-001"])
    assert (c.errors, c.reasons, c.charge) == (2, ["S1-ENV-007", "S1-ENV-001"], None)
    assert b.patient_key == ("P", "0") and b.first_seq == 20 and b.last_seq == 25 and c.tx_no == 2
    assert all(x.file == "f" and x.verdict == "accepted" for x in out)  # the engine sets verdicts


def _run(path):
    res = {"claims": [], "findings": []}
    for ev in Engine().run_file(path):
        if isinstance(ev, ClaimVerdict):
            obj = ev.result
            res["claims"].append(obj)
        elif isinstance(ev, Found):
            obj = ev.finding
            res["findings"].append(obj)
    return res


def test_envelope_errors_still_reject_enclosed_claims():
    r = _run(FIX / "invalid" / "se_count_wrong.x12")
    assert r["claims"] and all(c.verdict == "rejected" for c in r["claims"])
    assert all(c.reasons for c in r["claims"])


def test_repeated_bad_segment_reported_at_each_occurrence(tmp_path):
    # the same malformed DTP on two claims: the cached element result is replayed with each position
    import re

    src = (FIX / "837p_tms_course.x12").read_text()
    bad = re.sub(r"DTP\*472\*D8\*[0-9]{8}", "DTP*472*D8*20250101*X", src, count=3)
    assert bad.count("DTP*472*D8*20250101*X") == 3
    f = tmp_path / "bad.x12"
    f.write_text(bad)
    hits = [x for x in _run(f)["findings"] if x.rule == "S1-SEG-001" and x.segment_id == "DTP"]
    assert len({x.segment_seq for x in hits}) == 3
    assert all(x.segment_text == "DTP*472*D8*20250101*X" for x in hits)


def test_a_line_rule_with_codes_sees_only_lines_with_those_codes(monkeypatch):
    """Rule.codes: the engine calls a code-specific line rule only for lines billing one
    of its codes, and every other line rule for every line."""
    from edi837.checks import registry

    registry._load_all()
    coded = registry.RULES["DX-001"]  # declared for the TMS codes
    plain = registry.RULES["S5-PROC-001"]  # every line
    assert coded.codes and plain.codes is None and coded.scope == plain.scope == "line"
    seen: dict[str, list[str]] = {"coded": [], "plain": []}

    def spy(which, func):
        def f(ln, ctx):
            seen[which].append(ln.procedure_code)
            return func(ln, ctx)
        return f

    monkeypatch.setattr(coded, "func", spy("coded", coded.func))
    monkeypatch.setattr(plain, "func", spy("plain", plain.func))
    for name in ("837p_tms_course.x12", "837p_ect_anesthesia.x12"):
        list(Engine().run_file(str(FIX / name)))
    assert seen["coded"] and set(seen["coded"]) <= coded.codes
    assert set(seen["plain"]) - coded.codes  # ECT and anesthesia lines reach the plain rule ...
    assert len(seen["plain"]) > len(seen["coded"])  # ... but not the coded one
