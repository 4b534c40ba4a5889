"""Immutable data model of a TR3 implementation guide, as read from pyx12's map XML.

Naming of elements (``ElementDef.xid``):

* simple element or composite position: ``<SEG><NN>`` with a two-digit
  ordinal, e.g. ``CLM01``, ``CLM05`` (``CLM05`` is the composite itself);
* component of a composite: ``<SEG><NN>-<k>`` with the component ordinal *not*
  zero padded, e.g. ``CLM05-1``, ``SV101-2`` (pyx12's ``X12Path`` style; the
  map itself spells these ``CLM05-01``, which we normalise).

All ordinals (``seq``) are 1-based, as in X12.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs

#: Loop ids that are envelope / table wrappers in pyx12's maps, not TR3 loops.
NON_TR3_LOOPS = frozenset({"ISA_LOOP", "GS_LOOP", "ST_LOOP", "HEADER", "DETAIL", "FOOTER"})


@attrs.frozen
class SyntaxNote:
    """An X12 syntax rule on a segment, e.g. ``P0809`` -> kind "P", positions (8, 9).

    Kinds: P (paired), R (required: at least one), E (exclusion: at most one),
    C (conditional: if first present all others required), L (list conditional:
    if first present at least one of the others required).
    """

    kind: str
    positions: tuple[int, ...]
    text: str


@attrs.frozen
class DataElement:
    """One entry of pyx12's dataele.xml."""

    ele_num: str
    data_type: str
    min_len: int
    max_len: int
    name: str


@attrs.frozen
class ElementDef:
    """A simple element, a composite's position in a segment, or a component of a composite.

    For a composite position ``composite`` is set and ``data_type`` is None
    (``data_ele`` is then the composite id, e.g. ``C023``).
    ``valid_codes`` is None when the map lists no codes (an empty
    ``<valid_codes/>`` also gives None). ``external_codes`` names a code list
    in codes.xml (``states``, ``country``, ``pos``, ...), see
    :func:`edi837.guide.load_code_lists`.
    ``repeat`` is the maximum number of repetitions (1 by default, None for ">1").
    """

    xid: str
    seq: int
    data_ele: str | None
    name: str
    usage: str
    data_type: str | None = None
    min_len: int | None = None
    max_len: int | None = None
    valid_codes: frozenset[str] | None = None
    external_codes: str | None = None
    regex: str | None = None
    repeat: int | None = 1
    composite: CompositeDef | None = None

    @property
    def is_composite(self) -> bool:
        return self.composite is not None


@attrs.frozen
class CompositeDef:
    """A composite data structure (e.g. C023) and its components (``CLM05-1``...)."""

    xid: str
    data_ele: str | None
    name: str
    usage: str
    seq: int
    repeat: int | None
    elements: tuple[ElementDef, ...]


@attrs.frozen(eq=False)
class SegmentDef:
    """A segment at one place in the guide (identity equality: the same segment id
    at two places in the guide gives two distinct SegmentDefs).

    ``qual`` is pyx12's matching qualifier, see :func:`edi837.guide.qualifier`.
    ``loop_path`` is the path of the loop holding the segment (``loop_id`` is
    its last item).
    """

    id: str
    name: str
    usage: str
    pos: int
    max_use: int | None
    elements: tuple[ElementDef, ...]
    syntax: tuple[SyntaxNote, ...]
    loop_id: str
    loop_path: tuple[str, ...]
    qual: tuple[int, frozenset[str]] | None = None

    def element(self, seq: int) -> ElementDef | None:
        """Element by 1-based X12 ordinal (``element(1)`` is ``CLM01``)."""
        for e in self.elements:
            if e.seq == seq:
                return e
        return None

    def __repr__(self) -> str:
        return f"SegmentDef({self.id!r}, {self.name!r}, loop={'/'.join(self.loop_path)})"


@attrs.frozen(eq=False)
class LoopDef:
    """A loop of the guide, with its children (SegmentDef and LoopDef) in map order.

    ``path`` is the chain of loop ids from the root, ending with this loop's id,
    e.g. ``("ISA_LOOP", "GS_LOOP", "ST_LOOP", "DETAIL", "2000A", "2000B", "2300")``.
    ``repeat`` is None for ">1". Identity equality (the two 2300 loops of an 837
    are distinct objects with different paths).
    """

    id: str
    name: str
    usage: str
    repeat: int | None
    pos: int
    path: tuple[str, ...]
    children: tuple[SegmentDef | LoopDef, ...]

    @property
    def segments(self) -> tuple[SegmentDef, ...]:
        return tuple(c for c in self.children if isinstance(c, SegmentDef))

    @property
    def loops(self) -> tuple[LoopDef, ...]:
        return tuple(c for c in self.children if isinstance(c, LoopDef))

    @property
    def parent_path(self) -> tuple[str, ...]:
        return self.path[:-1]

    @property
    def is_tr3(self) -> bool:
        """True for TR3 loops (1000A, 2300, ...), False for envelope/table wrappers."""
        return self.id not in NON_TR3_LOOPS

    @property
    def first_segment(self) -> SegmentDef | None:
        """The loop's first segment (None when the first child is a loop, e.g. DETAIL)."""
        if self.children and isinstance(self.children[0], SegmentDef):
            return self.children[0]
        return None

    def walk(self) -> Iterator[LoopDef]:
        """This loop and all loops below it, depth first, in map order."""
        yield self
        for c in self.children:
            if isinstance(c, LoopDef):
                yield from c.walk()

    def __repr__(self) -> str:
        return f"LoopDef({self.id!r}, {self.name!r}, path={'/'.join(self.path)})"


def qualifier(segment_def: SegmentDef) -> tuple[int, frozenset[str]] | None:
    """The element pyx12 uses to tell same-id segments apart (``segment_if.is_match``).

    Returns ``(element_index, codes)`` where ``element_index`` is the 1-based
    X12 ordinal of the element within the segment (NM1 -> 1 for NM101,
    HL -> 3 for HL03). If ``segment_def.element(element_index)`` is a composite
    (e.g. HI01, SV101), the qualifier is that composite's FIRST component
    (HI01-1). None when the segment has no qualifier (then the segment id alone
    matches). Mirrors pyx12 4.0's ``segment_if._resolve_unique_key_field(with_qual=False)``.
    """
    return segment_def.qual
