"""Where the run state puts what does not stay in memory: :class:`Spill`, a
temporary SQLite database of the events of patients pushed out of the LRU
cache and of the claims waiting for their verdict to be recorded in the history
store."""

from __future__ import annotations

import datetime as _dt
import marshal
import pickle
import sqlite3
from typing import Any

from .history import Event, Stay


class Spill:
    """The run's own events of patients evicted from RunState's cache: a private
    temporary SQLite database (``sqlite3.connect("")``: on disk once it outgrows
    its page cache, deleted when closed), opened on first use.

    One row per eviction: the patient id and the pickled field tuples of the
    events and stays not yet saved, read back in rowid (arrival) order.  Writes
    go into an open transaction committed every ``BATCH`` rows; reads on the same
    connection see them before the commit.  Also holds the run's claim keys when
    a history store will record them (``pend``)."""

    BATCH = 500
    BITS = 1 << 20  # the filter of patients saved (128 KiB)

    def __init__(self) -> None:
        self.conn: sqlite3.Connection | None = None
        self.n = 0
        # a Bloom filter (two bits per patient) of the patients saved: most patients of a
        # run are new when their first claim comes, and are then not looked up in SQLite
        self.saved = bytearray(self.BITS // 8)

    def _bits(self, pid: str) -> tuple[int, int]:
        h = hash(pid)
        m = self.BITS - 1
        return h & m, (h >> 20) & m

    def maybe_saved(self, pid: str) -> bool:
        """False when nothing of patient ``pid`` was saved (True: perhaps)."""
        a, b = self._bits(pid)
        bits = self.saved
        return bool(bits[a >> 3] & (1 << (a & 7)) and bits[b >> 3] & (1 << (b & 7)))

    def _db(self) -> sqlite3.Connection:
        if self.conn is None:
            c = self.conn = sqlite3.connect("", isolation_level=None, check_same_thread=False)
            c.execute("PRAGMA journal_mode=OFF")
            c.execute("PRAGMA synchronous=OFF")
            c.execute("PRAGMA cache_size=-4096")
            c.execute("CREATE TABLE ev (patient TEXT NOT NULL, data BLOB NOT NULL)")
            c.execute("CREATE INDEX ev_patient ON ev (patient)")
            c.execute("CREATE TABLE pend (uid INTEGER PRIMARY KEY, data BLOB NOT NULL)")
            c.execute("BEGIN")
        return self.conn

    def _wrote(self, n: int) -> None:
        self.n += n
        if self.n >= self.BATCH:
            conn = self._db()  # open: every write opened it
            conn.execute("COMMIT")
            conn.execute("BEGIN")
            self.n = 0

    def save(self, pid: str, evs: list[Event], stays: list[Stay], claims: list[Any]) -> None:
        # marshal, with dates as ordinals (0: none): about twice as fast as pickling the
        # date objects, and every field is a str, int, float, bool, None or a tuple of them
        data = marshal.dumps(([(*e[:7], e[7].toordinal() if e[7] is not None else 0,
                                e[8].toordinal() if e[8] is not None else 0, *e[9:]) for e in evs],
                              [(s.key, s.claim_id, s.bill_type, s.start.toordinal() if s.start is not None else 0,
                                s.end.toordinal() if s.end is not None else 0, s.uid) for s in stays], claims))
        self._db().execute("INSERT INTO ev VALUES (?, ?)", (pid, data))
        self._wrote(1)
        bits = self.saved
        for i in self._bits(pid):
            bits[i >> 3] |= 1 << (i & 7)

    def load(self, pid: str) -> tuple[list[Event], list[Stay], list[Any]]:
        """The patient's saved events, stays and claim spans, in the order saved."""
        evs: list[Event] = []
        stays: list[Stay] = []
        claims: list[Any] = []
        if self.conn is None or not self.maybe_saved(pid):
            return evs, stays, claims
        day = _dt.date.fromordinal
        for (data,) in self.conn.execute("SELECT data FROM ev WHERE patient = ? ORDER BY rowid", (pid,)):
            es, ss, cs = marshal.loads(data)
            evs.extend(Event._make((*t[:7], day(t[7]) if t[7] else None, day(t[8]) if t[8] else None, *t[9:]))
                       for t in es)
            stays.extend(Stay(k, c, b, day(s) if s else None, day(e) if e else None, u) for k, c, b, s, e, u in ss)
            claims.extend(cs)
        return evs, stays, claims

    def put_pending(self, uid: int, rec: Any) -> None:
        """Keep what the history store records of claim ``uid`` until its verdict."""
        self._db().execute("INSERT OR REPLACE INTO pend VALUES (?, ?)",
                           (uid, pickle.dumps(rec, protocol=pickle.HIGHEST_PROTOCOL)))
        self._wrote(1)

    def pop_pending(self, uid: int) -> Any:
        if self.conn is None:
            return None
        row = self.conn.execute("SELECT data FROM pend WHERE uid = ?", (uid,)).fetchone()
        if row is None:
            return None
        self.conn.execute("DELETE FROM pend WHERE uid = ?", (uid,))
        self._wrote(1)
        return pickle.loads(row[0])

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
