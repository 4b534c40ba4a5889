"""validate/gate --jobs N on one file: the file is split by transaction set across the
workers (edi837/parallel.py, "one file on many cores") and the output is that of one job."""

from __future__ import annotations

import datetime
import glob
import gzip
import io
import os
import sys
from pathlib import Path

import pytest

from edi837 import parallel
from edi837.checks.engine import Engine
from edi837.checks.options import RunOptions
from edi837.outputs.report import JsonReport, TextReport, write_events

from shared_corpus import CORPUS, needs_corpus, rows

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
FILES = sorted(glob.glob(str(FIXTURES / "*.x12"))) + sorted(glob.glob(str(FIXTURES / "invalid" / "*.x12")))
sys.path.insert(0, str(ROOT / "benchmarks"))

from generate import generate  # noqa: E402


@pytest.fixture(autouse=True)
def _split_small_files(monkeypatch):
    monkeypatch.setattr(parallel, "MIN_SPLIT_BYTES", 0)


def _reports(events) -> tuple[str, str]:
    evs = list(events)
    out = []
    for make in (lambda f: JsonReport(f), lambda f: TextReport(f, show_info=True)):
        buf = io.StringIO()
        write_events(iter(evs), make(buf))
        out.append(buf.getvalue())
    return out[0], out[1]


def _same_as_one_job(path: str, tmp_path: Path, jobs=(2, 3)) -> None:
    one = _reports(Engine(RunOptions()).run([path]))
    for j in jobs:
        got = _reports(parallel.validate([path], j, RunOptions(), tmpdir=str(tmp_path)))
        assert got[0] == one[0], (path, j, "json")
        assert got[1] == one[1], (path, j, "text")
    assert not list(tmp_path.iterdir())  # part and spool files removed


def _splits_seen(monkeypatch) -> list[bool]:
    """Each split of a file the run makes, in order: True by patient, False by transaction."""
    called: list[bool] = []
    old = parallel._split_one

    def spy(eng, src, pl, tmpdir, options, *more, **kw):
        called.append(pl.closed is not None)
        return old(eng, src, pl, tmpdir, options, *more, **kw)

    monkeypatch.setattr(parallel, "_split_one", spy)
    return called


def _concat(tmp_path: Path, name: str, parts: list[Path]) -> str:
    out = tmp_path / name
    out.write_bytes(b"".join(p.read_bytes() for p in parts))
    return str(out)


def test_plan_plain_files_only(tmp_path):
    p = tmp_path / "p.x12"
    generate(str(p), 40, "837P", claims_per_st=4, seed=1)
    plan = parallel.split_plan(str(p), 2)
    assert plan is not None and plan.transactions == 10 and plan.workers() == [1]
    assert plan.owner(1) == 0 and {plan.owner(t) for t in range(1, 11)} == {0, 1}
    assert parallel.split_plan(str(p), 1) is None
    assert parallel.split_plan(str(p), 2, min_bytes=10**9) is None
    one = tmp_path / "one.x12"
    generate(str(one), 40, "837P", claims_per_st=40, seed=1)
    assert parallel.split_plan(str(one), 2) is None  # one transaction
    z = tmp_path / "p.x12.gz"
    z.write_bytes(gzip.compress(p.read_bytes()))
    assert parallel.split_plan(str(z), 2) is None
    data = p.read_bytes()
    # anything but a plain envelope is read by one process
    for bad in (data.replace(b"~\nSE*", b"~\nXX*", 1), b" " + data, data.replace(b"~", b"~\n", 3),
                data[:-5], data.replace(b"ST*837*", b"ST*835*", 1),
                data.replace(b"005010X222A1", b"004010X098A1")):
        b = tmp_path / "bad.x12"
        b.write_bytes(bad)
        assert parallel.split_plan(str(b), 2) is None, bad[:40]
    assert parallel.split_plan(str(tmp_path / "missing.x12"), 2) is None
    assert parallel.split_plan(str(tmp_path), 2) is None


@pytest.mark.parametrize("kind,claims,per_st,seed,jobs", [
    ("837P", 60, 1, 0, (2, 3)),  # one claim per transaction
    ("837P", 90, 7, 3, (2,)),
    ("837I", 60, 4, 5, (2,)),
])
def test_generated_same_as_one_job(tmp_path, kind, claims, per_st, seed, jobs):
    p = tmp_path / "g.x12"
    generate(str(p), claims, kind, claims_per_st=per_st, seed=seed)
    assert parallel.split_plan(str(p), 2) is not None
    d = tmp_path / "tmp"
    d.mkdir()
    _same_as_one_job(str(p), d, jobs)


def test_plan_shares_follow_the_bytes(tmp_path):
    """Each transaction goes to the share furthest behind its part of the bytes: this process
    takes the first and about PARENT_SHARE / (PARENT_SHARE + N - 1) of the file, not every
    transaction that happens to start where a round of byte ranges began (the old plan gave it
    3 of 20 equal transactions whatever its share)."""
    p = tmp_path / "p.x12"
    generate(str(p), 200, "837P", claims_per_st=10, seed=3)
    plan = parallel.split_plan(str(p), 2, min_bytes=0)
    assert plan is not None and plan.transactions == 20
    mine = [t for t in range(1, 21) if plan.owner(t) == 0]
    assert mine[0] == 1 and len(mine) == 2  # 0.08 / 1.08 of 20 transactions, rounded by the bytes
    # the shares interleave: this process's second transaction comes after some of the worker's
    assert plan.owner(2) == 1 and mine[1] > 2
    plan3 = parallel.split_plan(str(p), 3, min_bytes=0)
    assert plan3 is not None and plan3.workers() == [1, 2]
    counts = [sum(1 for t in range(1, 21) if plan3.owner(t) == k) for k in (0, 1, 2)]
    assert counts[0] == 1 and abs(counts[1] - counts[2]) <= 1


def test_interchanges_sent_twice_and_mixed_kinds(tmp_path):
    """Several interchanges in one file, two of them with the same ISA13 (S1-ENV-009, which
    spans transactions of different workers), 837P and 837I."""
    parts = []
    for i, (kind, seed) in enumerate([("837P", 0), ("837I", 1), ("837P", 0)]):
        q = tmp_path / f"part{i}.x12"
        generate(str(q), 12, kind, claims_per_st=3, seed=seed)
        parts.append(q)
    path = _concat(tmp_path, "multi.x12", parts)
    plan = parallel.split_plan(path, 3)
    assert plan is not None and plan.transactions == 12
    d = tmp_path / "tmp"
    d.mkdir()
    _same_as_one_job(path, d, (3,))
    assert "S1-ENV-009" in _reports(Engine(RunOptions()).run([path]))[0]


def test_findings_in_every_share(tmp_path):
    """Claims with errors in the transactions of each share; an SE01 count and a GE01
    count that are wrong (the group's error rejects claims of every share)."""
    p = tmp_path / "g.x12"
    generate(str(p), 40, "837P", claims_per_st=2, seed=7)
    data = p.read_bytes()
    data = data.replace(b"~\nCLM*", b"~\nCLM*X", 5)  # (a claim id changed: still a CLM segment)
    i = data.index(b"~\nSE*") + 5
    data = data[:i] + b"9" + data[i:]  # SE01 wrong in the first transaction
    data = data.replace(b"~\nGE*20*", b"~\nGE*21*", 1)
    data = data.replace(b"*19700101", b"*19700132")  # bad dates, if any
    p.write_bytes(data)
    if parallel.split_plan(str(p), 2) is None:
        pytest.skip("the generator's layout changed")
    d = tmp_path / "tmp"
    d.mkdir()
    _same_as_one_job(str(p), d, (2,))
    one = _reports(Engine(RunOptions()).run([str(p)]))[0]
    assert "S1-ENV-008" in one and "S1-ENV-005" in one


def test_fixtures_fall_back_or_agree(tmp_path):
    d = tmp_path / "tmp"
    d.mkdir()
    split = 0
    for f in FILES:
        if parallel.split_plan(f, 2) is None:
            continue  # read by one process: the one-job path itself
        split += 1
        _same_as_one_job(f, d, jobs=(2,))
    assert split >= 1  # multi_envelope.x12


def test_cli_single_file_jobs(tmp_path):
    from click.testing import CliRunner

    from edi837.cli import main

    p = tmp_path / "g.x12"
    generate(str(p), 30, "837P", claims_per_st=3, seed=2)
    outs = []
    for j in (1, 2):
        out = tmp_path / f"r{j}.txt"
        res = CliRunner().invoke(main, ["validate", "--jobs", str(j), "-o", str(out), str(p)])
        assert res.exception is None or isinstance(res.exception, SystemExit), res.output
        outs.append((res.exit_code, out.read_bytes()))
    assert outs[0] == outs[1]


@pytest.mark.parametrize("mode", ["patient", "transaction", "plan wrong", "no closed plan"])
def test_gate_single_file_jobs(tmp_path, monkeypatch, mode):
    """``gate --jobs 2`` on one file gives one job's outputs byte for byte: split by patient
    (the default: the workers note their claims' HL chains for pass 2), by transaction
    (``GATE_SPLIT = True`` with the split by patient off), and checked by one process when the
    plan proves wrong in a worker or has no split by patient."""
    import attrs

    from edi837.gate import gate

    p = tmp_path / "g.x12"
    generate(str(p), 30, "837P", claims_per_st=2, seed=4)
    data = p.read_bytes().replace(b"~\nCLM*", b"~\nCLM*X", 3)
    p.write_bytes(data.replace(b"~\nGE*15*", b"~\nGE*16*", 1))
    plan = parallel.split_plan(str(p), 2)
    assert plan is not None and plan.closed is not None
    if mode == "transaction":
        monkeypatch.setattr(parallel, "GATE_SPLIT", True)
        monkeypatch.setattr(parallel, "CLOSED", False)
    elif mode == "plan wrong":
        def blind(path, jobs, m=None):  # (the last transaction's member ids unknown to the plan)
            got = plan_of(path, jobs, m)
            keys = list(got.closed.keys)
            keys[-1] = frozenset()
            return attrs.evolve(got, closed=attrs.evolve(got.closed, keys=tuple(keys)))

        plan_of = parallel.split_plan
        monkeypatch.setattr(parallel, "split_plan", blind)
    elif mode == "no closed plan":
        monkeypatch.setattr(parallel, "split_plan", lambda path, jobs, m=None: attrs.evolve(plan, closed=None))
    got = []
    called: list[str] = []
    for j in (1, 2):
        if j == 2:  # (how the file is checked: split by patient, by transaction, or in one process)
            for name, how in (("_split_closed", "patient"), ("_Tee", "transaction"), ("_serial_files", "one")):
                def spy(*a, _old=getattr(parallel, name), _how=how, **kw):
                    called.append(_how)
                    return _old(*a, **kw)

                monkeypatch.setattr(parallel, name, spy)
        out = tmp_path / f"out{j}"
        gate([str(p)], str(out), control_number=1, now=datetime.datetime(2026, 1, 15, 6, 0), jobs=j)
        got.append({q.name: q.read_bytes() for q in sorted(out.rglob("*")) if q.is_file()})
    assert got[0] == got[1] and len(got[0]) >= 3
    assert b"CLM*X" in got[0]["g.rejected.x12"] and b"AK9*R" in got[0]["g.999.x12"]
    # (one process checks the file after a split by patient whose plan proved wrong, and when
    # the plan has no split by patient)
    assert called == {"patient": ["patient"], "transaction": ["transaction"], "plan wrong": ["patient", "one"],
                      "no closed plan": ["one"]}[mode]


def test_gate_single_file_jobs_with_history_reads_it_in_one_process(tmp_path, monkeypatch):
    """With a history store the gate does not split one file (no split by patient with one): no
    plan is made and no worker started, and the outputs and the store's rows are one job's."""
    import sqlite3

    from edi837.gate import gate

    p = tmp_path / "g.x12"
    generate(str(p), 40, "837P", claims_per_st=4, seed=8)
    planned = []
    plan_of = parallel.split_plan
    monkeypatch.setattr(parallel, "split_plan", lambda *a, **kw: planned.append(a) or plan_of(*a, **kw))
    got = []
    for j in (1, 2):
        out, hist = tmp_path / f"out{j}", tmp_path / f"h{j}.sqlite"
        gate([str(p)], str(out), history=str(hist), control_number=1,
             now=datetime.datetime(2026, 1, 15, 6, 0), jobs=j)
        with sqlite3.connect(hist) as c:
            rows = [c.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("claims", "lines")]
        assert rows[0] > 0
        got.append(({q.name: q.read_bytes() for q in sorted(out.rglob("*")) if q.is_file()}, rows))
    assert got[0] == got[1] and len(got[0][0]) >= 3
    assert planned == []


@needs_corpus
def test_shared_corpus_files(tmp_path):
    d = tmp_path / "tmp"
    d.mkdir()
    for row in rows():
        f = str(CORPUS / row["file"])
        if os.path.exists(f) and parallel.split_plan(f, 2) is not None:
            _same_as_one_job(f, d, jobs=(2,))


@pytest.mark.parametrize("closed", [False, True])
def test_a_file_read_otherwise_than_planned_is_a_message(tmp_path, monkeypatch, closed):
    """Every process checks that it read the planned transactions (the file changed while
    the run read it): exit 2 and a message, no traceback, no output file; split by
    transaction and split by patient alike."""
    import attrs
    from click.testing import CliRunner

    from edi837.cli import main

    p = tmp_path / "g.x12"
    generate(str(p), 20, "837P", claims_per_st=2, seed=2)
    plan = parallel.split_plan

    def wrong(path, jobs, m=None):
        got = plan(path, jobs, 0)
        assert got.closed is not None  # (each generated patient is in one transaction)
        return attrs.evolve(got, transactions=11,
                            closed=attrs.evolve(got.closed, transactions=11) if closed else None)

    monkeypatch.setattr(parallel, "split_plan", wrong)
    out = tmp_path / "r.json"
    res = CliRunner().invoke(main, ["validate", "--jobs", "2", "--format", "json", "-o", str(out), str(p)])
    assert res.exit_code == 2, res.output
    assert "the file changed while it was read" in res.output and "Traceback" not in res.output
    assert not out.exists()


def test_cross_claim_rules_on_the_workers_claims(tmp_path):
    """The cross-claim rules run in this process on the claims of every share: a batch that
    fires them (a TMS course with a repeated 90867 and a retreatment, an ECT day with
    anesthesia and an E/M, an IPF stay with ECT inside it, a claim sent twice), one claim per
    interchange in shuffled orders, gives one job's reports with every share holding some of
    the patients' claims."""
    import random

    from edi837.checks.editpack.synth import build
    from test_order_free import _batch

    batch = _batch()
    batch.append(next(b for b in batch if b[2]["id"] == "T1W2"))  # a claim sent twice
    d = tmp_path / "tmp"
    d.mkdir()
    for seed in range(3):
        items = batch[:]
        random.Random(seed).shuffle(items)
        parts = []
        for i, (kind, member, claim) in enumerate(items):
            p = tmp_path / f"c{seed}-{i}.x12"
            p.write_bytes(build(kind, [claim], member=member, isa=f"{200 + i:09d}"))
            parts.append(p)
        path = _concat(tmp_path, f"batch{seed}.x12", parts)
        plan = parallel.split_plan(path, 3)
        assert plan is not None and plan.transactions == len(items)
        assert len({plan.owner(t) for t in range(1, len(items) + 1)}) == 3
        _same_as_one_job(path, d)
        one = _reports(Engine(RunOptions()).run([path]))[0]
        for rule in ("TMS-003", "TMS-010", "EM-001", "ECT-007", "DUP-001"):
            assert f'"{rule}"' in one, (seed, rule)


def _random_batch(rng) -> list[tuple[str, str, list[dict]]]:
    """(kind, member, claims) per transaction: TMS, ECT, anesthesia, E/M and other codes with
    modifiers, units and dates that make the cross-claim rules fire across transactions
    (IPF stays, PHP revenue codes, replacements and voids, claims sent twice)."""
    codes = ["90867", "90868", "90868", "90869", "90870", "00104", "99213", "99214", "90792", "01967", "90837"]
    mods = [[], [], ["25"], ["QZ"], ["AA"], ["59"], ["QK"], ["XU"], ["KX"]]

    def day() -> str:
        return (datetime.date(2025, 3, 1) + datetime.timedelta(days=rng.randrange(70))).isoformat()

    def claim(i: int, kind: str) -> dict:
        lines = []
        for _ in range(rng.choice([1, 1, 2, 3, 5])):
            ln = {"code": rng.choice(codes), "date": day(), "units": rng.choice([1, 1, 1, 2, 4, 10]),
                  "mods": rng.choice(mods)}
            if kind == "837P" and rng.random() < 0.1:
                start = datetime.date.fromisoformat(day())
                ln["date"] = (start.isoformat(), (start + datetime.timedelta(days=rng.randrange(1, 5))).isoformat())
            if kind == "837I":
                ln["rev"] = rng.choice(["0901", "0901", "0914", "0912", "0913", "0124"])
                if rng.random() < 0.15:
                    ln["code"] = ""
            if rng.random() < 0.1:
                ln["npi"] = "1234567893"
            lines.append(ln)
        c = {"id": f"C{i}", "lines": lines, "freq": rng.choice(["1", "1", "1", "7", "8"]),
             "pos": rng.choice(["11", "22", "23", "11"])}
        if kind == "837I":
            c["fac"] = rng.choice(["13", "13", "11", "14"])
            if c["fac"] == "11":
                c.update(stmt=("2025-03-01", "2025-03-20"), adm="2025-03-01")
                if rng.random() < 0.5:
                    c["procs"] = ["BBR:GZB2ZZZ:D8:20250305"]
            if rng.random() < 0.2:
                c["bg"] = ["BG:" + rng.choice(["41", "A5", "80"])]
        if rng.random() < 0.2:
            c["dx"] = [rng.choice(["ABK:F332", "ABK:F339", "ABK:F329", "ABK:F4310"])]
        return c

    items: list[tuple[str, str, list[dict]]] = []
    for i in range(rng.randrange(12, 40)):
        kind = rng.choice(["837P", "837P", "837I"])
        items.append((kind, rng.choice(["M1", "M2", "M3", "M4"]), [claim(i, kind)]))
        if rng.random() < 0.1:
            items.append(items[-1])  # sent twice
        elif rng.random() < 0.2:  # two claims in one transaction
            items[-1][2].append(claim(1000 + i, kind))
    rng.shuffle(items)
    return items


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_cross_claim_batches_same_as_one_job(tmp_path, seed):
    """Random batches of one to two claims per interchange, four patients: the cross-claim rules
    see every share's claims, so --jobs 2 and 3 give one job's reports (with --profile
    medicare too)."""
    import random

    from edi837.checks.editpack.synth import build

    rng = random.Random(seed)
    items = _random_batch(rng)
    path = tmp_path / "batch.x12"
    path.write_bytes(b"".join(build(kind, claims, member=member, isa=f"{300 + i:09d}",
                                    payer=rng.choice(["SYNHP1", "SYNHP1", "MEDICARE01"]))
                              for i, (kind, member, claims) in enumerate(items)))
    assert parallel.split_plan(str(path), 3) is not None
    d = tmp_path / "tmp"
    d.mkdir()
    _same_as_one_job(str(path), d)
    one = _reports(Engine(RunOptions()).run([str(path)]))[0]
    assert one.count('"rule": "TMS-') + one.count('"rule": "MUE-001"') + one.count('"rule": "ECT-') > 0
    opts = RunOptions(profile="medicare")
    ref = _reports(Engine(opts).run([str(path)]))
    assert _reports(parallel.validate([str(path)], 2, opts, tmpdir=str(d))) == ref


@pytest.mark.parametrize("hold", [20_000, 1])
def test_split_by_patient_when_patients_stay_in_their_transactions(tmp_path, monkeypatch, hold):
    """A file whose patients each stay in one transaction (member ids apart) is split by
    patient: every process checks its transactions whole, cross-claim rules included, and the
    output is one job's; a member id in every transaction makes one group, and the file is
    split by transaction as before.  (``hold``: parallel.HOLD, the events this process may
    compute and hold while a worker is in its phase 1.)"""
    monkeypatch.setattr(parallel, "HOLD", hold)
    p = tmp_path / "g.x12"
    generate(str(p), 600, "837P", claims_per_st=60, seed=5)
    plan = parallel.split_plan(str(p), 2, 0)
    assert plan is not None and plan.closed is not None
    assert set(plan.closed.owners) == {0, 1} and plan.closed.transactions == 10
    d = tmp_path / "tmp"
    d.mkdir()
    _same_as_one_job(str(p), d)
    one = _reports(Engine(RunOptions()).run([str(p)]))[0]
    assert '"TMS-004"' in one or '"TMS-009"' in one  # (cross-claim findings, from both shares)
    # one subscriber's member id in every transaction: one group, no closed plan
    text = p.read_text()
    first = text.index("NM1*IL*")
    member = text[first:text.index("~", first)].split("*")[9]
    shared = tmp_path / "shared.x12"
    import re
    shared.write_text(re.sub(r"(NM1\*IL\*1\*[^*~]*\*[^*~]*\*[^*~]*\*[^*~]*\*[^*~]*\*MI\*)[^*~]+(?=~)",
                             lambda m: m.group(1) + member, text, count=0))
    got = parallel.split_plan(str(shared), 2, 0)
    assert got is not None and got.closed is None
    _same_as_one_job(str(shared), d, jobs=(2,))


def test_split_by_patient_falls_back_when_a_member_id_is_not_in_the_plan(tmp_path, monkeypatch):
    """A claim whose member id the plan did not find in its transaction (here: a plan with no
    member ids) stops the split by patient before anything comes out, and the file is split by
    transaction instead: one job's output."""
    import attrs

    p = tmp_path / "g.x12"
    generate(str(p), 300, "837P", claims_per_st=30, seed=6)
    plan = parallel.split_plan

    def blind(path, jobs, m=None):
        got = plan(path, jobs, 0)
        assert got.closed is not None
        empty = tuple(frozenset() for _ in got.closed.keys)
        return attrs.evolve(got, closed=attrs.evolve(got.closed, keys=empty))

    monkeypatch.setattr(parallel, "split_plan", blind)
    called = _splits_seen(monkeypatch)
    d = tmp_path / "tmp"
    d.mkdir()
    _same_as_one_job(str(p), d, jobs=(2,))
    assert called == [True, False]  # (the split by patient, then the split by transaction)


@pytest.mark.parametrize("seed", [0, 4])
def test_random_cross_claim_batches_split_by_patient(tmp_path, seed):
    """Three random cross-claim batches in one file, their members renamed apart (twelve
    members, so the transactions fall into groups the split by patient can share out): with
    --jobs 2 and 3 the file is split by patient, and the reports are one job's (with
    --profile medicare too)."""
    import random

    from edi837.checks.editpack.synth import build

    rng = random.Random(seed)
    items = []
    for _ in range(3):
        tag = rng.randrange(1000)
        items += [(kind, f"{member}X{tag}", claims) for kind, member, claims in _random_batch(rng)]
    rng.shuffle(items)
    payers = [rng.choice(["SYNHP1", "SYNHP1", "MEDICARE01"]) for _ in items]
    path = tmp_path / "batch.x12"
    path.write_bytes(b"".join(build(kind, claims, member=member, isa=f"{300 + i:09d}", payer=payers[i])
                              for i, (kind, member, claims) in enumerate(items)))
    for jobs in (2, 3):
        plan = parallel.split_plan(str(path), jobs)
        assert plan is not None and plan.closed is not None, jobs
    d = tmp_path / "tmp"
    d.mkdir()
    _same_as_one_job(str(path), d)
    one = _reports(Engine(RunOptions()).run([str(path)]))[0]
    fired = {r for r in ("TMS-001", "TMS-003", "TMS-004", "TMS-010", "MUE-001", "DUP-001", "EM-001", "ECT-007",
                         "ECT-008", "ANE-003", "ANE-004") if f'"{r}"' in one}
    assert len(fired) >= 4, fired
    opts = RunOptions(profile="medicare")
    assert _reports(parallel.validate([str(path)], 2, opts, tmpdir=str(d))) == _reports(Engine(opts).run([str(path)]))


def test_closed_plan_in_file_order_when_as_even():
    """Whole patients a share, and the shares in file order (this process first) when a cut
    there is about as even as the groups largest first; not when a patient's transactions
    spread so that the only cuts in order are uneven."""
    def plan(keys, jobs, sizes=None):
        ks = tuple(frozenset(k) for k in keys)
        got = parallel._closed(ks, sizes or [100] * len(keys), jobs)
        assert got is not None
        owner = [got.owner(t) for t in range(1, len(keys) + 1)]
        for a in range(len(keys)):  # (a patient never in two shares)
            for b in range(len(keys)):
                if ks[a] & ks[b]:
                    assert owner[a] == owner[b], (keys, owner)
        return owner

    assert plan([{"A"}, {"B"}, {"C"}, {"D"}, {"E"}, {"F"}], 2) == [0, 0, 0, 1, 1, 1]
    assert plan([{"A"}, {"B"}, {"C"}, {"D"}, {"E"}, {"F"}], 3) == [0, 0, 1, 1, 2, 2]
    # a patient in transactions 1 and 3: the cut goes after 3
    assert plan([{"A"}, {"B"}, {"A", "C"}, {"D"}, {"E"}, {"F"}, {"G"}], 2,
                [100, 100, 100, 100, 100, 150, 150]) == [0, 0, 0, 0, 1, 1, 1]
    # a patient in transactions 1 and 4 of 6: in order the best cut is 4 / 2; largest first is even
    got = plan([{"A"}, {"B"}, {"C"}, {"A"}, {"E"}, {"F"}], 2)
    assert got[0] == got[3] and got.count(0) == 3 and got != sorted(got)


def test_workers_collect_as_this_process():
    """A worker's garbage collector has this process's thresholds (the CLI raises them; a
    spawned process would start with the defaults)."""
    import gc
    import multiprocessing

    old = gc.get_threshold()
    gc.set_threshold(12345, 7, 9)
    try:
        with parallel._executor(1, multiprocessing.get_context("spawn")) as ex:
            assert ex.submit(gc.get_threshold).result() == (12345, 7, 9)
    finally:
        gc.set_threshold(*old)


@pytest.mark.parametrize("redact", [False, True])
def test_report_entries_written_by_the_workers(tmp_path, redact):
    """``entries``: a worker of the split by patient gives its findings and verdicts with their
    JSON report entries, and the JSON report is one job's (redacted too: a redacted report
    encodes its findings again)."""
    from edi837.events import FoundEntry, VerdictEntry
    from edi837.outputs.redact import Redactor

    p = tmp_path / "g.x12"
    generate(str(p), 300, "837P", claims_per_st=30, seed=6)
    data = p.read_bytes().replace(b"*19700101", b"*19700132").replace(b"~\nCLM*", b"~\nCLM*X", 40)
    p.write_bytes(data)
    plan = parallel.split_plan(str(p), 2, 0)
    assert plan is not None and plan.closed is not None
    d = tmp_path / "tmp"
    d.mkdir()

    def report(events):
        buf = io.StringIO()
        write_events(events, JsonReport(buf, redact=Redactor() if redact else None))
        return buf.getvalue()

    one = report(Engine(RunOptions()).run([str(p)]))
    evs = list(parallel.validate([str(p)], 2, RunOptions(), tmpdir=str(d), entries=True))
    kinds = {type(e) for e in evs}
    assert FoundEntry in kinds and VerdictEntry in kinds
    assert report(iter(evs)) == one
    assert '"findings": [\n    {' in one  # (findings there to encode)


@pytest.mark.parametrize("jobs,hold", [(2, 20_000), (3, 20_000), (2, 1)])
def test_split_by_patient_falls_back_when_only_a_worker_finds_a_member_id_not_in_the_plan(
        tmp_path, monkeypatch, jobs, hold):
    """The first shares are checked well and this process's first events are ready before a
    later share finds a claim whose member id the plan did not see (here: a plan without the
    member ids of a transaction of the last share): nothing comes out before every share is
    known to be closed, and the file is split by transaction instead: one job's output, and no
    error.  (``hold``: how many of its events this process may compute and hold meanwhile,
    parallel.HOLD.)"""
    import attrs

    monkeypatch.setattr(parallel, "HOLD", hold)
    p = tmp_path / "g.x12"
    generate(str(p), 300, "837P", claims_per_st=3, seed=9)
    plan = parallel.split_plan

    def blind(path, jobs, m=None):  # (transaction n - 9, in the last share, without its member ids)
        got = plan(path, jobs, m)
        keys = list(got.closed.keys)
        keys[-10] = frozenset()
        return attrs.evolve(got, closed=attrs.evolve(got.closed, keys=tuple(keys)))

    monkeypatch.setattr(parallel, "split_plan", blind)
    called = _splits_seen(monkeypatch)
    got = parallel.split_plan(str(p), jobs)
    assert got is not None and got.closed is not None and got.closed.owners[0] == 0
    assert got.closed.owner(got.transactions - 9) == jobs - 1
    d = tmp_path / "tmp"
    d.mkdir()
    _same_as_one_job(str(p), d, jobs=(jobs,))
    assert called == [True, False]  # (the split by patient, then the split by transaction)


@pytest.mark.parametrize("jobs", [2, 3])
def test_split_by_patient_with_subscribers_without_their_nm1(tmp_path, monkeypatch, jobs):
    """A subscriber without its 2010BA NM1 (more SBR segments in its transaction than NM1*IL)
    gives its claims the member id "": the plan's scan keeps that key for the transaction, so
    transactions with such subscribers stay in one share and the file is still split by patient,
    without the fall-back to the split by transaction, and the output is one job's."""
    p = tmp_path / "g.x12"
    generate(str(p), 300, "837P", claims_per_st=3, seed=9)
    segs = p.read_bytes().split(b"~\n")
    st = [i for i, s in enumerate(segs) if s.startswith(b"ST*")]
    for t in (-10, -60):  # (transactions far apart): their NM1*IL segments dropped
        a, b = st[t], st[t + 1]
        segs[a:b] = [s for s in segs[a:b] if not s.startswith(b"NM1*IL*")]
        st = [i for i, s in enumerate(segs) if s.startswith(b"ST*")]
    p.write_bytes(b"~\n".join(segs))
    plan = parallel.split_plan(str(p), jobs)
    assert plan is not None and plan.closed is not None
    n = plan.transactions
    assert plan.keys[n - 10] == {""} and plan.keys[n - 60] == {""}
    assert "" not in plan.keys[n - 11] and "" not in plan.keys[0]
    assert plan.closed.owner(n - 9) == plan.closed.owner(n - 59)  # (one group: the member id "")
    called = _splits_seen(monkeypatch)
    d = tmp_path / "tmp"
    d.mkdir()
    _same_as_one_job(str(p), d, jobs=(jobs,))
    assert called == [True]  # (the split by patient, and nothing else)
