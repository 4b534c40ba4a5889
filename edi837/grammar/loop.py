"""Loop: a TR3 loop with its own segments and its child loops."""

from __future__ import annotations

import weakref
from typing import Any, Iterator

import attrs

from ..reader.segment import Segment


def _seq(s: Segment) -> int:
    return s.seq


class _Built:
    """The slot ``built``, outside the attrs fields of :class:`Loop` (it is not part of its state:
    not pickled, not compared).  Set only on a claim's 2300 loop that the structure stage built
    with nothing misplaced (unset otherwise: read it with getattr): the grammar's template and the
    claim's segments in the order of a walk of the loop (grammar.parser.preorder), by which SNIP 2
    keys its structure checks and SNIP 5 finds its segments."""

    __slots__ = ("built",)
    built: "tuple[Any, tuple[Segment, ...]]"


@attrs.define(slots=True, eq=False, repr=False, init=False)
class Loop(_Built):
    """A loop of the implementation guide ("2300", "2010AA", ...).

    ``segments`` are the loop's own segments in file order (its first segment
    is the loop's start); ``children`` are its child loops in file order.
    ``parent`` is held weakly (whoever holds a loop tree holds it from the top,
    as a claim holds its HL loops): a tree has no reference cycles, so it is
    freed as soon as it is no longer used, not by the cyclic garbage collector.
    """

    id: str | None
    segments: list[Segment]
    children: list["Loop"]
    _up: "weakref.ReferenceType[Loop] | None"

    def __init__(self, id: str | None, segments: list[Segment] | None = None,
                 children: list["Loop"] | None = None, parent: "Loop | None" = None):
        self.id = id
        self.segments = segments if segments is not None else []
        self.children = children if children is not None else []
        self._up = weakref.ref(parent) if parent is not None else None

    @property
    def parent(self) -> "Loop | None":
        up = self._up
        return up() if up is not None else None

    @parent.setter
    def parent(self, lp: "Loop | None") -> None:
        self._up = weakref.ref(lp) if lp is not None else None

    def __reduce__(self) -> tuple[Any, ...]:
        # (a weak reference does not pickle) the parent as state, set once the loop exists
        return (Loop, (self.id, self.segments, self.children), self.parent)

    def __setstate__(self, parent: "Loop | None") -> None:
        self.parent = parent

    def __repr__(self) -> str:
        first = self.segments[0].text[:40] if self.segments else ""
        return f"<Loop {self.id} {first!r} +{len(self.children)} loops>"

    @property
    def path(self) -> str:
        """Loop path from the outermost TR3 loop, e.g. ``2000A/2000B/2300/2400``."""
        ids = []
        lp: Loop | None = self
        while lp is not None:
            if lp.id:
                ids.append(lp.id)
            up = lp._up  # (the parent property, inline: every finding and unit asks a path)
            lp = up() if up is not None else None
        return "/".join(reversed(ids))

    @property
    def first(self) -> Segment | None:
        return self.segments[0] if self.segments else None

    def iter_segments(self) -> Iterator[Segment]:
        """All segments of the loop and its descendants, in file order."""
        out: list[Segment] = []
        self._collect(out)
        # a loop's own segments precede its child loops, except a misplaced
        # segment kept in the loop before it: only then is a sort needed
        for a, b in zip(out, out[1:]):
            if a.seq > b.seq:
                out.sort(key=_seq)
                break
        return iter(out)

    def _collect(self, out: list[Segment]) -> None:
        out.extend(self.segments)
        for ch in self.children:
            ch._collect(out)

    def seg(self, seg_id: str, qual: str | None = None, qual_pos: int = 1) -> Segment | None:
        """The first own segment with id ``seg_id`` (and element ``qual_pos`` == ``qual``)."""
        for s in self.segments:
            if s.fields[0] == seg_id and (qual is None or s[qual_pos] == qual):
                return s
        return None

    def segs(self, seg_id: str, qual: str | None = None, qual_pos: int = 1) -> list[Segment]:
        return [s for s in self.segments
                if s.fields[0] == seg_id and (qual is None or s[qual_pos] == qual)]

    def child(self, loop_id: str) -> "Loop | None":
        for c in self.children:
            if c.id == loop_id:
                return c
        return None

    def kids(self, loop_id: str) -> list["Loop"]:
        return [c for c in self.children if c.id == loop_id]

    def ancestor(self, loop_id: str) -> "Loop | None":
        lp = self.parent
        while lp is not None:
            if lp.id == loop_id:
                return lp
            lp = lp.parent
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "loop": self.id,
            "segments": [{"seq": s.seq, "line": s.line, "id": s.id, "elements": s.fields[1:],
                          **({"misplaced": True} if s.misplaced else {})} for s in self.segments],
            "loops": [c.to_dict() for c in self.children],
        }
