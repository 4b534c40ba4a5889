"""Claims waiting for their interchange's end spill to disk in chunks; the
verdicts and reasons must be exactly those of an all-in-memory run, including
errors of an enclosing transaction, group or interchange that arrive after a
chunk was spilled."""

from __future__ import annotations

from pathlib import Path

import pytest

from edi837.checks.engine import Engine
from edi837.checks.verdicts import Pending
from evs import verdicts  # noqa: E402

FIX = Path(__file__).resolve().parents[1] / "fixtures"


def _results(data: bytes) -> list:
    return [(o.claim_seq, o.claim_id, o.verdict, o.errors, o.warnings, tuple(o.reasons), o.transaction)
            for o in verdicts(Engine().run_file(data, file="x.x12"))]


def _cases() -> list[tuple[str, bytes]]:
    me = (FIX / "multi_envelope.x12").read_text()
    st2 = me.index("ST*837*0002")
    se2 = me.index("\nSE*", st2) + 1
    bad_tx = me[:se2] + "SE*999" + me[me.index("*", se2 + 3):]  # SE01 wrong in transaction 0002
    no_iea = me[:me.rindex("IEA*")]  # the second interchange loses its IEA
    bad_ge = me.replace("GE*2*2001", "GE*3*2001", 1)
    out = [(p.name, p.read_bytes()) for p in sorted(FIX.glob("*.x12"))]
    out += [(p.name, p.read_bytes()) for p in sorted((FIX / "invalid").glob("*.x12"))]
    out += [("bad_tx", bad_tx.encode()), ("no_iea", no_iea.encode()), ("bad_ge", bad_ge.encode())]
    return out


@pytest.mark.parametrize("name,data", _cases(), ids=[n for n, _ in _cases()])
def test_spilled_pending_claims_get_the_same_verdicts(name, data, monkeypatch):
    expected = _results(data)
    monkeypatch.setattr(Pending, "SPILL_AT", 1)
    assert _results(data) == expected


def test_the_cases_exercise_enclosing_errors():
    cases = dict(_cases())
    rejected = {tx for _seq, _id, verdict, *_rest, tx in _results(cases["bad_tx"]) if verdict == "rejected"}
    assert rejected == {"0002"}
    assert all(r[2] == "rejected" for r in _results(cases["no_iea"]) if r[1].startswith("ME2"))
