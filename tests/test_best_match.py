"""One cause, one finding: where two rules find the same thing at the same
segment and element, only the more specific finding stays (registry.supersede),
in the engine's findings and so in the report, the 999 and the 277CA."""

from __future__ import annotations

from pathlib import Path

from edi837.checks.engine import Engine
from edi837.checks.registry import RULES, all_rules, superseded_by
from edi837.events import ClaimVerdict, Found

FX = Path(__file__).resolve().parent.parent / "fixtures"


def run(data: bytes, snip: str | None = None) -> tuple[list, list]:
    evs = list(Engine(snip=snip).run_file(data, "t.x12"))
    return ([e.finding for e in evs if isinstance(e, Found)], [e.result for e in evs if isinstance(e, ClaimVerdict)])


def places(found: list, rules: set[str]) -> list[tuple[str, int | None, str | None]]:
    return [(f.rule, f.segment_seq, f.element) for f in found if f.rule in rules]


def zip_file(z: str) -> bytes:
    src = (FX / "837i_tms_outpatient.x12").read_text()
    assert "N4*SPRINGFIELD*IL*627020456~" in src  # the 2010AA billing provider address
    return src.replace("N4*SPRINGFIELD*IL*627020456~", f"N4*SPRINGFIELD*IL*{z}~", 1).encode()


def test_a_five_digit_billing_zip_is_one_finding():
    found, _ = run(zip_file("17111"))
    assert places(found, {"S2-ELE-004", "S5-ZIP-002"}) == [("S5-ZIP-002", 12, "N403")]
    # the guide's pattern alone still reports it where SNIP 5 is not run
    found12, _ = run(zip_file("17111"), snip="1-2")
    assert places(found12, {"S2-ELE-004", "S5-ZIP-002"}) == [("S2-ELE-004", 12, "N403")]


def test_a_malformed_zip_is_one_finding():
    found, _ = run(zip_file("1234"))
    assert places(found, {"S2-ELE-004", "S5-ZIP-001", "S5-ZIP-002"}) == [("S5-ZIP-001", 12, "N403")]


def icd9_file() -> bytes:
    src = (FX / "837p_tms_course.x12").read_text()
    assert "HI*ABK:F332~" in src
    return src.replace("HI*ABK:F332~", "HI*BK:29623~", 1).encode()


def test_an_icd9_qualifier_in_2025_is_one_finding():
    found, results = run(icd9_file())
    got = places(found, {"S5-ICD-003", "DX-004"})
    assert [r for r, _, _ in got] == ["S5-ICD-003"] and got[0][2] == "HI01-1"
    # the edit pack alone still says it
    found7, _ = run(icd9_file(), snip="7")
    assert [r for r, _, _ in places(found7, {"S5-ICD-003", "DX-004"})] == ["DX-004"]
    claim = next(c for c in results if c.claim_seq == 1)
    assert claim.verdict == "rejected" and "DX-004" not in claim.reasons


def test_superseded_rules_exist():
    list(all_rules())  # loads every rule module
    table = superseded_by()
    assert table  # the mechanism is in use
    bad = {w: sorted(x for x in losers if x not in RULES) for w, losers in table.items()}
    assert {w: x for w, x in bad.items() if x} == {}
