"""The edit pack's run state stays bounded in memory however many patients a run
has (an LRU of patients; the rest in a temporary SQLite spill), and cross-claim
rules still see a patient's whole series (synthetic 837s)."""

from __future__ import annotations

import datetime as _dt

from edi837.checks import Engine
from edi837.checks.editpack.run_state import state
from edi837.checks.engine import Context
from edi837.checks.editpack.history import HistoryStore
from edi837.checks.editpack.synth import build
from evs import found  # noqa: E402

CACHE = 20


class Run:
    """One engine; each ``feed`` is its own interchange (one patient per file)."""

    def __init__(self, **opts):
        self.eng = Engine(snip="7", **opts)
        self.isa = 100
        self.peak_patients = 0
        self.peak_events = 0

    def feed(self, member: str, claims: list[dict], kind: str = "837P") -> list:
        self.isa += 1
        data = build(kind, claims, member=member, isa=f"{self.isa:09d}")
        out = found(self.eng.run_file(data, file=f"f{self.isa}.x12"))
        st = self.eng.pack_state("editpack")
        self.peak_patients = max(self.peak_patients, st.patients_in_memory())
        self.peak_events = max(self.peak_events, st.events_in_memory())
        return out


def day(n: int) -> str:
    return (_dt.date(2025, 1, 1) + _dt.timedelta(days=n)).isoformat()


def others(run: Run, start: int, n: int, date: str) -> None:
    for j in range(start, start + n):
        fs = run.feed(f"OTH{j:05d}", [{"id": f"O{j}", "lines": [{"code": "90868", "date": date}]}])
        assert "TMS-003" not in {f.rule for f in fs}


def test_second_90867_after_500_other_patients():
    run = Run(editpack_cache=CACHE)
    assert not {f.rule for f in run.feed("PAT1", [{"id": "A", "lines": [{"code": "90867", "date": day(1)}]}])} \
        & {"TMS-003"}
    others(run, 0, 500, day(2))
    fs = run.feed("PAT1", [{"id": "B", "lines": [{"code": "90867", "date": day(30)}]}])
    hits = [f for f in fs if f.rule == "TMS-003"]
    assert len(hits) == 1 and day(1) in hits[0].message
    # after a gap of more than 30 days a new course starts: no TMS-003
    others(run, 500, 50, day(2))
    fs = run.feed("PAT1", [{"id": "C", "lines": [{"code": "90867", "date": day(200)}]}])
    assert "TMS-003" not in {f.rule for f in fs}
    st = state_of(run)
    assert run.peak_patients <= CACHE
    assert st.patients_in_memory() <= CACHE
    assert run.peak_events <= CACHE * 4  # a few lines per cached patient, not per claim of the run


def state_of(run: Run):
    return run.eng.pack_state("editpack")


def test_37th_session_over_the_course_cap_with_patients_in_between():
    run = Run(editpack_cache=CACHE)
    found = []
    for n in range(37):
        code = "90867" if n == 0 else "90868"
        fs = run.feed("PAT2", [{"id": f"S{n}", "lines": [{"code": code, "date": day(n)}]}])
        found.append({f.rule for f in fs})
        others(run, n * 30, 30, day(n))
    assert all("TMS-005" not in r for r in found[:36])
    assert "TMS-005" in found[36]
    assert all("TMS-004" not in r for r in found)  # the initial session is still seen
    assert run.peak_patients <= CACHE


def test_same_findings_with_a_tiny_cache():
    """Evicting every patient between claims changes nothing in the findings."""
    def series(run: Run) -> list:
        out = []
        for n in range(12):
            for p in range(5):
                lines = [{"code": "90867" if n in (0, 7) else "90868", "date": day(n)}]
                if n == 3:
                    lines.append({"code": "90869", "date": day(n)})
                if n == 5:
                    lines.append({"code": "90868", "date": day(n), "units": 2})
                out += [(f.rule, f.message) for f in run.feed(f"MIX{p}", [{"id": f"M{p}-{n}", "lines": lines}])]
        return out

    big, tiny = series(Run()), series(Run(editpack_cache=1))
    assert big == tiny
    assert {r for r, _ in big} >= {"TMS-003", "TMS-001"}


def test_history_with_a_small_cache_counts_nothing_twice(tmp_path):
    store = tmp_path / "h.sqlite"
    claims = [{"id": f"H{n}", "lines": [{"code": "90867" if n == 0 else "90868", "date": day(n)}]}
              for n in range(40)]

    def once() -> list:
        run = Run(history=str(store), editpack_cache=2)  # same interchange numbers each time
        out = []
        for i, c in enumerate(claims):
            out.append({f.rule for f in run.feed("HIST1", [c])})
            others(run, i * 3, 3, day(i))
        return out

    first = once()
    assert "TMS-005" in first[36] and all("TMS-005" not in r for r in first[:36])
    # the same claims again under the same interchange numbers: the history is not
    # hidden (each is a DUP-001 of its stored copy, issue 14 item 3), and nothing
    # counts twice (the stored copy and the run's count once: the same TMS findings)
    second = once()
    assert second == [r | {"DUP-001"} for r in first]
    h = HistoryStore(store)
    assert h.count() == len(claims) + 3 * len(claims)
    h.close()


def test_state_helper_still_attaches_lazily():
    eng = Engine(snip="7")
    ctx = Context(eng, None)
    assert state(ctx) is eng.pack_state("editpack") is state(ctx)
