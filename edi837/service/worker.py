"""The gate behind the service: queued uploads go through :func:`edi837.gate.gate`.

One dispatcher thread takes up to ``batch`` queued uploads (oldest first) and
gates them in **one gate run** into the one output folder DATA/out (file
DATA/incoming/ID.x12 gives DATA/out/ID.999.x12, ...).  So the service keeps
the gate's own guarantees unchanged: one run at a time on the folder (its
lock), control numbers from the folder's one counter file (reserved durably
before use: never handed out twice, across uploads, runs and restarts), a
duplicate interchange within the batch or in the history store
(DATA/history.sqlite) is TA1 025, and the history rows of a run are committed
only once its outputs are in place.  ``--jobs N`` is the gate's process pool
(pass 1 of the batch's files runs on N processes).

The gate runs in a child process of the server (spawned once, kept), so the
server's event loop never waits on the gate's CPU; the child is killed with
the server (``PR_SET_PDEATHSIG`` on Linux).  A batch that fails is retried
upload by upload, so one upload the gate cannot run on fails alone.

:func:`recover` runs at start, before the dispatcher: an upload left
``running`` by a killed server is ``done`` when its outputs are in place and
its history run was committed, else its outputs are removed and it is queued
again (see docs/service.md, Recovery).
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from collections import Counter
from typing import Any, Callable

from .. import logs
from ..checks.editpack.history import HistoryStore
from ..gate import OUTPUT_SUFFIXES
from ..outputs.outfolder import locked
from .store import Store, Upload

log = logs.get("service")

#: kind -> suffix of the gate's outputs, the kinds the API serves
KINDS = {"report": ".report.json", "accepted": ".accepted.x12", "rejected": ".rejected.x12",
         "999": ".999.x12", "277ca": ".277ca.x12", "ta1": ".ta1.x12"}
assert set(KINDS.values()) == set(OUTPUT_SUFFIXES)


class Paths:
    """The files of a data folder."""

    def __init__(self, data: str):
        self.data = os.path.abspath(data)
        self.incoming = os.path.join(self.data, "incoming")
        self.out = os.path.join(self.data, "out")
        self.history = os.path.join(self.data, "history.sqlite")
        self.service = os.path.join(self.data, "service.sqlite")

    def make(self) -> None:
        for d in (self.data, self.incoming, self.out):
            os.makedirs(d, exist_ok=True)

    def upload(self, id: str) -> str:
        return os.path.join(self.incoming, id + ".x12")

    def output(self, id: str, kind: str) -> str:
        return os.path.join(self.out, id + KINDS[kind])


def summarize(out_dir: str, id: str) -> dict[str, Any]:
    """What the status of a done upload says: its counts, the outputs there
    are, its findings counted by rule (read from its report)."""
    with open(os.path.join(out_dir, id + KINDS["report"]), encoding="utf-8") as fh:
        rep = json.load(fh)
    by_rule = Counter(f["rule"] for f in rep.get("findings", []))
    s = rep.get("summary", {})
    return {"claims": s.get("claims", 0), "accepted": s.get("accepted", 0), "rejected": s.get("rejected", 0),
            "errors": s.get("errors", 0), "warnings": s.get("warnings", 0),
            "outputs": [k for k, suf in KINDS.items() if os.path.exists(os.path.join(out_dir, id + suf))],
            "findings_by_rule": dict(sorted(by_rule.items()))}


def remove_outputs(out_dir: str, id: str) -> None:
    for suf in KINDS.values():
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(out_dir, id + suf))


# -- the child process ----------------------------------------------------------------
def _die_with_parent() -> None:
    """Linux: the kernel kills this process when the server dies."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the parent died before prctl took effect
            os._exit(1)


def run_gate(paths: Paths, ids: list[str], jobs: int, redact: bool) -> dict[str, dict[str, Any]]:
    """Gate the uploads ``ids`` in one run; id -> summary."""
    from ..gate import gate

    os.chdir(paths.incoming)  # the reports name the upload ID.x12, not a path of the server
    for i in ids:
        remove_outputs(paths.out, i)
    gate([i + ".x12" for i in ids], paths.out, history=paths.history, jobs=jobs, redact=redact,
         keep_results=False)
    return {i: summarize(paths.out, i) for i in ids}


def _warm_up() -> None:
    """Gate a tiny synthetic file into a scratch folder (no history, no counter
    kept), so the first upload does not wait for imports and code sets."""
    import tempfile

    from ..checks.editpack.synth import build
    from ..gate import gate

    with tempfile.TemporaryDirectory(prefix="edi837-warm-") as d:
        src = os.path.join(d, "warm.x12")
        with open(src, "wb") as fh:
            fh.write(build("837P", [{"id": "W1", "lines": [{"code": "90867", "date": "2025-03-03"}]}]))
        gate([src], os.path.join(d, "out"), control_number=1)


def _child_main(conn: multiprocessing.connection.Connection) -> None:
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server decides when this ends
    from ..gate import GateError

    with contextlib.suppress(Exception):
        _warm_up()

    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        try:
            conn.send(("ok", run_gate(*task)))
        except GateError as e:
            conn.send(("error", str(e)))
        except Exception as e:  # noqa: BLE001 - said to the parent, which fails the upload
            conn.send(("error", f"{type(e).__name__}: {e}"))


class GateProcess:
    """One child process that runs :func:`run_gate` on request."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_child_main, args=(child,), name="edi837-gate", daemon=False)
        self.proc.start()
        child.close()

    def run(self, paths: Paths, ids: list[str], jobs: int, redact: bool) -> tuple[str, Any]:
        """("ok", summaries) or ("error", message); ("died", ...) when the child stopped."""
        try:
            self.conn.send((paths, ids, jobs, redact))
            got: tuple[str, Any] = self.conn.recv()
            return got
        except (EOFError, OSError, BrokenPipeError):
            return "died", f"the gate process stopped (exit code {self.proc.exitcode})"

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.kill()
            self.proc.join(5)
            self.conn.close()


# -- recovery -------------------------------------------------------------------------
def recover(store: Store, paths: Paths) -> tuple[list[str], list[str]]:
    """Settle the uploads a killed server left running; returns (done, queued again)."""
    running = store.with_status("running")
    if not running:
        return [], []
    done: dict[str, dict[str, Any]] = {}
    again: list[str] = []
    with locked(paths.out):  # a gate still running on the folder ends first
        hist = HistoryStore(paths.history) if os.path.exists(paths.history) else None  # voids dead runs
        try:
            for u in running:
                final = os.path.exists(paths.output(u.id, "report")) and hist is not None and any(
                    hist.has_interchange(s, c) for s, c in u.interchanges)
                if final:
                    done[u.id] = summarize(paths.out, u.id)
                else:
                    remove_outputs(paths.out, u.id)
                    again.append(u.id)
        finally:
            if hist is not None:
                hist.close()
    store.finish(done)
    store.requeue(again)
    logs.log(log, logging.WARNING, "recovered uploads of a stopped server", done=len(done), queued=len(again))
    return list(done), again


# -- the dispatcher -------------------------------------------------------------------
class Worker:
    """Takes queued uploads, gates them in batches, records the outcome."""

    MAX_ATTEMPTS = 3

    def __init__(self, store: Store, paths: Paths, *, jobs: int = 1, batch: int = 16, redact: bool = False,
                 on_done: Callable[[Upload, dict[str, Any]], None] | None = None,
                 on_batch: Callable[[int, float], None] | None = None,
                 on_failed: Callable[[Upload], None] | None = None):
        self.store, self.paths = store, paths
        self.jobs, self.batch, self.redact = jobs, batch, redact
        self.on_done, self.on_batch, self.on_failed = on_done, on_batch, on_failed
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.proc: GateProcess | None = None
        self.thread = threading.Thread(target=self._loop, name="edi837-dispatch", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        """Stop now: a batch in the gate is abandoned (its uploads stay running
        and are recovered at the next start)."""
        self.stopping.set()
        self.wake.set()
        if self.proc is not None:
            self.proc.kill()
        self.thread.join(10)

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                batch = self.store.take(self.batch)
                if not batch:
                    self.wake.wait(1.0)
                    self.wake.clear()
                    continue
                self._run(batch)
            except Exception as e:  # noqa: BLE001 - the dispatcher must go on
                logs.log(log, logging.ERROR, "dispatcher error", error=type(e).__name__)
                time.sleep(1)

    def _gate(self, ids: list[str]) -> tuple[str, Any]:
        if self.proc is None or not self.proc.proc.is_alive():
            self.proc = GateProcess()
        return self.proc.run(self.paths, ids, self.jobs, self.redact)

    def _run(self, batch: list[Upload]) -> None:
        t0 = time.monotonic()
        kind, got = self._gate([u.id for u in batch])
        if self.stopping.is_set():
            return  # abandoned: recovered at the next start
        if kind == "died":
            self.proc = None
        if kind != "ok" and len(batch) > 1:  # find the upload the gate cannot run on
            self.store.requeue(u.id for u in batch[1:])
            batch = batch[:1]
            kind, got = self._gate([batch[0].id])
        if kind == "ok":
            self.store.finish(got)
            for u in batch:
                logs.log(log, logging.INFO, "upload done", id=u.id, submitter=u.submitter,
                         claims=got[u.id]["claims"], accepted=got[u.id]["accepted"],
                         rejected=got[u.id]["rejected"])
                if self.on_done is not None:
                    self.on_done(u, got[u.id])
        else:
            u = batch[0]
            if kind == "died":
                self.proc = None
            if kind == "died" and u.attempts < self.MAX_ATTEMPTS:
                self.store.requeue([u.id])
            else:
                self.store.finish({}, {u.id: str(got)})
                logs.log(log, logging.ERROR, "upload failed", id=u.id, submitter=u.submitter)
                if self.on_failed is not None:
                    self.on_failed(u)
        if self.on_batch is not None:
            self.on_batch(len(batch), time.monotonic() - t0)
