"""Cross-claim verdicts do not depend on the order of claims or files in a run
(issue 12 item 8, issue 13 item 1): per-claim checks first, then the cross-claim
rules see only the claims that passed them, in date-of-service order.  Synthetic
batches (a TMS course, an IPF stay with ECT, an ECT day with an E/M), shuffled."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from edi837 import parallel
from edi837.checks import Engine
from edi837.checks.editpack.synth import build
from edi837.events import ClaimVerdict, Found

IPF = {"fac": "11", "stmt": ("2025-03-01", "2025-03-20"), "adm": "2025-03-01"}


def P(code: str, date: str, **kw):
    return {"code": code, "date": date, **kw}


def I(code: str, date: str, rev: str = "0901", **kw):
    return {"code": code, "rev": rev, "date": date, **kw}


def verdicts(events) -> dict[str, str]:
    return {ev.result.claim_id: ev.result.verdict for ev in events if isinstance(ev, ClaimVerdict)}


def rules_of(events) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for ev in events:
        if isinstance(ev, Found) and ev.finding.claim_id:
            out.setdefault(ev.finding.claim_id, set()).add(ev.finding.rule)
    return out


def write(tmp: Path, files: list[tuple[str, str, list[dict]]], n: int) -> list[str]:
    """(kind, member, claims) per file -> paths (ISA13 numbered by position)."""
    out = []
    for i, (kind, member, claims) in enumerate(files):
        p = tmp / f"f{n}-{i}.x12"
        p.write_bytes(build(kind, claims, member=member, isa=f"{100 + i:09d}"))
        out.append(str(p))
    return out


# -- ECT-007: an outpatient ECT claim inside an IPF stay --------------------------------
@pytest.mark.parametrize("order", ["ipf-first", "ect-first"])
def test_ect_inside_an_ipf_stay_is_rejected_in_either_order(tmp_path, order):
    ipf = {"id": "STAY", **IPF, "procs": ["BBR:GZB2ZZZ:D8:20250305"],
           "lines": [{"code": "", "rev": "0901", "units": 1}]}
    ect = {"id": "OUTPT", "lines": [I("90870", "2025-03-05")]}
    claims = [ipf, ect] if order == "ipf-first" else [ect, ipf]
    # one file, then two files
    evs = list(Engine().run([build("837I", claims)]))
    assert verdicts(evs) == {"STAY": "accepted", "OUTPT": "rejected"}
    assert "ECT-007" in rules_of(evs)["OUTPT"]
    paths = write(tmp_path, [("837I", "SYN0001", [c]) for c in claims], 0)
    evs = list(Engine().run(paths))
    assert verdicts(evs) == {"STAY": "accepted", "OUTPT": "rejected"}


# -- "earlier" is the earlier date of service ------------------------------------------
def test_the_later_dated_second_90867_is_the_repeat_whatever_arrives_first():
    a = {"id": "EARLY", "lines": [P("90867", "2025-03-03"), P("90868", "2025-03-04")]}
    b = {"id": "LATE", "lines": [P("90867", "2025-03-10")]}
    for claims in ([a, b], [b, a]):
        evs = list(Engine().run([build("837P", claims)]))
        got = rules_of(evs)
        assert "TMS-003" in got.get("LATE", set()) and "TMS-003" not in got.get("EARLY", set()), claims


def test_a_rejected_claim_never_causes_another_claims_rejection():
    """The first 90867 sits on a claim rejected for its own fault (a service date after
    the file was created): the next course's claim with 90867 is not a repeat."""
    bad = {"id": "BAD", "lines": [P("90867", "2026-02-01")]}  # after BHT04 2026-01-01: S4-DTE-002
    good = {"id": "GOOD", "lines": [P("90867", "2025-12-29"), P("90868", "2025-12-30")]}
    for claims in ([bad, good], [good, bad]):
        evs = list(Engine().run([build("837P", claims)]))
        assert verdicts(evs) == {"BAD": "rejected", "GOOD": "accepted"}, claims
        assert "TMS-003" not in rules_of(evs).get("GOOD", set())


# -- the property: a batch shuffled gives the same verdicts -----------------------------
def _batch() -> list[tuple[str, str, dict]]:
    """(kind, member, claim) for a day of traffic: TMS courses (one with a repeated
    90867 and one with a retreatment), an ECT day with anesthesia and an E/M without -25,
    an IPF stay with an outpatient ECT inside it, and claims rejected on their own."""
    out: list[tuple[str, str, dict]] = []
    # patient 1: a weekly TMS course over four claims, then a second 90867 inside the course
    days = [f"2025-03-{d:02d}" for d in (3, 4, 5, 6, 7, 10, 11, 12, 13, 14, 17, 18, 19, 20, 21)]
    out.append(("837P", "PAT1", {"id": "T1W1", "lines": [P("90867", days[0])] + [P("90868", d) for d in days[1:5]]}))
    out.append(("837P", "PAT1", {"id": "T1W2", "lines": [P("90868", d) for d in days[5:10]]}))
    out.append(("837P", "PAT1", {"id": "T1W3", "lines": [P("90868", d) for d in days[10:14]]}))
    out.append(("837P", "PAT1", {"id": "T1REP", "lines": [P("90867", days[14])]}))
    # patient 2: a course, then a retreatment 40 days after the last session (TMS-010 warning)
    out.append(("837P", "PAT2", {"id": "T2A", "lines": [P("90867", "2025-01-06"), P("90868", "2025-01-07")]}))
    out.append(("837P", "PAT2", {"id": "T2B", "lines": [P("90867", "2025-02-16"), P("90868", "2025-02-17")]}))
    # patient 3: ECT day: 90870 by the psychiatrist, 00104-QZ by a CRNA, an E/M without -25
    out.append(("837P", "PAT3", {"id": "E3ECT", "pos": "22", "lines": [P("90870", "2025-04-01", pos="22")]}))
    out.append(("837P", "PAT3", {"id": "E3EM", "pos": "22", "lines": [P("99213", "2025-04-01", pos="22")]}))
    # patient 4: an IPF stay and an outpatient ECT claim inside it
    out.append(("837I", "PAT4", {"id": "I4STAY", **IPF, "procs": ["BBR:GZB2ZZZ:D8:20250305"],
                                 "lines": [{"code": "", "rev": "0901", "units": 8}]}))
    out.append(("837I", "PAT4", {"id": "I4OUT", "lines": [I("90870", "2025-03-06")]}))
    # patient 5: a claim rejected on its own (service after the file date) holding the 90867
    out.append(("837P", "PAT5", {"id": "T5BAD", "lines": [P("90867", "2026-03-02")]}))
    out.append(("837P", "PAT5", {"id": "T5OK", "lines": [P("90867", "2025-12-29")]}))
    # patient 6: a series whose second 90867 shares the first one's date (ties by claim key)
    out.append(("837P", "PAT6", {"id": "T6B", "lines": [P("90867", "2025-05-05")]}))
    out.append(("837P", "PAT6", {"id": "T6A", "lines": [P("90867", "2025-05-05")]}))
    return out


def _files(batch: list[tuple[str, str, dict]], rng: random.Random) -> list[tuple[str, str, list[dict]]]:
    """Shuffle the claims, cut each patient's into one to three files, shuffle the files."""
    items = batch[:]
    rng.shuffle(items)
    files: list[tuple[str, str, list[dict]]] = []
    for kind, member, claim in items:
        same = [f for f in files if f[0] == kind and f[1] == member]
        if same and rng.random() < 0.5:
            rng.choice(same)[2].append(claim)
        else:
            files.append((kind, member, [claim]))
    rng.shuffle(files)
    return files


def test_shuffled_batches_give_the_same_verdicts(tmp_path):
    batch = _batch()
    ref_paths = write(tmp_path, [(k, m, [c]) for k, m, c in batch], 0)
    ref_events = list(Engine().run(ref_paths))
    ref = verdicts(ref_events)
    assert len(ref) == len(batch)
    # the batch exercises the cross-claim rules it is about
    rules = rules_of(ref_events)
    assert ref["T1REP"] == "rejected" and "TMS-003" in rules["T1REP"]
    assert "TMS-010" in rules["T2B"] and ref["T2B"] == "accepted"
    assert ref["E3EM"] == "rejected" and "EM-001" in rules["E3EM"] and ref["E3ECT"] == "accepted"
    assert ref["I4OUT"] == "rejected" and ref["I4STAY"] == "accepted"
    assert ref["T5BAD"] == "rejected" and ref["T5OK"] == "accepted"
    assert sorted((ref["T6A"], ref["T6B"])) == ["accepted", "rejected"]
    assert ref["T6B"] == "rejected"  # same date: the higher claim key is the repeat
    for seed in range(6):
        rng = random.Random(seed)
        paths = write(tmp_path, _files(batch, rng), seed + 1)
        assert verdicts(Engine().run(paths)) == ref, seed
        if seed < 2:  # process-parallel (workers do the per-claim half)
            assert verdicts(parallel.validate(paths, jobs=2)) == ref, seed


# -- bounded work: one patient's claims in reverse date order (issue 14) ----------------
def test_claims_made_stale_are_checked_again_once_each_not_once_per_arrival(tmp_path, monkeypatch):
    """Claims of one patient in reverse date order: each arrival makes every claim
    before it stale (it is earlier).  A stale claim in the window is checked again
    when it leaves the window (or at the end of the file), not after each arrival,
    so the cross-claim checks are a few per claim, not one per pair; and the verdicts
    are those of the claims in date order."""
    import datetime as dt

    from edi837.checks.engine import Engine as E

    calls = {"n": 0}
    real = E.check_keyed

    def counted(self, *a, **k):
        calls["n"] += 1
        return real(self, *a, **k)

    monkeypatch.setattr(E, "check_keyed", counted)
    n = 300
    day0 = dt.date(2025, 1, 1)
    claims = [{"id": f"C{i:04d}", "lines": [P("99213", (day0 + dt.timedelta(days=i)).isoformat())]}
              for i in range(n)]
    # files of 100 claims (the guide's most 2300 loops under one subscriber)
    fwd = write(tmp_path, [("837P", "SYN0001", claims[i:i + 100]) for i in range(0, n, 100)], 1)
    rev = write(tmp_path, [("837P", "SYN0001", claims[i:i + 100][::-1]) for i in range(0, n, 100)][::-1], 2)
    got_rev = verdicts(Engine().run(rev))
    checks_rev = calls["n"]
    calls["n"] = 0
    got_fwd = verdicts(Engine().run(fwd))
    assert got_rev == got_fwd and len(got_rev) == n
    assert calls["n"] <= n + 5  # in date order: nothing is checked again
    assert checks_rev <= 3 * n  # before: each arrival checked the whole window again (n * 256)
