"""The history store and the gate's files on a shared machine (issue 14 items 2, 3
and 7): one run at a time per history store (two real gate processes race on one
store), an ISA13 used again hides no history, private modes and no write
through a symlink.  Synthetic files (edi837/checks/editpack/synth.py)."""

from __future__ import annotations

import json
import os
import select
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edi837 import parallel
from edi837.checks.editpack.history import HistoryStore
from edi837.checks.editpack.synth import build
from edi837.gate import gate
from edi837.model.build import iter_claims
from edi837.outputs.outfolder import SCRATCH

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
NOW = "2026-01-01T12:00"
# a TMS course of one patient: an initial session (90867), then a follow-up (90868)
COURSE = [{"id": "C100", "lines": [{"code": "90867", "date": "2025-03-03"}]},
          {"id": "C101", "lines": [{"code": "90868", "date": "2025-03-04"}]}]


def _write(d: Path, name: str, data: bytes) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)
    return d / name


def _rules(report: Path) -> dict[str, set[str]]:
    """claim id -> the rules its verdict names in the report.json (its reasons)."""
    return {c["claim_id"]: set(c["reasons"]) for c in json.loads(report.read_text())["claims"]}


def _accepted(out: Path, stem: str) -> list[str]:
    p = out / f"{stem}.accepted.x12"
    return [c.claim_id for c in iter_claims(str(p))] if p.exists() else []


# -- item 2: one run at a time per history store -------------------------------------------
def _gate_proc(f: Path, out: Path, hist: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "edi837.gate", str(f), "--out", str(out),
                             "--history", str(hist), "--now", NOW],
                            cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _read_until(procs: list[subprocess.Popen], errs: list[bytes], needle: bytes) -> None:
    """Read the processes' standard error until each has said ``needle`` (or ended)."""
    deadline = time.monotonic() + 120  # a bound for a hung test, not a timing assertion
    while time.monotonic() < deadline:
        waiting = [i for i, p in enumerate(procs) if needle not in errs[i] and p.poll() is None]
        if not waiting:
            return
        ready, _, _ = select.select([procs[i].stderr for i in waiting], [], [], 0.5)
        for i in waiting:
            if procs[i].stderr in ready:
                errs[i] += os.read(procs[i].stderr.fileno(), 4096)


def _race(d: Path, hold: bool) -> None:
    """Two gates at once on one store, each with the same claims in its own file (its
    own ISA13) and its own out folder: exactly one accepts them."""
    files = [_write(d, "a.x12", build("837P", COURSE, isa="000000101")),
             _write(d, "b.x12", build("837P", COURSE, isa="000000102"))]
    outs, hist = [d / "out-a", d / "out-b"], d / "h.sqlite"
    holder = None
    if hold:  # this process holds the store first: both gates reach it and wait
        holder = HistoryStore(hist)
        holder.begin_run()
    procs = [_gate_proc(f, o, hist) for f, o in zip(files, outs)]
    errs = [b"", b""]
    try:
        if holder is not None:
            said = f"is in use by another run (pid {os.getpid()}); waiting for it to end".encode()
            _read_until(procs, errs, said)
            assert all(said in e for e in errs), errs
            assert all(p.poll() is None for p in procs)  # both wait
            assert not any(o.exists() and os.listdir(o) and (o / "a.accepted.x12").exists() for o in outs)
            holder.void_run()  # released: one of them goes first, the other waits for it
        for i, p in enumerate(procs):
            errs[i] += p.communicate(timeout=300)[1]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        if holder is not None:
            holder.close()
    codes = [p.returncode for p in procs]
    assert sorted(codes) == [0, 1], (codes, errs)
    first = codes.index(0)
    second = 1 - first
    stems = ["a", "b"]
    assert _accepted(outs[first], stems[first]) == ["C100", "C101"]
    assert _accepted(outs[second], stems[second]) == []
    got = _rules(outs[second] / f"{stems[second]}.report.json")
    assert {"C100", "C101"} <= set(got) and all("DUP-001" in got[c] for c in ("C100", "C101")), got
    for e in errs:
        assert e.count(b"waiting for it to end") <= 1 and b"Traceback" not in e, e  # said once
    st = HistoryStore(hist)
    try:
        assert st.count() == 2 and st.pending_runs() == []
    finally:
        st.close()


def test_two_gates_on_one_history_store_let_the_claims_through_once(tmp_path):
    _race(tmp_path / "held", hold=True)
    for k in range(3):  # started together, nothing held: whoever goes first, the other sees it
        _race(tmp_path / f"free{k}", hold=False)


def test_validate_with_history_waits_for_the_run_holding_the_store(tmp_path):
    f = _write(tmp_path, "a.x12", build("837P", COURSE, isa="000000101"))
    hist = tmp_path / "h.sqlite"
    holder = HistoryStore(hist)
    holder.begin_run()
    p = subprocess.Popen([sys.executable, "-m", "edi837", "validate", str(f), "--history", str(hist),
                          "--format", "json", "-o", str(tmp_path / "r.json")],
                         cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    errs = [b""]
    try:
        _read_until([p], errs, b"waiting for it to end")
        assert b"edi837 validate: history store" in errs[0] and p.poll() is None, errs
        assert not (tmp_path / "r.json").exists()
        holder.void_run()
        errs[0] += p.communicate(timeout=300)[1]
    finally:
        if p.poll() is None:
            p.kill()
        holder.close()
    assert p.returncode == 0, errs
    assert HistoryStore(hist).count() == 2


def test_the_run_lock_dies_with_its_process(tmp_path):
    h = tmp_path / "h.sqlite"
    child = ("import os, signal\nfrom edi837.checks.editpack.history import HistoryStore\n"
             f"st = HistoryStore({str(h)!r}); st.begin_run()\n"
             "os.kill(os.getpid(), signal.SIGKILL)\n")
    p = subprocess.run([sys.executable, "-c", child], cwd=ROOT, env=ENV)
    assert p.returncode == -signal.SIGKILL
    st = HistoryStore(h)
    waited: list[object] = []
    st.begin_run(on_wait=waited.append)  # not held: no wait (a stuck lock would block here)
    assert waited == [] and Path(st.lock_path or "").read_text().strip() == str(os.getpid())
    st.commit_run()
    st.close()


def test_a_run_lock_is_released_by_commit_void_and_close(tmp_path):
    h = tmp_path / "h.sqlite"
    a = HistoryStore(h)
    for end in ("commit_run", "void_run", "close"):
        a = HistoryStore(h) if end == "close" else a
        a.begin_run()
        getattr(a, end)()
        b = HistoryStore(h)
        waited: list[object] = []
        b.begin_run(on_wait=waited.append)
        assert waited == [], end
        b.void_run()
        b.close()
    a.close()


# -- item 3: an ISA13 used again hides no history -------------------------------------------
def test_an_interchange_number_used_again_hides_no_history(tmp_path):
    hist = str(tmp_path / "h.sqlite")
    first = _write(tmp_path / "in1", "first.x12", build("837P", COURSE, isa="000000101"))
    r = gate([str(first)], str(tmp_path / "out1"), history=hist, control_number=1)
    assert r.exit_code == 0 and r.files[0].accepted_ids == ["C100", "C101"]
    # (a) the same ISA06 + ISA13 again, with new claims of the same patient: a duplicate
    # interchange (S1-ENV-015, TA1 note 025), nothing in it accepted
    more = [{"id": "C102", "lines": [{"code": "90868", "date": "2025-03-05"}]}]
    again = _write(tmp_path / "in2", "again.x12", build("837P", more, isa="000000101"))
    r = gate([str(again)], str(tmp_path / "out2"), history=hist, control_number=100)
    fg = r.files[0]
    assert fg.accepted_ids == [] and r.exit_code == 1
    assert "S1-ENV-015" in _rules(Path(fg.paths["report"]))["C102"]
    assert "*R*025~" in Path(fg.paths["ta1"]).read_text()
    # (b) under new ISA13s: the same claim is DUP-001 against the history, and a new
    # claim is checked against the stored course (a second initial 90867 inside it)
    copy = _write(tmp_path / "in3", "copy.x12", build("837P", COURSE[:1], isa="000000102"))
    new = [{"id": "C200", "lines": [{"code": "90867", "date": "2025-03-10"}]}]
    fresh = _write(tmp_path / "in3", "fresh.x12", build("837P", new, isa="000000103"))
    r = gate([str(copy), str(fresh)], str(tmp_path / "out3"), history=hist, control_number=200)
    assert [f.accepted_ids for f in r.files] == [[], []]
    assert "DUP-001" in _rules(Path(r.files[0].paths["report"]))["C100"]
    assert "TMS-003" in _rules(Path(r.files[1].paths["report"]))["C200"]
    # without the stored course the new claim is fine: the history made TMS-003
    r = gate([str(fresh)], str(tmp_path / "out4"), history=str(tmp_path / "empty.sqlite"),
             control_number=300)
    assert r.files[0].accepted_ids == ["C200"]


def test_the_same_file_again_meets_its_history_without_the_envelope_checks(tmp_path):
    """Edit pack only (--snip 7: no S1-ENV-015): the store's rows with the very same
    keys are not hidden, so each claim sent again is DUP-001 of its stored copy."""
    hist = str(tmp_path / "h.sqlite")
    f = _write(tmp_path / "in", "a.x12", build("837P", COURSE, isa="000000101"))
    r = gate([str(f)], str(tmp_path / "out1"), history=hist, snip="7", control_number=1)
    assert r.files[0].accepted_ids == ["C100", "C101"]
    r = gate([str(f)], str(tmp_path / "out2"), history=hist, snip="7", control_number=100)
    got = _rules(Path(r.files[0].paths["report"]))
    assert r.files[0].accepted_ids == [] and got == {"C100": {"DUP-001"}, "C101": {"DUP-001"}}
    assert HistoryStore(hist).count() == 2


# -- item 7: private modes, no write through a symlink -----------------------------------------
@pytest.fixture
def open_umask():
    old = os.umask(0)  # what a careless shell gives: every default mode world-writable
    try:
        yield
    finally:
        os.umask(old)


def _mode(p: Path) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


def test_gate_files_folders_and_store_are_private(tmp_path, monkeypatch, open_umask):
    src = tmp_path / "in"
    _write(src, "a.x12", build("837P", COURSE, isa="000000101"))
    _write(src, "b.x12", build("837P", [{"id": "B1", "lines": [{"code": "90867", "date": "2025-04-01"}]}],
                               isa="000000102", member="SYN0002"))
    out, hist = tmp_path / "new" / "out", tmp_path / "h.sqlite"
    scratch: list[tuple[int, list[int]]] = []
    real = parallel._read_part

    def spy(part):  # the workers' part files (PHI) and their folder, while the run holds them
        scratch.append((_mode(out / SCRATCH), [_mode(p) for p in (out / SCRATCH).rglob("*")
                                                if p.is_file()]))
        return real(part)

    monkeypatch.setattr(parallel, "_read_part", spy)
    r = gate([str(src)], str(out), history=str(hist), jobs=2)  # with the counter file
    assert r.exit_code == 0
    assert _mode(out) == 0o700
    assert scratch and all(m == 0o700 and files and set(files) == {0o600} for m, files in scratch)
    names = os.listdir(out)
    assert {"a.accepted.x12", "a.999.x12", "a.277ca.x12", "a.report.json", ".edi837-gate-control"} <= set(names)
    assert {n: _mode(out / n) for n in names} == {n: 0o600 for n in names}
    st = HistoryStore(hist)  # open: its -wal and -shm are there
    try:
        side = [hist, *(Path(f"{hist}{x}") for x in ("-wal", "-shm", ".lock"))]
        assert {p.name: _mode(p) for p in side} == {p.name: 0o600 for p in side}
    finally:
        st.close()


def test_an_existing_store_of_ours_is_made_private(tmp_path, open_umask):
    hist = tmp_path / "h.sqlite"
    HistoryStore(hist).close()
    os.chmod(hist, 0o644)
    HistoryStore(hist).close()
    assert _mode(hist) == 0o600


def test_a_symlink_in_the_out_folder_is_replaced_not_followed(tmp_path, open_umask):
    f = _write(tmp_path / "in", "a.x12", build("837P", COURSE, isa="000000101"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = elsewhere / "precious.txt"
    target.write_text("not the gate's\n")
    os.chmod(target, 0o644)
    out = tmp_path / "out"
    out.mkdir(mode=0o755)
    (out / "a.accepted.x12").symlink_to(target)
    (out / "a.999.x12").symlink_to(elsewhere / "nothing-here")  # dangling
    r = gate([str(f)], str(out), control_number=1)
    assert r.exit_code == 0
    assert target.read_text() == "not the gate's\n" and _mode(target) == 0o644
    assert not (elsewhere / "nothing-here").exists()
    for n in ("a.accepted.x12", "a.999.x12"):
        assert stat.S_ISREG(os.lstat(out / n).st_mode) and _mode(out / n) == 0o600, n
    assert _accepted(out, "a") == ["C100", "C101"]
    assert _mode(out) == 0o755  # a folder that was there keeps its mode (its files are 0600)


# -- item 8: a killed writer's temporaries of a report ---------------------------------------
def test_validate_removes_a_killed_runs_temporaries_of_its_output(tmp_path):
    """``validate -o`` writes through a locked ``.NAME.*.part``: a killed run's (unlocked)
    is removed by the next run; one a live writer holds is left alone."""
    from edi837.outputs.atomic import atomic_write

    f = _write(tmp_path / "in", "a.x12", build("837P", COURSE, isa="000000101"))
    out = tmp_path / "r.json"
    child = ("import os, signal\nfrom edi837.outputs.atomic import atomic_write\n"
             f"with atomic_write({str(out)!r}) as fh:\n"
             "    fh.write('patient data'); fh.flush(); os.kill(os.getpid(), signal.SIGKILL)\n")
    assert subprocess.run([sys.executable, "-c", child], cwd=ROOT, env=ENV).returncode == -signal.SIGKILL
    dead = [n for n in os.listdir(tmp_path) if n.endswith(".part")]
    assert len(dead) == 1 and dead[0].startswith(".r.json.")
    with atomic_write(out) as live:  # a writer still at work (this process)
        live.write("x")
        live_name, = set(n for n in os.listdir(tmp_path) if n.endswith(".part")) - set(dead)
        p = subprocess.run([sys.executable, "-m", "edi837", "validate", str(f), "--format", "json",
                            "-o", str(out)], cwd=ROOT, env=ENV, capture_output=True)
        assert p.returncode == 0, p.stderr
        assert [n for n in os.listdir(tmp_path) if n.endswith(".part")] == [live_name]
    assert out.read_text() == "x" and not [n for n in os.listdir(tmp_path) if n.endswith(".part")]
