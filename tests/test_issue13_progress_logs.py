"""Issue 13 items 8 and 9: progress on a terminal's stderr, log lines without PHI."""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from click.testing import CliRunner

from edi837.checks import Engine
from edi837.checks.editpack.synth import build
from edi837.cli import main
from edi837.events import FileDone
from edi837.progress import Progress
from test_issue13_phi import PHI_STRINGS, leaks, phi_file

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = str(ROOT / "fixtures" / "837p_tms_course.x12")


def run(args: list[str], *, tty_stderr: bool, cwd: Path) -> tuple[int, bytes, bytes]:
    """Run ``python -m edi837.cli ARGS``: stdout a pipe, stderr a pipe or a pseudo-terminal."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100"}
    cmd = [sys.executable, "-m", "edi837.cli", *args]
    if not tty_stderr:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                           env=env, cwd=cwd, timeout=300)
        return p.returncode, p.stdout, p.stderr
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a terminal's size
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL, env=env,
                            cwd=cwd)
    os.close(slave)
    err = bytearray()
    out = bytearray()
    assert proc.stdout is not None
    fds = [master, proc.stdout.fileno()]
    while fds:
        ready, _, _ = select.select(fds, [], [], 300)
        assert ready, "the command hangs"
        for fd in ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the terminal's other end is closed
                chunk = b""
            if not chunk:
                fds.remove(fd)
            else:
                (err if fd == master else out).extend(chunk)
    os.close(master)
    return proc.wait(timeout=60), bytes(out), bytes(err)


COMMANDS = {
    "validate": lambda f, tmp: ["validate", f, "--format", "json"],
    "validate -o": lambda f, tmp: ["validate", f, "-o", str(tmp / "report.txt")],
    "lines": lambda f, tmp: ["lines", f, "--format", "jsonl"],
    "gate": lambda f, tmp: ["gate", f, "--out", str(tmp / "out"), "--now", "2026-01-02T10:00"],
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_progress_on_a_terminal_stderr_only(tmp_path, name):
    args = COMMANDS[name](FIXTURE, tmp_path)
    code, out, err = run(args, tty_stderr=True, cwd=tmp_path)
    assert code in (0, 1), err
    text = err.decode()
    label = name.split()[0]
    assert f"{label}:" in text and "%|" in text  # tqdm's bar: "validate:  40%|####  | 1.2k/3.0k"
    # stdout is the command's output only
    if "--format" in args and args[args.index("--format") + 1] == "json":
        assert json.loads(out)["summary"]["files"] == 1
    elif "jsonl" in args:
        assert all(json.loads(line) for line in out.decode().splitlines())
    # no terminal: nothing on stderr; the same stdout
    (tmp_path / "again").mkdir()
    code2, out2, err2 = run(COMMANDS[name](FIXTURE, tmp_path / "again"), tty_stderr=False, cwd=tmp_path)
    assert code2 == code and err2 == b""
    if label != "gate":
        assert out2 == out


def test_quiet_turns_progress_off(tmp_path):
    code, out, err = run(["validate", FIXTURE, "--format", "json", "--quiet"], tty_stderr=True, cwd=tmp_path)
    assert code in (0, 1)
    assert b"%|" not in err and err.strip() == b""
    assert json.loads(out)["summary"]["claims"] > 0


def test_a_single_file_moves_the_bar_before_it_is_done(tmp_path, monkeypatch):
    """Within one file the bar follows the claims' byte offsets (every EVERY claims)."""
    claims = [{"id": f"C{i}", "lines": [{"code": "90868", "date": "2025-03-04"}]} for i in range(300)]
    p = tmp_path / "big.x12"
    p.write_bytes(build("837P", claims))
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    bar = Progress([str(p)], "validate")
    eng = Engine(snip="1-5")
    eng.claim_listeners.append(bar.claim)
    seen = []
    for ev in eng.run_file(str(p)):
        if isinstance(ev, FileDone):
            seen.append(bar.bar.n)
            bar.file_done(ev.result.file)
    assert 0 < seen[0] < p.stat().st_size  # moved by the claims, before the file was done
    assert bar.bar.n == bar.bar.total == p.stat().st_size
    bar.close()


# -- logging --------------------------------------------------------------------------
def json_lines(text: str) -> list[dict]:
    recs = [json.loads(line) for line in text.splitlines() if line.strip()]
    for r in recs:
        assert {"time", "level", "logger", "message"} <= set(r) and r["logger"].startswith("edi837")
    return recs


def test_json_log_lines_parse_and_carry_no_phi(tmp_path):
    f = str(phi_file(tmp_path))
    for args in (["validate", f, "--format", "json"], ["validate", f, "--redact"], ["lines", f],
                 ["gate", f, "--out", str(tmp_path / "out")]):
        res = CliRunner().invoke(main, [*args, "--log-format", "json", "--log-level", "debug"])
        assert res.exit_code == (0 if args[0] == "lines" else 1), res.output
        recs = json_lines(res.stderr)
        msgs = [r["message"] for r in recs]
        assert msgs[0] == "run start" and msgs[-1] == "run end" and "file done" in msgs, msgs
        done = next(r for r in recs if r["message"] == "file done")
        assert done["file"] == f
        assert done.get("claims", done.get("rows")) == 1
        assert recs[-1]["exit_code"] == res.exit_code
        assert leaks(res.stderr) == [], args
    gate_done = [r for r in recs if r["message"] == "file done"][0]
    assert gate_done["control_numbers"][0] >= 1 and gate_done["rejected"] == 1


def test_text_log_lines_carry_no_phi(tmp_path):
    f = str(phi_file(tmp_path))
    res = CliRunner().invoke(main, ["validate", f, "--log-level", "debug", "-o", str(tmp_path / "r.txt")])
    assert res.exit_code == 1
    lines = res.stderr.splitlines()
    assert len(lines) == 3 and "info edi837.cli: file done" in lines[1] and f"file={f}" in lines[1]
    assert "claims=1" in lines[1] and "rejected=1" in lines[1]
    assert leaks(res.stderr) == []
    assert set(leaks((tmp_path / "r.txt").read_text())) >= set(PHI_STRINGS[:3])  # the report is not redacted


def test_no_log_lines_by_default(tmp_path):
    res = CliRunner().invoke(main, ["validate", FIXTURE, "-o", str(tmp_path / "r.txt")])
    assert res.exit_code in (0, 1) and res.stderr == ""


def test_json_mode_makes_every_stderr_line_json(tmp_path, monkeypatch):
    """--log-format json: the command's own messages (a missing file, a dying
    worker) are JSON log records too."""
    from concurrent.futures.process import BrokenProcessPool

    from edi837 import parallel

    res = CliRunner().invoke(main, ["validate", str(tmp_path / "nope.x12"), "--log-format", "json"])
    assert res.exit_code == 2
    (rec,) = json_lines(res.stderr)
    assert rec["level"] == "error" and rec["file"].endswith("nope.x12") and "no such file" in rec["message"]

    def dies(*a, **k):
        if False:
            yield
        raise BrokenProcessPool("A process in the process pool was terminated abruptly")

    monkeypatch.setattr(parallel, "validate", dies)
    res = CliRunner().invoke(main, ["validate", FIXTURE, FIXTURE, "--jobs", "2", "--log-format", "json",
                                    "-o", str(tmp_path / "r.json")])
    assert res.exit_code == 2
    recs = json_lines(res.stderr)
    assert [r["event"] for r in recs if r["level"] == "error"] == ["worker failure"]
