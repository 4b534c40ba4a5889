"""Rules called only where they can fire (issue 16 item 2).

A rule may declare what it needs to fire -- procedure codes (a line rule: the line's; a
claim rule: one of the claim's lines') and modifiers (a line rule: one on the line) --
and the engine calls it only there.  A declaration that is too narrow would silently
drop findings, so each is checked against the engine with every declaration removed
(each rule called on every claim and line, as before): the findings must be the same,
on every fixture and on variants of them whose service lines carry every procedure
code and modifier combination the declarations name (and some they do not).
"""

from __future__ import annotations

import itertools
import random
import re
from pathlib import Path

import attrs
import pytest

from edi837.checks import registry
from edi837.checks.engine import Engine
from edi837.checks.registry import RULES
from edi837.events import Found

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = sorted((ROOT / "fixtures").glob("*.x12"))

registry._load_all()
DECLARED = {rid: r for rid, r in RULES.items() if r.func is not None and (r.modifiers or (r.scope == "claim" and r.codes))}
CODES = ["90867", "90868", "90869", "90870", "00104", "00100", "01953", "01996", "01999", "02000", "99213",
         "90792", "J3490"]
MODS = ["GA", "GZ", "GY", "GX", "25", "59", "KX", "TC"]


def _findings(paths: list[Path]) -> list[tuple]:
    out = []
    for ev in Engine().run([str(p) for p in paths]):
        if isinstance(ev, Found):
            f = ev.finding
            out.append((f.rule, f.severity.value, f.message, f.file, f.segment_seq, f.element, f.claim_id))
    return out


@pytest.fixture
def no_needs(monkeypatch: pytest.MonkeyPatch):
    """The registry with every declaration of what a rule needs removed (the line rules'
    ``codes`` stay: they predate this and are tested by the edit-pack tests)."""
    def strip() -> None:
        for rid, r in DECLARED.items():
            monkeypatch.setitem(RULES, rid, attrs.evolve(
                r, modifiers=None, codes=None if r.scope == "claim" else r.codes))
        ane = RULES["ANE-001"]
        monkeypatch.setitem(RULES, "ANE-001", attrs.evolve(ane, codes=None))
    return strip


def test_some_rules_declare_needs() -> None:
    assert {"MOD-001", "MOD-002", "MOD-003", "MOD-004", "TMS-009", "ECT-008"} <= set(DECLARED)
    assert RULES["ANE-001"].codes is not None and "00104" in RULES["ANE-001"].codes
    assert "01996" not in RULES["ANE-001"].codes  # not time-based: ANE-001 exempts it


def _variants(src: Path, n: int, seed: int) -> list[str]:
    """``src`` with its SV1/SV2 procedure codes and modifiers replaced, ``n`` ways."""
    text = src.read_text(encoding="latin-1")
    rnd = random.Random(seed)
    combos = [()] + [(m,) for m in MODS] + list(itertools.combinations(["GA", "GZ", "GY", "GX"], 2))
    out = []
    for _ in range(n):
        def repl(m: re.Match[str]) -> str:
            mods = rnd.choice(combos)
            comp = ":".join(("HC", rnd.choice(CODES)) + tuple(mods))
            return f"{m.group(1)}{comp}{m.group(3)}"
        # SV1*HC:code[:mods]* (837P) and SV2*rev*HC:code[:mods]* (837I)
        out.append(re.sub(r"(SV1\*|SV2\*[^*~]*\*)(HC:[^*~]*)(\*)", repl, text))
    return out


def test_declared_needs_drop_no_finding(tmp_path: Path, no_needs) -> None:
    paths = list(FIXTURES)
    for i, src in enumerate(f for f in FIXTURES if "SV1*" in f.read_text(encoding="latin-1")
                            or "SV2*" in f.read_text(encoding="latin-1")):
        for j, text in enumerate(_variants(src, 6, seed=i)):
            p = tmp_path / f"v{i}_{j}_{src.name}"
            p.write_text(text, encoding="latin-1")
            paths.append(p)
    with_needs = _findings(paths)
    no_needs()
    every_call = _findings(paths)
    assert with_needs == every_call
    # the variants do reach the rules whose calls are now skipped elsewhere
    fired = {f[0] for f in every_call}
    assert {"MOD-001", "MOD-003", "ANE-001"} <= fired, fired
