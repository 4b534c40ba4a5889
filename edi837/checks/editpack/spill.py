"""Where the run state puts what does not stay in memory: :class:`Spill`, a
temporary SQLite database of the events of patients pushed out of the LRU
cache, and :class:`RunKeys`, the claim keys committed in the run."""

from __future__ import annotations

import json
import pickle
import sqlite3

from .history import Event, Stay


class Spill:
    """The run's own events of patients evicted from RunState's cache: a private
    temporary SQLite database (``sqlite3.connect("")``: on disk once it outgrows
    its page cache, deleted when closed), opened on first use.

    One row per eviction: the patient id and the pickled field tuples of the
    events and stays not yet saved, read back in rowid (arrival) order.  Writes
    go into an open transaction committed every ``BATCH`` rows; reads on the same
    connection see them before the commit.  Also holds the run's claim keys when
    a history store needs them (``keys``)."""

    BATCH = 500

    def __init__(self) -> None:
        self.conn: sqlite3.Connection | None = None
        self.n = 0

    def _db(self) -> sqlite3.Connection:
        if self.conn is None:
            c = self.conn = sqlite3.connect("", isolation_level=None, check_same_thread=False)
            c.execute("PRAGMA journal_mode=OFF")
            c.execute("PRAGMA synchronous=OFF")
            c.execute("PRAGMA cache_size=-4096")
            c.execute("CREATE TABLE ev (patient TEXT NOT NULL, data BLOB NOT NULL)")
            c.execute("CREATE INDEX ev_patient ON ev (patient)")
            c.execute("CREATE TABLE keys (k TEXT PRIMARY KEY) WITHOUT ROWID")
            c.execute("BEGIN")
        return self.conn

    def _wrote(self, n: int) -> None:
        self.n += n
        if self.n >= self.BATCH:
            conn = self._db()  # open: every write opened it
            conn.execute("COMMIT")
            conn.execute("BEGIN")
            self.n = 0

    def save(self, pid: str, evs: list[Event], stays: list[Stay]) -> None:
        data = pickle.dumps(([tuple(e) for e in evs],
                             [(s.key, s.claim_id, s.bill_type, s.start, s.end) for s in stays]),
                            protocol=pickle.HIGHEST_PROTOCOL)
        self._db().execute("INSERT INTO ev VALUES (?, ?)", (pid, data))
        self._wrote(1)

    def load(self, pid: str) -> tuple[list[Event], list[Stay]]:
        evs: list[Event] = []
        stays: list[Stay] = []
        if self.conn is None:
            return evs, stays
        for (data,) in self.conn.execute("SELECT data FROM ev WHERE patient = ? ORDER BY rowid", (pid,)):
            es, ss = pickle.loads(data)
            evs.extend(Event(*t) for t in es)
            stays.extend(Stay(*t) for t in ss)
        return evs, stays

    @staticmethod
    def _k(key: tuple[str, ...]) -> str:
        return json.dumps(list(key))

    def add_key(self, key: tuple[str, ...]) -> None:
        self._db().execute("INSERT OR IGNORE INTO keys VALUES (?)", (self._k(key),))
        self._wrote(1)

    def has_key(self, key: tuple[str, ...]) -> bool:
        if self.conn is None:
            return False
        return self.conn.execute("SELECT 1 FROM keys WHERE k = ?", (self._k(key),)).fetchone() is not None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class RunKeys:
    """The set of claim keys committed in this run (only kept with a history
    store, to filter its rows): the newest in memory, the rest in the spill."""

    RECENT = 4096

    def __init__(self, spill: Spill):
        self.spill = spill
        self.recent: set[tuple[str, ...]] = set()

    def add(self, key: tuple[str, ...]) -> None:
        if key in self.recent:
            return
        if len(self.recent) >= self.RECENT:
            for k in self.recent:
                self.spill.add_key(k)
            self.recent.clear()
        self.recent.add(key)

    def __contains__(self, key: object) -> bool:
        return key in self.recent or (isinstance(key, tuple) and self.spill.has_key(key))
