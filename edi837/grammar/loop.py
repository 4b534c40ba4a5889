"""Loop: a TR3 loop with its own segments and its child loops."""

from __future__ import annotations

from typing import Any, Iterator

import attrs

from ..reader.segment import Segment


def _seq(s: Segment) -> int:
    return s.seq


@attrs.define(slots=True, eq=False, repr=False)
class Loop:
    """A loop of the implementation guide ("2300", "2010AA", ...).

    ``segments`` are the loop's own segments in file order (its first segment
    is the loop's start); ``children`` are its child loops in file order.
    """

    id: str | None
    segments: list[Segment] = attrs.field(factory=list)
    children: list["Loop"] = attrs.field(factory=list)
    parent: "Loop | None" = None

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
            lp = lp.parent
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
