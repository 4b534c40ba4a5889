"""Segments and delimiters: the units the reader hands on."""

from __future__ import annotations

import re
from typing import Any

import attrs

_REF = re.compile(r"^([A-Z0-9]{2,3}?)(\d{2})(?:-(\d+))?$")


@attrs.define(slots=True, frozen=True)
class Delimiters:
    """The separators of one interchange, read from its ISA."""

    element: str = "*"
    component: str = ":"
    repetition: str | None = "^"
    segment: str = "~"

    def describe(self) -> str:
        seg = {"\n": "\\n", "\r": "\\r"}.get(self.segment, self.segment)
        return (f"element={self.element!r} component={self.component!r} "
                f"repetition={self.repetition!r} segment={seg!r}")


DEFAULT_DELIMITERS = Delimiters()


@attrs.define(slots=True, eq=False, repr=False)
class Segment:
    """One X12 segment with its place in the file.

    ``fields[0]`` is the segment id and ``fields[i]`` is element ``i`` (X12
    numbering), so ``seg[2]`` of ``CLM*A1*150~`` is ``"150"``.  Components and
    repetitions are split on demand with the interchange's delimiters.
    """

    fields: list[str]
    seq: int  # 1-based ordinal of the segment in the file
    line: int  # 1-based line number of the segment's first byte
    offset: int  # 0-based byte offset of the segment's first byte
    delims: Delimiters = DEFAULT_DELIMITERS
    file: str | None = None
    loop: str | None = None  # innermost TR3 loop id, filled by the grammar stage
    misplaced: bool = False  # set when the grammar could not place it
    # the segment's bytes were UTF-8 text (read as such); else each byte is one character (latin-1):
    # ``text.encode("utf-8" if utf8 else "latin-1")`` gives back the input's bytes (outputs/split.py)
    utf8: bool = False

    @property
    def id(self) -> str:
        return self.fields[0]

    def __reduce__(self) -> tuple[type[Segment], tuple[Any, ...]]:
        # a plain constructor call: pickling millions of segments (--jobs, Spark)
        # is several times faster than attrs' slot-by-slot state
        return (Segment, (self.fields, self.seq, self.line, self.offset, self.delims, self.file,
                          self.loop, self.misplaced, self.utf8))

    def __getitem__(self, i: int) -> str:
        if i < 0:
            return ""
        try:
            return self.fields[i]
        except IndexError:
            return ""

    def __len__(self) -> int:
        return len(self.fields) - 1

    def __repr__(self) -> str:
        return f"<Segment #{self.seq} line {self.line}: {self.text}>"

    @property
    def text(self) -> str:
        return self.delims.element.join(self.fields)

    @property
    def encoding(self) -> str:
        """The encoding that gives back the segment's input bytes (see ``utf8``)."""
        return "utf-8" if self.utf8 else "latin-1"

    def components(self, i: int) -> list[str]:
        """Components of element ``i`` (its first repetition)."""
        if i < 0:  # (self[i], inline)
            return []
        try:
            v = self.fields[i]
        except IndexError:
            return []
        if not v:
            return []
        r = self.delims.repetition
        if r and r in v:
            v = v.split(r, 1)[0]
        return v.split(self.delims.component)

    def component(self, i: int, j: int) -> str:
        """Component ``j`` (1-based) of element ``i``; ``""`` when absent."""
        v = self[i]
        if not v:
            return ""
        c = self.delims.component
        if c not in v:
            return v if j == 1 else ""
        parts = self.components(i)
        return parts[j - 1] if 0 < j <= len(parts) else ""

    def repetitions(self, i: int) -> list[str]:
        v = self[i]
        if not v:
            return []
        r = self.delims.repetition
        return v.split(r) if r else [v]

    def get(self, ref: str) -> str:
        """Value by reference: ``"CLM02"``, ``"SV101-2"`` (segment id optional)."""
        m = _REF.match(ref)
        if not m:
            raise ValueError(f"bad element reference {ref!r}")
        i = int(m.group(2))
        return self.component(i, int(m.group(3))) if m.group(3) else self[i]
