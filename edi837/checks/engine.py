"""The validation engine: runs the registered rules over the model stream.

For each file it walks :func:`edi837.model.stream`, hands every event to the
stream checkers (SNIP 1-2), runs the claim and line rules on each claim as it
completes, attributes findings to their claim and service line, suppresses
cascades, and decides each claim's verdict: rejected when the claim, or
anything enclosing it (its HL loops, transaction, group or interchange), has
an error finding; otherwise accepted.

Events from :meth:`Engine.run_file`:

- ``("finding", Finding)`` as soon as it is known;
- ``("claim", ClaimResult)`` when the claim's verdict is final (at the end of
  its interchange, since envelope errors reject what they enclose);
- ``("file", FileResult)`` at the end of the file.

``Engine(cross_claim="skip")`` runs only the rules that do not look at other
claims (and no ``hooks``) and yields ``("claim_checked", ClaimChecked)`` right
after a claim's findings; ``Engine(cross_claim="only")`` runs only the
cross-claim rules (plus ``hooks``), one claim at a time through
:meth:`Engine.complete_claim` / :meth:`Engine.check_claim`.  Together they give
exactly the findings, in the same order, of one ``cross_claim="run"`` engine
(see edi837/parallel.py :func:`validate`).  Within a claim, findings come in a
fixed order: stream-checker findings, then claim rules by id, then per service
line the line rules by id, then hooks.
"""

from __future__ import annotations

import os
from array import array
from bisect import bisect_left
from typing import Any, Callable, Iterable, Iterator

import attrs

from ..findings import Finding, Severity
from ..model.build import stream
from ..model.claims import Claim
from ..reader import ReadError
from . import registry
from .registry import CHECKERS, RULES, Rule

ALL_SNIP = frozenset({1, 2, 3, 4, 5, 7})


def parse_snip(spec: str | Iterable[int] | None) -> frozenset[int]:
    """'1-5' / '1,2,3' / '7' / None (every level) into a set of SNIP types."""
    if spec is None:
        return ALL_SNIP
    if not isinstance(spec, str):
        return frozenset(int(x) for x in spec)
    out: set[int] = set()
    for part in spec.replace(" ", "").split(","):
        if not part:
            continue
        if "-" in part:
            a, b = part.split("-", 1)
            out.update(range(int(a), int(b) + 1))
        else:
            out.add(int(part))
    bad = out - set(range(1, 8))
    if bad:
        raise ValueError(f"SNIP levels are 1-7, not {sorted(bad)}")
    return frozenset(out)


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
    patient_key: tuple = ()
    first_seq: int = 0  # first and last segment ordinal of the claim loop
    last_seq: int = 0
    reasons: list[str] = attrs.field(factory=list)  # rule ids of the errors that reject it
    tx_no: int = 0  # ordinals of the enclosing transaction and group in the file
    grp_no: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "claim_seq": self.claim_seq, "claim_id": self.claim_id,
                "verdict": self.verdict, "errors": self.errors, "warnings": self.warnings,
                "transaction_type": self.kind, "interchange": self.interchange, "group": self.group,
                "transaction": self.transaction, "charge": self.charge, "reasons": self.reasons}


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


@attrs.define(slots=True)
class ClaimChecked:
    """Payload of a skip-mode ``("claim_checked", ...)`` event.

    ``keys`` are the order keys of the claim's findings just yielded (same
    length and order); ``reasons`` the claim's rejection reasons before its own
    findings (from the HL loops enclosing it); ``ctl`` (ISA13, GS06, ST02)."""

    claim: Claim
    keys: list[tuple]
    reasons: list[str]
    ctl: tuple[str, str, str]


class Context:
    """What a rule function may look at besides its claim."""

    def __init__(self, engine: "Engine", file: str | None):
        self.engine = engine
        self.file = file
        self.options = engine.options
        self.snip = engine.snip
        self.state: dict[str, Any] = {}  # per-file scratch space for checkers

    @property
    def profile(self) -> Any:
        return self.engine.options.get("profile")

    @property
    def history(self) -> Any:
        return self.engine.options.get("history")


class Engine:
    """Validates files; one engine per run (cross-claim state lives here)."""

    def __init__(self, snip: str | Iterable[int] | None = None, rules: Iterable[str] | None = None,
                 cross_claim: str = "run", **options: Any):
        registry._load_all()
        if cross_claim not in ("run", "skip", "only"):
            raise ValueError("cross_claim must be 'run', 'skip' or 'only'")
        self.cross_claim = cross_claim
        self.snip = parse_snip(snip)
        only = set(rules) if rules is not None else None
        self.options: dict[str, Any] = options
        self.claim_rules: list[Rule] = []
        self.line_rules: list[Rule] = []
        for r in RULES.values():
            if r.func is None or r.snip not in self.snip or (only is not None and r.id not in only):
                continue
            if (cross_claim == "skip" and r.cross_claim) or (cross_claim == "only" and not r.cross_claim):
                continue
            (self.claim_rules if r.scope == "claim" else self.line_rules).append(r)
        self.claim_rules.sort(key=lambda r: r.id)
        self.line_rules.sort(key=lambda r: r.id)
        self.checker_classes = [cls for cls, ids in CHECKERS
                                if any(RULES[i].snip in self.snip for i in ids if i in RULES)
                                ] if cross_claim != "only" else []
        self.hooks: list[Callable[[Claim, Context], Iterable[Finding]]] = []
        self._by_kind: dict[Any, tuple[list, list]] = {}  # claim kind -> (claim rules, line rules)
        self._by_code: dict[Any, dict[str, list]] = {}  # claim kind -> procedure code -> line rules
        # called with each ClaimResult once its verdict is final (e.g. the edit
        # pack's history store records accepted claims here); option on_verdict too
        self.verdict_hooks: list[Callable[[ClaimResult], None]] = []
        self._ctx: dict[str | None, Context] = {}
        if cross_claim != "skip" and any(r.cross_claim for r in self.claim_rules + self.line_rules):
            # the edit pack's run state records every claim from the first one
            # on, whichever rules a claim happens to call (same in run/only mode)
            from .editpack._common import state

            state(Context(self, None))

    # -- one file ------------------------------------------------------------
    def run_file(self, source: Any, file: str | None = None) -> Iterator[tuple[str, Any]]:
        name = file or (os.fspath(source) if isinstance(source, (str, os.PathLike)) else "<bytes>")
        res = FileResult(file=name)
        ctx = Context(self, name)
        try:
            st = stream(source, name)
        except ReadError as e:
            res.could_not_read = True
            f = Finding(rule="RDR-007", severity=Severity.ERROR, message=e.message, file=name, snip=1)
            res.errors += 1
            yield ("finding", f)
            yield ("file", res)
            return
        checkers = [cls(ctx) for cls in self.checker_classes]
        skip = self.cross_claim == "skip"
        pending = _Pending(name)
        # error flags of what encloses the current claim
        env = {"interchange": False, "group": False, "transaction": False,
               "billing": False, "subscriber": False, "patient": False}
        env_reasons: dict[str, list[str]] = {k: [] for k in env}
        ctl = ["", "", ""]
        cur_claim: list[Any] = [None, None]  # Claim, ClaimResult
        hl_level = {"20": "billing", "22": "subscriber", "23": "patient"}
        cur_hl_kind = [None]

        def note(f: Finding) -> Finding:
            if f.file is None:
                f.file = name
            if f.interchange is None and ctl[0]:
                f.interchange = ctl[0]
            if f.group is None and ctl[1]:
                f.group = ctl[1]
            if f.transaction is None and ctl[2]:
                f.transaction = ctl[2]
            claim, cr = cur_claim
            if claim is not None and f.claim_seq is None and f.segment_seq is not None and \
                    cr.first_seq <= f.segment_seq <= cr.last_seq:
                f.claim_seq = claim.seq
                f.claim_id = claim.claim_id
                if f.line_number is None:
                    f.line_number = _line_of(claim, f.segment_seq)
            if f.severity is Severity.ERROR:
                res.errors += 1
            elif f.severity is Severity.WARNING:
                res.warnings += 1
            else:
                res.infos += 1
            if f.severity is Severity.ERROR:
                if claim is not None and f.claim_seq == claim.seq:
                    cr.errors += 1
                    if f.rule not in cr.reasons:
                        cr.reasons.append(f.rule)
                elif f.claim_seq is not None:
                    pending.add_error(f.claim_seq, f.rule)
                elif cur_hl_kind[0] is not None and f.segment_seq is not None:
                    env[cur_hl_kind[0]] = True
                    env_reasons[cur_hl_kind[0]].append(f.rule)
                else:
                    level = "transaction" if f.transaction else "group" if f.group else "interchange"
                    env[level] = True
                    env_reasons[level].append(f.rule)
            elif f.severity is Severity.WARNING and claim is not None and f.claim_seq == claim.seq:
                cr.warnings += 1
            return f

        counters = {"transaction": 0, "group": 0}

        def settle(level: str) -> Iterator[tuple[str, Any]]:
            """Close ``level``: enclosed pending claims take its error flag."""
            if env[level]:
                pending.flag(level, counters[level] if level != "interchange" else None, env_reasons[level])
            if level == "interchange":
                for p in pending.drain():
                    yield ("claim", self._verdict(p, res))

        try:
            for kind, obj in st:
                out: list[Finding] = []
                if kind == "claim":
                    claim: Claim = obj  # type: ignore[assignment]
                    first_seq, last_seq = _seq_span(claim.loop)
                    cr = ClaimResult(file=name, claim_seq=claim.seq, claim_id=claim.claim_id,
                                     verdict="accepted", kind=claim.kind, interchange=ctl[0],
                                     group=ctl[1], transaction=ctl[2],
                                     charge=str(claim.charge) if claim.charge is not None else None,
                                     patient_key=claim.patient_key,
                                     first_seq=first_seq, last_seq=last_seq,
                                     tx_no=counters["transaction"], grp_no=counters["group"])
                    for lvl in ("billing", "subscriber", "patient"):
                        if env[lvl] and (lvl != "patient" or claim.patient_loop is not None):
                            cr.errors += 1
                            for r in env_reasons[lvl]:
                                if r not in cr.reasons:
                                    cr.reasons.append(r)
                    cur_claim[0], cur_claim[1] = claim, cr
                    cur_hl_kind[0] = None
                    for ch in checkers:
                        out.extend(ch.on_event(kind, obj) or ())
                    if skip:
                        env_r = list(cr.reasons)
                        keyed = [((0, i), f) for i, f in enumerate(out)]
                        keyed += self._claim_findings_keyed(claim, ctx)
                        kept = _suppress_cascades([f for _, f in keyed])
                        kof = {id(f): k for k, f in keyed}
                        for f in kept:
                            yield ("finding", note(f))
                        yield ("claim_checked", ClaimChecked(claim, [kof[id(f)] for f in kept], env_r,
                                                             (ctl[0], ctl[1], ctl[2])))
                        pending.append(cr)
                        continue
                    out.extend(self._claim_findings(claim, ctx))
                    for f in _suppress_cascades(out):
                        yield ("finding", note(f))
                    pending.append(cr)
                    continue
                cur_claim[0] = cur_claim[1] = None
                if kind == "finding":
                    out.append(obj)  # type: ignore[arg-type]
                else:
                    if kind == "interchange":
                        ctl[0], ctl[1], ctl[2] = obj.control_number, "", ""  # type: ignore[attr-defined]
                        env["interchange"] = False
                        env_reasons["interchange"] = []
                    elif kind == "group":
                        ctl[1], ctl[2] = obj.control_number, ""  # type: ignore[attr-defined]
                        counters["group"] += 1
                        env["group"] = False
                        env_reasons["group"] = []
                    elif kind == "transaction":
                        ctl[2] = obj.control_number  # type: ignore[attr-defined]
                        counters["transaction"] += 1
                        env["transaction"] = False
                        env_reasons["transaction"] = []
                        for lvl in ("billing", "subscriber", "patient"):
                            env[lvl] = False
                            env_reasons[lvl] = []
                    elif kind == "hl":
                        lvl = hl_level.get(obj.segments[0][3]) if obj.segments else None  # type: ignore
                        cur_hl_kind[0] = lvl
                        if lvl == "billing":
                            for x in ("billing", "subscriber", "patient"):
                                env[x] = False
                                env_reasons[x] = []
                        elif lvl == "subscriber":
                            for x in ("subscriber", "patient"):
                                env[x] = False
                                env_reasons[x] = []
                        elif lvl == "patient":
                            env["patient"] = False
                            env_reasons["patient"] = []
                    for ch in checkers:
                        out.extend(ch.on_event(kind, obj) or ())
                for f in _suppress_cascades(out):
                    yield ("finding", note(f))
                if kind != "hl":
                    cur_hl_kind[0] = None
                if kind == "transaction_end":
                    yield from settle("transaction")
                    ctl[2] = ""
                elif kind == "group_end":
                    # transaction flags were folded into pending claims already
                    yield from settle("group")
                    ctl[1] = ""
                elif kind == "interchange_end":
                    yield from settle("interchange")
                    ctl[0] = ""
            out = []
            for ch in checkers:
                fin = getattr(ch, "finish", None)
                if fin is not None:
                    out.extend(fin() or ())
            for f in _suppress_cascades(out):
                yield ("finding", note(f))
        except ReadError as e:
            res.could_not_read = True
            yield ("finding", note(Finding(rule="RDR-007", severity=Severity.ERROR, message=e.message,
                                           file=name, snip=1)))
        # end of file: whatever is still open settles now
        for lvl in ("transaction", "group"):
            if env[lvl]:
                pending.flag(lvl, counters[lvl], env_reasons[lvl])
        yield from settle("interchange")
        yield ("file", res)

    def _verdict(self, p: ClaimResult, res: FileResult) -> ClaimResult:
        p.verdict = "rejected" if p.errors else "accepted"
        res.claims += 1
        if p.errors:
            res.rejected += 1
        else:
            res.accepted += 1
        for hook in self.verdict_hooks:
            hook(p)
        cb = self.options.get("on_verdict")
        if cb is not None:
            cb(p)
        return p

    def _claim_findings(self, claim: Claim, ctx: Context) -> list[Finding]:
        return [f for _, f in self._claim_findings_keyed(claim, ctx)]

    def _claim_findings_keyed(self, claim: Claim, ctx: Context) -> list[tuple[tuple, Finding]]:
        """The claim's rule and hook findings with their order keys, in key order:
        (1, 0, rule id, n) claim rules, (2, line index, rule id, n) line rules,
        (3, hook index, n) hooks (stream-checker findings are (0, n))."""
        out: list[tuple[tuple, Finding]] = []
        kind = claim.kind
        rules = self._by_kind.get(kind)
        if rules is None:
            rules = self._by_kind[kind] = (
                [(r, r.func) for r in self.claim_rules if kind in r.applies_to],
                [(r, r.func) for r in self.line_rules if kind in r.applies_to])
        claim_rules, line_rules = rules
        for r, func in claim_rules:
            for h in func(claim, ctx) or ():  # type: ignore[misc]
                out.append(((1, 0, r.id, len(out)), r.from_hit(h, claim=claim, file=claim.file)))
        if line_rules:
            by_code = self._by_code.get(kind)
            if by_code is None:
                by_code = self._by_code[kind] = {}
            for li, ln in enumerate(claim.lines):
                code = ln.procedure_code
                mine = by_code.get(code)
                if mine is None:  # the line rules for this code, in id order
                    if len(by_code) >= 10000:
                        by_code.clear()
                    mine = by_code[code] = [(r, f) for r, f in line_rules
                                            if r.codes is None or code in r.codes]
                for r, func in mine:
                    for h in func(ln, ctx) or ():  # type: ignore[misc]
                        if h.line is None:
                            h.line = ln
                        out.append(((2, li, r.id, len(out)), r.from_hit(h, claim=claim, file=claim.file)))
        if self.cross_claim != "skip":
            for hi, hook in enumerate(self.hooks):
                for f in hook(claim, ctx):
                    out.append(((3, hi, len(out)), f))
        return out

    # -- cross-claim half of a split run ------------------------------------
    def check_claim(self, claim: Claim, file: str | None = None) -> list[Finding]:
        """Run this engine's claim/line rules and hooks on one claim (in arrival
        order: cross-claim state sees the claims checked before).  Findings are
        attributed as :meth:`run_file` does (file, claim, line; envelope control
        numbers from the claim)."""
        return [f for _, f in self._check_keyed(claim, file, claim.control)]

    def _check_keyed(self, claim: Claim, file: str | None, ctl: tuple) -> list[tuple[tuple, Finding]]:
        name = file if file is not None else claim.file
        ctx = self._ctx.get(name)
        if ctx is None:
            self._ctx = {name: (ctx := Context(self, name))}
        out = self._claim_findings_keyed(claim, ctx)
        for _, f in out:
            if f.file is None:
                f.file = name
            for attr, v in zip(("interchange", "group", "transaction"), ctl):
                if getattr(f, attr) is None and v:
                    setattr(f, attr, v)
        return out

    def complete_claim(self, checked: ClaimChecked, found: list[Finding], file: str | None = None
                       ) -> tuple[list[Finding], list[Finding]]:
        """Merge a skip-mode claim (its ``claim_checked`` payload and the
        findings yielded for it, ``found``) with this (only-mode) engine's
        findings on it.  Returns (every finding of the claim in one-engine
        order, the findings added here); cascades are suppressed as in one run.
        """
        mine = self._check_keyed(checked.claim, file, checked.ctl)
        if not mine:
            return list(found), []
        theirs = list(zip(checked.keys, found))
        # what one run's _suppress_cascades would drop (rules never overlap the skip half)
        kept = {id(f) for f in _suppress_cascades([f for _, f in mine], context=found)}
        added = [(k, f) for k, f in mine if id(f) in kept]
        merged = sorted(theirs + added, key=lambda kf: kf[0])
        return [f for _, f in merged], [f for _, f in added]

    # -- many files --------------------------------------------------------
    def run(self, sources: Iterable[Any]) -> Iterator[tuple[str, Any]]:
        for src in sources:
            yield ("file_start", src)
            yield from self.run_file(src)
        fin = self.options.get("on_finish")
        if fin is not None:
            fin()


class _Pending:
    """Claims waiting for the end of their interchange, packed in columns.

    A claim's verdict is final only at IEA (envelope errors reject what they
    enclose), so every claim of an interchange waits here.  The fields are
    kept in int arrays and shared (interned) values, and every ``SPILL_AT``
    claims the columns are pickled to a temporary file, so memory stays flat
    however many claims one interchange holds.  Errors that arrive for spilled
    claims (an enclosing transaction, group or interchange, or a late finding)
    are recorded and applied when the chunk is read back in :meth:`drain`.
    """

    _INTS = ("claim_seq", "errors", "warnings", "first_seq", "last_seq", "tx_no", "grp_no")
    SPILL_AT = 20000

    def __init__(self, file: str | None):
        self.file = file
        self._spill: Any = None  # temporary file of pickled chunks
        self._chunks = 0
        self._late: list[tuple] = []  # (chunks spilled then, kind, key, rules)
        self._reset()

    def _reset(self) -> None:
        self.ints = [array("q") for _ in self._INTS]
        self.claim_id: list[str] = []
        self.where: list[tuple] = []  # (kind, interchange, group, transaction), interned
        self.charge: list[str | None] = []  # interned
        self.pkey: list[tuple] = []  # interned
        self.reasons: dict[int, list[str]] = {}  # row -> rule ids, only for claims with errors
        self._intern: tuple[dict, dict, dict] = ({}, {}, {})

    def __len__(self) -> int:
        return len(self.claim_id)

    def append(self, cr: ClaimResult) -> None:
        if len(self.claim_id) >= self.SPILL_AT:
            self._spill_chunk()
        row = len(self.claim_id)
        for col, attr in zip(self.ints, self._INTS):
            col.append(getattr(cr, attr))
        self.claim_id.append(cr.claim_id)
        iw, ic, ip = self._intern
        w = (cr.kind, cr.interchange, cr.group, cr.transaction)
        self.where.append(iw.setdefault(w, w))
        self.charge.append(ic.setdefault(cr.charge, cr.charge))
        self.pkey.append(ip.setdefault(cr.patient_key, cr.patient_key))
        if cr.reasons:
            self.reasons[row] = list(cr.reasons)

    def _columns(self) -> tuple:
        return (self.ints, self.claim_id, self.where, self.charge, self.pkey, self.reasons)

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
    def _err(cols: tuple, row: int, rules: Iterable[str]) -> None:
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
    def _flag_cols(cols: tuple, level: str, number: int | None, rules: list[str]) -> None:
        ints = cols[0]
        col = ints[5] if level == "transaction" else ints[6] if level == "group" else None
        for row in range(len(cols[1])):
            if col is not None and col[row] != number:
                continue
            _Pending._err(cols, row, rules)

    def flag(self, level: str, number: int | None, rules: list[str]) -> None:
        """An error in an enclosing transaction/group (by ordinal) or the interchange."""
        self._flag_cols(self._columns(), level, number, rules)
        if self._chunks:
            self._late.append((self._chunks, level, number, list(rules)))

    def _apply_late(self, cols: tuple, chunk: int, late: list[tuple]) -> None:
        for n, kind, key, rules in late:
            if n <= chunk:  # spilled after this record: it was applied in memory
                continue
            if kind == "claim":
                seqs = cols[0][0]
                i = bisect_left(seqs, key)
                if i < len(seqs) and seqs[i] == key:
                    self._err(cols, i, rules)
            else:
                self._flag_cols(cols, kind, key, rules)

    def drain(self) -> Iterator[ClaimResult]:
        spill, n = self._spill, self._chunks
        last = self._columns()
        self._spill, self._chunks = None, 0
        late, self._late = self._late, []
        self._reset()
        if spill is not None:
            import pickle

            spill.seek(0)
            for i in range(n):
                cols = pickle.load(spill)
                self._apply_late(cols, i, late)
                yield from self._results(cols)
            spill.close()
        yield from self._results(last)

    def _results(self, cols: tuple) -> Iterator[ClaimResult]:
        ints, ids, where, charges, pkeys, reasons = cols
        for row in range(len(ids)):
            kind, ic, grp, tx = where[row]
            charge, pkey = charges[row], pkeys[row]
            seq, err, warn, first, last, tx_no, grp_no = (c[row] for c in ints)
            yield ClaimResult(file=self.file, claim_seq=seq, claim_id=ids[row], verdict="accepted",
                              errors=err, warnings=warn, kind=kind, interchange=ic, group=grp,
                              transaction=tx, charge=charge, patient_key=pkey, first_seq=first,
                              last_seq=last, reasons=reasons.get(row, []), tx_no=tx_no, grp_no=grp_no)


def _seq_span(loop: Any) -> tuple[int, int]:
    """First and last segment ordinal of a loop tree (0, 0 when empty); each
    loop's own segments are in file order (see grammar.parser.build_loop)."""
    lo = hi = 0
    stack = [loop]
    while stack:
        lp = stack.pop()
        ss = lp.segments
        if ss:
            a, b = ss[0].seq, ss[-1].seq
            if not lo or a < lo:
                lo = a
            if b > hi:
                hi = b
        if lp.children:
            stack.extend(lp.children)
    return lo, hi


def _line_of(claim: Claim, seq: int) -> int | None:
    best = None
    for ln in claim.lines:
        first = ln.loop.segments[0].seq if ln.loop.segments else None
        if first is not None and first <= seq:
            best = ln
    if best is None:
        return None
    try:
        return int(best.line_number)
    except ValueError:
        return None


def _suppress_cascades(findings: list[Finding], context: Iterable[Finding] = ()) -> list[Finding]:
    """One finding per (rule, segment, element); element findings on a segment
    that is itself unknown or misplaced are dropped (the segment finding says it).
    ``context``: findings already reported for the same claim, whose segment-level
    findings count too."""
    context = list(context)
    if len(findings) + len(context) < 2:
        return findings
    seg_level = {f.segment_seq for f in (*findings, *context)
                 if f.element is None and f.ik3 in ("1", "2", "7") and f.segment_seq is not None}
    seen: set = set()
    out = []
    for f in findings:
        if f.element is not None and f.segment_seq in seg_level:
            continue
        key = (f.rule, f.segment_seq, f.element, f.claim_seq, f.line_number, f.message)
        if key in seen:
            continue
        seen.add(key)
        out.append(f)
    return out
