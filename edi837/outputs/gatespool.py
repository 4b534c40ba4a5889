"""The gate's pass-1 state on disk, so its memory does not grow with a file (issue 14 item 6).

The gate's second pass (split, 277CA) and its acknowledgments (999, TA1) need
what the first pass found: every claim's verdict, rejection reasons, charge and
HL chain, and the SNIP 1-2 errors.  Held in memory they grow with the claims,
interchanges and findings of a file; :class:`GateSpool` keeps them in a SQLite
database in the run's scratch folder (0700, the file 0600, removed at the end
of the run or by the next run's start) and hands them back a transaction, a
group or an interchange at a time:

- :meth:`transaction` -- the verdicts, reasons and totals of one transaction's
  claims, and which of its HL loops have claims of each verdict (HL04), when the
  second pass reaches its ST;
- :meth:`errors_between`, :meth:`errors_named` -- the SNIP 1-2 errors of one
  functional group (by segment ordinal, else by control numbers), taken out as
  the 999 places them (:class:`edi837.outputs.ack999.StreamingAcks`);
- :meth:`interchange_errors` -- the envelope errors of one ISA13 (the TA1);
- the 999 bodies and TA1s themselves, spooled as each group and interchange
  ends and read back in file order once the second pass has handed out the
  split files' control numbers (so control numbers keep their order).

Everything is plain columns and JSON (nothing is unpickled): an error keeps
the fields the 999 and the TA1 read (:class:`Err`).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import attrs

from ..findings import Finding, Severity

if TYPE_CHECKING:
    from ..checks.verdicts import ClaimResult

_BATCH = 500
_TX = "\x00tx"  # the totals row of a whole transaction (no HL01 is this)
_PAGE = 500
_KIDS = 20_000  # a transaction's HL loops with claims read at once, up to this many

_SCHEMA = """
CREATE TABLE chains (file TEXT, seq INTEGER, b TEXT, s TEXT, p TEXT, PRIMARY KEY (file, seq));
CREATE TABLE claims (seq INTEGER PRIMARY KEY, tx_no INTEGER, verdict TEXT, charge TEXT,
                     reasons TEXT);
CREATE TABLE errs (n INTEGER PRIMARY KEY, seq INTEGER, ic INTEGER, interchange TEXT, grp TEXT,
                   tx TEXT, rule TEXT, message TEXT, loop TEXT, segment_id TEXT, element TEXT,
                   claim_seq INTEGER, claim_id TEXT, snip INTEGER, ik3 TEXT, ik4 TEXT, value TEXT,
                   placed INTEGER DEFAULT 0);
CREATE INDEX errs_seq ON errs (seq);
CREATE INDEX errs_grp ON errs (grp, tx);
CREATE INDEX errs_ic ON errs (ic, interchange);
CREATE TABLE missing (seq INTEGER);
CREATE INDEX missing_seq ON missing (seq);
CREATE TABLE hlkids (tx_no INTEGER, hl TEXT, verdict TEXT, PRIMARY KEY (tx_no, hl, verdict))
    WITHOUT ROWID;
CREATE TABLE totals (tx_no INTEGER, b TEXT, acc INTEGER, rej INTEGER, acc_amt TEXT, rej_amt TEXT,
                     PRIMARY KEY (tx_no, b)) WITHOUT ROWID;
CREATE TABLE acks (n INTEGER PRIMARY KEY, kind TEXT, grp INTEGER, ic INTEGER, head TEXT, body TEXT);
CREATE INDEX acks_grp ON acks (kind, grp, n);
"""


_ERR_COLS = ("segment_seq", "interchange", "group", "transaction", "rule", "message", "loop",
             "segment_id", "element", "claim_seq", "claim_id", "snip", "ik3", "ik4", "value")
_SELECT = "SELECT n, seq, interchange, grp, tx, rule, message, loop, segment_id, element, " \
          "claim_seq, claim_id, snip, ik3, ik4, value FROM errs "


@attrs.define(slots=True)
class Err:
    """A SNIP 1-2 error as the 999 and the TA1 read it (the fields of a
    :class:`~edi837.findings.Finding` they use)."""

    segment_seq: int | None
    interchange: str | None
    group: str | None
    transaction: str | None
    rule: str
    message: str
    loop: str | None
    segment_id: str | None
    element: str | None
    claim_seq: int | None
    claim_id: str | None
    snip: int | None
    ik3: str | None
    ik4: str | None
    value: str | None
    severity: Severity = Severity.ERROR

    def to_json(self) -> list[Any]:
        return [getattr(self, k) for k in _ERR_COLS]


def _errs(rows: Any) -> list[tuple[int, Err]]:
    return [(r[0], Err(*r[1:])) for r in rows]


@attrs.define(slots=True)
class Verdict:
    """What the split and the 277CA read of a claim's pass-1 result."""

    verdict: str
    reasons: list[str]




@attrs.define(slots=True)
class TxState:
    """Pass-1 state of the claims of one transaction (by ``tx_no``, its ordinal in the file),
    in the shapes :class:`~edi837.outputs.split.Splitter` and
    :class:`~edi837.outputs.ack277ca.Ack277Writer` read; looked up in the spool claim by claim
    and HL by HL, so a transaction of a million claims costs no more memory than one."""

    verdicts: dict[int, str]  # claim seq -> verdict
    results: dict[int, Verdict]
    hl_children: dict[str, set[tuple[int, str]]]  # verdict -> (tx_no, HL01) with such a child
    tx_totals: dict[int, list[int | Decimal]]
    prov_totals: dict[tuple[int, str], list[int | Decimal]]  # by (tx_no, billing HL01)


class _Lookup(dict):  # type: ignore[type-arg]
    """A read-only mapping whose ``get`` asks the spool (what the split and the 277CA call)."""

    def __init__(self, ask: Any) -> None:
        super().__init__()
        self._ask = ask

    def get(self, key: Any, default: Any = None) -> Any:
        got = self._ask(key)
        return default if got is None else got


class _Kids(set):  # type: ignore[type-arg]
    """(tx_no, HL01) pairs whose HL has a child HL with a claim of one verdict: those of one
    transaction read at once (``known``, HL01s), or, for a transaction of more HL loops than
    that holds, asked of the spool one by one."""

    def __init__(self, spool: GateSpool, verdict: str, tx_no: int, known: set[str] | None) -> None:
        super().__init__()
        self._spool, self._verdict, self._tx, self._known = spool, verdict, tx_no, known

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, tuple) or len(key) != 2:
            return False
        if self._known is not None and key[0] == self._tx:
            return key[1] in self._known
        return self._spool.db.execute("SELECT 1 FROM hlkids WHERE tx_no = ? AND hl = ? AND verdict = ?",
                                      (key[0], key[1], self._verdict)).fetchone() is not None


# the rows noted and not written yet: GateSpool's list of each table, and its INSERT
_INSERTS = (
    ("_chains", "INSERT OR REPLACE INTO chains VALUES (?, ?, ?, ?, ?)"),
    ("_claims", "INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?)"),
    ("_errs", "INSERT INTO errs (seq, ic, interchange, grp, tx, rule, message, loop, segment_id, "
              "element, claim_seq, claim_id, snip, ik3, ik4, value) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
    ("_missing", "INSERT INTO missing VALUES (?)"),
    ("_acks", "INSERT INTO acks (kind, grp, ic, head, body) VALUES (?, ?, ?, ?, ?)"),
)


class GateSpool:
    """Pass-1 state of the gate's input files; see the module doc.  ``path``: a new file."""

    def __init__(self, path: str) -> None:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600)
        os.close(fd)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.executescript(_SCHEMA)
        self._chains: list[tuple[Any, ...]] = []
        self._claims: list[tuple[Any, ...]] = []
        self._errs: list[tuple[Any, ...]] = []
        self._missing: list[tuple[int]] = []
        self._acks: list[tuple[Any, ...]] = []
        self.file: str | None = None
        self.errors = 0  # SNIP 1-2 errors of the file (none: nothing to look up for the 999)
        # the claims read for the second pass: seq -> (verdict, reasons), for seqs lo..hi
        self._window: dict[int, tuple[str, str | None]] = {}
        self._lo, self._hi = 1, 0
        self.interchange_found = False  # a finding of the file names an interchange
        self.missing_found = False  # an error of the file is a missing segment (IK304 3)

    def close(self) -> None:
        self.db.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass

    # -- pass 1 -------------------------------------------------------------------------
    def note_chain(self, file: str | None, seq: int, chain: tuple[str, str, str]) -> None:
        """A claim's HL chain (billing, subscriber, patient HL01), noted as the engine checks it
        (with cross-claim rules every file is checked before the first file's events come)."""
        self._chains.append((file, seq, *chain))
        if len(self._chains) >= _BATCH:
            self.flush()

    def begin_file(self, path: str) -> None:
        """Start the state of input ``path`` (the previous file's is dropped)."""
        self.flush()
        with self.writing():
            for t in ("claims", "errs", "missing", "acks", "hlkids", "totals"):
                self.db.execute(f"DELETE FROM {t}")
            if self.file is not None:
                self.db.execute("DELETE FROM chains WHERE file = ?", (self.file,))
        self.file = path
        self.interchange_found = self.missing_found = False
        self.errors = 0
        self._window, self._lo, self._hi = {}, 1, 0

    def add_result(self, r: ClaimResult) -> None:
        self._claims.append((r.claim_seq, r.tx_no, r.verdict, r.charge,
                             json.dumps(r.reasons) if r.reasons else None))
        if len(self._claims) >= _BATCH:
            self.flush()

    def add_finding(self, f: Finding, *, error: bool, interchange: bool) -> None:
        """A finding of SNIP 1-2 (or none): kept when ``error`` (an error of SNIP 1 or 2, what
        the 999 and TA1 answer); ``interchange``: an envelope error of the TA1."""
        if f.interchange:
            self.interchange_found = True
        if not error:
            return
        self.errors += 1
        self._errs.append((f.segment_seq, 1 if interchange else 0, f.interchange, f.group,
                           f.transaction, f.rule, f.message, f.loop, f.segment_id, f.element,
                           f.claim_seq, f.claim_id, f.snip, f.ik3, f.ik4, f.value))
        if f.ik3 == "3" and f.segment_seq is not None:
            self._missing.append((f.segment_seq,))
            self.missing_found = True
        if len(self._errs) >= _BATCH:
            self.flush()

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """One SQLite transaction around the block (none of its own inside another): rows are
        written a batch at a time, not a commit each."""
        if self.db.in_transaction:
            yield
            return
        self.db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def flush(self) -> None:
        """Every row noted so far written (call before reading)."""
        with self.writing():
            for attr, sql in _INSERTS:
                rows = getattr(self, attr)
                if rows:
                    self.db.executemany(sql, rows)
                    rows.clear()

    def claim_count(self) -> int:
        """How many claims of the file have a verdict."""
        self.flush()
        return int(self.db.execute("SELECT count(*) FROM claims").fetchone()[0])

    # -- pass 2: the split and the 277CA ------------------------------------------------
    def end_pass1(self) -> None:
        """Pass 1 of the file is done: which HL loops have claims of each verdict (HL04) and the
        totals by transaction and billing provider (the 277CA) are worked out, a group of
        claims at a time."""
        self.flush()
        db = self.db
        with self.writing():
            self._end_pass1(db)

    def _end_pass1(self, db: sqlite3.Connection) -> None:
        for hl, child in (("b", "s"), ("s", "p")):
            db.execute(f"INSERT OR IGNORE INTO hlkids SELECT c.tx_no, h.{hl}, c.verdict FROM claims c "
                       f"JOIN chains h ON h.file = ? AND h.seq = c.seq WHERE h.{hl} != '' AND h.{child} != ''",
                       (self.file,))
        # totals: claims in (transaction, billing HL) order, one provider's sum at a time
        cur = db.execute("SELECT c.tx_no, coalesce(h.b, ''), c.verdict, c.charge FROM claims c "
                         "LEFT JOIN chains h ON h.file = ? AND h.seq = c.seq ORDER BY c.tx_no, 2",
                         (self.file,))
        out: list[tuple[Any, ...]] = []
        key: tuple[int, str] | None = None
        tx_tot: list[Any] = []
        prov: list[Any] = []

        def put(k: tuple[int, str], t: list[Any]) -> None:
            out.append((k[0], k[1], t[0], t[1], str(t[2]), str(t[3])))
            if len(out) >= _PAGE:  # (a file of many transactions or providers: a page at a time)
                db.executemany("INSERT OR REPLACE INTO totals VALUES (?, ?, ?, ?, ?, ?)", out)
                out.clear()

        while True:
            page = cur.fetchmany(_PAGE)
            for tx_no, b, verdict, charge in page:
                if key is None or tx_no != key[0]:
                    if key is not None:
                        put(key, prov)
                        put((key[0], _TX), tx_tot)
                    tx_tot = [0, 0, Decimal(0), Decimal(0)]
                    key, prov = (tx_no, b), [0, 0, Decimal(0), Decimal(0)]
                elif b != key[1]:
                    put(key, prov)
                    key, prov = (tx_no, b), [0, 0, Decimal(0), Decimal(0)]
                amt = Decimal(charge) if charge not in (None, "") else Decimal(0)
                i = 0 if verdict == "accepted" else 1
                for t in (tx_tot, prov):
                    t[i] += 1
                    t[2 + i] += amt
            if not page:
                break
        if key is not None:
            put(key, prov)
            put((key[0], _TX), tx_tot)
        db.executemany("INSERT OR REPLACE INTO totals VALUES (?, ?, ?, ?, ?, ?)", out)

    def _totals(self, tx_no: int, b: str) -> list[int | Decimal] | None:
        got = self.db.execute("SELECT acc, rej, acc_amt, rej_amt FROM totals WHERE tx_no = ? AND b = ?",
                              (tx_no, b)).fetchone()
        return None if got is None else [got[0], got[1], Decimal(got[2]), Decimal(got[3])]

    def transaction(self, tx_no: int) -> TxState:
        """The state of the file's transaction ``tx_no`` (see :class:`TxState`): what the gate
        worked out from every claim of the file, for the claims pass 1 placed in it."""
        tot = self._totals(tx_no, _TX)
        rows = self.db.execute("SELECT hl, verdict FROM hlkids WHERE tx_no = ? LIMIT ?",
                               (tx_no, _KIDS + 1)).fetchall()
        known: dict[str, set[str] | None] = {"accepted": set(), "rejected": set()}
        if len(rows) > _KIDS:
            known = {"accepted": None, "rejected": None}
        else:
            for hl, verdict in rows:
                known[verdict].add(hl)  # type: ignore[union-attr]
        return TxState(verdicts=_Lookup(self._verdict_of), results=_Lookup(self._result_of),
                       hl_children={v: _Kids(self, v, tx_no, known[v]) for v in ("accepted", "rejected")},
                       tx_totals={} if tot is None else {tx_no: tot},
                       prov_totals=_Lookup(lambda k: self._totals(k[0], k[1])))

    def _row(self, seq: int) -> tuple[str, str | None] | None:
        """(verdict, reasons) of claim ``seq``: claims are read a window at a time, as the second
        pass asks for them in file order."""
        win = self._window
        if seq in win:
            return win[seq]
        if not self._lo <= seq <= self._hi:
            rows = self.db.execute("SELECT seq, verdict, reasons FROM claims WHERE seq >= ? "
                                   "ORDER BY seq LIMIT ?", (seq, _PAGE)).fetchall()
            self._window = win = {r[0]: (r[1], r[2]) for r in rows}
            self._lo, self._hi = seq, (rows[-1][0] if rows else seq)
        return win.get(seq)

    def _verdict_of(self, seq: int) -> str | None:
        got = self._row(seq)
        return None if got is None else got[0]

    def _result_of(self, seq: int) -> Verdict | None:
        got = self._row(seq)
        return None if got is None else Verdict(got[0], json.loads(got[1]) if got[1] else [])

    def accepted(self, tx_no: int) -> int:
        """How many claims of transaction ``tx_no`` were accepted."""
        tot = self._totals(tx_no, _TX)
        return 0 if tot is None else int(tot[0])

    # -- pass 2: the 999 and the TA1 ----------------------------------------------------
    def errors_in(self, lo: int, hi: int) -> Iterator[tuple[int, Err]]:
        """The errors not placed yet whose segment ordinal is in ``lo..hi``: (row, error) by
        ordinal, then in the order they were found; read a page at a time."""
        if not self.errors:
            return
        at = (lo - 1, 0)
        while True:
            page = _errs(self.db.execute(
                _SELECT + "WHERE seq BETWEEN ? AND ? AND placed = 0 AND (seq, n) > (?, ?) "
                "ORDER BY seq, n LIMIT ?", (lo, hi, at[0], at[1], _PAGE)))
            if not page:
                return
            yield from page
            last = page[-1]
            at = (last[1].segment_seq or 0, last[0])

    def errors_named(self, group: str, transaction: str | None, upto: int,
                     skip: tuple[int, int] | None = None) -> list[tuple[int, Err]]:
        """The errors not placed yet that name functional group ``group`` (GS06) and
        transaction ``transaction`` (ST02; None: none) and have no segment ordinal or one up
        to ``upto`` (and not in ``skip``, a span of ordinals), in the order they were found."""
        if not self.errors:
            return []
        sql = _SELECT + "WHERE grp = ? AND placed = 0 AND (seq IS NULL OR seq <= ?)"
        args: list[Any] = [group, upto]
        if transaction:
            sql += " AND tx = ?"
            args.append(transaction)
        else:
            sql += " AND (tx IS NULL OR tx = '')"
        if skip is not None:
            sql += " AND (seq IS NULL OR seq NOT BETWEEN ? AND ?)"
            args += list(skip)
        return _errs(self.db.execute(sql + " ORDER BY n", args))

    def errors_at(self, seq: int, group: str) -> list[tuple[int, Err]]:
        """The errors not placed yet at segment ordinal ``seq`` that name group ``group``."""
        if not self.errors:
            return []
        return _errs(self.db.execute(_SELECT + "WHERE seq = ? AND grp = ? AND placed = 0 ORDER BY n",
                                     (seq, group)))

    def place_range(self, lo: int, hi: int) -> None:
        """The errors of ordinals ``lo..hi`` are placed in the 999: no other part gets them."""
        if not self.errors:
            return
        self.db.execute("UPDATE errs SET placed = 1 WHERE seq BETWEEN ? AND ?", (lo, hi))

    def place(self, rows: Sequence[int]) -> None:
        """The errors of ``rows`` are placed in the 999."""
        if rows:
            self.db.executemany("UPDATE errs SET placed = 1 WHERE n = ?", [(n,) for n in rows])

    def interchange_errors(self, isa13: str) -> list[Err]:
        """The envelope errors (:func:`edi837.outputs.ta1.is_interchange_finding`) naming ISA13
        ``isa13``, in the order they were found."""
        if not self.errors:
            return []
        return [e for _, e in _errs(self.db.execute(
            _SELECT + "WHERE ic = 1 AND interchange = ? ORDER BY n", (isa13,)))]

    def missing_after(self, seq: int) -> list[int]:
        """Up to a page of the segment ordinals of missing-segment errors (IK304 3) past
        ``seq``, ascending."""
        return [r[0] for r in self.db.execute("SELECT seq FROM missing WHERE seq > ? ORDER BY seq "
                                              "LIMIT ?", (seq, _PAGE))]

    def add_ack(self, kind: str, grp: int | None, ic: int | None, head: Any, body: Any = None) -> None:
        """Spool a piece of an acknowledgment, in file order: kind "999b" a run of 999 body
        segments of group ``grp``; "999" the end of group ``grp`` (``ic`` its interchange's
        ordinal, None for none; ``head`` what :func:`edi837.outputs.ack999.write_999` needs);
        "ta1" a TA1 (``head`` the ISA fields, ``body`` the errors)."""
        self._acks.append((kind, grp, ic, json.dumps(head), None if body is None else json.dumps(body)))
        if len(self._acks) >= _BATCH // 10:
            self.flush()

    def acks(self, kind: str, grp: int | None = None) -> Iterator[tuple[int | None, int | None, Any, Any]]:
        """The spooled pieces of ``kind`` (of group ``grp`` only, when given) in file order:
        (group, interchange, head, body); read a page at a time."""
        self.flush()
        last = 0
        where = "kind = ? AND n > ?" + ("" if grp is None else " AND grp = ?")
        while True:
            args: tuple[Any, ...] = (kind, last) if grp is None else (kind, last, grp)
            rows = self.db.execute(f"SELECT n, grp, ic, head, body FROM acks WHERE {where} ORDER BY n "
                                   f"LIMIT {_PAGE}", args).fetchall()
            if not rows:
                return
            for n, g, ic, head, body in rows:
                last = n
                yield g, ic, json.loads(head), None if body is None else json.loads(body)

    def has_acks(self, kind: str) -> bool:
        self.flush()
        return self.db.execute("SELECT 1 FROM acks WHERE kind = ? LIMIT 1", (kind,)).fetchone() \
            is not None


def err_of(row: Sequence[Any]) -> Err:
    """An :class:`Err` from its :meth:`Err.to_json` list."""
    return Err(*row)
