"""`edi837 watch INBOX --out DIR` (issue 15, inbox mode): a real watch
subprocess on a temporary inbox, files dropped into it (written under a
temporary name then renamed, or written slowly in place); every wait polls
for the expected state with a generous deadline, nothing asserts on time."""

from __future__ import annotations

import datetime
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import pytest

from edi837.checks.editpack.synth import build
from edi837.watch import (DONE, FAILED, JOURNAL, WORK, InboxWatch, free_name, is_candidate, numbered,
                          work_name)

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "fixtures"
VALID = (FIX / "837p_tms_course.x12").read_bytes()  # 4 claims, all accepted
REJECTED = (FIX / "invalid" / "unknown_icd10.x12").read_bytes()  # 4 claims, 1 rejected
NOT_X12 = b"member list, not claims\n"
DEADLINE = 120.0  # seconds: generous, for a loaded machine; never an assertion on time
PHI = ("DOE", "JANE", "SYN0001", "19800101", "EXAMPLE LANE")  # the synthetic patient's


def claims(isa: str, n: int = 3, prefix: str = "W") -> bytes:
    """A synthetic 837P interchange ``isa`` of ``n`` claims that pass (a TMS course)."""
    day = datetime.date(2024, 11, 1)
    return build("837P", [{"id": f"{prefix}{isa[-3:]}{i}", "lines": [
        {"code": "90867" if i == 0 else "90868", "date": (day + datetime.timedelta(i)).isoformat()}]}
        for i in range(n)], isa=isa)


def drop(inbox: Path, name: str, data: bytes) -> None:
    """Write ``name`` as ``name.part``, then rename it into place."""
    part = inbox / (name + ".part")
    part.write_bytes(data)
    os.replace(part, inbox / name)


class Watch:
    """``edi837 watch`` in a subprocess; its stdout and stderr go to files."""

    def __init__(self, tmp: Path, inbox: Path, out: Path, *args: str, tag: str = "w",
                 started: bool = True):
        self.stdout, self.stderr = tmp / f"{tag}.out", tmp / f"{tag}.err"
        env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        with open(self.stdout, "ab") as o, open(self.stderr, "ab") as e:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "edi837", "watch", str(inbox), "--out", str(out), *args],
                stdout=o, stderr=e, env=env, cwd=str(tmp))
        if started:  # its signal handlers are in place once it says it watches
            self.wait_for("the watch to start", lambda: "edi837 watch: watching" in self.output())

    def output(self) -> str:
        return self.stdout.read_text() + self.stderr.read_text()

    def wait_for(self, what: str, ok: Callable[[], bool]) -> None:
        end = time.monotonic() + DEADLINE
        while not ok():
            if self.proc.poll() is not None:
                pytest.fail(f"watch ended ({self.proc.returncode}) before {what}:\n{self.output()}")
            if time.monotonic() > end:
                pytest.fail(f"no {what} after {DEADLINE} s:\n{self.output()}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=DEADLINE)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


def landed(inbox: Path, *names: str, where: str = DONE) -> Callable[[], bool]:
    return lambda: all((inbox / where / n).exists() for n in names)


def control_numbers_by_file(out: Path) -> dict[str, list[str]]:
    """Every ISA13 and GS06 of each X12 output in ``out``."""
    got = {}
    for p in sorted(out.glob("*.x12")):
        text = p.read_text(encoding="latin-1")
        got[p.name] = ([f"ISA{m}" for m in re.findall(r"ISA(?:\*[^*]*){12}\*(\d{9})\*", text)]
                       + [f"GS{m}" for m in re.findall(r"(?:^|~)\s*GS(?:\*[^*]*){5}\*(\d+)\*", text)])
    return got


def control_numbers(out: Path) -> list[str]:
    return [n for nums in control_numbers_by_file(out).values() for n in nums]


def outputs(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in out.iterdir() if not p.name.startswith(".")}


def stems(out: Path) -> set[str]:
    return {p.name[:-len(".report.json")] for p in out.glob("*.report.json")}


def inbox_files(inbox: Path) -> list[str]:
    return sorted(p.name for p in inbox.iterdir() if p.is_file())


@pytest.fixture
def box(tmp_path: Path) -> tuple[Path, Path]:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    return inbox, out


# -- the watch at work -------------------------------------------------------------------
def test_files_present_then_new_ones_are_gated_once_into_done_or_failed(tmp_path, box):
    inbox, out = box
    (inbox / "a_valid.x12").write_bytes(VALID)
    (inbox / "b_rejected.x12").write_bytes(REJECTED)
    (inbox / "c_notes.txt").write_bytes(NOT_X12)
    w = Watch(tmp_path, inbox, out, "--settle", "0.5", "--log-level", "debug", "--log-format", "json")
    w.wait_for("files present at the start in done/ and failed/",
               lambda: landed(inbox, "a_valid.x12", "b_rejected.x12")()
               and landed(inbox, "c_notes.txt", "c_notes.txt.reason.txt", where=FAILED)())
    # the gate ran on each: a valid file, one with a rejected claim (still done: its 999 and
    # 277CA say why), a file that is not X12 (failed, with the reason)
    assert (inbox / DONE / "a_valid.x12").read_bytes() == VALID
    assert (inbox / DONE / "b_rejected.x12").read_bytes() == REJECTED
    assert (inbox / FAILED / "c_notes.txt").read_bytes() == NOT_X12
    names = set(outputs(out))
    assert {"a_valid.999.x12", "a_valid.277ca.x12", "a_valid.accepted.x12", "a_valid.report.json",
            "b_rejected.999.x12", "b_rejected.277ca.x12", "b_rejected.accepted.x12",
            "b_rejected.rejected.x12"} <= names
    assert "a_valid.rejected.x12" not in names and not any(n.startswith("c_notes.") and n.endswith(".x12")
                                                           for n in names)
    reason = (inbox / FAILED / "c_notes.txt.reason.txt").read_text()
    assert reason.startswith("c_notes.txt: not gated") and "RDR-002" in reason
    # files present at the start are gated in name order: their control numbers follow on
    isa13 = {s: re.search(r"ISA(?:\*[^*]*){12}\*(\d{9})", (out / f"{s}.999.x12").read_text())[1]
             for s in ("a_valid", "b_rejected")}
    assert isa13["a_valid"] < isa13["b_rejected"]

    # new files as they come, renamed into place; a name done already gets a unique suffix
    drop(inbox, "d_new.x12", claims("000000301"))
    drop(inbox, "a_valid.x12", claims("000000302"))
    w.wait_for("new files in done/", landed(inbox, "d_new.x12", "a_valid.2.x12"))
    w.wait_for("its line on stdout while it runs", lambda: "d_new.x12: done" in w.stdout.read_text())
    assert (inbox / DONE / "a_valid.x12").read_bytes() == VALID  # never overwritten
    assert (inbox / DONE / "a_valid.2.x12").read_bytes() == claims("000000302")
    assert {"d_new", "a_valid.2"} <= stems(out) and (out / "a_valid.2.999.x12").exists()
    assert inbox_files(inbox) == []
    assert w.stop() == 0
    log = w.output()
    assert "Traceback" not in log
    lines = w.stdout.read_text().splitlines()
    assert [ln for ln in lines if ln.startswith("b_rejected.x12: done")] == [
        "b_rejected.x12: done, 4 claims in, 3 accepted, 1 rejected (exit 1); outputs b_rejected.*; "
        "moved to done/b_rejected.x12"]
    assert [ln for ln in lines if ln.startswith("c_notes.txt:")] == [
        "c_notes.txt: failed (RDR-002); moved to failed/c_notes.txt, why in "
        "failed/c_notes.txt.reason.txt"]
    assert len(lines) == 5  # one line per file
    assert log.count('"logger": "edi837.watch", "message": "file done"') == 5
    for s in PHI:  # patient data: never in a log line
        assert s not in log, s
    assert len(set(control_numbers(out))) == len(control_numbers(out))


def test_a_file_is_taken_only_when_complete(tmp_path, box):
    inbox, out = box
    w = Watch(tmp_path, inbox, out, "--settle", "2")
    # temporary names are left alone: .part, .tmp, hidden files
    (inbox / "t.x12.part").write_bytes(claims("000000401"))
    (inbox / "u.x12.tmp").write_bytes(claims("000000402"))
    (inbox / ".hidden.x12").write_bytes(claims("000000403"))
    # a writer that appends slowly in place: the watch must not take it half-written
    full = claims("000000404", n=30)
    chunks = [full[i:i + 150] for i in range(0, len(full), 150)]

    def writer() -> None:
        with open(inbox / "slow.x12", "wb") as fh:
            for c in chunks:
                fh.write(c)
                fh.flush()
                time.sleep(0.1)

    t = threading.Thread(target=writer)
    t.start()
    try:
        w.wait_for("the slow file in done/", landed(inbox, "slow.x12"))
    finally:
        t.join()
    assert len(chunks) > 15
    assert (inbox / DONE / "slow.x12").read_bytes() == full
    report = (out / "slow.report.json").read_text()
    assert '"claims": 30' in report and stems(out) == {"slow"}  # one set of outputs, whole
    # the watch has looked at the inbox many times since: the temporaries are still there
    assert inbox_files(inbox) == [".hidden.x12", "t.x12.part", "u.x12.tmp"]
    os.replace(inbox / "t.x12.part", inbox / "t.x12")  # renamed into place: taken
    w.wait_for("the renamed file in done/", landed(inbox, "t.x12"))
    assert stems(out) == {"slow", "t"}
    assert w.stop() == 0


def test_poll_observer(tmp_path, box):
    inbox, out = box
    w = Watch(tmp_path, inbox, out, "--poll", "--settle", "0.2", "--log-level", "info")
    drop(inbox, "p.x12", claims("000000501"))
    w.wait_for("p.x12 in done/", landed(inbox, "p.x12"))
    assert w.stop(signal.SIGINT) == 0
    assert "observer=PollingObserver" in w.output() and (out / "p.999.x12").exists()


# -- exactly once, across restarts -------------------------------------------------------------
def test_a_restart_gates_nothing_twice(tmp_path, box):
    inbox, out = box
    w = Watch(tmp_path, inbox, out, "--settle", "0.3", tag="w1")
    drop(inbox, "one.x12", claims("000000601"))
    drop(inbox, "two.x12", REJECTED)
    w.wait_for("both in done/", landed(inbox, "one.x12", "two.x12"))
    assert w.stop() == 0
    before = outputs(out)
    w = Watch(tmp_path, inbox, out, "--settle", "0.3", tag="w2")
    drop(inbox, "three.x12", claims("000000602"))
    w.wait_for("three.x12 in done/", landed(inbox, "three.x12"))
    # the same content again, under another name: not gated again (no --history)
    drop(inbox, "one-again.x12", claims("000000601"))
    w.wait_for("the copy in failed/", landed(inbox, "one-again.x12", where=FAILED))
    assert w.stop() == 0
    after = outputs(out)
    assert {k: after[k] for k in before} == before  # the first run's outputs, untouched
    assert stems(out) == {"one", "two", "three"}  # no second set of outputs
    nums = control_numbers(out)
    assert len(nums) == len(set(nums)) > 6
    why = (inbox / FAILED / "one-again.x12.reason.txt").read_text()
    assert "the same content as one.x12" in why and "not gated again" in why


def test_killed_at_random_points_each_file_is_gated_exactly_once(tmp_path, box):
    """SIGKILL the watch at random points while it works through an inbox,
    restart it each time; at the end every file is in done/ or failed/ once,
    with one complete set of outputs, and no control number was used twice."""
    inbox, out = box
    rnd = random.Random(15)
    files = {f"k{i:02d}.x12": claims(f"000000{700 + i}", n=30, prefix=f"K{i}") for i in range(8)}
    files["k99.txt"] = NOT_X12
    for name, data in files.items():
        (inbox / name).write_bytes(data)
    owner: dict[str, str] = {}  # control number -> the output it was seen in
    for round_ in range(6):
        w = Watch(tmp_path, inbox, out, "--settle", "0", tag=f"k{round_}", started=False)
        time.sleep(rnd.uniform(0.3, 2.0))  # a kill point, not an assertion
        w.stop(signal.SIGKILL)
        for name, nums in control_numbers_by_file(out).items():
            for n in nums:
                assert owner.setdefault(n, name) == name, f"{n} in {owner[n]} and {name}"
    w = Watch(tmp_path, inbox, out, "--settle", "0", tag="final")
    w.wait_for("every file in done/ or failed/",
               lambda: landed(inbox, *[n for n in files if n.endswith(".x12")])()
               and landed(inbox, "k99.txt", where=FAILED)())
    assert w.stop() == 0
    assert inbox_files(inbox) == [] and os.listdir(inbox / WORK) == []
    for name, data in files.items():
        where = FAILED if name.endswith(".txt") else DONE
        assert (inbox / where / name).read_bytes() == data
    assert sorted(os.listdir(inbox / DONE)) == sorted(n for n in files if n.endswith(".x12"))
    assert stems(out) == {n.split(".")[0] for n in files}  # one set of outputs each
    for name in files:
        if name.endswith(".x12"):
            stem = name[:-4]
            assert (out / f"{stem}.999.x12").exists() and (out / f"{stem}.accepted.x12").exists()
            assert '"claims": 30, "accepted": 30' in (out / f"{stem}.report.json").read_text()
    for name, nums in control_numbers_by_file(out).items():  # never used twice, even by a
        for n in nums:  # file's outputs replaced after a kill
            assert owner.setdefault(n, name) == name, f"{n} in {owner[n]} and {name}"
    nums = control_numbers(out)
    assert len(nums) == len(set(nums))
    assert not [p for p in out.iterdir() if p.name.endswith(".part")]


class Killed(BaseException):
    """Stands for a kill at one point of a watch run."""


@pytest.mark.parametrize("point", ["_judge", "_move"])
def test_killed_after_the_gate_the_restart_moves_the_file_without_new_acks(tmp_path, box,
                                                                            monkeypatch, point):
    """Killed after the gate renamed the file's outputs into place, before the
    watch noted it (``_judge``) or before it moved the file (``_move``): the
    next start moves the file and issues no acknowledgment again."""
    inbox, out = box
    drop(inbox, "x.x12", claims("000000801"))
    with InboxWatch(str(inbox), str(out), settle=0) as w:
        monkeypatch.setattr(InboxWatch, point, lambda *a, **k: (_ for _ in ()).throw(Killed()))
        with pytest.raises(Killed):
            w.take("x.x12")
    monkeypatch.undo()
    assert (inbox / WORK / "x.x12").exists() and (out / "x.999.x12").exists()
    before = outputs(out)
    counter = (out / ".edi837-gate-control").read_bytes()
    with InboxWatch(str(inbox), str(out), settle=0) as w:
        w.recover()
    assert (inbox / DONE / "x.x12").read_bytes() == claims("000000801")
    assert outputs(out) == before and (out / ".edi837-gate-control").read_bytes() == counter
    assert os.listdir(inbox / WORK) == []


def test_killed_in_the_gate_the_restart_gates_it_once(tmp_path, box, monkeypatch):
    """Killed while the gate ran (no report in place): gated again at the next
    start, under the same output NAME: one set of outputs."""
    inbox, out = box
    drop(inbox, "y.x12", claims("000000802"))
    import edi837.watch as watch_mod

    with InboxWatch(str(inbox), str(out), settle=0) as w:
        monkeypatch.setattr(watch_mod, "gate", lambda *a, **k: (_ for _ in ()).throw(Killed()))
        with pytest.raises(Killed):
            w.take("y.x12")
    monkeypatch.undo()
    assert (inbox / WORK / "y.x12").exists() and not (out / "y.999.x12").exists()
    with InboxWatch(str(inbox), str(out), settle=0) as w:
        w.recover()
    assert (inbox / DONE / "y.x12").exists() and stems(out) == {"y"} and (out / "y.999.x12").exists()


# -- could not run -------------------------------------------------------------------------
def test_a_bad_inbox_or_out_is_exit_2_naming_it(tmp_path, box):
    inbox, out = box

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        return subprocess.run([sys.executable, "-m", "edi837", "watch", *args], capture_output=True,
                              text=True, env=env, timeout=DEADLINE)

    r = run(str(tmp_path / "nope"), "--out", str(out))
    assert r.returncode == 2 and "nope: no such folder" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "file").write_text("x")
    r = run(str(inbox), "--out", str(tmp_path / "file"))
    assert r.returncode == 2 and "file" in r.stderr and "Traceback" not in r.stderr
    r = run(str(inbox), "--out", str(inbox))
    assert r.returncode == 2 and "cannot be the inbox" in r.stderr
    r = run(str(inbox), "--out", str(out), "--snip", "9")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    w = Watch(tmp_path, inbox, out)
    r = run(str(inbox), "--out", str(tmp_path / "out2"))
    assert r.returncode == 2 and "another edi837 watch" in r.stderr
    assert w.stop() == 0


# -- names ---------------------------------------------------------------------------------
def test_names():
    assert [n for n in ("a.x12", "a.X12.PART", "b.tmp", ".c.x12", "d~", "e.999.x12", "CLAIMS", "f.txt")
            if is_candidate(n)] == ["a.x12", "CLAIMS", "f.txt"]
    assert numbered("claims.x12", 2) == "claims.2.x12" and numbered("claims.x12.gz", 3) == "claims.3.x12.gz"
    assert work_name("claims.x12", 1) == ("claims.x12", "claims")
    assert work_name("claims.x12", 2) == ("claims.2.x12", "claims.2")
    assert work_name("CLAIMS", 2) == ("CLAIMS.2.dat", "CLAIMS.2")
    assert work_name("a.gz", 2) == ("a.2.dat.gz", "a.2")


def test_free_name_never_overwrites(tmp_path):
    (tmp_path / "a.x12").write_text("")
    (tmp_path / "a.2.x12.reason.txt").write_text("")
    assert free_name(str(tmp_path), "a.x12") == "a.2.x12"
    assert free_name(str(tmp_path), "a.x12", (".reason.txt",)) == "a.3.x12"
    assert free_name(str(tmp_path), "b.x12") == "b.x12"
    assert JOURNAL.startswith(".") and WORK.startswith(".")  # hidden: the gate never reads them
