"""SQLite store of earlier runs for the cross-claim edits (option ``history=PATH``).

* created on first use, with a schema version (``PRAGMA user_version``) and
  numbered migrations applied inside an IMMEDIATE transaction;
* WAL journal, a busy timeout and one transaction per recorded claim, so two
  runs against one store at the same time neither corrupt nor block it;
* a claim is keyed by (ISA06 sender, ISA13, GS06, ST02, CLM01): recording the
  same file again is a no-op (``INSERT OR IGNORE``).  Readers never hide rows of
  earlier runs (not even those of "the same interchange": an ISA13 used again is
  S1-ENV-015's, and its claims still meet the history); only the rows this store
  object wrote itself outside a run (its *session*, see :meth:`HistoryStore.record`)
  are left out of :meth:`~HistoryStore.events_for` / :meth:`~HistoryStore.stays_for`
  / :meth:`~HistoryStore.has_interchange`, since the run's own state has them;
* no member id is stored: the patient column holds HMAC-SHA256 of the patient
  key under a random secret made on first use and kept in the ``meta`` table
  (schema 2 hashes the ids of a schema-1 store); callers pass the plain key
  and the store hashes it at its boundary (:meth:`HistoryStore.record`,
  :meth:`~HistoryStore.events_for`, :meth:`~HistoryStore.stays_for`);
* runs (migration 3): a writer that calls :meth:`HistoryStore.begin_run`
  records its claims as *pending* under that run's id; readers
  (:meth:`~HistoryStore.events_for`, :meth:`~HistoryStore.stays_for`,
  :meth:`~HistoryStore.count`, :meth:`~HistoryStore.has_interchange`) see only
  rows of committed runs (and rows recorded outside any run, which are
  committed at once), until :meth:`~HistoryStore.commit_run` commits them in one
  transaction (the gate does so once every output of the run is in place).  A
  run that failed is voided (:meth:`~HistoryStore.void_run`: its rows are
  deleted); a run whose process died (killed) is voided by the next store
  opened on the same host;
* one run at a time (issue 14 item 2): :meth:`HistoryStore.begin_run` takes an
  exclusive lock (``flock``) on the file ``STORE.lock`` beside the database and
  holds it until the run is committed or voided (or the store closed, or the
  process dies: the system releases it), so the cross-claim checks of a run and
  its commit are never interleaved with another run's: the second run waits,
  then sees the first's claims;
* private modes (issue 14 item 7): a new store is created 0600, and a store, its
  ``-wal`` / ``-shm`` / ``-journal`` files and the lock file owned by this user
  are set to 0600 when opened, whatever the umask.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import json
import os
import secrets
import socket
import sqlite3
import stat
import time
from pathlib import Path
from typing import Callable, Iterable, NamedTuple, TypeVar, Union

import attrs

try:  # POSIX; elsewhere runs are not locked against each other
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

T = TypeVar("T")
PRIVATE = 0o600  # the mode of the store and of every file beside it
LOCK_SUFFIX = ".lock"  # STORE.lock: the run lock (begin_run .. commit_run / void_run)
SIDE_FILES = ("-wal", "-shm", "-journal", LOCK_SUFFIX)

SCHEMA_VERSION = 3
KEY_NAME = "patient_hmac_key"  # the meta row holding the secret of the patient hashes


def _hash_patients(cur: sqlite3.Cursor) -> None:
    """Schema 2: make the store's secret and replace each stored patient key
    (payer, member id, ...) by its keyed hash."""
    key = _secret(cur)
    for table in ("claims", "lines"):
        rows = cur.execute(f"SELECT DISTINCT patient FROM {table}").fetchall()
        cur.executemany(f"UPDATE {table} SET patient = ? WHERE patient = ?",
                        [(_hmac(key, p), p) for (p,) in rows])


# a migration step: SQL, or a function of the migrating cursor
Step = Union[str, Callable[[sqlite3.Cursor], None]]

MIGRATIONS: dict[int, list[Step]] = {
    1: [
        """CREATE TABLE IF NOT EXISTS claims (
            sender TEXT NOT NULL, isa13 TEXT NOT NULL, gs06 TEXT NOT NULL, st02 TEXT NOT NULL,
            clm01 TEXT NOT NULL, patient TEXT NOT NULL, kind TEXT, bill_type TEXT,
            stay_from TEXT, stay_to TEXT, ipf INTEGER NOT NULL DEFAULT 0,
            php INTEGER NOT NULL DEFAULT 0, verdict TEXT, file TEXT, recorded_at TEXT,
            PRIMARY KEY (sender, isa13, gs06, st02, clm01))""",
        """CREATE TABLE IF NOT EXISTS lines (
            sender TEXT NOT NULL, isa13 TEXT NOT NULL, gs06 TEXT NOT NULL, st02 TEXT NOT NULL,
            clm01 TEXT NOT NULL, seq INTEGER NOT NULL, patient TEXT NOT NULL, code TEXT,
            revenue TEXT, modifiers TEXT, date TEXT, date_end TEXT, units REAL, npi TEXT,
            php INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (sender, isa13, gs06, st02, clm01, seq))""",
        "CREATE INDEX IF NOT EXISTS lines_patient ON lines (patient, date)",
        "CREATE INDEX IF NOT EXISTS claims_patient ON claims (patient)",
    ],
    2: [
        "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        _hash_patients,
    ],
    # runs: rows recorded by a run are visible once the run is committed;
    # run NULL: recorded outside a run (and every row of schema 1 and 2), committed
    3: [
        """CREATE TABLE IF NOT EXISTS runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT, started TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'committed')),
            pid INTEGER, host TEXT, proc_start TEXT, committed_at TEXT)""",
        "ALTER TABLE claims ADD COLUMN run INTEGER",
        "ALTER TABLE lines ADD COLUMN run INTEGER",
        "CREATE INDEX IF NOT EXISTS claims_run ON claims (run)",
        "CREATE INDEX IF NOT EXISTS lines_run ON lines (run)",
    ],
}

# a claim row is visible when recorded outside a run or by a committed run
_VISIBLE = ("({t}.run IS NULL OR EXISTS (SELECT 1 FROM runs r WHERE r.id = {t}.run"
            " AND r.state = 'committed'))")



def _secret(cur: sqlite3.Cursor) -> bytes:
    """The store's secret for patient hashes, made (32 random bytes) if missing."""
    cur.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (KEY_NAME, secrets.token_hex(32)))
    return bytes.fromhex(cur.execute("SELECT value FROM meta WHERE name = ?", (KEY_NAME,)).fetchone()[0])


def _hmac(key: bytes, patient: str) -> str:
    return hmac.new(key, patient.encode("utf-8"), hashlib.sha256).hexdigest()


def _own_file(fd: int) -> bool:
    """Whether ``fd`` is a regular file of this user (then it is made 0600)."""
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
        return False
    if stat.S_IMODE(st.st_mode) != PRIVATE:
        os.fchmod(fd, PRIVATE)
    return True


def make_private(path: str) -> None:
    """Set ``path`` to 0600 when it is a regular file this user owns (a symlink
    is not followed; a missing file or another user's is left alone)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return
    try:
        _own_file(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _create_private(path: str) -> None:
    """Create an empty store file 0600 (an empty file is an empty SQLite database),
    unless something is there already; errors are left to SQLite to say."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE)
    except OSError:
        return
    try:
        os.fchmod(fd, PRIVATE)  # whatever the umask
    except OSError:
        pass
    finally:
        os.close(fd)


def _holder(fd: int) -> int | None:
    """The pid the run lock's holder wrote in the lock file, if any."""
    try:
        return int(os.pread(fd, 32, 0).decode("ascii").strip() or "x")
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def _proc_start(pid: int) -> str:
    """What tells this process from a later one with the same pid: the boot id
    and the process's start time in clock ticks (Linux ``/proc``), else ''."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            boot = f.read().strip()
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
        # the command name (field 2) may hold spaces and parentheses: count after its ')'
        return f"{boot}:{stat[stat.rindex(')') + 2:].split()[19]}"
    except (OSError, ValueError, IndexError):
        return ""


def _alive(pid: int, proc_start: str | None) -> bool:
    """Whether the process that started a run (on this host) still runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process: it exists
        pass
    if proc_start:
        now = _proc_start(pid)
        if now and now != proc_start:  # the pid was reused, or the machine rebooted
            return False
        if not now and proc_start.split(":")[0] != _proc_start(os.getpid()).split(":")[0]:
            return False  # another boot
    return True


class Event(NamedTuple):
    """One service line as the cross-claim edits see it (a named tuple: the run
    makes one per line and keeps many, so it is cheap to build and small)."""

    key: tuple[str, ...]  # (sender, isa13, gs06, st02, clm01)
    claim_id: str
    kind: str
    bill_type: str
    code: str
    revenue: str
    modifiers: tuple[str, ...]
    date: _dt.date | None
    date_end: _dt.date | None
    units: float
    npi: str
    php: bool
    seq: int = 0  # line ordinal in its claim
    uid: int = 0  # the claim's number in this run (arrival order, from 1); 0: from the history store
    freq: str = ""  # CLM05-3 claim frequency ("7" replacement, "8" void)

    @property
    def source(self) -> tuple[str, ...]:
        return self.key[:2]


@attrs.define(slots=True, frozen=True)
class Stay:
    """An inpatient (IPF) claim's admission-to-discharge span."""

    key: tuple[str, ...]
    claim_id: str
    bill_type: str
    start: _dt.date | None
    end: _dt.date | None
    uid: int = 0  # the claim's number in this run; 0: from the history store

    @property
    def source(self) -> tuple[str, ...]:
        return self.key[:2]


def _d(v: _dt.date | None) -> str | None:
    return v.isoformat() if v else None


def _pd(v: str | None) -> _dt.date | None:
    return _dt.date.fromisoformat(v) if v else None


class HistoryStore:
    def __init__(self, path: str | Path, timeout: float = 30.0):
        self.path = str(path)
        self.run: int | None = None  # the run begun on this store (begin_run), recorded under
        # the committed run that claims recorded here outside a run belong to (record)
        self.session: int | None = None
        self._lock_fd: int | None = None  # STORE.lock, held from begin_run to commit/void
        # the database file (symlinks resolved: one lock file for every name of a store)
        self._file = os.path.realpath(self.path) if self.path and self.path != ":memory:" \
            else None
        if self._file is not None:
            _create_private(self._file)
        self.conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None,
                                    check_same_thread=False)
        self.conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        self._retry(lambda: self.conn.execute("PRAGMA journal_mode=WAL"))
        if self._file is not None:
            for p in (self._file, *(self._file + x for x in SIDE_FILES)):
                make_private(p)
        self.conn.execute("PRAGMA synchronous=NORMAL")
        # deleted and overwritten rows (the ids schema 2 replaces) are zeroed, not left in free pages
        self.conn.execute("PRAGMA secure_delete=ON")
        self._migrate()
        self._key = bytes.fromhex(self.conn.execute(
            "SELECT value FROM meta WHERE name = ?", (KEY_NAME,)).fetchone()[0])
        self.void_stale()

    def _retry(self, fn: Callable[[], T], tries: int = 50) -> T:
        for i in range(tries):
            try:
                return fn()
            except sqlite3.OperationalError as e:  # pragma: no cover - contention
                if "locked" not in str(e) and "busy" not in str(e) or i == tries - 1:
                    raise
                time.sleep(0.05 * (i + 1))
        raise ValueError(f"tries must be at least 1, not {tries}")

    def _migrate(self) -> None:
        def run(cur: sqlite3.Cursor) -> bool:
            v: int = cur.execute("PRAGMA user_version").fetchone()[0]
            if v > SCHEMA_VERSION:
                raise RuntimeError(f"history store {self.path} has schema {v}, newer than {SCHEMA_VERSION}")
            for n in range(v + 1, SCHEMA_VERSION + 1):
                for step in MIGRATIONS[n]:
                    if isinstance(step, str):
                        cur.execute(step)
                    else:
                        step(cur)
                cur.execute(f"PRAGMA user_version = {n}")
            return 0 < v < 2  # a store that held plain member ids
        if self._tx(run):
            # the plain ids are gone from the tables; copy the file anew and empty
            # the journal so that no old page keeps them
            self._retry(lambda: self.conn.execute("VACUUM"))
            self._retry(lambda: self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)"))

    @property
    def version(self) -> int:
        v: int = self.conn.execute("PRAGMA user_version").fetchone()[0]
        return v

    def patient_hash(self, patient: str) -> str:
        """What the store keeps for the patient key ``patient``: its keyed hash."""
        return _hmac(self._key, patient)

    # -- reading ---------------------------------------------------------
    def _others(self, t: str) -> tuple[str, tuple[int, ...]]:
        """SQL (and its parameter) leaving out the rows of this store's session:
        the claims its own run state recorded outside a run, which it has already."""
        if self.session is None:
            return "", ()
        return f" AND {t}.run IS NOT ?", (self.session,)

    def new_session(self) -> None:
        """Claims recorded from now on outside a run belong to a new session (a
        new run state): those of the session before are history to it."""
        self.session = None

    def events_for(self, patient: str) -> list[Event]:
        mine, arg = self._others("c")
        rows = self.conn.execute(
            "SELECT l.sender, l.isa13, l.gs06, l.st02, l.clm01, l.code, l.revenue, l.modifiers, l.date,"
            " l.date_end, l.units, l.npi, l.php, c.kind, c.bill_type, l.seq FROM lines l JOIN claims c"
            " USING (sender, isa13, gs06, st02, clm01) WHERE l.patient = ? AND " + _VISIBLE.format(t="c")
            + mine + " ORDER BY l.date, l.rowid",
            (self.patient_hash(patient), *arg)).fetchall()
        return [Event(key=tuple(r[:5]), claim_id=r[4], kind=r[13] or "", bill_type=r[14] or "",
                      code=r[5] or "", revenue=r[6] or "", modifiers=tuple(json.loads(r[7] or "[]")),
                      date=_pd(r[8]), date_end=_pd(r[9]), units=r[10] or 0.0, npi=r[11] or "",
                      php=bool(r[12]), seq=r[15]) for r in rows]

    def stays_for(self, patient: str) -> list[Stay]:
        mine, arg = self._others("claims")
        rows = self.conn.execute(
            "SELECT sender, isa13, gs06, st02, clm01, bill_type, stay_from, stay_to FROM claims"
            " WHERE patient = ? AND ipf = 1 AND " + _VISIBLE.format(t="claims") + mine,
            (self.patient_hash(patient), *arg)).fetchall()
        return [Stay(key=tuple(r[:5]), claim_id=r[4], bill_type=r[5] or "", start=_pd(r[6]),
                     end=_pd(r[7])) for r in rows]

    def has_interchange(self, sender: str, isa13: str) -> bool:
        """Whether claims of interchange (ISA06 ``sender``, ``isa13``) were recorded
        (by committed runs; not by this store's session)."""
        mine, arg = self._others("claims")
        return self.conn.execute("SELECT 1 FROM claims WHERE sender = ? AND isa13 = ? AND "
                                 + _VISIBLE.format(t="claims") + mine + " LIMIT 1",
                                 (sender, isa13, *arg)).fetchone() is not None

    def count(self) -> int:
        """How many claims the store holds (of committed runs)."""
        n: int = self.conn.execute("SELECT count(*) FROM claims WHERE " + _VISIBLE.format(t="claims")
                                   ).fetchone()[0]
        return n

    # -- runs --------------------------------------------------------------
    def _tx(self, fn: Callable[[sqlite3.Cursor], T]) -> T:
        """``fn(cursor)`` in one IMMEDIATE transaction (retried while the store is busy)."""
        def run() -> T:
            cur = self.conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                got = fn(cur)
                cur.execute("COMMIT")
                return got
            except BaseException:
                # (a SIGTERM can land just after COMMIT did its work: then nothing is open)
                if self.conn.in_transaction:
                    self.conn.rollback()
                raise
        return self._retry(run)

    @property
    def lock_path(self) -> str | None:
        """The run lock's file (``STORE.lock`` beside the database), None in memory."""
        return None if self._file is None else self._file + LOCK_SUFFIX

    def _lock(self, on_wait: Callable[[int | None], object] | None) -> None:
        """Take the run lock (see the module doc), waiting for another run to end
        (``on_wait(pid of the holder or None)`` is called once first)."""
        path = self.lock_path
        if fcntl is None or path is None or self._lock_fd is not None:
            return
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, PRIVATE)
        try:
            _own_file(fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if on_wait is not None:
                    on_wait(_holder(fd))
                fcntl.flock(fd, fcntl.LOCK_EX)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        except BaseException:
            os.close(fd)
            raise
        self._lock_fd = fd

    def _unlock(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)  # releases the lock

    def begin_run(self, on_wait: Callable[[int | None], object] | None = None) -> int:
        """Start a run: the claims recorded from now on (:meth:`record`) are
        pending under its id, seen by no reader until :meth:`commit_run`.

        Takes the run lock first (one run at a time per store: another run's
        checks and commit are over before this one reads the history;
        ``on_wait(pid)`` is called once if it has to wait), held until the run
        is committed or voided.  Voids the pending runs of processes of this host
        that died.  OSError if the lock file cannot be opened."""
        self._lock(on_wait)
        try:
            self.void_stale()
            pid = os.getpid()
            started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")

            def run(cur: sqlite3.Cursor) -> int:
                cur.execute("INSERT INTO runs (started, state, pid, host, proc_start) VALUES (?,?,?,?,?)",
                            (started, "pending", pid, socket.gethostname(), _proc_start(pid)))
                rid = cur.lastrowid
                assert rid is not None
                return rid
            self.run = self._tx(run)
        except BaseException:
            self._unlock()
            raise
        return self.run

    def commit_run(self, run: int | None = None) -> None:
        """Make the rows of ``run`` (default: the run begun here) visible, in one
        transaction, synced to disk before it returns."""
        run = self.run if run is None else run
        if run is None:
            return
        at = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")

        def commit(cur: sqlite3.Cursor) -> int:
            cur.execute("UPDATE runs SET state = 'committed', committed_at = ? WHERE id = ?"
                        " AND state = 'pending'", (at, run))
            return cur.rowcount
        self.conn.execute("PRAGMA synchronous=FULL")  # this commit survives a power cut
        try:
            if self._tx(commit) != 1:
                raise RuntimeError(f"history store {self.path}: run {run} is not pending "
                                   "(voided by another process?)")
        finally:
            self.conn.execute("PRAGMA synchronous=NORMAL")
        if run == self.run:
            self.run = None
            self._unlock()

    def void_run(self, run: int | None = None) -> None:
        """Delete the rows of a run that will not be committed (default: the run begun here)."""
        run = self.run if run is None else run
        if run is None:
            return
        try:
            # a failure or SIGTERM can land inside a write (even between BEGIN and the try
            # that would roll it back): end that transaction first, or BEGIN IMMEDIATE below
            # fails and the run's rows stay behind (nothing of this run is to be kept anyway)
            if self.conn.in_transaction:
                self.conn.rollback()
            self._tx(lambda cur: self._void(cur, [run]))
        finally:
            if run == self.run:
                self.run = None
                self._unlock()

    @staticmethod
    def _void(cur: sqlite3.Cursor, runs: list[int]) -> None:
        for r in runs:
            cur.execute("DELETE FROM lines WHERE run = ?", (r,))
            cur.execute("DELETE FROM claims WHERE run = ?", (r,))
            cur.execute("DELETE FROM runs WHERE id = ? AND state = 'pending'", (r,))

    def pending_runs(self) -> list[int]:
        """The ids of runs begun and neither committed nor voided."""
        return [r for (r,) in self.conn.execute("SELECT id FROM runs WHERE state = 'pending' ORDER BY id")]

    def void_stale(self) -> list[int]:
        """Void the pending runs whose process is gone (same host only: a run of
        another host stays pending, invisible); returns their ids."""
        host = socket.gethostname()
        me = self.run
        rows = self.conn.execute("SELECT id, pid, host, proc_start FROM runs WHERE state = 'pending'"
                                 ).fetchall()
        dead = [r for r, pid, h, ps in rows
                if r != me and h == host and pid is not None and not _alive(pid, ps)]
        if dead:
            def void(cur: sqlite3.Cursor) -> None:
                # only runs still pending (another process may have voided them meanwhile)
                still = {r for (r,) in cur.execute("SELECT id FROM runs WHERE state = 'pending'")}
                self._void(cur, [r for r in dead if r in still])
            self._tx(void)
        return dead

    # -- writing ---------------------------------------------------------
    def record(self, patient: str, key: tuple[str, ...], *, kind: str, bill_type: str, stay: Stay | None,
               php: bool, verdict: str, file: str | None, events: Iterable[Event], freq: str = "",
               run: int | None = None) -> bool:
        """Record one claim and its lines in one transaction; False if already there.

        The rows belong to ``run`` (default: the run begun on this store, see
        :meth:`begin_run`): pending until it is committed.  Outside a run they
        are committed at once, under this store's session (a committed run made
        on first use): other stores see them, this one's readers leave them out.

        A replacement (``freq`` "7") first removes the claims it replaces (same
        sender, patient and CLM01, other keys) with their lines; a void ("8")
        removes them and records no lines of its own: so units, course counts and
        same-day pairs count the claim once."""
        evs = list(events) if freq != "8" else []
        patient = self.patient_hash(patient)
        rid = self.run if run is None else run
        if rid is None:
            rid = self._session()

        def write(cur: sqlite3.Cursor) -> bool:
            if freq in ("7", "8"):
                for table in ("lines", "claims"):
                    cur.execute(f"DELETE FROM {table} WHERE sender = ? AND patient = ? AND clm01 = ?"
                                " AND NOT (isa13 = ? AND gs06 = ? AND st02 = ?)",
                                (key[0], patient, key[4], key[1], key[2], key[3]))
            cur.execute(
                "INSERT OR IGNORE INTO claims VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (*key, patient, kind, bill_type, _d(stay.start) if stay else None,
                 _d(stay.end) if stay else None, 1 if stay else 0, 1 if php else 0, verdict, file,
                 _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), rid))
            new = cur.rowcount == 1
            if new:
                cur.executemany(
                    "INSERT OR IGNORE INTO lines VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    [(*key, e.seq, patient, e.code, e.revenue, json.dumps(list(e.modifiers)),
                      _d(e.date), _d(e.date_end), e.units, e.npi, 1 if e.php else 0, rid) for e in evs])
            return new
        return self._tx(write)

    def _session(self) -> int:
        """This store's session run (committed; made on first use)."""
        if self.session is None:
            at = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
            pid = os.getpid()

            def make(cur: sqlite3.Cursor) -> int:
                cur.execute("INSERT INTO runs (started, state, pid, host, proc_start, committed_at)"
                            " VALUES (?,?,?,?,?,?)",
                            (at, "committed", pid, socket.gethostname(), _proc_start(pid), at))
                rid = cur.lastrowid
                assert rid is not None
                return rid
            self.session = self._tx(make)
        return self.session

    def close(self) -> None:
        """Close the database; a run not committed stays pending (voided by the
        next store opened) and its lock is released."""
        self._unlock()
        self.conn.close()
