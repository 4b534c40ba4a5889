"""The rule registry: every check edi837 makes, declared once.

A rule is an id, a severity, a SNIP type, what it reads, a citation and the
999 codes it maps to.  Two ways to attach code to rules:

* :func:`rule` -- a small function over one claim (or one service line),
  yielding :class:`Hit` objects; most rules are this.
* :func:`checker` -- a class that sees the whole event stream of a file
  (envelope, loops, claims) for checks that need state across segments
  (SNIP 1 envelope counts, SNIP 2 guide structure).  The rules it emits are
  declared with :func:`declare`.

docs/errors.md is generated from this registry (``python -m edi837.checks.docs``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, TypeVar

import attrs

from ..findings import EXCERPT, Finding, Severity, excerpt

if TYPE_CHECKING:
    from .packs import RulePack

SCOPES = ("claim", "line", "stream")
_F = TypeVar("_F", bound=Callable[..., Any])


@attrs.define(slots=True)
class Hit:
    """What a rule function yields: a message and where it points."""

    message: str
    seg: Any = None  # the segment (reader Segment) the finding points at
    element: str | None = None  # e.g. "SV101-2"
    line: Any = None  # ServiceLine, when the hit is about one service line
    severity: Severity | str | None = None  # overrides the rule's default
    value: str | None = None


@attrs.define(slots=True, eq=False)
class Rule:
    id: str
    severity: Severity
    snip: int
    title: str  # what the rule means, one sentence
    reads: tuple[str, ...] = ()  # the 837 data it reads, e.g. ("SV101-2", "DTP*472")
    citation: str = ""  # where the rule comes from
    ik3: str | None = None  # 999 IK304 code
    ik4: str | None = None  # 999 IK403 code
    scope: str = "claim"
    applies_to: tuple[str, ...] = ("837P", "837I")
    cross_claim: bool = False
    func: Callable[..., Iterable[Hit]] | None = None
    group: str = ""  # e.g. "snip1", "tms"
    # what the rule needs to be able to fire (None: nothing), so the engine calls it only
    # where it can (issue 16 item 2): the procedure codes (SV101-2 / SV202-2) it is about --
    # a line rule is called only for lines with one of them, a claim rule only for claims
    # with a line with one of them; ``modifiers`` (line rules): the line carries one of them
    codes: frozenset[str] | None = None
    modifiers: frozenset[str] | None = None
    # rules this one replaces when both find something at the same segment and
    # element: one cause, one finding -- the most specific one (see supersede)
    supersedes: frozenset[str] = frozenset()

    def finding(self, message: str, seg: Any = None, *, element: str | None = None,
                severity: Severity | str | None = None, file: str | None = None,
                claim: Any = None, line: Any = None, value: str | None = None,
                **kw: Any) -> Finding:
        sev = Severity(severity) if severity is not None else self.severity
        f = Finding(rule=self.id, severity=sev, message=message, snip=self.snip,
                    citation=self.citation or None, ik3=self.ik3, ik4=self.ik4,
                    element=element, value=value, file=file, **kw)
        if seg is not None:
            f.segment_seq = seg.seq
            f.line = seg.line
            f.byte_offset = seg.offset
            f.segment_id = seg.fields[0]
            f.segment_text = _segment_excerpt(seg)
            if f.file is None:
                f.file = seg.file
            if f.loop is None and seg.loop is not None:
                f.loop = seg.loop
        if claim is not None:
            f.claim_seq = claim.seq
            f.claim_id = claim.claim_id
            if f.file is None:
                f.file = claim.file
        if line is not None:
            f.line_number = _int_or_none(line.line_number)
        return f

    def from_hit(self, h: Hit, claim: Any = None, file: str | None = None) -> Finding:
        return self.finding(h.message, h.seg, element=h.element, severity=h.severity,
                            claim=claim, line=h.line, value=h.value, file=file)


def _segment_excerpt(seg: Any) -> str:
    """The segment's text, or (a segment longer than a finding quotes) only as much of it as the
    finding keeps (``findings.excerpt``): a 50 MB segment is not joined for each of its findings."""
    fields = seg.fields
    n = sum(map(len, fields)) + len(fields)
    if n <= EXCERPT * 2:
        return excerpt(seg.text)
    el = seg.delims.element
    head: list[str] = []
    size = 0
    for v in fields:
        head.append(v[:EXCERPT + 1 - size])
        size += len(head[-1]) + 1
        if size > EXCERPT:
            break
    text = el.join(head)[:EXCERPT]
    return f"{text}... ({n - 1 - EXCERPT} more)"


def _int_or_none(v: str) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


RULES: dict[str, Rule] = {}
CHECKERS: list[tuple[type, tuple[str, ...]]] = []
PACKS: list["RulePack"] = []


def _add(r: Rule) -> Rule:
    if r.id in RULES and RULES[r.id].func is not None and r.func is not None:
        raise ValueError(f"rule {r.id} registered twice")
    RULES[r.id] = r
    return r


def declare(id: str, severity: Severity | str, snip: int, title: str, *, reads: Iterable[str] = (),
            citation: str = "", ik3: str | None = None, ik4: str | None = None,
            applies_to: Iterable[str] = ("837P", "837I"), cross_claim: bool = False,
            group: str = "", scope: str = "stream") -> Rule:
    """Declare a rule whose findings a :func:`checker` (or other stage) emits."""
    return _add(Rule(id=id, severity=Severity(severity), snip=snip, title=title, reads=tuple(reads),
                     citation=citation, ik3=ik3, ik4=ik4, scope=scope, applies_to=tuple(applies_to),
                     cross_claim=cross_claim, group=group))


def supersede(winner: str, *losers: str) -> None:
    """Declare that rule ``winner`` is the more specific finding of the same
    cause as ``losers``: where both find something at the same segment and
    element of a claim, only ``winner``'s finding is kept (in the report, the
    999 and the 277CA alike).  ``winner`` must be registered already; the
    losers may live in a module loaded later (tests check that they exist)."""
    r = RULES[winner]
    r.supersedes = r.supersedes | frozenset(losers)


def superseded_by() -> dict[str, frozenset[str]]:
    """rule id -> the rules it supersedes (only rules that supersede some)."""
    return {r.id: r.supersedes for r in RULES.values() if r.supersedes}


def rule(id: str, severity: Severity | str, snip: int, title: str, *, reads: Iterable[str] = (),
         citation: str = "", ik3: str | None = None, ik4: str | None = None, scope: str = "claim",
         applies_to: Iterable[str] = ("837P", "837I"), cross_claim: bool = False,
         group: str = "", codes: Iterable[str] | None = None,
         modifiers: Iterable[str] | None = None) -> Callable[[_F], _F]:
    """Register a rule function.

    ``scope="claim"``: ``func(claim, ctx) -> Iterable[Hit] | None`` for each claim, or
    only for claims with a service line whose procedure code is in ``codes``;
    ``scope="line"``: ``func(line, ctx) -> Iterable[Hit] | None`` for each service line,
    or only for lines whose procedure code is in ``codes`` and (``modifiers``) that
    carry one of ``modifiers``.  A rule declares these only when it cannot fire
    without them: the engine does not call it otherwise.
    """
    if scope not in ("claim", "line"):
        raise ValueError(scope)
    if modifiers is not None and scope != "line":
        raise ValueError(f"{id}: modifiers= is for line rules")

    def deco(func: _F) -> _F:
        _add(Rule(id=id, severity=Severity(severity), snip=snip, title=title, reads=tuple(reads),
                  citation=citation, ik3=ik3, ik4=ik4, scope=scope, applies_to=tuple(applies_to),
                  cross_claim=cross_claim, func=func, group=group,
                  codes=frozenset(codes) if codes is not None else None,
                  modifiers=frozenset(modifiers) if modifiers is not None else None))
        return func

    return deco


def checker(*rule_ids: str) -> Callable[[type], type]:
    """Register a stream checker class emitting the (declared) ``rule_ids``.

    The class is instantiated once per file as ``cls(ctx)`` and gets
    ``on_event(kind, obj) -> Iterable[Finding]`` for every model event
    (see :func:`edi837.model.stream`), and ``finish() -> Iterable[Finding]``
    at the end of the file.
    """

    def deco(cls: type) -> type:
        CHECKERS.append((cls, tuple(rule_ids)))
        return cls

    return deco


def pack(p: "RulePack") -> "RulePack":
    """Register a rule pack (see :mod:`.packs`); its module calls this on import."""
    if any(q.name == p.name for q in PACKS):
        raise ValueError(f"rule pack {p.name} registered twice")
    PACKS.append(p)
    return p


def packs() -> list["RulePack"]:
    """Every registered rule pack."""
    _load_all()
    return list(PACKS)


def get(rule_id: str) -> Rule:
    return RULES[rule_id]


def all_rules() -> Iterator[Rule]:
    """Every rule, sorted by SNIP type then id."""
    _load_all()
    return iter(sorted(RULES.values(), key=lambda r: (r.snip, r.id)))


_LOADED = False


def _load_all() -> None:
    """Import every module that registers rules (idempotent)."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    import importlib
    import pkgutil

    from .. import checks as pkg

    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        if m.name.rsplit(".", 1)[-1] in ("registry", "engine", "docs", "verdicts", "options", "packs"):
            continue
        importlib.import_module(m.name)
    # reader and grammar stage rules
    from ..grammar import stream as gstream
    from .. import reader as rdr

    for rid, title in {**rdr.RULES, **gstream.RULES}.items():
        if rid not in RULES:
            sev = Severity.WARNING if rid == "RDR-003" else (
                Severity.INFO if rid == "GRM-001" else Severity.ERROR)
            declare(rid, sev, 1, title, group="reader" if rid.startswith("RDR") else "grammar",
                    citation=_READER_CITATIONS.get(rid, ""))


_READER_CITATIONS = {
    "RDR-009": ("ASC X12N TR3 005010X222A1 / 005010X223A2, segment and element attributes (every element "
                "has a maximum length: the longest segment, HI, is about 2 KB); ASC X12.6 (a segment ends "
                "at its segment terminator)"),
}
