"""One event vocabulary for the whole flow: grammar, model, engine and outputs.

Every stage hands the next one a stream of these typed events (slotted records,
never changed once made), and every consumer takes them apart with ``match``::

    for ev in engine.run_file(path):
        match ev:
            case Found(f): ...
            case ClaimVerdict(result): ...
            case FileDone(result): ...

Each class says which stage makes it:

- the structure stage (:mod:`edi837.grammar.stream`): :class:`IsaSeen`,
  :class:`GsSeen`, :class:`HeaderChunk`, :class:`HlChunk`, :class:`ClaimChunk`,
  :class:`SeSeen`, :class:`GeSeen`, :class:`IeaSeen`, :class:`OtherSegment`;
- the model (:func:`edi837.model.stream`): :class:`InterchangeStart` /
  :class:`InterchangeEnd`, :class:`GroupStart` / :class:`GroupEnd`,
  :class:`TransactionStart` / :class:`TransactionEnd`, :class:`HlRead`,
  :class:`ClaimRead`, and :class:`OtherSegment` passed on;
- the engine (:class:`edi837.checks.engine.Engine`): :class:`FileStart`,
  :class:`ClaimChecked` / :class:`ClaimCheckedAt` / :class:`ClaimSent` (a
  split run's first half),
  :class:`ClaimVerdict`, :class:`FileDone`;
- every stage: :class:`Found` (a finding, as soon as it is known).

A claim is a :class:`ClaimRead` (the model's claim, read) until its verdict is
a :class:`ClaimVerdict` (the engine's result); the two are never confused.

This module names the payload types for the type checker only (under
``TYPE_CHECKING``); at run time it imports nothing of the package, so every
stage may use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Union

import attrs

if TYPE_CHECKING:  # payload types, for the type checker only
    from .checks.verdicts import ClaimResult, FileResult
    from .findings import Finding
    from .grammar.loop import Loop
    from .model.claims import Claim
    from .model.envelope import FunctionalGroup, Interchange, Transaction
    from .reader.segment import Segment

# Events are plain slotted records (attrs.define), made by the million (several per claim):
# attrs' frozen classes set each field through object.__setattr__, which makes them about 3.5
# times as dear to build; nothing changes an event once it is made.  (Hashable by value.)

# -- every stage ---------------------------------------------------------------
@attrs.define(slots=True, weakref_slot=False, unsafe_hash=True)
class Found:
    """A finding, passed on as soon as it is known."""

    finding: Finding

    def __reduce__(self) -> tuple[Any, ...]:
        # (pickled through __init__, as ClaimResult: part files of --jobs carry many)
        return (Found, (self.finding,))


@attrs.define(slots=True, weakref_slot=False, unsafe_hash=True)
class FoundEntry(Found):
    """A :class:`Found` with its JSON report entry written already (``entry``), by a worker of
    ``validate FILE --jobs N --format json`` (edi837/parallel.py), so that the process that
    writes the report does not encode it again."""

    entry: str

    def __reduce__(self) -> tuple[Any, ...]:
        return (FoundEntry, (self.finding, self.entry))


@attrs.define(slots=True, weakref_slot=False, unsafe_hash=True)
class OtherSegment:
    """A segment outside any 837 transaction (e.g. the body of an 835 in the same file)."""

    seg: Segment


# -- the structure stage (grammar) -------------------------------------------------
@attrs.define(slots=True, weakref_slot=False, unsafe_hash=True)
class IsaSeen:
    seg: Segment


@attrs.define(slots=True, weakref_slot=False, unsafe_hash=True)
class GsSeen:
    seg: Segment


@attrs.define(slots=True, weakref_slot=False, unsafe_hash=True)
class HeaderChunk:
    """ST and the transaction's header loops; ``n`` segments read."""

    loop: Loop
    kind: str
    n: int


@attrs.define(slots=True, weakref_slot=False, unsafe_hash=True)
class HlChunk:
    """One HL loop (2000A/B/C) with its 2010 loops; ``level`` is HL03."""

    loop: Loop
    level: str
    n: int


@attrs.define(slots=True, weakref_slot=False, unsafe_hash=True)
class ClaimChunk:
    """One 2300 claim loop with its service lines (flat -- the claim's segments in file order, its
    loops not built -- when the structurer's ``claim_loops`` is off and ``shape`` is given)."""

    loop: Loop
    n: int
    # the grammar's template of the claim's shape (the same object for every claim of that shape)
    # when no segment was misplaced, else None: what the columnar lines cache their plans by
    shape: object = None
    # a claim of more service lines than its guide allows + 1: the segments past those lines, which
    # ``loop`` leaves out, as (byte offset of the first, byte offset of the segment after the last or
    # None at the end of the file, how many); ``n`` counts them too
    overflow: tuple[int, int | None, int] | None = None


@attrs.define(slots=True, weakref_slot=False, unsafe_hash=True)
class SeSeen:
    """The end of a transaction; ``seg`` is None when its SE is missing."""

    seg: Segment | None


@attrs.define(slots=True, weakref_slot=False, unsafe_hash=True)
class BodySkipped:
    """The body of a transaction (after its header, before its SE) that this process does not
    read (a worker of ``validate --jobs N`` on one file, edi837/parallel.py): ``n`` segments,
    ``claims`` CLM segments (the claims it holds), counted and not parsed."""

    n: int
    claims: int


@attrs.define(slots=True, weakref_slot=False, unsafe_hash=True)
class GeSeen:
    seg: Segment


@attrs.define(slots=True, weakref_slot=False, unsafe_hash=True)
class IeaSeen:
    seg: Segment


StructureEvent = Union[Found, OtherSegment, IsaSeen, GsSeen, HeaderChunk, HlChunk, ClaimChunk, SeSeen,
                       GeSeen, IeaSeen, BodySkipped]


# -- the model ------------------------------------------------------------------
@attrs.define(slots=True, weakref_slot=False, unsafe_hash=True)
class InterchangeStart:
    interchange: Interchange


@attrs.define(slots=True, weakref_slot=False, unsafe_hash=True)
class InterchangeEnd:
    interchange: Interchange


@attrs.define(slots=True, weakref_slot=False, unsafe_hash=True)
class GroupStart:
    group: FunctionalGroup


@attrs.define(slots=True, weakref_slot=False, unsafe_hash=True)
class GroupEnd:
    group: FunctionalGroup


@attrs.define(slots=True, weakref_slot=False, unsafe_hash=True)
class TransactionStart:
    """At ST, with the header loops read."""

    transaction: Transaction


@attrs.define(slots=True, weakref_slot=False, unsafe_hash=True)
class TransactionEnd:
    transaction: Transaction


@attrs.define(slots=True, weakref_slot=False, unsafe_hash=True)
class HlRead:
    """A 2000A/B/C loop (or another HL level the guide does not define)."""

    loop: Loop


@attrs.define(slots=True, weakref_slot=False, unsafe_hash=True)
class ClaimRead:
    """A claim, as soon as its 2300 loop is complete."""

    claim: Claim


ModelEvent = Union[Found, OtherSegment, InterchangeStart, InterchangeEnd, GroupStart, GroupEnd,
                   TransactionStart, TransactionEnd, HlRead, ClaimRead]


# -- the engine -----------------------------------------------------------------
@attrs.define(slots=True, weakref_slot=False, unsafe_hash=True)
class FileStart:
    """A file (path, bytes or stream) is about to be checked."""

    source: Any


@attrs.define(slots=True, weakref_slot=False, unsafe_hash=True)
class ClaimChecked:
    """A split run's first half is done with a claim (its findings just came).

    ``keys``: the order keys of the claim's findings just yielded (same length
    and order); ``reasons``: its rejection reasons from the HL loops enclosing
    it; ``ctl``: (ISA13, GS06, ST02)."""

    claim: Claim
    keys: list[tuple[Any, ...]]
    reasons: list[str]
    ctl: tuple[str, str, str]


@attrs.define(slots=True, weakref_slot=False, unsafe_hash=True)
class ClaimCheckedAt:
    """:class:`ClaimChecked` as a worker process sends it: the claim by its
    ordinal in the file (the parent reads the claim itself)."""

    seq: int
    keys: list[tuple[Any, ...]]
    reasons: list[str]
    ctl: tuple[str, str, str]

    def __reduce__(self) -> tuple[Any, ...]:
        return (ClaimCheckedAt, (self.seq, self.keys, self.reasons, self.ctl))


@attrs.define(slots=True, weakref_slot=False, unsafe_hash=True)
class ClaimSent:
    """:class:`ClaimChecked` as a Spark executor sends it: the claim pickled
    with only what encloses it (``edi837.parallel.dump_claim``)."""

    data: bytes
    keys: list[tuple[Any, ...]]
    reasons: list[str]
    ctl: tuple[str, str, str]


@attrs.define(slots=True, weakref_slot=False, unsafe_hash=True)
class ClaimVerdict:
    """A claim's final verdict (at the end of its interchange)."""

    result: ClaimResult

    def __reduce__(self) -> tuple[Any, ...]:
        return (ClaimVerdict, (self.result,))


@attrs.define(slots=True, weakref_slot=False, unsafe_hash=True)
class VerdictEntry(ClaimVerdict):
    """A :class:`ClaimVerdict` with its JSON report entry written already (as :class:`FoundEntry`)."""

    entry: str

    def __reduce__(self) -> tuple[Any, ...]:
        return (VerdictEntry, (self.result, self.entry))


@attrs.define(slots=True, weakref_slot=False, unsafe_hash=True)
class PartMark:
    """One file on many cores (edi837/parallel.py): the share of the file being read gives
    nothing before the end of the transaction that starts here, which is not its own.  Only
    from ``Engine._run_file`` with a ``SplitPart`` whose ``marks`` is on."""


@attrs.define(slots=True, weakref_slot=False, unsafe_hash=True)
class FileDone:
    """The end of a file, with its counts."""

    result: FileResult


EngineEvent = Union[Found, FileStart, ClaimChecked, ClaimCheckedAt, ClaimSent, ClaimVerdict, FileDone, PartMark]

__all__ = ["Found", "OtherSegment", "IsaSeen", "GsSeen", "HeaderChunk", "HlChunk", "ClaimChunk",
           "BodySkipped", "SeSeen", "GeSeen", "IeaSeen", "StructureEvent", "InterchangeStart", "InterchangeEnd",
           "GroupStart", "GroupEnd", "TransactionStart", "TransactionEnd", "HlRead", "ClaimRead",
           "ModelEvent", "FileStart", "ClaimChecked", "ClaimCheckedAt", "ClaimSent", "ClaimVerdict", "FileDone", "PartMark",
           "EngineEvent"]
