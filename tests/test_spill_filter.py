"""The run state's spill (a temporary SQLite database of evicted patients) keeps a Bloom
filter of the patients it saved: a patient never saved is not looked up in SQLite (most
patients of a run are new when their first claim comes), and every saved one comes back."""

from __future__ import annotations

import datetime as dt

from edi837.checks.editpack.history import Event
from edi837.checks.editpack.spill import Spill


def ev(pid: str, n: int) -> Event:
    return Event(("S", "1", "1", "0001", pid), f"C{n}", "837P", "", "90867", "", (), dt.date(2026, 1, n % 28 + 1),
                 None, 1.0, "1234567893", False, 0, n, "1")


def test_saved_patients_come_back_and_new_ones_cost_no_query():
    sp = Spill()
    saved = {f"P{i}": [ev(f"P{i}", i)] for i in range(0, 5000, 2)}
    for pid, evs in saved.items():
        sp.save(pid, evs, [], [(1, 2, 3, True)])
    queries: list[str] = []
    assert sp.conn is not None
    sp.conn.set_trace_callback(queries.append)
    for pid, evs in saved.items():  # no false negative
        got, stays, claims = sp.load(pid)
        assert got == evs and stays == [] and claims == [(1, 2, 3, True)]
    assert len(queries) == len(saved)
    queries.clear()
    new = [f"Q{i}" for i in range(5000)]
    for pid in new:
        assert sp.load(pid) == ([], [], [])
    assert len(queries) < len(new) // 50  # false positives only (two bits of 2^20 per patient)
    sp.close()


def test_nothing_saved_opens_no_database():
    sp = Spill()
    assert sp.load("P1") == ([], [], [])
    assert sp.conn is None
