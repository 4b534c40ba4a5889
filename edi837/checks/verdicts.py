"""Verdict bookkeeping, shared by every executor (serial, process-parallel, Spark).

- :class:`ClaimResult`: a claim's verdict, counts and rejection reasons;
- :class:`FileResult`: a file's counts;
- :class:`Pending`: claims waiting for the end of their interchange (an
  envelope error rejects every claim it encloses), packed in columns and
  spilled to disk so memory stays flat;
- :func:`suppress_cascades`: one finding per cause.
"""

from __future__ import annotations

import operator

from array import array
from bisect import bisect_left, bisect_right
from typing import TYPE_CHECKING, Any, Iterable, Iterator

import attrs

from ..findings import Finding, Severity
from .registry import RULES

if TYPE_CHECKING:
    from typing import TypeAlias

    # where a claim sits: (kind, interchange, group, transaction)
    _Where: TypeAlias = tuple[str | None, str, str, str]
    _Notes: TypeAlias = tuple[tuple[str, str], ...]
    # Pending's columns: ints, claim_id, where, charge, patient key, reasons, notes
    _Cols: TypeAlias = tuple[list["array[int]"], list[str], list[_Where], list[str | None],
                             list[tuple[str, ...]], dict[int, list[str]], list[_Notes]]


@attrs.define(slots=True)
class ClaimResult:
    file: str | None
    claim_seq: int
    claim_id: str
    verdict: str  # "accepted" | "rejected"
    errors: int = 0
    warnings: int = 0
    kind: str | None = None
    interchange: str = ""
    group: str = ""
    transaction: str = ""
    charge: str | None = None
    patient_key: tuple[str, ...] = ()
    first_seq: int = 0  # first and last segment ordinal of the claim loop
    last_seq: int = 0
    reasons: list[str] = attrs.field(factory=list)  # rule ids of the errors that reject it
    tx_no: int = 0  # ordinals of the enclosing transaction and group in the file
    grp_no: int = 0
    # what the packs note on the claim (``PackRun.claim_note``), e.g. the edit
    # pack's {"profile": ..., "profile_reason": ...}; shown in the reports
    notes: tuple[tuple[str, str], ...] = ()
    run_uid: int = 0  # the claim's number in its run (arrival order, from 1), set when final

    def __reduce__(self) -> tuple[Any, ...]:
        # pickled as a plain tuple of its fields (spool files), read back through __init__
        # (positional, every field, no converter): ten times cheaper than attrs' slot state
        return (ClaimResult, _CR_FIELDS_OF(self))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "file": self.file, "claim_seq": self.claim_seq, "claim_id": self.claim_id,
            "verdict": self.verdict, "errors": self.errors, "warnings": self.warnings,
            "transaction_type": self.kind, "interchange": self.interchange, "group": self.group,
            "transaction": self.transaction, "charge": self.charge, "reasons": self.reasons}
        for k, v in self.notes:
            d.setdefault(k, v)
        return d


_CR_FIELDS = tuple(a.name for a in attrs.fields(ClaimResult))
_CR_FIELDS_OF = operator.attrgetter(*_CR_FIELDS)  # the fields as one tuple (pickling)


@attrs.define(slots=True)
class FileResult:
    file: str
    claims: int = 0
    accepted: int = 0
    rejected: int = 0
    errors: int = 0
    warnings: int = 0
    infos: int = 0
    could_not_read: bool = False


class Pending:
    """Claims waiting for the end of their interchange, packed in columns.

    A claim's verdict is final only at IEA (envelope errors reject what they
    enclose), so every claim of an interchange waits here.  The fields are
    kept in int arrays and shared (interned) values, and every ``SPILL_AT``
    claims the columns are pickled to a temporary file, so memory stays flat
    however many claims one interchange holds.  Errors that arrive for spilled
    claims (an enclosing transaction, group or interchange, or a late finding)
    are recorded and applied when the chunk is read back in :meth:`drain`.
    """

    # the int columns, in order (append writes them out one by one, in this order)
    _INTS = ("claim_seq", "errors", "warnings", "first_seq", "last_seq", "tx_no", "grp_no")
    SPILL_AT = 4000

    def __init__(self, file: str | None):
        self.file = file
        self._spill: Any = None  # temporary file of pickled chunks
        self._chunks = 0
        self._late: list[tuple[int, str, int | None, list[str]]] = []  # (chunks spilled then, kind, key, rules)
        # whether the claims' (transaction, group) ordinals ascend, as in file order (see _flag_cols)
        self._ordered = True
        self._last: tuple[int, int] = (0, 0)
        self._reset()

    def _reset(self) -> None:
        self.ints = [array("q") for _ in self._INTS]
        self.claim_id: list[str] = []
        self.where: list[_Where] = []  # (kind, interchange, group, transaction), interned
        self.charge: list[str | None] = []  # interned
        self.pkey: list[tuple[str, ...]] = []  # interned
        self.reasons: dict[int, list[str]] = {}  # row -> rule ids, only for claims with errors
        self.notes: list[_Notes] = []  # interned
        self._intern: tuple[dict[_Where, _Where], dict[str | None, str | None],
                            dict[tuple[str, ...], tuple[str, ...]], dict[_Notes, _Notes]] = ({}, {}, {}, {})

    def __len__(self) -> int:
        return len(self.claim_id)

    def append(self, cr: ClaimResult) -> None:
        if len(self.claim_id) >= self.SPILL_AT:
            self._spill_chunk()
        if cr.tx_no < self._last[0] or cr.grp_no < self._last[1]:
            self._ordered = False
        self._last = (cr.tx_no, cr.grp_no)
        row = len(self.claim_id)
        ints = self.ints  # (the columns of _INTS, in that order)
        ints[0].append(cr.claim_seq)
        ints[1].append(cr.errors)
        ints[2].append(cr.warnings)
        ints[3].append(cr.first_seq)
        ints[4].append(cr.last_seq)
        ints[5].append(cr.tx_no)
        ints[6].append(cr.grp_no)
        self.claim_id.append(cr.claim_id)
        iw, ic, ip, inote = self._intern
        w = (cr.kind, cr.interchange, cr.group, cr.transaction)
        self.where.append(iw.setdefault(w, w))
        self.charge.append(ic.setdefault(cr.charge, cr.charge))
        self.pkey.append(ip.setdefault(cr.patient_key, cr.patient_key))
        self.notes.append(inote.setdefault(cr.notes, cr.notes))
        if cr.reasons:
            self.reasons[row] = list(cr.reasons)

    def _columns(self) -> _Cols:
        return (self.ints, self.claim_id, self.where, self.charge, self.pkey, self.reasons, self.notes)

    def _spill_chunk(self) -> None:
        import pickle
        import tempfile

        if self._spill is None:
            self._spill = tempfile.TemporaryFile(prefix="edi837-pending-")
        pickle.dump(self._columns(), self._spill, protocol=pickle.HIGHEST_PROTOCOL)
        self._chunks += 1
        self._reset()

    def _row(self, claim_seq: int) -> int | None:
        seqs = self.ints[0]
        i = bisect_left(seqs, claim_seq)
        return i if i < len(seqs) and seqs[i] == claim_seq else None

    @staticmethod
    def _err(cols: _Cols, row: int, rules: Iterable[str]) -> None:
        cols[0][1][row] += 1
        rs = cols[5].setdefault(row, [])
        for r in rules:
            if r not in rs:
                rs.append(r)

    def add_error(self, claim_seq: int, rule: str) -> None:
        row = self._row(claim_seq)
        if row is not None:
            self._err(self._columns(), row, (rule,))
        elif self._chunks:
            self._late.append((self._chunks, "claim", claim_seq, [rule]))

    @staticmethod
    def _flag_cols(cols: _Cols, level: str, number: int | None, rules: list[str], ordered: bool) -> None:
        ints = cols[0]
        col = ints[5] if level == "transaction" else ints[6] if level == "group" else None
        rows: Iterable[int]
        if col is None:
            rows = range(len(cols[1]))
        elif ordered and number is not None:
            # claims arrive in file order, so their transaction and group ordinals ascend: the
            # claims of one are a run found by bisection -- O(its claims) a flag, not O(every
            # claim pending): a file of many transactions with an error each stays linear
            rows = range(bisect_left(col, number), bisect_right(col, number))
        else:
            rows = [r for r in range(len(col)) if col[r] == number]
        for row in rows:
            Pending._err(cols, row, rules)

    def flag(self, level: str, number: int | None, rules: list[str]) -> None:
        """An error in an enclosing transaction/group (by ordinal) or the interchange."""
        self._flag_cols(self._columns(), level, number, rules, self._ordered)
        if self._chunks:
            self._late.append((self._chunks, level, number, list(rules)))

    def _apply_late(self, cols: _Cols, chunk: int, late: list[tuple[int, str, int | None, list[str]]],
                    ordered: bool) -> None:
        for n, kind, key, rules in late:
            if n <= chunk:  # spilled after this record: it was applied in memory
                continue
            if kind == "claim":
                assert key is not None  # add_error records a claim_seq
                seqs = cols[0][0]
                i = bisect_left(seqs, key)
                if i < len(seqs) and seqs[i] == key:
                    self._err(cols, i, rules)
            else:
                self._flag_cols(cols, kind, key, rules, ordered)

    def drain(self) -> Iterator[ClaimResult]:
        spill, n = self._spill, self._chunks
        last = self._columns()
        self._spill, self._chunks = None, 0
        late, self._late = self._late, []
        ordered, self._ordered, self._last = self._ordered, True, (0, 0)
        self._reset()
        if spill is not None:
            import pickle

            spill.seek(0)
            for i in range(n):
                cols = pickle.load(spill)
                self._apply_late(cols, i, late, ordered)
                yield from self._results(cols)
            spill.close()
        yield from self._results(last)

    def _results(self, cols: _Cols) -> Iterator[ClaimResult]:
        ints, ids, where, charges, pkeys, reasons, notes = cols
        for row in range(len(ids)):
            kind, ic, grp, tx = where[row]
            charge, pkey = charges[row], pkeys[row]
            seq, err, warn, first, last, tx_no, grp_no = (c[row] for c in ints)
            yield ClaimResult(file=self.file, claim_seq=seq, claim_id=ids[row], verdict="accepted",
                              errors=err, warnings=warn, kind=kind, interchange=ic, group=grp,
                              transaction=tx, charge=charge, patient_key=pkey, first_seq=first,
                              last_seq=last, reasons=reasons.get(row, []), tx_no=tx_no, grp_no=grp_no,
                              notes=notes[row])



def suppress_cascades(findings: list[Finding], context: Iterable[Finding] = ()) -> list[Finding]:
    """One finding per cause.  One finding per (rule, segment, element); element
    findings on a segment that is itself unknown or misplaced are dropped (the
    segment finding says it); where two rules find something at the same
    segment and element and one supersedes the other (``registry.supersede``),
    only the more specific finding stays.  ``context``: findings already
    reported for the same claim, which count too."""
    context = list(context)
    if len(findings) + len(context) < 2:
        return findings
    everything = (*findings, *context)
    seg_level = {f.segment_seq for f in everything
                 if f.element is None and f.ik3 in ("1", "2", "7") and f.segment_seq is not None}
    beaten: set[tuple[str, int, str | None]] = set()  # (rule, segment, element) another finding supersedes
    for g in everything:
        if g.segment_seq is not None:
            sup = RULES[g.rule].supersedes if g.rule in RULES else None
            if sup:
                beaten.update((r, g.segment_seq, g.element) for r in sup)
    seen: set[tuple[str, int | None, str | None, int | None, int | None, str]] = set()
    out = []
    for f in findings:
        if f.element is not None and f.segment_seq in seg_level:
            continue
        if beaten and f.segment_seq is not None and (f.rule, f.segment_seq, f.element) in beaten:
            continue
        key = (f.rule, f.segment_seq, f.element, f.claim_seq, f.line_number, f.message)
        if key in seen:
            continue
        seen.add(key)
        out.append(f)
    return out


def _unique(xs: Iterable[str]) -> list[str]:
    out: list[str] = []
    for x in xs:
        if x not in out:
            out.append(x)
    return out


class SplitTally:
    """The verdict bookkeeping of a split run (edi837.parallel.split_events):
    a claim's first half was counted without the cross-claim findings the
    second half adds, so its result and the file's counts are corrected here
    before the verdict is final -- giving the results of one engine."""

    def __init__(self) -> None:
        # claim seq -> (errors added, warnings added, reasons before, reasons after)
        self.fixes: dict[int, tuple[int, int, list[str], list[str]]] = {}
        self.added = {Severity.ERROR: 0, Severity.WARNING: 0, Severity.INFO: 0}
        self.accepted = self.rejected = 0

    def claim(self, seq: int, reasons: list[str], found: list[Finding], merged: list[Finding],
              added: list[Finding]) -> None:
        """Claim ``seq``'s halves were merged: ``found`` (first half), ``added``
        (second half), ``merged`` (both, in one-engine order); ``reasons``: its
        rejection reasons from the HL loops enclosing it."""
        if not added:
            return
        for f in added:
            self.added[f.severity] += 1
        errs = [f for f in added if f.severity is Severity.ERROR and f.claim_seq == seq]
        warns = sum(1 for f in added if f.severity is Severity.WARNING and f.claim_seq == seq)
        if errs or warns:
            def err_rules(fs: list[Finding]) -> list[str]:
                return [f.rule for f in fs if f.severity is Severity.ERROR and f.claim_seq == seq]

            self.fixes[seq] = (len(errs), warns, _unique(reasons + err_rules(found)),
                               _unique(reasons + err_rules(merged)))

    def verdict(self, cr: ClaimResult) -> None:
        """Correct a first-half claim result and settle its verdict."""
        fx = self.fixes.pop(cr.claim_seq, None)
        if fx is not None:
            n_err, n_warn, before, now = fx
            cr.errors += n_err
            cr.warnings += n_warn
            cr.reasons = _unique(now + cr.reasons[len(before):])
        cr.verdict = "rejected" if cr.errors else "accepted"
        if cr.errors:
            self.rejected += 1
        else:
            self.accepted += 1

    def file(self, res: FileResult) -> None:
        """Correct the file's counts."""
        res.errors += self.added[Severity.ERROR]
        res.warnings += self.added[Severity.WARNING]
        res.infos += self.added[Severity.INFO]
        res.accepted, res.rejected = self.accepted, self.rejected
