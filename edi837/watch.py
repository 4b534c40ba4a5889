"""The gate's inbox mode: ``edi837 watch INBOX --out DIR`` (issue 15).

Each file that appears in INBOX (and each file already there at the start, in
name order) is gated once, by one :func:`edi837.gate.gate` call of its own,
then moved to ``INBOX/done/`` (the gate ran: its 999/277CA/TA1 say what was
accepted) or ``INBOX/failed/`` with ``NAME.reason.txt`` (the gate could not
run, or the file holds nothing it could acknowledge: not X12, unreadable).

A file is taken only when complete: temporary names are ignored (hidden
files, ``.part``, ``.tmp``, ...), and a file is taken once it was renamed
into INBOX or its size and modification time stayed the same for the settle
time.  Changes are seen with :mod:`watchdog` (inotify where it works, else
polling).

Exactly once, across restarts, through a journal in the out folder
(:data:`JOURNAL`, SQLite): a file is first given a row with the NAME of its
outputs (unique in DIR: ``claims.x12`` after an earlier ``claims.x12`` writes
``claims.2.*``), then renamed into ``INBOX/.edi837-watch/`` (:data:`WORK`)
under that NAME, hashed, gated, its verdict and destination noted, moved,
and its row closed.  A watch killed on the way resumes each unfinished row
at its next start (see :meth:`InboxWatch.recover` and docs/gate.md,
"Watching an inbox").

Log lines carry file names, output names, counts, verdicts and rule ids:
never patient data (:mod:`edi837.logs`).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import os
import signal
import sqlite3
import stat
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Iterator, NoReturn

import attrs
import click

from . import logs
from .checks.engine import RunOptions
from .gate import OUTPUT_SUFFIXES, FileGate, GateError, gate, plan_stems
from .outputs.atomic import atomic_write
from .outputs.outfolder import fsync_dir
from .progress import quiet_option

if TYPE_CHECKING:
    from watchdog.events import FileSystemEvent
    from watchdog.observers.api import BaseObserver

WORK = ".edi837-watch"  # in INBOX: the files being gated (hidden: never taken, never searched)
JOURNAL = ".edi837-watch.sqlite"  # in DIR: one row per file taken
DONE, FAILED = "done", "failed"
REASON = ".reason.txt"
RESCAN = 5.0  # seconds: the inbox is listed at least this often, should an event be lost
# names of files still being written by the usual tools (besides hidden names)
TEMP_SUFFIXES = (".part", ".tmp", ".temp", ".partial", ".filepart", ".crdownload", ".swp", "~")
log = logs.get("watch")


class WatchError(Exception):
    """The watch cannot run or go on (usage, a bad INBOX or DIR): exit code 2."""


def is_candidate(name: str) -> bool:
    """Whether a file named ``name`` in INBOX is one to gate: not hidden, not a
    temporary name, not one of the gate's own outputs."""
    low = name.casefold()
    return not (name.startswith(".") or low.endswith(TEMP_SUFFIXES)
                or low.endswith(tuple(s.casefold() for s in OUTPUT_SUFFIXES)))


def _split(name: str) -> tuple[str, str]:
    """(the gate's output NAME for a file ``name``, the rest of ``name``)."""
    stem = plan_stems([name])[0]
    return stem, name[len(stem):]


def numbered(name: str, k: int) -> str:
    """``name`` with ``.k`` after its stem (``claims.x12`` -> ``claims.2.x12``,
    ``claims.x12.gz`` -> ``claims.2.x12.gz``); ``name`` itself for k = 1."""
    if k == 1:
        return name
    stem, rest = _split(name)
    return f"{stem}.{k}{rest}"


def work_name(name: str, k: int) -> tuple[str, str]:
    """(the name a file ``name`` is gated under, the NAME of its outputs):
    ``numbered(name, k)``, with ``.dat`` added where the gate would not see
    the number in the stem (``CLAIMS`` -> ``CLAIMS.2.dat``, outputs
    ``CLAIMS.2.*``)."""
    stem = _split(name)[0] if k == 1 else f"{_split(name)[0]}.{k}"
    w = numbered(name, k)
    if _split(w)[0] != stem:
        w = f"{stem}.dat{_split(name)[1]}"
    return w, stem


def free_name(folder: str, name: str, companions: tuple[str, ...] = ()) -> str:
    """``numbered(name, k)`` for the first k with no file of that name (nor
    that name plus one of ``companions``) in ``folder``: never overwrite."""
    k = 1
    while True:
        cand = numbered(name, k)
        if not any(os.path.lexists(os.path.join(folder, cand + c)) for c in ("", *companions)):
            return cand
        k += 1


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _stamp() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")


# -- the journal --------------------------------------------------------------------------
@attrs.define(slots=True)
class Item:
    """A file taken from the inbox: one journal row.  ``state``: claimed (row
    written, the file about to be renamed into the work folder), gating,
    gated (verdict and destination known), done (moved)."""

    id: int
    inbox: str
    name: str  # its name in the inbox
    stem: str  # the NAME of its outputs in DIR
    work: str  # its path while gated
    state: str
    sha256: str | None = None
    verdict: str | None = None  # done / failed
    exit_code: int | None = None
    claims: int = 0
    accepted: int = 0
    rejected: int = 0
    why: str = ""  # short, no PHI: rule ids or the gate's message
    reason: str = ""  # the text of NAME.reason.txt (failed)
    dest: str | None = None  # its path in done/ or failed/
    started: str = ""
    finished: str | None = None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
  id INTEGER PRIMARY KEY,
  inbox TEXT NOT NULL,
  name TEXT NOT NULL,
  stem TEXT NOT NULL,
  stem_key TEXT NOT NULL UNIQUE,
  work TEXT NOT NULL,
  state TEXT NOT NULL,
  sha256 TEXT,
  verdict TEXT,
  exit_code INTEGER,
  claims INTEGER NOT NULL DEFAULT 0,
  accepted INTEGER NOT NULL DEFAULT 0,
  rejected INTEGER NOT NULL DEFAULT 0,
  why TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT '',
  dest TEXT,
  started TEXT NOT NULL,
  finished TEXT
);
CREATE INDEX IF NOT EXISTS files_sha ON files(sha256);
"""
_COLUMNS = [f.name for f in attrs.fields(Item)]


class Journal:
    """What the watches of an out folder took, in ``DIR/.edi837-watch.sqlite``:
    every change is committed (synchronous=FULL) before the step it records
    is taken, so a restart knows where each file was."""

    def __init__(self, path: str):
        self.path = path
        self.con = sqlite3.connect(path, timeout=60, isolation_level=None)
        try:
            self.con.execute("PRAGMA synchronous=FULL")
            self.con.executescript(_SCHEMA)
        except sqlite3.Error:
            self.con.close()
            raise

    def close(self) -> None:
        self.con.close()

    def _items(self, where: str, *args: Any) -> list[Item]:
        rows = self.con.execute(f"SELECT {', '.join(_COLUMNS)} FROM files WHERE {where} ORDER BY id",
                                args).fetchall()
        return [Item(*r) for r in rows]

    def claim(self, inbox: str, name: str, work_dir: str, out_dir: str) -> Item:
        """A row for file ``name`` of ``inbox``, with an output NAME no other row
        has and no file in ``out_dir`` has outputs under."""
        k = 1
        while True:
            w, stem = work_name(name, k)
            k += 1
            if any(os.path.lexists(os.path.join(out_dir, stem + s)) for s in OUTPUT_SUFFIXES) \
                    or os.path.lexists(os.path.join(work_dir, w)):
                continue
            work = os.path.join(work_dir, w)
            try:
                cur = self.con.execute(
                    "INSERT INTO files(inbox, name, stem, stem_key, work, state, started) "
                    "VALUES (?, ?, ?, ?, ?, 'claimed', ?)",
                    (inbox, name, stem, stem.casefold(), work, _stamp()))
            except sqlite3.IntegrityError:  # another watch's file has that NAME
                continue
            assert cur.lastrowid is not None
            return self._items("id = ?", cur.lastrowid)[0]

    def update(self, item: Item, **fields: Any) -> None:
        """Change ``item`` and its row (committed before this returns)."""
        for k, v in fields.items():
            setattr(item, k, v)
        self.con.execute(f"UPDATE files SET {', '.join(f'{k} = ?' for k in fields)} WHERE id = ?",
                         (*fields.values(), item.id))

    def forget(self, item: Item) -> None:
        self.con.execute("DELETE FROM files WHERE id = ?", (item.id,))

    def unfinished(self, inbox: str) -> list[Item]:
        return self._items("inbox = ? AND state != 'done'", inbox)

    def gated_with(self, sha256: str, but: int) -> Item | None:
        """An earlier file of the same content that the gate ran on."""
        got = self._items("sha256 = ? AND verdict = 'done' AND id != ?", sha256, but)
        return got[0] if got else None


# -- what the gate made of a file ---------------------------------------------------------
@attrs.define(slots=True)
class Outcome:
    claims: int = 0
    accepted: int = 0
    rejected: int = 0
    errors: int = 0
    could_not_read: bool = False
    acknowledged: bool = False  # a 999 or a TA1 was written

    @classmethod
    def of(cls, fg: FileGate) -> Outcome:
        r = fg.result
        return cls(r.claims, r.accepted, r.rejected, r.errors, r.could_not_read,
                   "999" in fg.paths or "ta1" in fg.paths)

    @classmethod
    def read(cls, out_dir: str, stem: str) -> Outcome | None:
        """From the report and acknowledgments in ``out_dir`` (a gate run that
        finished renaming its outputs, its caller killed before it noted it);
        None when there is no readable report of ``stem``."""
        try:
            with open(os.path.join(out_dir, stem + ".report.json"), encoding="utf-8") as fh:
                f = json.load(fh)["files"][0]
            oc = cls(int(f["claims"]), int(f["accepted"]), int(f["rejected"]), int(f["errors"]),
                     bool(f["could_not_read"]))
        except (OSError, ValueError, LookupError, TypeError):
            return None
        oc.acknowledged = any(os.path.exists(os.path.join(out_dir, stem + s))
                              for s in (".999.x12", ".ta1.x12"))
        return oc

    @property
    def exit_code(self) -> int:
        return 1 if self.rejected or self.errors else 0


def _file_errors(report: str) -> list[tuple[str, str]]:
    """(rule, message) of the errors outside claims in a gate report (a file
    that could not be read or holds no X12: reader and envelope messages,
    which describe the structure, never a value)."""
    try:
        with open(report, encoding="utf-8") as fh:
            found = json.load(fh).get("findings", [])
    except (OSError, ValueError):
        return []
    return [(f["rule"], f["message"]) for f in found
            if f.get("severity") == "error" and f.get("claim_seq") is None][:10]


# -- the watch ----------------------------------------------------------------------------
class Interrupted(BaseException):
    """A second SIGINT/SIGTERM while a file is gated: the gate unwinds (its
    temporaries removed, its history run voided); the file is gated again at
    the next start."""


class Stop:
    """SIGINT/SIGTERM: the first stops the watch once the file being gated is
    done; a second one interrupts that file (:class:`Interrupted`)."""

    def __init__(self) -> None:
        self.signals = 0
        self.name = ""
        self.in_gate = False

    def __bool__(self) -> bool:
        return self.signals > 0

    def handler(self, signum: int, frame: Any) -> None:
        self.signals += 1
        self.name = signal.Signals(signum).name
        if self.signals > 1 and self.in_gate:
            raise Interrupted()

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        old = {s: signal.signal(s, self.handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, h in old.items():
                signal.signal(s, h)


class Settle:
    """Which inbox files are complete: renamed into the inbox, or the same
    (size, modification time, inode) for ``seconds`` of watching."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.seen: dict[str, tuple[tuple[int, int, int], float]] = {}

    def ready(self, files: dict[str, tuple[int, int, int]], renamed: set[str], now: float) -> list[str]:
        out = []
        for name, st in files.items():
            prev = self.seen.get(name)
            if prev is None or prev[0] != st:
                self.seen[name] = (st, now)
                prev = self.seen[name]
            if name in renamed or now - prev[1] >= self.seconds:
                out.append(name)
        for name in list(self.seen):
            if name not in files:
                del self.seen[name]
        return sorted(out)

    def wait(self, now: float) -> float | None:
        """Seconds until the next file may be complete (None: no file waits)."""
        if not self.seen:
            return None
        return max(0.0, min(t + self.seconds - now for _, t in self.seen.values()))


class InboxWatch:
    """Gate the files of ``inbox`` into ``out_dir`` as they come; see the module doc.

    ``gate_options``: :func:`edi837.gate.gate`'s ``snip``, ``profile``,
    ``history``, ``redact``, ``now`` and engine options.  ``echo``: one line
    per file done.  Use as a context manager (:meth:`open` / :meth:`close`)
    and call :meth:`run`."""

    def __init__(self, inbox: str, out_dir: str, *, settle: float = 1.0, poll: bool = False,
                 echo: Callable[[str], Any] | None = None, **gate_options: Any):
        self.inbox = os.path.abspath(inbox)
        self.out_dir = os.path.abspath(out_dir)
        self.settle = Settle(settle)
        self.poll = poll
        self.echo = echo
        self.gate_options = gate_options
        self.work_dir = os.path.join(self.inbox, WORK)
        self.key = os.path.realpath(self.inbox)  # the journal's name for this inbox
        self.journal: Journal | None = None
        self._lock_fd: int | None = None
        self._wake = threading.Event()
        self._renamed: set[str] = set()
        self._renamed_lock = threading.Lock()
        self.stop = Stop()
        self.observer: BaseObserver | None = None

    # -- setting up ------------------------------------------------------------------------
    def __enter__(self) -> InboxWatch:
        self.open()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def open(self) -> None:
        """Check INBOX, DIR and the options; lock the inbox; open the journal.
        A WatchError says what is wrong (exit 2)."""
        inbox, out = self.inbox, self.out_dir
        if not os.path.isdir(inbox):
            raise WatchError(f"{inbox}: no such folder" if not os.path.exists(inbox)
                             else f"{inbox}: not a folder")
        if not os.access(inbox, os.R_OK | os.W_OK | os.X_OK):
            raise WatchError(f"{inbox}: cannot read and write the folder (permission denied): the "
                             f"watch moves each file it takes")
        real_out = os.path.realpath(out)
        for name in ("", DONE, FAILED, WORK):
            if real_out == os.path.realpath(os.path.join(inbox, name)):
                raise WatchError(f"--out {out}: the output folder cannot be the inbox or its "
                                 f"{name or 'own'} folder; choose another --out folder")
        if os.path.exists(out) and not os.path.isdir(out):
            raise WatchError(f"--out {out}: not a folder")
        try:
            for d in (out, os.path.join(inbox, DONE), os.path.join(inbox, FAILED), self.work_dir):
                os.makedirs(d, exist_ok=True)
        except OSError as e:
            raise WatchError(f"{e.filename}: cannot create the folder ({e.strerror})") from None
        if not os.access(out, os.W_OK | os.X_OK):
            raise WatchError(f"--out {out}: cannot write in the folder (permission denied)")
        self._check_options()
        self._lock_inbox()
        try:
            self.journal = Journal(os.path.join(out, JOURNAL))
        except sqlite3.Error as e:
            self.close()
            raise WatchError(f"{os.path.join(out, JOURNAL)}: cannot open the watch journal ({e})") \
                from None

    def _check_options(self) -> None:
        opts = {k: v for k, v in self.gate_options.items() if k not in ("redact", "now")}
        try:
            RunOptions.build(**opts).check()
        except ValueError as e:
            raise WatchError(str(e)) from None
        h = opts.get("history")
        if h:
            from .checks.editpack.history import HistoryStore

            try:
                HistoryStore(os.fspath(h)).close()
            except (sqlite3.Error, RuntimeError) as e:
                raise WatchError(f"--history {h}: {e}") from None

    def _lock_inbox(self) -> None:
        """One watch per inbox: an exclusive lock on its work folder, held
        until :meth:`close` (or the process ends)."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: not locked
            return
        fd = os.open(self.work_dir, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise WatchError(f"{self.inbox}: another edi837 watch is watching this inbox") from None
        self._lock_fd = fd

    def close(self) -> None:
        if self.observer is not None:
            with contextlib.suppress(Exception):
                self.observer.stop()
                self.observer.join(timeout=10)
            self.observer = None
        if self.journal is not None:
            self.journal.close()
            self.journal = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _observe(self) -> None:
        """Start a watchdog observer on the inbox (polling with ``poll``, or
        when the system's watcher cannot start, e.g. no inotify watch left)."""
        try:
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers import Observer
            from watchdog.observers.polling import PollingObserver
        except ImportError as e:
            raise WatchError(f"edi837 watch needs watchdog: pip install 'edi837[watch]' ({e})") \
                from None
        me = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                dest = os.fsdecode(getattr(event, "dest_path", "") or "")
                if event.event_type == "moved" and os.path.dirname(dest) == me.inbox:
                    with me._renamed_lock:
                        me._renamed.add(os.path.basename(dest))
                me._wake.set()

        kinds: list[Callable[[], BaseObserver]] = [] if self.poll else [Observer]
        kinds.append(lambda: PollingObserver(timeout=min(1.0, max(0.1, self.settle.seconds / 2))))
        for i, make in enumerate(kinds):
            obs = make()
            try:
                obs.schedule(Handler(), self.inbox, recursive=False)
                obs.start()
            except OSError as e:
                with contextlib.suppress(Exception):
                    obs.stop()
                if i + 1 == len(kinds):
                    raise WatchError(f"{self.inbox}: cannot watch the folder ({e})") from None
                logs.log(log, logging.WARNING, "cannot watch the inbox with the system's watcher; "
                         "polling it instead", inbox=self.inbox, error=str(e))
                continue
            self.observer = obs
            logs.log(log, logging.INFO, "watching", inbox=self.inbox, out=self.out_dir,
                     observer=type(obs).__name__, settle=self.settle.seconds)
            if self.echo is not None:
                logs.say(log, logging.INFO, f"edi837 watch: watching {self.inbox} "
                         f"({'polling' if 'Polling' in type(obs).__name__ else 'system watcher'}), "
                         f"outputs in {self.out_dir}; SIGINT or SIGTERM to stop")
            return

    # -- running -----------------------------------------------------------------------------
    def run(self) -> None:
        """Finish what a killed watch left, gate the files present, then each
        new one, until :attr:`stop` (a signal; see :class:`Stop`)."""
        self._observe()
        self.recover()
        look, last = True, 0.0
        while not self.stop:
            now = time.monotonic()
            if look or now - last >= RESCAN or self.settle.wait(now) == 0:
                last = now
                with self._renamed_lock:
                    renamed, self._renamed = self._renamed, set()
                ready = self.settle.ready(self._scan(), renamed, now)
                for name in ready:
                    if self.stop:
                        break
                    self.settle.seen.pop(name, None)
                    self.take(name)
                if ready:
                    continue  # look again at once: files may have come meanwhile
            wait = self.settle.wait(time.monotonic())
            # a signal handler only sets a flag (an Event is not safe there): wake up
            # often enough to see it
            look = self._wake.wait(0.2 if wait is None else min(0.2, max(0.02, wait)))
            self._wake.clear()

    def _scan(self) -> dict[str, tuple[int, int, int]]:
        """The candidate files of the inbox: name -> (size, mtime, inode)."""
        out: dict[str, tuple[int, int, int]] = {}
        try:
            it = os.scandir(self.inbox)
        except OSError as e:
            raise WatchError(f"{self.inbox}: cannot list the inbox ({e.strerror})") from None
        with it:
            for entry in it:
                if not is_candidate(entry.name):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    out[entry.name] = (st.st_size, st.st_mtime_ns, st.st_ino)
        return out

    def take(self, name: str) -> None:
        """Gate inbox file ``name`` once and move it to done/ or failed/."""
        j = self._journal()
        item = j.claim(self.key, name, self.work_dir, self.out_dir)
        try:
            os.rename(os.path.join(self.inbox, name), item.work)
        except FileNotFoundError:  # gone before it could be taken
            j.forget(item)
            return
        except OSError as e:
            j.forget(item)
            raise WatchError(f"{os.path.join(self.inbox, name)}: cannot move the file into "
                             f"{self.work_dir} ({e.strerror})") from None
        fsync_dir(self.inbox)
        j.update(item, state="gating")
        self._gate(item)

    def _journal(self) -> Journal:
        if self.journal is None:
            raise RuntimeError("the watch is not open")
        return self.journal

    def _gate(self, item: Item) -> None:
        j = self._journal()
        try:
            sha = sha256_of(item.work)
        except OSError as e:
            return self._failed(item, f"{item.name}: cannot read the file ({e.strerror})", 2)
        j.update(item, sha256=sha)
        # with --history the gate answers a repeated interchange itself (TA1 025)
        same = None if self.gate_options.get("history") else j.gated_with(sha, item.id)
        if same is not None:
            return self._failed(
                item, f"{item.name}: the same content as {same.name}, gated on {same.started} "
                      f"(outputs {same.stem}.*): not gated again. To send its claims again on "
                      f"purpose, send them in an interchange with a new ISA13.", 2,
                why=f"same content as {same.name}")
        self.stop.in_gate = True
        try:
            res = gate([item.work], self.out_dir, echo=None, keep_results=False, **self.gate_options)
        except GateError as e:
            msg = str(e)
            if not msg.startswith(item.work + ":"):
                raise WatchError(f"edi837 gate: {msg}") from None
            return self._failed(item, item.name + msg[len(item.work):], 2)
        except OSError as e:
            if e.filename != item.work:  # the out folder, the disk: not the file's fault
                raise WatchError(f"{e.filename or self.out_dir}: {e.strerror or e}") from None
            return self._failed(item, f"{item.name}: cannot read the file ({e.strerror or e})", 2)
        except (sqlite3.Error, MemoryError) as e:  # the history store, the machine
            raise WatchError(f"the gate stopped on {item.name}: {type(e).__name__}: {e}") from None
        except Exception as e:  # noqa: BLE001 - a file that breaks the gate: not forwarded
            logs.log(log, logging.ERROR, "the gate stopped on an internal error", file=item.name,
                     error=type(e).__name__)
            return self._failed(item, f"{item.name}: the gate stopped on an internal error "
                                      f"({type(e).__name__}: {e})", 2,
                                why=f"internal error ({type(e).__name__})")
        finally:
            self.stop.in_gate = False
        self._judge(item, Outcome.of(res.files[0]))

    def _judge(self, item: Item, oc: Outcome) -> None:
        """Note the verdict of a file the gate ran on, then move it."""
        if oc.could_not_read or not oc.acknowledged:
            errs = _file_errors(os.path.join(self.out_dir, item.stem + ".report.json"))
            rules = sorted({r for r, _ in errs})
            what = "could not be read" if oc.could_not_read else "holds nothing the gate can acknowledge"
            text = "\n".join([f"{item.name}: not gated: the file {what} (no 999, no TA1 written).",
                              *(f"  {r}: {m}" for r, m in errs),
                              f"The gate's report: {os.path.join(self.out_dir, item.stem)}.report.json"])
            return self._failed(item, text, 2, why=", ".join(rules) or what, oc=oc)
        self._journal().update(item, state="gated", verdict="done", exit_code=oc.exit_code,
                               claims=oc.claims, accepted=oc.accepted, rejected=oc.rejected,
                               dest=os.path.join(self.inbox, DONE,
                                                 free_name(os.path.join(self.inbox, DONE), item.name)))
        self._move(item)

    def _failed(self, item: Item, reason: str, code: int, *, why: str | None = None,
                oc: Outcome | None = None) -> None:
        oc = oc or Outcome()
        folder = os.path.join(self.inbox, FAILED)
        self._journal().update(item, state="gated", verdict="failed", exit_code=code, claims=oc.claims,
                               accepted=oc.accepted, rejected=oc.rejected,
                               why=why if why is not None else reason.splitlines()[0],
                               reason=reason.rstrip("\n") + "\n",
                               dest=os.path.join(folder, free_name(folder, item.name, (REASON,))))
        self._move(item)

    def _move(self, item: Item) -> None:
        """Move a gated file to its destination (its reason file first when it
        failed), then close its row and say so."""
        assert item.dest is not None
        folder = os.path.dirname(item.dest)
        try:
            if item.verdict == "failed":
                with atomic_write(item.dest + REASON, "w") as fh:
                    fh.write(item.reason)
            os.rename(item.work, item.dest)
        except OSError as e:
            raise WatchError(f"{item.dest}: cannot move {item.name} there ({e.strerror}); it "
                             f"waits in {self.work_dir} for the next start") from None
        fsync_dir(folder)
        fsync_dir(self.work_dir)
        self._journal().update(item, state="done", finished=_stamp())
        self._said(item)

    def _said(self, item: Item) -> None:
        rel = os.path.relpath(item.dest or "", self.inbox)
        if item.verdict == "done":
            line = (f"{item.name}: done, {item.claims} claims in, {item.accepted} accepted, "
                    f"{item.rejected} rejected (exit {item.exit_code}); outputs {item.stem}.*; "
                    f"moved to {rel}")
        else:
            line = f"{item.name}: failed ({item.why}); moved to {rel}, why in {rel}{REASON}"
        logs.log(log, logging.INFO if item.verdict == "done" else logging.WARNING, "file done",
                 file=item.name, verdict=item.verdict, exit_code=item.exit_code, claims=item.claims,
                 accepted=item.accepted, rejected=item.rejected, outputs=item.stem, moved_to=rel,
                 **({"why": item.why} if item.verdict == "failed" else {}))
        if self.echo is not None:
            self.echo(line)

    # -- a restart -----------------------------------------------------------------------------
    def recover(self) -> None:
        """Finish the files a killed watch of this inbox left, from their rows:

        * claimed: the file is gated if it reached the work folder (else it is
          still in the inbox, or gone: the row is dropped);
        * gating: if its report is in DIR the gate had renamed all its outputs
          into place (the report is renamed last): it is not gated again, its
          verdict is read from them; else it is gated again, under the same
          NAME (whatever a cut-off gate left of it is replaced, with new
          control numbers from the counter: none is reused);
        * gated: it is moved (its verdict was noted);
        * files in the work folder with no row go back to the inbox."""
        j = self._journal()
        known = set()
        for item in j.unfinished(self.key):
            known.add(os.path.basename(item.work))
            there = os.path.exists(item.work)
            if item.state == "claimed":
                if there:
                    self._resumed(item, "gated")
                    j.update(item, state="gating")
                    self._gate(item)
                else:
                    j.forget(item)
            elif item.state == "gating":
                if not there:
                    self._resumed(item, "lost: not in the work folder")
                    j.forget(item)
                elif (oc := Outcome.read(self.out_dir, item.stem)) is not None:
                    self._resumed(item, "its outputs are in place: not gated again")
                    self._judge(item, oc)
                else:
                    self._resumed(item, "gated again")
                    self._gate(item)
            elif there:  # gated: move it
                assert item.dest is not None
                if os.path.lexists(item.dest):
                    folder = os.path.dirname(item.dest)
                    j.update(item, dest=os.path.join(folder, free_name(folder, item.name, (REASON,))))
                self._resumed(item, "moved")
                self._move(item)
            else:  # moved before its row was closed
                j.update(item, state="done", finished=_stamp())
        with os.scandir(self.work_dir) as it:
            orphans = sorted(e.name for e in it if e.name not in known and e.is_file(follow_symlinks=False))
        for name in orphans:
            back = free_name(self.inbox, name)
            logs.log(log, logging.WARNING, "a file in the work folder has no journal row; back to the "
                     "inbox", file=name, to=back)
            os.rename(os.path.join(self.work_dir, name), os.path.join(self.inbox, back))

    def _resumed(self, item: Item, what: str) -> None:
        logs.log(log, logging.WARNING, "resuming a file a stopped watch left", file=item.name,
                 state=item.state, outputs=item.stem, action=what)


# -- command line -------------------------------------------------------------------------
def watch(inbox: str, out_dir: str, *, settle: float = 1.0, poll: bool = False,
          echo: Callable[[str], Any] | None = None, stop: Stop | None = None,
          **gate_options: Any) -> None:
    """Watch ``inbox`` until ``stop`` is set (by a signal, in the main thread:
    see :class:`Stop`); WatchError when it cannot run."""
    with InboxWatch(inbox, out_dir, settle=settle, poll=poll, echo=echo, **gate_options) as w:
        if stop is not None:
            w.stop = stop
        w.run()


@click.command("watch")
@click.argument("inbox", type=click.Path(file_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for the outputs (as edi837 gate --out) and the watch journal.")
@click.option("--settle", type=click.FloatRange(0, None), default=1.0, show_default=True,
              help="Seconds a file's size and time must stay the same before it is taken "
                   "(a file renamed into the inbox is taken at once).")
@click.option("--poll", is_flag=True,
              help="Look at the inbox by polling (network folders) instead of the system's watcher.")
@click.option("--snip", default=None, help="SNIP levels to check, e.g. 1-5 (default: all).")
@click.option("--profile", default=None, help="Payer profile for the edit pack.")
@click.option("--history", default=None, type=click.Path(dir_okay=False),
              help="Claim history (duplicates across files and runs).")
@click.option("--redact", is_flag=True,
              help="Mask patient and subscriber names, member ids, dates of birth and addresses in "
                   "the report.json files.")
@quiet_option
@logs.log_options
def watch_command(inbox: str, out_dir: str, settle: float, poll: bool, snip: str | None,
                  profile: str | None, history: str | None, redact: bool, quiet: bool,
                  log_format: str, log_level: str | None) -> None:
    """Gate each file that appears in INBOX, once; move it to INBOX/done or INBOX/failed.

    Files already in INBOX are gated first, in name order.  Runs until
    stopped: SIGINT or SIGTERM end it with exit status 0 once the file being
    gated is done (a second signal interrupts that file; it is gated again at
    the next start).  Exit status 2: it could not run (a bad INBOX or --out).
    """
    from .progress import echo

    logs.setup(log_format, log_level, quiet)
    t0 = time.monotonic()
    logs.log(log, logging.INFO, "run start", command="watch", inbox=inbox, out=out_dir, settle=settle)
    stop = Stop()

    def end(code: int) -> NoReturn:
        logs.log(log, logging.INFO, "run end", command="watch", exit_code=code,
                 seconds=round(time.monotonic() - t0, 3))
        sys.exit(code)

    try:
        with stop.installed():
            watch(inbox, out_dir, settle=settle, poll=poll, echo=None if quiet else echo, stop=stop,
                  snip=snip, profile=profile, history=history, redact=redact)
    except WatchError as e:
        logs.say(log, logging.ERROR, f"edi837 watch: {e}")
        end(2)
    except Interrupted:
        if not quiet:
            logs.say(log, logging.WARNING, f"edi837 watch: stopped ({stop.name}); the file being "
                     "gated was interrupted and is gated again at the next start")
        end(0)
    if not quiet:
        logs.say(log, logging.INFO, f"edi837 watch: stopped ({stop.name})")
    end(0)


if __name__ == "__main__":  # pragma: no cover
    watch_command()
