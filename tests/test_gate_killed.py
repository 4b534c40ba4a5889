"""Exactly-once control numbers, history and outputs together, no stale .part
files, unique output stems (issue 13 item 4; issue 14 items 1 and 8).

The kill test runs ``edi837 gate`` with ``--history`` as a subprocess on a few
thousand generated claims, kills it (SIGKILL) at random points, runs it again
to the end and checks the out folder and the history store."""

from __future__ import annotations

import os
import random
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import edi837.gate as gate_mod
from edi837.checks.editpack.history import MIGRATIONS, SCHEMA_VERSION, Event, HistoryStore
from edi837.checks.editpack.synth import build
from edi837.cli import validate
from edi837.gate import GateError, gate, gate_command, plan_stems
from edi837.model.build import iter_claims
from edi837.outputs.outfolder import SCRATCH, CounterFile, locked
from edi837.outputs.split import ControlCounter

ROOT = Path(__file__).resolve().parent.parent
NOW = gate_mod._dt.datetime(2026, 1, 1, 12, 0)
sys.path.insert(0, str(ROOT / "benchmarks"))


def _claims(isa: str, *ids: str, member: str = "SYN0001") -> bytes:
    """A file of claims ``ids`` of one patient: a TMS course (90867, then 90868 on the days after)."""
    return build("837P", [{"id": i, "lines": [{"code": "90868" if k else "90867", "date": f"2024-12-{2 + k:02d}"}]}
                          for k, i in enumerate(ids)], isa=isa, member=member)


def _ev(seq: int = 0) -> Event:
    return Event(key=("S", "1", "1", "0001", "C1"), claim_id="C1", kind="837P", bill_type="",
                 code="90867", revenue="", modifiers=(), date=None, date_end=None, units=1.0,
                 npi="", php=False, seq=seq)


def _record(st: HistoryStore, clm: str, run: int | None = None) -> bool:
    return st.record("P1", ("S", "1", "1", "0001", clm), kind="837P", bill_type="", stay=None,
                     php=False, verdict="accepted", file="f.x12", events=[_ev()], run=run)


# -- the history store's runs ---------------------------------------------------------------
def test_rows_of_a_run_are_seen_only_once_it_is_committed(tmp_path):
    h = str(tmp_path / "h.sqlite")
    w = HistoryStore(h)
    rid = w.begin_run()
    assert _record(w, "C1") and _record(w, "C2")
    r = HistoryStore(h)  # another reader
    assert r.count() == 0 and r.events_for("P1") == [] and w.count() == 0
    assert r.pending_runs() == [rid]  # the writer lives: not voided
    w.commit_run()
    assert r.count() == 2 and len(r.events_for("P1")) == 2
    assert r.pending_runs() == [] and w.run is None
    # recorded outside a run: committed at once (the Engine with a history path)
    assert _record(w, "C3") and r.count() == 3


def test_voided_run_leaves_nothing_and_a_failed_commit_is_an_error(tmp_path):
    h = str(tmp_path / "h.sqlite")
    w = HistoryStore(h)
    rid = w.begin_run()
    _record(w, "C1")
    w.void_run()
    con = sqlite3.connect(h)
    assert con.execute("SELECT count(*) FROM claims").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM lines").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
    with pytest.raises(RuntimeError, match="not pending"):
        w.commit_run(rid)
    # run ids are never reused (a voided run's id is not handed out again)
    assert w.begin_run() > rid


def test_a_killed_writers_pending_run_is_voided_by_the_next_open(tmp_path):
    h = str(tmp_path / "h.sqlite")
    child = (
        "import os, signal, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from test_gate_killed import HistoryStore, _record\n"
        f"st = HistoryStore({h!r}); st.begin_run(); _record(st, 'K1'); _record(st, 'K2')\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n")
    p = subprocess.run([sys.executable, "-c", child], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert p.returncode == -signal.SIGKILL
    con = sqlite3.connect(h)
    assert con.execute("SELECT count(*) FROM claims WHERE run IS NOT NULL").fetchone()[0] == 2
    con.close()
    st = HistoryStore(h)  # a new store opened: the dead run's rows are deleted
    assert st.count() == 0 and st.pending_runs() == []
    assert sqlite3.connect(h).execute("SELECT count(*) FROM lines").fetchone()[0] == 0
    assert _record(st, "K1")  # the key is free again


def test_schema_1_store_is_migrated_and_its_rows_stay_visible(tmp_path):
    h = str(tmp_path / "h.sqlite")
    con = sqlite3.connect(h)
    for sql in MIGRATIONS[1]:
        con.execute(sql)
    con.execute("INSERT INTO claims VALUES ('S','1','1','0001','OLD','P1','837P','',NULL,NULL,0,0,"
                "'accepted','f.x12','2025-01-01')")
    con.execute("INSERT INTO lines VALUES ('S','1','1','0001','OLD',0,'P1','90867','','[]','2025-03-03',"
                "NULL,1.0,'',0)")
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()
    st = HistoryStore(h)
    assert st.version == SCHEMA_VERSION == 3
    assert st.count() == 1 and [e.claim_id for e in st.events_for("P1")] == ["OLD"]


# -- control numbers ------------------------------------------------------------------------
def test_control_numbers_are_reserved_durably_before_use(tmp_path):
    cf = CounterFile(str(tmp_path / "ctl"))
    assert cf.read() == 1
    c = ControlCounter(cf.read(), reserve=cf.reserve, block=10)
    assert [c.next() for _ in range(3)] == [1, 2, 3]
    assert cf.read() == 11  # the whole block is taken before 1 is handed out
    assert [c.next() for _ in range(8)] == [4, 5, 6, 7, 8, 9, 10, 11]
    assert cf.read() == 21  # 11 was reserved with the next block, before it was used
    c = ControlCounter(999999998, reserve=cf.reserve, block=5)
    assert [c.next() for _ in range(3)] == [999999998, 999999999, 1]
    assert cf.read() == 4  # wraps as ISA13 does


def _numbers(paths) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    isa, gs, st = [], [], []
    for p in paths:
        g = ""
        for seg in Path(p).read_bytes().decode("latin-1").replace("\n", "").split("~"):
            f = seg.strip().split("*")
            if f[0] == "ISA" and len(f) > 13:
                isa.append(f[13])
            elif f[0] == "GS" and len(f) > 6:
                g = f[6]
                gs.append(g)
            elif f[0] == "ST" and len(f) > 2:
                st.append((g, f[2]))
    return isa, gs, st


def _two_inputs(tmp_path):
    """Folder in/ with a.x12 (claim A1) and b.x12 (claim B1, another patient)."""
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.x12").write_bytes(_claims("000000001", "A1"))
    (src / "b.x12").write_bytes(_claims("000000002", "B1", member="SYN0002"))
    return src


def test_a_failed_run_never_reuses_its_control_numbers(tmp_path, monkeypatch):
    src = _two_inputs(tmp_path)
    out = tmp_path / "out"
    real = gate_mod.write_999
    calls = []

    def second_fails(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk on fire")
        return real(*a, **k)

    monkeypatch.setattr(gate_mod, "write_999", second_fails)
    with pytest.raises(RuntimeError):
        gate([str(src)], str(out), now=NOW)
    first = _numbers(sorted(out.glob("a.*.x12")))
    assert first[0] and not list(out.glob("b.*"))  # a's outputs are in place; b's are not
    monkeypatch.setattr(gate_mod, "write_999", real)
    gate([str(src)], str(out), now=NOW)
    # b's numbers of the failed run (in its removed temporaries) were never reused either
    again = _numbers(sorted(out.glob("*.x12")))
    assert not set(first[0]) & set(again[0]) and not set(first[1]) & set(again[1])
    assert min(int(x) for x in again[0]) > max(int(x) for x in first[0])
    # a run that ends well frees what it reserved and did not use: numbers run on
    nxt = CounterFile(str(out / gate_mod.COUNTER_FILE)).read()
    assert nxt == max(int(x) for x in again[0] + again[1]) + 1


# -- history and outputs together -------------------------------------------------------------
def test_gate_commits_the_history_after_every_output_is_in_place(tmp_path, monkeypatch):
    src = _two_inputs(tmp_path)
    out, h = tmp_path / "out", str(tmp_path / "h.sqlite")
    seen = []
    real = HistoryStore.commit_run

    def commit(self, run=None):
        names = sorted(os.listdir(out))
        seen.append((names, HistoryStore(h).count()))
        return real(self, run)

    monkeypatch.setattr(HistoryStore, "commit_run", commit)
    gate([str(src)], str(out), history=h, control_number=1, now=NOW)
    names, visible = seen[0]
    assert visible == 0  # nothing seen before the commit
    assert {"a.accepted.x12", "a.999.x12", "b.accepted.x12", "b.999.x12"} <= set(names)
    assert not [n for n in names if n.endswith(".part")]
    assert len(seen) == 1 and HistoryStore(h).count() == 2


def test_a_failed_gate_run_voids_its_history_rows(tmp_path, monkeypatch):
    src = _two_inputs(tmp_path)
    out, h = tmp_path / "out", str(tmp_path / "h.sqlite")

    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(gate_mod, "write_ta1", boom)
    monkeypatch.setattr(gate_mod, "write_999", boom)
    with pytest.raises(RuntimeError):
        gate([str(src)], str(out), history=h, control_number=1, now=NOW)
    con = sqlite3.connect(h)
    assert con.execute("SELECT count(*) FROM claims").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 0


def test_validate_with_history_commits_at_the_end(tmp_path, monkeypatch):
    f = tmp_path / "a.x12"
    f.write_bytes(_claims("000000001", "A1", "A2"))
    h = str(tmp_path / "h.sqlite")
    import edi837.outputs.report as report_mod

    real = report_mod.write_events
    during = []

    def spy(events, report):
        real(events, report)
        during.append(HistoryStore(h).count())  # the report is out, the run not committed yet

    monkeypatch.setattr(report_mod, "write_events", spy)
    res = CliRunner().invoke(validate, [str(f), "--history", h, "--format", "json"])
    assert res.exit_code in (0, 1), res.output
    assert during == [0]
    st = HistoryStore(h)
    assert st.count() == 2 and st.pending_runs() == []


# -- stale temporaries ----------------------------------------------------------------------
def test_stale_part_files_and_scratch_are_removed_on_start(tmp_path):
    f = tmp_path / "a.x12"
    f.write_bytes(_claims("000000001", "A1"))
    out = tmp_path / "out"
    (out / SCRATCH).mkdir(parents=True)
    (out / SCRATCH / "part-x.pickle").write_bytes(b"patient data")
    (out / ".old.accepted.x12.abc123.part").write_text("ISA*patient data")
    (out / ".keep").write_text("not ours")
    (out / "old.accepted.x12").write_text("an output of an earlier run")
    res = CliRunner().invoke(gate_command, [str(f), "--out", str(out), "--now", "2026-01-01T12:00"])
    assert res.exit_code == 0, res.output
    names = set(os.listdir(out))
    assert not [n for n in names if n.endswith(".part")] and SCRATCH not in names
    assert {".keep", "old.accepted.x12", gate_mod.COUNTER_FILE, "a.accepted.x12"} <= names


def test_a_second_gate_on_the_same_folder_waits(tmp_path):
    f = tmp_path / "a.x12"
    f.write_bytes(_claims("000000001", "A1"))
    out = tmp_path / "out"
    out.mkdir()
    with locked(str(out)):
        p = subprocess.Popen([sys.executable, "-m", "edi837.gate", str(f), "--out", str(out)],
                             cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        err = b""
        deadline = time.time() + 30
        while b"in use" not in err and time.time() < deadline and p.poll() is None:
            if select.select([p.stderr], [], [], 0.5)[0]:
                err += os.read(p.stderr.fileno(), 200)
        assert b"in use by another gate run" in err
        time.sleep(0.2)
        assert p.poll() is None and not (out / "a.accepted.x12").exists()
    stdout, rest = p.communicate(timeout=60)
    assert p.returncode == 0, rest
    assert (out / "a.accepted.x12").exists()


# -- output stems (issue 14 item 1) -----------------------------------------------------------
def test_same_named_inputs_never_overwrite_each_others_outputs(tmp_path):
    for d, name, isa, clm in (("a", "x.x12", "000000001", "A1"), ("b", "x.x12", "000000002", "B1"),
                              ("c", "x.2.x12", "000000003", "C1")):
        (tmp_path / d).mkdir()
        (tmp_path / d / name).write_bytes(_claims(isa, clm, member=f"SYN{isa[-4:]}"))
    out = tmp_path / "o"
    args = [str(tmp_path / "a" / "x.x12"), str(tmp_path / "b" / "x.x12"), str(tmp_path / "c" / "x.2.x12")]
    res = CliRunner().invoke(gate_command, [*args, "--out", str(out), "--now", "2026-01-01T12:00"])
    assert res.exit_code == 0, res.output
    got = {p.name: [c.claim_id for c in iter_claims(str(p))] for p in out.glob("*.accepted.x12")}
    assert got == {"x.accepted.x12": ["A1"], "x.3.accepted.x12": ["B1"], "x.2.accepted.x12": ["C1"]}
    assert sorted(n for n in os.listdir(out) if n.endswith(".999.x12")) == \
        ["x.2.999.x12", "x.3.999.x12", "x.999.x12"]


def test_plan_stems_is_unique_by_construction():
    files = ["a/x.x12", "b/x.x12", "c/x.2.x12", "d/X.x12", "e/x.3.edi", "f/x.x12"]
    stems = plan_stems(files)
    assert stems == ["x", "x.4", "x.2", "X.5", "x.3", "x.6"]
    assert len({s.casefold() for s in stems}) == len(stems)


def test_an_output_that_would_overwrite_an_input_is_refused(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "x.x12").write_bytes(_claims("000000001", "A1"))
    (out / "x.999.x12").write_bytes(_claims("000000002", "B1"))
    res = CliRunner().invoke(gate_command, [str(out / "x.x12"), str(out / "x.999.x12"), "--out", str(out)])
    assert res.exit_code == 2 and "would overwrite the input" in res.output
    assert sorted(os.listdir(out)) == ["x.999.x12", "x.x12"]


def test_outputs_written_in_a_run_are_never_overwritten(tmp_path, monkeypatch):
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "x.x12").write_bytes(_claims("000000001", d.upper()))
    out = tmp_path / "o"
    monkeypatch.setattr(gate_mod, "plan_stems", lambda files: ["x"] * len(files))  # a broken plan
    monkeypatch.setattr(gate_mod, "check_outputs", lambda *a: None)
    with pytest.raises(RuntimeError, match="would overwrite outputs of this run"):
        gate([str(tmp_path / "a" / "x.x12"), str(tmp_path / "b" / "x.x12")], str(out),
             control_number=1, now=NOW)
    assert [c.claim_id for c in iter_claims(str(out / "x.accepted.x12"))] == ["A"]


def test_check_outputs_refuses_two_inputs_with_one_output():
    with pytest.raises(GateError, match="would overwrite that of a/x.x12"):
        gate_mod.check_outputs(["a/x.x12", "b/x.x12"], ["x", "x"], "o")


# -- the kill test --------------------------------------------------------------------------
N_FILES, CLAIMS_PER_FILE, KILLS = 4, 750, 5


def _make_inputs(d: Path) -> list[str]:
    from generate import generate  # benchmarks/generate.py

    d.mkdir()
    files = []
    for i in range(N_FILES):
        p = d / f"f{i}.x12"
        generate(str(p), CLAIMS_PER_FILE, "837P", lines_per_claim=2, claims_per_st=250, seed=i)
        isa = f"{101 + i:09d}"  # each file its own interchange
        p.write_text(p.read_text().replace("*00501*000000001*", f"*00501*{isa}*")
                     .replace("IEA*1*000000001~", f"IEA*1*{isa}~"))
        files.append(str(p))
    return files


def _gate_proc(files: list[str], out: Path, hist: Path, jobs: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "edi837.gate", *files, "--out", str(out),
                             "--history", str(hist), "--now", "2026-01-01T12:00", "--jobs", str(jobs)],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _visible_claims(hist: Path) -> set[tuple[str, str]]:
    """(input stem, CLM01) of the claims the store shows (committed runs), read
    without opening a HistoryStore (which would void dead runs)."""
    if not hist.exists():
        return set()
    con = sqlite3.connect(f"file:{hist}?mode=ro", uri=True)
    try:
        if con.execute("PRAGMA user_version").fetchone()[0] < 3:
            return set()
        rows = con.execute("SELECT file, clm01 FROM claims c WHERE c.run IS NULL OR EXISTS"
                           " (SELECT 1 FROM runs r WHERE r.id = c.run AND r.state = 'committed')").fetchall()
    finally:
        con.close()
    return {(Path(f).stem, c) for f, c in rows}


def _kill(p: subprocess.Popen) -> None:
    p.send_signal(signal.SIGKILL)
    p.wait()


def test_gate_killed_at_random_points_then_run_again_is_consistent(tmp_path):
    seed = int(os.environ.get("EDI837_KILL_SEED", int.from_bytes(os.urandom(4), "big")))
    rng = random.Random(seed)
    why = f"(EDI837_KILL_SEED={seed})"
    files = _make_inputs(tmp_path / "in")
    stems = [Path(f).stem for f in files]
    out, hist = tmp_path / "out", tmp_path / "h.sqlite"
    kept: list[Path] = []  # a copy of every output ever written
    last: dict[str, tuple[int, int]] = {}  # name -> (inode, mtime) of the output seen last

    def collect() -> None:
        """Keep a copy of each output written since the last look (a file renamed
        into place is a new inode; the same content again is a second write)."""
        for n in sorted(os.listdir(out)):
            if n.endswith(".x12") and not n.startswith("."):
                st = os.stat(out / n)
                if last.get(n) != (st.st_ino, st.st_mtime_ns):
                    last[n] = (st.st_ino, st.st_mtime_ns)
                    kept.append(tmp_path / "seen" / f"{len(kept)}.{n}")
                    kept[-1].parent.mkdir(exist_ok=True)
                    kept[-1].write_bytes((out / n).read_bytes())

    # how long a whole run takes here (elsewhere: a scratch out folder and store); not from
    # the first file's outputs, which come once every file's claims are checked (two phases)
    t0 = time.monotonic()
    p = _gate_proc(files, tmp_path / "timing", tmp_path / "timing.sqlite", 1)
    p.communicate(timeout=300)
    whole = time.monotonic() - t0
    # 1: killed as soon as the first file's outputs are in place: they are, the store shows nothing
    p = _gate_proc(files, out, hist, 1)
    while not (out / f"{stems[0]}.report.json").exists() and p.poll() is None:  # renamed last
        time.sleep(0.005)
    _kill(p)
    collect()
    assert (out / f"{stems[0]}.accepted.x12").exists() and (out / f"{stems[0]}.999.x12").exists()
    assert not (out / f"{stems[-1]}.report.json").exists()
    assert _visible_claims(hist) == set()
    # then at random points, with one job and with two
    completed = 0
    for k, frac in enumerate(sorted(rng.uniform(0.05, 0.8) for _ in range(KILLS - 1))):
        p = _gate_proc(files, out, hist, 2 if k % 2 else 1)
        time.sleep(frac * whole)
        _kill(p)
        collect()
        if _visible_claims(hist):  # killed too late: the run had committed, so it was complete
            _consistent(out, hist, stems, final=False, why=why)
            # the same files again would be a resubmission (a matter of duplicates, not of
            # this test): go on with a new store; control numbers still run on in `out`
            completed += 1
            hist = tmp_path / f"h{k}.sqlite"
    # run again, to the end
    p = _gate_proc(files, out, hist, 1)
    _, err = p.communicate(timeout=120)
    assert p.returncode in (0, 1), (err.decode(), why)
    collect()
    _consistent(out, hist, stems, final=True, why=why)
    # no control number was ever handed out twice, over every output of every attempt
    isa, gs, st = _numbers(kept)
    assert len(isa) == len(set(isa)) and len(gs) == len(set(gs)), why
    assert len(st) == len(set(st)), why  # ST02 within its GS06
    assert len(kept) > 4 * N_FILES, why  # the killed attempts wrote outputs too
    assert completed < KILLS - 1, why  # (most kills are mid-run)


def _consistent(out: Path, hist: Path, stems: list[str], *, final: bool, why: str) -> None:
    """The out folder and the history store after a complete run (``final``: and a
    start that removed what the killed runs left)."""
    names = sorted(os.listdir(out))
    if final:  # no temporaries, no scratch folder
        assert [n for n in names if n.endswith(".part") or n == SCRATCH] == [], (names, why)
    # every input has its outputs; every accepted file its 999
    for s in stems:
        assert {f"{s}.report.json", f"{s}.999.x12", f"{s}.accepted.x12"} <= set(names), (s, names, why)
    for n in names:
        if n.endswith(".accepted.x12"):
            assert n.replace(".accepted.x12", ".999.x12") in names, (n, why)
    # the history store is sound and holds exactly the accepted claims of the outputs
    con = sqlite3.connect(hist)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok", why
        committed = ("SELECT count(*) FROM claims c WHERE run IS NULL OR NOT EXISTS (SELECT 1 FROM runs r"
                     " WHERE r.id = c.run AND r.state = 'committed')")
        assert con.execute(committed).fetchone()[0] == 0, why  # (a killed run's rows: voided)
        assert con.execute("SELECT count(*) FROM lines l WHERE NOT EXISTS (SELECT 1 FROM claims c WHERE"
                           " (c.sender, c.isa13, c.gs06, c.st02, c.clm01) ="
                           " (l.sender, l.isa13, l.gs06, l.st02, l.clm01))").fetchone()[0] == 0, why
        stored = [(Path(f).stem, c) for f, c in con.execute("SELECT file, clm01 FROM claims")]
    finally:
        con.close()
    accepted = [(s, c.claim_id) for s in stems for c in iter_claims(str(out / f"{s}.accepted.x12"))]
    assert len(accepted) > N_FILES * CLAIMS_PER_FILE // 2, why
    assert len(set(accepted)) == len(accepted)
    assert sorted(stored) == sorted(accepted), (len(stored), len(accepted), why)
    if final:
        assert HistoryStore(hist).count() == len(accepted)


def test_sigterm_removes_temporaries_and_voids_the_history_run(tmp_path):
    files = _make_inputs(tmp_path / "in")
    out, hist = tmp_path / "out", tmp_path / "h.sqlite"
    p = _gate_proc(files, out, hist, 1)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out.exists() and any(  # an output being written
            n.startswith(".f1.") and n.endswith(".part") for n in os.listdir(out))):
        time.sleep(0.01)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 2 and b"stopped (SIGTERM)" in err and b"Traceback" not in err, err
    assert [n for n in os.listdir(out) if n.endswith(".part") or n == SCRATCH] == []
    assert (out / "f0.999.x12").exists() and not (out / "f1.report.json").exists()
    con = sqlite3.connect(hist)
    assert con.execute("SELECT count(*) FROM claims").fetchone()[0] == 0  # voided, not just hidden
    assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 0


def test_workers_part_files_go_to_the_scratch_folder(tmp_path, monkeypatch):
    from edi837 import parallel

    src = _two_inputs(tmp_path)
    out = tmp_path / "out"
    seen = []
    real = parallel._read_part

    def spy(part):
        seen.append((Path(part).parent.parent, os.listdir(out / SCRATCH)))
        return real(part)

    monkeypatch.setattr(parallel, "_read_part", spy)
    gate([str(src)], str(out), control_number=1, now=NOW, jobs=2)
    assert [d for d, _ in seen] == [out / SCRATCH] * 2 and seen[0][1]
    assert SCRATCH not in os.listdir(out)
