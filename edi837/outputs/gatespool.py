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

What is spooled is this run's own, in a folder this run made: the findings go
in with :mod:`pickle` (as :mod:`edi837.checks.twophase` spools events), the
rest as plain columns and JSON.
"""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import attrs

if TYPE_CHECKING:
    from ..checks.verdicts import ClaimResult
    from ..findings import Finding

_BATCH = 2000
_PAGE = 500

_SCHEMA = """
CREATE TABLE chains (file TEXT, seq INTEGER, b TEXT, s TEXT, p TEXT, PRIMARY KEY (file, seq));
CREATE TABLE claims (seq INTEGER PRIMARY KEY, tx_no INTEGER, verdict TEXT, charge TEXT,
                     reasons TEXT);
CREATE INDEX claims_tx ON claims (tx_no);
CREATE TABLE errs (n INTEGER PRIMARY KEY, seq INTEGER, ic INTEGER, interchange TEXT, grp TEXT,
                   data BLOB);
CREATE INDEX errs_seq ON errs (seq);
CREATE INDEX errs_grp ON errs (grp);
CREATE INDEX errs_ic ON errs (ic, interchange);
CREATE TABLE missing (seq INTEGER);
CREATE INDEX missing_seq ON missing (seq);
CREATE TABLE acks (n INTEGER PRIMARY KEY, kind TEXT, ic INTEGER, head TEXT, body BLOB);
"""


@attrs.define(slots=True)
class Verdict:
    """What the split and the 277CA read of a claim's pass-1 result."""

    verdict: str
    reasons: list[str]


Totals = list  # [accepted, rejected, accepted amount, rejected amount]


@attrs.define(slots=True)
class TxState:
    """Pass-1 state of the claims of one transaction (by ``tx_no``, its ordinal in the file),
    in the shapes :class:`~edi837.outputs.split.Splitter` and
    :class:`~edi837.outputs.ack277ca.Ack277Writer` read."""

    verdicts: dict[int, str] = attrs.field(factory=dict)  # claim seq -> verdict
    results: dict[int, Verdict] = attrs.field(factory=dict)
    hl_children: dict[str, set[tuple[int, str]]] = attrs.field(
        factory=lambda: {"accepted": set(), "rejected": set()})
    tx_totals: dict[int, list[int | Decimal]] = attrs.field(factory=dict)
    prov_totals: dict[tuple[int, str], list[int | Decimal]] = attrs.field(factory=dict)


class _Lookup(dict):  # type: ignore[type-arg]
    """One transaction's claims by seq; a claim the second pass places in another transaction
    than the first pass did is looked up in the spool, so its verdict is never lost."""

    def __init__(self, items: dict[Any, Any], miss: Any) -> None:
        super().__init__(items)
        self._miss = miss

    def get(self, key: Any, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            got = self._miss(key)
            return default if got is None else got


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
            self._flush_chains()

    def _flush_chains(self) -> None:
        if self._chains:
            self.db.executemany("INSERT OR REPLACE INTO chains VALUES (?, ?, ?, ?, ?)", self._chains)
            self._chains = []

    def begin_file(self, path: str) -> None:
        """Start the state of input ``path`` (the previous file's is dropped)."""
        self.flush()
        self.db.execute("BEGIN")
        for t in ("claims", "errs", "missing", "acks"):
            self.db.execute(f"DELETE FROM {t}")
        if self.file is not None:
            self.db.execute("DELETE FROM chains WHERE file = ?", (self.file,))
        self.db.execute("COMMIT")
        self.file = path
        self.interchange_found = self.missing_found = False

    def add_result(self, r: ClaimResult) -> None:
        self._claims.append((r.claim_seq, r.tx_no, r.verdict, r.charge,
                             json.dumps(r.reasons) if r.reasons else None))
        if len(self._claims) >= _BATCH:
            self._flush_claims()

    def _flush_claims(self) -> None:
        if self._claims:
            self.db.executemany("INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?)", self._claims)
            self._claims = []

    def add_finding(self, f: Finding, *, error: bool, interchange: bool) -> None:
        """A finding of SNIP 1-2 (or none): kept when ``error`` (an error of SNIP 1 or 2, what
        the 999 and TA1 answer); ``interchange``: an envelope error of the TA1."""
        if f.interchange:
            self.interchange_found = True
        if not error:
            return
        self._errs.append((f.segment_seq, 1 if interchange else 0, f.interchange, f.group,
                           pickle.dumps(f, pickle.HIGHEST_PROTOCOL)))
        if f.ik3 == "3" and f.segment_seq is not None:
            self._missing.append((f.segment_seq,))
            self.missing_found = True
        if len(self._errs) >= _BATCH:
            self._flush_errs()

    def _flush_errs(self) -> None:
        if self._errs:
            self.db.executemany("INSERT INTO errs (seq, ic, interchange, grp, data) "
                                "VALUES (?, ?, ?, ?, ?)", self._errs)
            self._errs = []
        if self._missing:
            self.db.executemany("INSERT INTO missing VALUES (?)", self._missing)
            self._missing = []

    def flush(self) -> None:
        """Every row noted so far written (call before reading)."""
        self.db.execute("BEGIN")
        self._flush_chains()
        self._flush_claims()
        self._flush_errs()
        self._flush_acks()
        self.db.execute("COMMIT")

    def claim_count(self) -> int:
        """How many claims of the file have a verdict."""
        self.flush()
        return int(self.db.execute("SELECT count(*) FROM claims").fetchone()[0])

    # -- pass 2: the split and the 277CA ------------------------------------------------
    def transaction(self, tx_no: int) -> TxState:
        """The state of the file's transaction ``tx_no`` (see :class:`TxState`): the same sets
        and totals the gate built from every claim of the file, restricted to the claims
        pass 1 placed in that transaction."""
        st = TxState()
        rows = self.db.execute(
            "SELECT c.seq, c.verdict, c.charge, c.reasons, h.b, h.s, h.p FROM claims c "
            "LEFT JOIN chains h ON h.file = ? AND h.seq = c.seq WHERE c.tx_no = ?",
            (self.file, tx_no))
        verdicts, results = st.verdicts, st.results
        key: Any
        table: dict[Any, list[int | Decimal]]
        for seq, verdict, charge, reasons, b, sub, pat in rows:
            verdicts[seq] = verdict
            results[seq] = Verdict(verdict, json.loads(reasons) if reasons else [])
            b, sub, pat = b or "", sub or "", pat or ""
            if b and sub:
                st.hl_children[verdict].add((tx_no, b))
            if sub and pat:
                st.hl_children[verdict].add((tx_no, sub))
            amt = Decimal(charge) if charge not in (None, "") else Decimal(0)
            for key, table in ((tx_no, st.tx_totals), ((tx_no, b), st.prov_totals)):
                t = table.setdefault(key, [0, 0, Decimal(0), Decimal(0)])
                i = 0 if verdict == "accepted" else 1
                t[i] += 1
                t[2 + i] += amt
        st.verdicts = _Lookup(verdicts, self._verdict_of)
        st.results = _Lookup(results, self._result_of)
        return st

    def _row(self, seq: int) -> tuple[str, str | None] | None:
        got = self.db.execute("SELECT verdict, reasons FROM claims WHERE seq = ?", (seq,)).fetchone()
        return None if got is None else (got[0], got[1])

    def _verdict_of(self, seq: int) -> str | None:
        got = self._row(seq)
        return None if got is None else got[0]

    def _result_of(self, seq: int) -> Verdict | None:
        got = self._row(seq)
        return None if got is None else Verdict(got[0], json.loads(got[1]) if got[1] else [])

    def accepted(self, tx_no: int) -> int:
        """How many claims of transaction ``tx_no`` were accepted."""
        return int(self.db.execute("SELECT count(*) FROM claims WHERE tx_no = ? AND verdict = "
                                   "'accepted'", (tx_no,)).fetchone()[0])

    # -- pass 2: the 999 and the TA1 ----------------------------------------------------
    def _findings(self, sql: str, args: Sequence[Any]) -> list[tuple[int, Finding]]:
        return [(n, pickle.loads(data)) for n, data in self.db.execute(sql, args)]

    def errors_between(self, lo: int, hi: int) -> list[tuple[int, Finding]]:
        """The errors not placed yet whose segment ordinal is in ``lo..hi``: (row, finding)
        in the order they were found."""
        return self._findings("SELECT n, data FROM errs WHERE seq BETWEEN ? AND ? ORDER BY n",
                              (lo, hi))

    def errors_named(self, group: str, upto: int) -> list[tuple[int, Finding]]:
        """The errors not placed yet that name functional group ``group`` (GS06) and have no
        segment ordinal or one up to ``upto``."""
        return self._findings("SELECT n, data FROM errs WHERE grp = ? AND (seq IS NULL OR seq <= ?) "
                              "ORDER BY n", (group, upto))

    def placed(self, rows: Sequence[int]) -> None:
        """The errors of ``rows`` are placed in the 999: no other group gets them."""
        self.db.executemany("DELETE FROM errs WHERE n = ?", [(n,) for n in rows])

    def interchange_errors(self, isa13: str) -> list[Finding]:
        """The envelope errors (:func:`edi837.outputs.ta1.is_interchange_finding`) naming ISA13
        ``isa13``, in the order they were found."""
        return [f for _, f in self._findings("SELECT n, data FROM errs WHERE ic = 1 AND "
                                             "interchange = ? ORDER BY n", (isa13,))]

    def missing_after(self, seq: int) -> list[int]:
        """Up to a page of the segment ordinals of missing-segment errors (IK304 3) past
        ``seq``, ascending."""
        return [r[0] for r in self.db.execute("SELECT seq FROM missing WHERE seq > ? ORDER BY seq "
                                              "LIMIT ?", (seq, _PAGE))]

    def add_ack(self, kind: str, ic: int | None, head: Any, body: Any) -> None:
        """A 999 body (kind "999": ``head`` the group's GS fields, ``ic`` its interchange's
        ordinal, None for none) or a TA1 (kind "ta1": ``head`` the ISA fields, ``body`` the
        errors), spooled in file order."""
        self._acks.append((kind, ic, json.dumps(head), pickle.dumps(body, pickle.HIGHEST_PROTOCOL)))
        if len(self._acks) >= _BATCH // 10:
            self.db.execute("BEGIN")
            self._flush_acks()
            self.db.execute("COMMIT")

    def _flush_acks(self) -> None:
        if self._acks:
            self.db.executemany("INSERT INTO acks (kind, ic, head, body) VALUES (?, ?, ?, ?)",
                                self._acks)
            self._acks = []

    def acks(self, kind: str) -> Iterator[tuple[int | None, Any, Any]]:
        """The spooled acknowledgments of ``kind`` in file order: (interchange, head, body)."""
        self.flush()
        last = 0
        while True:
            rows = self.db.execute("SELECT n, ic, head, body FROM acks WHERE kind = ? AND n > ? "
                                   "ORDER BY n LIMIT ?", (kind, last, _PAGE)).fetchall()
            if not rows:
                return
            for n, ic, head, body in rows:
                last = n
                yield ic, json.loads(head), pickle.loads(body)

    def has_acks(self, kind: str) -> bool:
        self.flush()
        return self.db.execute("SELECT 1 FROM acks WHERE kind = ? LIMIT 1", (kind,)).fetchone() \
            is not None
