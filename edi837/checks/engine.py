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

import functools
import os
from bisect import bisect_right
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping

from ..events import (ClaimChecked, ClaimRead, ClaimVerdict, EngineEvent, FileDone, FileStart, Found, GroupEnd,
                      GroupStart, HlRead, InterchangeEnd, InterchangeStart, ModelEvent, PartMark, TransactionEnd,
                      TransactionStart)
from ..findings import Finding, Severity
from ..grammar.stream import line_cap as line_cap  # (the guide's line maximum; tests import it here)
from ..model.build import stream
from ..model.claims import Claim
from ..reader import ReadError
from . import registry
from .options import ALL_SNIP, RunOptions, parse_snip
from .packs import PackRun, RulePack
from .registry import CHECKERS, RULES, Hit, Rule
from .verdicts import ClaimResult, FileResult, Pending, suppress_cascades

if TYPE_CHECKING:
    from ..grammar.loop import Loop
    from ..reader.interchanges import SeenInterchanges

HL_LEVEL = {"20": "billing", "22": "subscriber", "23": "patient"}  # HL03 -> level
HL_CLEARS = {"billing": ("billing", "subscriber", "patient"), "subscriber": ("subscriber", "patient"),
             "patient": ("patient",)}  # a new HL loop starts these levels afresh

__all__ = ["Engine", "Context", "ClaimChecked", "ClaimResult", "FileResult", "RunOptions", "parse_snip",
           "ALL_SNIP"]

Key = tuple[Any, ...]  # a finding's order key within its claim (see Engine._claim_findings_keyed)
RuleFunc = Callable[..., Iterable[Hit]]
class _Rules(list[tuple[Rule, RuleFunc]]):
    """Rules of one scope for one claim kind, in id order, with what some of them need to
    fire (:attr:`Rule.codes` of claim rules, :attr:`Rule.modifiers` of line rules): ``needs``
    is the union (empty when no rule declares it); ``by_codes`` the claim rules for each
    set of those codes a claim has."""

    def __init__(self, rules: list[tuple[Rule, RuleFunc]], need: str):
        super().__init__(rules)
        self.needs: frozenset[str] = frozenset().union(*[n for r, _ in rules if (n := getattr(r, need))])
        self.by_codes: dict[frozenset[str], list[tuple[Rule, RuleFunc]]] = {}


class Context:
    """What a rule function may look at besides its claim."""

    def __init__(self, engine: "Engine", file: str | None):
        self.engine = engine
        self.file = file
        self.options: RunOptions = engine.options
        self.snip = engine.snip
        self.state: dict[str, Any] = {}  # per-file scratch space for checkers
        # the packs' started run states by name (the engine's own dict, read-only here):
        # a rule on a hot path may look its pack's state up here before calling pack_state
        self.pack_states: Mapping[str, Any] = engine._runs

    def pack_state(self, name: str) -> Any:
        """The run state of rule pack ``name`` (started on first use)."""
        return self.engine.pack_state(name)


class Engine:
    """Validates files; one engine per run (the packs' run state lives here).

    ``Engine(options)`` or ``Engine(snip=..., profile=..., ...)``: the keywords
    are those of :class:`RunOptions` (an unknown one is a ValueError)."""

    def __init__(self, options: RunOptions | None = None, *, cross_claim: str = "run", **kw: Any):
        registry._load_all()
        if cross_claim not in ("run", "skip", "only"):
            raise ValueError("cross_claim must be 'run', 'skip' or 'only'")
        self.cross_claim = cross_claim
        self.options = options = RunOptions.build(options, **kw)
        self.snip = options.snip
        only = options.rules
        self.claim_rules: list[Rule] = []
        self.line_rules: list[Rule] = []
        # a "run" engine holds the cross-claim rules and runs the others in an inner
        # skip-mode engine: the two phases of checks/twophase.py
        mode = "only" if cross_claim == "run" else cross_claim
        for r in RULES.values():
            if r.func is None or r.snip not in self.snip or (only is not None and r.id not in only):
                continue
            if (mode == "skip" and r.cross_claim) or (mode == "only" and not r.cross_claim):
                continue
            (self.claim_rules if r.scope == "claim" else self.line_rules).append(r)
        self.claim_rules.sort(key=lambda r: r.id)
        self.line_rules.sort(key=lambda r: r.id)
        self.checker_classes = [cls for cls, ids in CHECKERS
                                if any(RULES[i].snip in self.snip for i in ids if i in RULES)
                                ] if cross_claim == "skip" else []
        # called with each claim once its rules ran (e.g. the gate notes its HL chain)
        self.claim_listeners: list[Callable[[Claim], None]] = []
        self._skip: Engine | None = None
        self.uids = 0  # claims numbered so far in this run (checks/twophase.py)
        # interchange ordinal in the file being read -> where it was sent before (S1-ENV-015)
        self.dup_ics: dict[int, str] = {}
        self._ics_seen: SeenInterchanges | None = None  # (ISA06, ISA13) -> the file no that sent it first
        self._ics_where: dict[int, str] = {}  # file no -> where, for the message
        self._n_files = 0
        if cross_claim == "run":
            self._skip = Engine(options.serial, cross_claim="skip")
            if not self.claim_rules and not self.line_rules:  # nothing cross-claim: one phase
                self._skip.claim_listeners = self.claim_listeners
        # claim kind -> (claim rules, line rules, the guide's line maximum)
        self._by_kind: dict[str | None, tuple[_Rules, _Rules, int | None]] = {}
        # claim kind -> procedure code (with the line's modifiers some rule needs) -> line rules
        self._by_code: dict[str | None, dict[Any, list[tuple[Rule, RuleFunc]]]] = {}
        self._ctx: dict[str | None, Context] = {}
        self._packs: dict[str, RulePack] = {p.name: p for p in registry.packs()}
        self._runs: dict[str, PackRun | None] = {}  # started pack states, in start order
        # the started states' per-claim hooks (on_claim, on_verdict, begin_claim), listed once:
        # None until asked, and again whenever a pack state starts
        self._hooks: tuple[list[Callable[..., Any]], ...] | None = None
        # packs with a rule selected in this run: their run state may note something
        # on each claim's result (an optional ``claim_note``, see packs.ClaimNoter)
        self._noting = [p.name for p in self._packs.values()
                        if any(p.owns(r) for r in self.claim_rules + self.line_rules)]
        if cross_claim != "skip":
            # a pack with cross-claim rules records every claim from the first
            # one on, whichever rules a claim happens to call (same in run/only mode)
            for p in self._packs.values():
                if any(p.owns(r) and r.cross_claim for r in self.claim_rules + self.line_rules):
                    self.pack_state(p.name)

    def pack_state(self, name: str) -> Any:
        """Pack ``name``'s state for this run (:meth:`RulePack.start_run`), started on first use."""
        st = self._runs.get(name)
        if st is None:
            st = self._packs[name].start_run(self.options)
            self._runs[name] = st
            self._hooks = None
            skip = self._skip
            if skip is not None and hasattr(st, "twin"):  # (the same pack's state in the per-claim engine)
                setattr(st, "twin", functools.partial(skip._runs.get, name))  # (a pack's own attribute)
        return st

    def _list_hooks(self) -> tuple[list[Callable[..., Any]], ...]:
        """The started pack states' on_claim, on_verdict and begin_claim methods (those that
        have one), in start order."""
        runs = [st for st in self._runs.values() if st is not None]
        self._hooks = got = tuple([fn for st in runs if (fn := getattr(st, name, None)) is not None]
                                  for name in ("on_claim", "on_verdict", "begin_claim"))
        return got

    def scan_interchanges(self, source: Any, name: str | None) -> dict[int, str]:
        """The interchanges of the next file of the run that were sent before: in an
        earlier file of this run, or accepted in an earlier run (a pack's
        ``interchange_accepted``, e.g. the history store): ordinal -> where.
        An ISA13 repeated inside one file is S1-ENV-009's, not counted here."""
        from ..reader.interchanges import SeenInterchanges, iter_interchange_ids

        self._n_files += 1
        no = self._n_files
        out: dict[int, str] = {}
        seen = self._ics_seen
        if seen is None:
            seen = self._ics_seen = SeenInterchanges()
        where = self._ics_where
        looks = [fn for st in self.pack_runs() if (fn := getattr(st, "interchange_accepted", None)) is not None]
        for n, k in enumerate(iter_interchange_ids(source), 1):
            first = seen.get(k)
            if first is not None:
                if first != no:
                    out[n] = where[first]
                continue
            if any(look(*k) for look in looks):
                out[n] = "accepted in an earlier run, by the history store"
                continue
            if no not in where:
                where[no] = f"sent earlier in this run, in {name or 'an earlier input'}"
            seen.add(k, no)
        return out

    def pack_runs(self) -> list[Any]:
        """The packs' started run states."""
        return [st for st in self._runs.values() if st is not None]

    @property
    def two_phase(self) -> bool:
        """Whether this run engine has cross-claim rules (so runs in two phases)."""
        return self._skip is not None and bool(self.claim_rules or self.line_rules)

    # -- one file ------------------------------------------------------------
    def run_file(self, source: Any, file: str | None = None) -> Iterator[EngineEvent]:
        """The events of one file (a run of one file: see :meth:`run`)."""
        skip = self._skip
        if skip is None:
            yield from self._run_file(source, file)
            return
        if not self.two_phase:
            skip.dup_ics = self.scan_interchanges(source, _name(source, file))
            for ev in skip._run_file(source, file):
                if isinstance(ev, ClaimVerdict):
                    self.verdict_final(ev.result)
                yield ev
            return
        from .twophase import TwoPhase

        tp = TwoPhase(self)
        skip.dup_ics = self.scan_interchanges(source, _name(source, file))
        tp.add_file(source, skip._run_file(source, file), name=_name(source, file))
        for _src, evs in tp.files():
            yield from evs

    def _run_file(self, source: Any, file: str | None = None, part: SplitPart | None = None
                  ) -> Iterator[EngineEvent]:
        name = _name(source, file)
        res = FileResult(file=name)
        ctx = Context(self, name)
        # part: a worker's share of a file split by transaction (see SplitPart); emit: whether the
        # findings being read are this process's to give (always, without a part)
        emit = True
        try:
            st = stream(source, name) if part is None else \
                part.model if part.model is not None else stream(source, name, skip_tx=part.skips)
        except ReadError as e:
            res.could_not_read = True
            f = Finding(rule="RDR-007", severity=Severity.ERROR, message=e.message, file=name, snip=1)
            res.errors += 1
            yield Found(f)
            yield FileDone(res)
            return
        checkers = [cls(ctx) for cls in self.checker_classes]
        skip = self.cross_claim == "skip"
        pending = Pending(name)
        # error flags of what encloses the current claim
        env = {"interchange": False, "group": False, "transaction": False,
               "billing": False, "subscriber": False, "patient": False}
        env_reasons: dict[str, list[str]] = {k: [] for k in env}
        ctl = ["", "", ""]
        cur_claim: tuple[Claim, ClaimResult] | None = None
        cur_hl_kind: str | None = None  # the HL level (billing, subscriber, patient) being read

        def _clear(*levels: str) -> None:
            for lvl in levels:
                env[lvl] = False
                env_reasons[lvl] = []

        def note(f: Finding) -> Finding:
            if f.file is None:
                f.file = name
            if f.interchange is None and ctl[0]:
                f.interchange = ctl[0]
            if f.group is None and ctl[1]:
                f.group = ctl[1]
            if f.transaction is None and ctl[2]:
                f.transaction = ctl[2]
            claim, cr = cur_claim if cur_claim is not None else (None, None)
            if claim is not None and cr is not None and f.claim_seq is None and f.segment_seq is not None and \
                    cr.first_seq <= f.segment_seq <= cr.last_seq:
                f.claim_seq = claim.seq
                f.claim_id = claim.claim_id
                if f.line_number is None:
                    f.line_number = line_of(claim, f.segment_seq)
            if not emit:  # (another process gives it: only what it does to the verdicts counts here)
                pass
            elif f.severity is Severity.ERROR:
                res.errors += 1
            elif f.severity is Severity.WARNING:
                res.warnings += 1
            else:
                res.infos += 1
            if f.severity is Severity.ERROR:
                if claim is not None and cr is not None and f.claim_seq == claim.seq:
                    cr.errors += 1
                    if f.rule not in cr.reasons:
                        cr.reasons.append(f.rule)
                elif f.claim_seq is not None:
                    pending.add_error(f.claim_seq, f.rule)
                elif cur_hl_kind is not None and f.segment_seq is not None:
                    env[cur_hl_kind] = True
                    if f.rule not in env_reasons[cur_hl_kind]:  # (each rule once: every claim it encloses
                        env_reasons[cur_hl_kind].append(f.rule)  # takes them, however many findings)
                else:
                    level = "transaction" if f.transaction else "group" if f.group else "interchange"
                    env[level] = True
                    if f.rule not in env_reasons[level]:
                        env_reasons[level].append(f.rule)
            elif f.severity is Severity.WARNING and claim is not None and cr is not None and \
                    f.claim_seq == claim.seq:
                cr.warnings += 1
            return f

        counters = {"transaction": 0, "group": 0}
        line_of = _LineOf()

        def settle(level: str) -> Iterator[EngineEvent]:
            """Close ``level``: enclosed pending claims take its error flag."""
            if env[level]:
                pending.flag(level, counters[level] if level != "interchange" else None, env_reasons[level])
            if level == "interchange":
                for p in pending.drain():
                    yield ClaimVerdict(self._verdict(p, res))

        if part is not None:
            emit = part.envelope
        try:
            for ev in st:
                out: list[Finding] = []
                if part is not None:
                    if isinstance(ev, TransactionStart):
                        part.t += 1
                        part.region = 2 * part.t
                        part.at = 0
                        emit = part.owns(part.t)
                        if emit and part.on_enter is not None:
                            part.on_enter()
                        elif not emit and part.marks:
                            yield PartMark()
                    elif part.region & 1:
                        part.at += 1
                if isinstance(ev, ClaimRead):
                    claim = ev.claim
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
                    cur_claim = (claim, cr)
                    cur_hl_kind = None
                    for ch in checkers:
                        out.extend(ch.on_event(ev) or ())
                    if skip:
                        env_r = list(cr.reasons)
                        keyed = self._claim_findings_keyed(claim, ctx)
                        if out:
                            keyed = [((0, i), f) for i, f in enumerate(out)] + keyed
                        if self._noting:
                            self._note(claim, cr)
                        if keyed:
                            kept = suppress_cascades([f for _, f in keyed])
                            kof = {id(f): k for k, f in keyed}
                            for f in kept:
                                yield Found(note(f))
                            keys = [kof[id(f)] for f in kept]
                        else:  # (most claims: nothing found)
                            keys = []
                        yield ClaimChecked(claim, keys, env_r, (ctl[0], ctl[1], ctl[2]))
                        for listen in self.claim_listeners:
                            listen(claim)
                        pending.append(cr)
                        continue
                    out.extend(self._claim_findings(claim, ctx))
                    if self._noting:
                        self._note(claim, cr)
                    for f in suppress_cascades(out):
                        yield Found(note(f))
                    pending.append(cr)
                    continue
                cur_claim = None
                match ev:
                    case Found(f):
                        out.append(f)
                    case InterchangeStart(ic):
                        ctl[0], ctl[1], ctl[2] = ic.control_number, "", ""
                        _clear("interchange")
                    case GroupStart(grp):
                        ctl[1], ctl[2] = grp.control_number, ""
                        counters["group"] += 1
                        _clear("group")
                    case TransactionStart(tx):
                        ctl[2] = tx.control_number
                        counters["transaction"] += 1
                        _clear("transaction", "billing", "subscriber", "patient")
                    case HlRead(lp):
                        hl_lvl = HL_LEVEL.get(lp.segments[0][3]) if lp.segments else None
                        cur_hl_kind = hl_lvl
                        if hl_lvl is not None:
                            _clear(*HL_CLEARS[hl_lvl])
                if not isinstance(ev, Found):
                    for ch in checkers:
                        out.extend(ch.on_event(ev) or ())
                for f in suppress_cascades(out):
                    if emit:
                        yield Found(note(f))
                    else:
                        note(f)
                match ev:
                    case HlRead():
                        pass
                    case TransactionEnd():
                        cur_hl_kind = None
                        yield from settle("transaction")
                        ctl[2] = ""
                        if part is not None:
                            if emit and part.on_left is not None:
                                part.on_left()
                            part.region = 2 * part.t + 1
                            part.at = 0
                            emit = part.envelope
                    case GroupEnd():
                        # transaction flags were folded into pending claims already
                        cur_hl_kind = None
                        yield from settle("group")
                        ctl[1] = ""
                    case InterchangeEnd():
                        cur_hl_kind = None
                        yield from settle("interchange")
                        ctl[0] = ""
                    case _:
                        cur_hl_kind = None
            out = []
            if part is not None:  # (the end of the file: one more place, outside any transaction)
                if not part.region & 1:
                    part.region, part.at = 2 * part.t + 1, 0
                part.at += 1
                emit = part.envelope
            for ch in checkers:
                fin = getattr(ch, "finish", None)
                if fin is not None:
                    out.extend(fin() or ())
            for f in suppress_cascades(out):
                if emit:
                    yield Found(note(f))
                else:
                    note(f)
        except ReadError as e:
            res.could_not_read = True
            if part is not None:
                part.region, part.at, emit = 1 << 61, 0, part.envelope  # (after every place but the end)
            rdr = note(Finding(rule="RDR-007", severity=Severity.ERROR, message=e.message, file=name, snip=1))
            if emit:
                yield Found(rdr)
        # end of file: whatever is still open settles now
        for lvl in ("transaction", "group"):
            if env[lvl]:
                pending.flag(lvl, counters[lvl], env_reasons[lvl])
        yield from settle("interchange")
        yield FileDone(res)

    def _note(self, claim: Claim, cr: ClaimResult) -> None:
        """Add what the packs note on ``claim`` (``claim_note``) to its result."""
        notes: list[tuple[str, str]] = []
        runs = self._runs
        for name in self._noting:
            st = runs[name] if name in runs else self.pack_state(name)
            fn = getattr(st, "claim_note", None)
            if fn is not None:
                got = fn(claim)
                if got:
                    notes.extend([(str(k), str(v)) for k, v in got.items()])
        if notes:
            cr.notes = cr.notes + tuple(notes)

    def _verdict(self, p: ClaimResult, res: FileResult) -> ClaimResult:
        p.verdict = "rejected" if p.errors else "accepted"
        res.claims += 1
        if p.errors:
            res.rejected += 1
        else:
            res.accepted += 1
        self.verdict_final(p)
        return p

    def verdict_final(self, p: ClaimResult) -> None:
        """Tell the packs and ``on_verdict`` that ``p``'s verdict is final."""
        for fn in (self._hooks or self._list_hooks())[1]:
            fn(p)
        cb = self.options.on_verdict
        if cb is not None:
            cb(p)

    def _claim_findings(self, claim: Claim, ctx: Context) -> list[Finding]:
        return [f for _, f in self._claim_findings_keyed(claim, ctx)]

    def _claim_findings_keyed(self, claim: Claim, ctx: Context) -> list[tuple[Key, Finding]]:
        """The claim's rule and hook findings with their order keys, in key order:
        (1, 0, rule id, n) claim rules, (2, line index, rule id, n) line rules,
        (3, hook index, n) hooks (stream-checker findings are (0, n))."""
        out: list[tuple[Key, Finding]] = []
        kind = claim.kind
        rules = self._by_kind.get(kind)
        if rules is None:
            rules = self._by_kind[kind] = (
                _Rules([(r, r.func) for r in self.claim_rules if kind in r.applies_to and r.func is not None],
                       "codes"),
                _Rules([(r, r.func) for r in self.line_rules if kind in r.applies_to and r.func is not None],
                       "modifiers"),
                line_cap(kind))
        claim_rules, line_rules, cap = rules
        if claim_rules.needs:  # some claim rules need a procedure code on one of its lines
            need = claim_rules.needs
            has = frozenset([c for ln in claim.lines if (c := ln.procedure_code) in need])
            crs = claim_rules.by_codes.get(has)
            if crs is None:  # (few distinct sets: a claim has a handful of the codes rules name)
                if len(claim_rules.by_codes) >= 1000:
                    claim_rules.by_codes.clear()
                crs = claim_rules.by_codes[has] = [(r, f) for r, f in claim_rules
                                                   if r.codes is None or not r.codes.isdisjoint(has)]
        else:
            crs = claim_rules
        # a rule returns its hits (an iterable: a generator or a list) or None; most return None
        # or a generator that yields nothing, found by iterating it
        for r, func in crs:
            hits = func(claim, ctx)
            if hits:
                for h in hits:
                    out.append(((1, 0, r.id, len(out)), r.from_hit(h, claim=claim, file=claim.file)))
        if line_rules:
            by_code = self._by_code.get(kind)
            if by_code is None:
                by_code = self._by_code[kind] = {}
            lines = claim.lines
            if cap is not None and len(lines) > cap:
                # more lines than the guide allows is a SNIP 2 error that rejects the claim; the
                # line rules stop at the guide's maximum (bounded work, however many lines)
                lines = lines[:cap]
            mod_need = line_rules.needs
            for li, ln in enumerate(lines):
                code = ln.procedure_code
                mods = ln.modifiers
                # the line's procedure code and the modifiers some rule needs: which rules can fire
                key = (code, tuple([m for m in mods if m in mod_need])) if mods and mod_need else code
                mine = by_code.get(key)
                if mine is None:  # the line rules for this code (and modifiers), in id order
                    if len(by_code) >= 10000:
                        by_code.clear()
                    ms = frozenset(key[1]) if isinstance(key, tuple) else frozenset()
                    mine = by_code[key] = [(r, f) for r, f in line_rules
                                           if (r.codes is None or code in r.codes)
                                           and (r.modifiers is None or not r.modifiers.isdisjoint(ms))]
                for r, func in mine:
                    hits = func(ln, ctx)
                    if not hits:
                        continue
                    for h in hits:
                        if h.line is None:
                            h.line = ln
                        out.append(((2, li, r.id, len(out)), r.from_hit(h, claim=claim, file=claim.file)))
        if self.cross_claim != "skip":
            for fn in (self._hooks or self._list_hooks())[0]:
                fn(claim)
        return out

    # -- cross-claim half of a split run ------------------------------------
    def check_claim(self, claim: Claim, file: str | None = None) -> list[Finding]:
        """Run this engine's claim/line rules on one claim (in arrival order:
        the packs' run state sees the claims checked before).  Findings are
        attributed as :meth:`run_file` does (file, claim, line; envelope control
        numbers from the claim)."""
        return [f for _, f in self.check_keyed(claim, file)]

    def check_keyed(self, claim: Claim, file: str | None = None, ctl: tuple[str, str, str] | None = None,
                    *, uid: int | None = None, passed: bool = True, recheck: bool = False
                    ) -> list[tuple[Key, Finding]]:
        """:meth:`check_claim` with each finding's order key (see :meth:`_claim_findings_keyed`).

        ``uid``: the claim's number in the run (arrival order, from 1; the packs
        number claims themselves without it); ``passed``: whether it passed the
        rules that look at it alone; ``recheck``: phase 2 of a two-phase run
        (see checks/twophase.py)."""
        if uid is not None:
            for begin in (self._hooks or self._list_hooks())[2]:
                begin(claim, uid, passed, recheck)
        name = file if file is not None else claim.file
        if ctl is None:
            ctl = claim.control
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

    @staticmethod
    def complete_claim(keys: list[Key], found: list[Finding], mine: list[tuple[Key, Finding]]
                       ) -> tuple[list[Finding], list[Finding]]:
        """Merge the findings of a claim's first half (``found``, with their
        order ``keys``) with an only-mode engine's keyed findings on it
        (``mine``, from :meth:`check_keyed`).  Returns (every finding of the
        claim in one-engine order, the findings added here); cascades are
        suppressed as in one run.
        """
        if not mine:
            return list(found), []
        theirs = list(zip(keys, found))
        # what one run's suppress_cascades would drop (rules never overlap the skip half)
        kept = {id(f) for f in suppress_cascades([f for _, f in mine], context=found)}
        added = [(k, f) for k, f in mine if id(f) in kept]
        merged = sorted(theirs + added, key=lambda kf: kf[0])
        return [f for _, f in merged], [f for _, f in added]

    # -- many files --------------------------------------------------------
    def run(self, sources: Iterable[Any]) -> Iterator[EngineEvent]:
        """The events of a run over ``sources``: per file, ``FileStart`` then its
        events.  With cross-claim rules every file is checked (phase 1) before
        the first file's events come (phase 2, checks/twophase.py)."""
        skip = self._skip
        if skip is not None and self.two_phase:
            from .twophase import TwoPhase

            tp = TwoPhase(self)
            for src in sources:
                skip.dup_ics = self.scan_interchanges(src, _name(src, None))
                tp.add_file(src, skip._run_file(src), name=_name(src, None))
            for src, evs in tp.files():
                yield FileStart(src)
                yield from evs
        else:
            for src in sources:
                yield FileStart(src)
                yield from self.run_file(src)
        fin = self.options.on_finish
        if fin is not None:
            fin()


class SplitPart:
    """One worker's share of a file split by transaction set (``validate --jobs N`` on one
    file, edi837/parallel.py): :meth:`Engine._run_file` reads the whole file, but parses and
    checks only the transactions it ``owns`` (by ordinal among the file's 837 transactions,
    from 1); the body of any other is counted, not read (its ST and SE still pass through the
    checkers, so what spans transactions -- control numbers, counts -- is as in one process).
    The findings of a transaction not owned, and those outside every transaction unless
    ``envelope``, are not given (nor counted in the file result), but still settle the verdicts
    of the claims they enclose.

    While the events are read, ``region`` and ``at`` say where the event being read is, so
    that the parts' events can be put back in the order of one process: ``region`` 2t inside
    transaction t, 2t + 1 after it (1 before the first); ``at`` the model event's ordinal in
    an odd region (every part reads the same events there), 0 in a transaction."""

    def __init__(self, owns: Callable[[int], bool], envelope: bool):
        self.owns = owns
        self.envelope = envelope
        self.t = 0
        self.region = 1
        self.at = 0
        # called at the start and at the end of each transaction it owns (a worker writes out
        # what it holds and how far it is)
        self.on_enter: Callable[[], None] | None = None
        self.on_left: Callable[[], None] | None = None
        # the model events to read (all claims built, those of other shares left out), in place of
        # the file's own stream with the bodies of other shares' transactions skipped
        self.model: Iterator[ModelEvent] | None = None
        self.marks = False  # a PartMark at the start of each transaction not its own

    def skips(self, n: int) -> bool:
        return not self.owns(n)


def _name(source: Any, file: str | None) -> str:
    return file or (os.fspath(source) if isinstance(source, (str, os.PathLike)) else "<bytes>")


def _seq_span(loop: Loop) -> tuple[int, int]:
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


class _LineOf:
    """LX01 of the service line of ``claim`` a segment ordinal falls in (the last line starting at
    or before it), by bisection over the claim's lines, indexed once per claim: a finding costs
    O(log lines), not a walk over every line (a claim of 40,000 lines with an error on each)."""

    def __init__(self) -> None:
        self.claim: Claim | None = None
        self.firsts: list[int] = []
        self.lines: list[Any] = []
        self.ordered = True

    def __call__(self, claim: Claim, seq: int) -> int | None:
        if claim is not self.claim:
            self.claim = claim
            self.lines = [ln for ln in claim.lines if ln.loop.segments]
            self.firsts = [ln.loop.segments[0].seq for ln in self.lines]
            self.ordered = all(a <= b for a, b in zip(self.firsts, self.firsts[1:]))
        firsts = self.firsts
        i = bisect_right(firsts, seq)
        if not self.ordered:
            # (lines out of file order, never read so: the last line in claim order starting by seq)
            i = max((k + 1 for k, a in enumerate(firsts) if a <= seq), default=0)
        if not i:
            return None
        try:
            return int(self.lines[i - 1].line_number)
        except ValueError:
            return None


