"""The options of one validation run, typed and checked once.

Every face (CLI, gate, library, process-parallel, Spark) builds the same
:class:`RunOptions`; rules and packs read attributes, never string keys::

    opts = RunOptions.build(snip="1-5", profile="medicare")
    opts.check()            # each rule pack checks what it reads (files exist, ...)
    Engine(opts).run(paths)

An unknown option is an error naming it (``profle`` is not ``profile``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Iterable

import attrs

if TYPE_CHECKING:
    from .verdicts import ClaimResult

ALL_SNIP = frozenset({1, 2, 3, 4, 5, 7})


def parse_snip(spec: str | Iterable[int] | None) -> frozenset[int]:
    """'1-5' / '1,2,3' / '7' / None (every level) into a set of SNIP types."""
    if spec is None:
        return ALL_SNIP
    out: set[int] = set()
    if not isinstance(spec, str):
        try:
            out = {int(x) for x in spec if not isinstance(x, bool)}
        except (TypeError, ValueError):
            raise ValueError(f"SNIP levels are numbers 1-7 like 1-5 or [1, 2, 7], not {spec!r}") from None
        spec = ",".join(map(str, sorted(out)))
    for part in spec.replace(" ", "").split(","):
        if not part:
            continue
        try:
            if "-" in part:
                a, b = part.split("-", 1)
                out.update(range(int(a), int(b) + 1))
            else:
                out.add(int(part))
        except ValueError:
            raise ValueError(f"SNIP levels are numbers 1-7 like 1-5 or 1,2,7, not {spec!r}") from None
    bad = out - set(range(1, 8))
    if bad:
        raise ValueError(f"SNIP levels are 1-7, not {sorted(bad)}")
    return frozenset(out)


def _snip(v: str | Iterable[int] | None) -> frozenset[int]:
    try:
        return parse_snip(v)
    except ValueError as e:
        raise ValueError(f"snip: {e}") from None


def _rules(v: Iterable[str] | None) -> frozenset[str] | None:
    if v is None:
        return None
    if isinstance(v, str):
        return frozenset([v])
    try:
        out = frozenset(v)
    except TypeError:
        raise ValueError(f"rules: a rule id or a list of rule ids, not {v!r}") from None
    bad = [r for r in out if not isinstance(r, str)]
    if bad:
        raise ValueError(f"rules: rule ids are text like 'TMS-001', not {bad[0]!r}")
    return out


def _record(v: str) -> str:
    if v not in ("accepted", "all"):
        raise ValueError(f"history_record must be 'accepted' or 'all', not {v!r}")
    return v


def _cache(v: int | str | None) -> int | None:
    if v is None or v in ("", 0):
        return None  # the pack's default
    try:
        n = int(v)
    except (TypeError, ValueError):
        n = 0
    if n < 1 or isinstance(v, (bool, float)):
        raise ValueError(f"editpack_cache must be a whole number of at least 1, not {v!r}")
    return n


def _callback(name: str) -> Callable[[Any, Any, Any], None]:
    def check(_inst: Any, _attr: Any, v: Any) -> None:
        if v is not None and not callable(v):
            raise ValueError(f"{name} must be a function, not {type(v).__name__}")
    return check


Callback = Callable[..., Any]


@attrs.frozen(slots=True)
class RunOptions:
    """What one run checks and with what.

    - ``snip``: the SNIP types checked (``parse_snip`` of '1-5', '7', ...).
    - ``rules``: only these rule ids (None: every rule of those types).
    - ``profile``: the edit pack's payer profile (a name, a TOML file, or a
      loaded profile); None: chosen per claim.
    - ``history``: the claim-history store (an SQLite path, or an open store).
    - ``history_record``: which verdicts are recorded: 'accepted' or 'all'.
    - ``mue``: a CMS MUE file (CSV) for unit limits.
    - ``editpack_cache``: patients whose events the edit pack keeps in memory.
    - ``on_verdict(ClaimResult)``: called with each final verdict.
    - ``on_finish()``: called at the end of :meth:`Engine.run`.
    """

    snip: frozenset[int] = attrs.field(default=ALL_SNIP, converter=_snip)
    rules: frozenset[str] | None = attrs.field(default=None, converter=_rules)
    profile: Any = None
    history: Any = None
    history_record: str = attrs.field(default="accepted", converter=_record)
    mue: str | os.PathLike[str] | None = None
    editpack_cache: int | None = attrs.field(default=None, converter=_cache)
    on_verdict: Callable[[ClaimResult], None] | None = attrs.field(default=None,
                                                                   validator=_callback("on_verdict"))
    on_finish: Callable[[], None] | None = attrs.field(default=None, validator=_callback("on_finish"))

    @classmethod
    def build(cls, options: "RunOptions | None" = None, **kw: Any) -> "RunOptions":
        """``options`` with ``kw`` changed; an unknown key is a ValueError naming it."""
        names = attrs.fields_dict(cls)
        bad = sorted(k for k in kw if k not in names)
        if bad:
            raise ValueError(f"unknown option{'s' if len(bad) > 1 else ''} {', '.join(map(repr, bad))} "
                             f"(known: {', '.join(names)})")
        if options is None:
            return cls(**kw)
        return attrs.evolve(options, **kw) if kw else options

    def replace(self, **kw: Any) -> "RunOptions":
        return self.build(self, **kw)

    @property
    def serial(self) -> "RunOptions":
        """These options without what only one process may hold: the history
        store and the callbacks (for worker processes and Spark executors)."""
        return attrs.evolve(self, history=None, on_verdict=None, on_finish=None)

    def check(self) -> None:
        """Raise ValueError with a plain message if an option cannot be used
        (each rule pack checks the options it reads; ``rules`` must name rules
        that exist)."""
        from . import registry

        registry._load_all()
        if self.rules is not None:
            unknown = sorted(self.rules - set(registry.RULES))
            if unknown:
                raise ValueError(f"rules: unknown rule id{'s' if len(unknown) > 1 else ''} "
                                 f"{', '.join(map(repr, unknown))} (edi837 rules lists them)")
        for pack in registry.packs():
            pack.check_options(self)
