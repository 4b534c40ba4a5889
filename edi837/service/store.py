"""The service's own state: DATA/service.sqlite (WAL), one row per upload.

An upload is ``queued`` when its body is on disk (synced) and the row is
committed, which happens before the 202 answer; ``running`` while a gate run
has it; ``done`` once the gate's outputs are in place and its history run is
committed; ``failed`` when the gate could not run on it.  A restart puts every
``running`` row back to ``queued`` unless its outputs are final
(:func:`edi837.service.worker.recover`).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import sqlite3
import threading
from typing import Any, Iterable, Iterator

import attrs

SCHEMA = """
CREATE TABLE IF NOT EXISTS uploads (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    submitter TEXT NOT NULL,
    received TEXT NOT NULL,
    status TEXT NOT NULL,
    size INTEGER NOT NULL,
    filename TEXT,
    interchanges TEXT NOT NULL,
    started TEXT,
    finished TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    summary TEXT,
    error TEXT
);
CREATE INDEX IF NOT EXISTS uploads_status ON uploads (status, seq);
CREATE INDEX IF NOT EXISTS uploads_submitter ON uploads (submitter, received);
"""

STATUSES = ("queued", "running", "done", "failed")


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


@attrs.frozen
class Upload:
    id: str
    submitter: str
    received: str
    status: str
    size: int
    filename: str | None
    interchanges: list[tuple[str, str]]
    started: str | None
    finished: str | None
    attempts: int
    summary: dict[str, Any] | None
    error: str | None

    @classmethod
    def of(cls, row: sqlite3.Row) -> Upload:
        return cls(id=row["id"], submitter=row["submitter"], received=row["received"],
                   status=row["status"], size=row["size"], filename=row["filename"],
                   interchanges=[(x[0], x[1]) for x in json.loads(row["interchanges"])],
                   started=row["started"], finished=row["finished"], attempts=row["attempts"],
                   summary=json.loads(row["summary"]) if row["summary"] else None, error=row["error"])


class Store:
    """Thread-safe access to service.sqlite (one connection, one lock)."""

    def __init__(self, path: str):
        self.path = path
        self.lock = threading.Lock()
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")  # a 202 is never answered for a row a crash loses
        self.conn.executescript(SCHEMA)

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    @contextlib.contextmanager
    def _immediate(self) -> Iterator[None]:
        """One IMMEDIATE transaction (the caller holds ``self.lock``): committed when the block
        ends, rolled back when it raises, if still open (an interruption can land just after
        COMMIT did its work; a second ROLLBACK would then replace the real error)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.rollback()
            raise

    def add(self, id: str, submitter: str, size: int, filename: str | None,
            interchanges: list[tuple[str, str]], max_queued: int) -> bool:
        """Insert a queued upload, unless ``max_queued`` uploads already wait
        (then False: the queue is full)."""
        with self.lock, self._immediate():
            waiting = self.conn.execute("SELECT count(*) FROM uploads WHERE status = 'queued'").fetchone()[0]
            if waiting >= max_queued:
                return False  # (nothing written: the commit ends the read)
            self.conn.execute(
                "INSERT INTO uploads (id, submitter, received, status, size, filename, interchanges)"
                " VALUES (?,?,?,?,?,?,?)",
                (id, submitter, now_iso(), "queued", size, filename, json.dumps(interchanges)))
        return True

    def get(self, id: str) -> Upload | None:
        with self.lock:
            row = self.conn.execute("SELECT * FROM uploads WHERE id = ?", (id,)).fetchone()
        return Upload.of(row) if row is not None else None

    def count(self, status: str) -> int:
        with self.lock:
            n: int = self.conn.execute("SELECT count(*) FROM uploads WHERE status = ?", (status,)).fetchone()[0]
        return n

    def of_submitter(self, submitter: str, since: str | None = None, limit: int = 100) -> list[Upload]:
        with self.lock:
            rows = self.conn.execute(
                "SELECT * FROM uploads WHERE submitter = ? AND received >= ? ORDER BY seq DESC LIMIT ?",
                (submitter, since or "", limit)).fetchall()
        return [Upload.of(r) for r in rows]

    def with_status(self, status: str, limit: int = -1) -> list[Upload]:
        with self.lock:
            rows = self.conn.execute("SELECT * FROM uploads WHERE status = ? ORDER BY seq LIMIT ?",
                                     (status, limit)).fetchall()
        return [Upload.of(r) for r in rows]

    def take(self, limit: int) -> list[Upload]:
        """Mark the ``limit`` oldest queued uploads running and return them."""
        with self.lock, self._immediate():
            rows = self.conn.execute("SELECT * FROM uploads WHERE status = 'queued' ORDER BY seq LIMIT ?",
                                     (limit,)).fetchall()
            at = now_iso()
            self.conn.executemany("UPDATE uploads SET status = 'running', started = ?,"
                                  " attempts = attempts + 1 WHERE id = ?", [(at, r["id"]) for r in rows])
        return [attrs.evolve(Upload.of(r), status="running", started=at, attempts=r["attempts"] + 1)
                for r in rows]

    def finish(self, done: dict[str, dict[str, Any]], failed: dict[str, str] | None = None) -> None:
        """Uploads done (id -> summary) and failed (id -> reason), in one transaction."""
        at = now_iso()
        with self.lock, self._immediate():
            self.conn.executemany("UPDATE uploads SET status = 'done', finished = ?, summary = ?, error = NULL"
                                  " WHERE id = ?", [(at, json.dumps(s), i) for i, s in done.items()])
            self.conn.executemany("UPDATE uploads SET status = 'failed', finished = ?, error = ?"
                                  " WHERE id = ?", [(at, e, i) for i, e in (failed or {}).items()])

    def requeue(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        with self.lock, self._immediate():
            self.conn.executemany("UPDATE uploads SET status = 'queued', started = NULL WHERE id = ?",
                                  [(i,) for i in ids])
