"""The TR3 implementation guides (837P 005010X222A1, 837I 005010X223A2), loaded from pyx12's maps.

Public API::

    load_guide(kind) -> Guide        # "837P"/"005010X222A1" or "837I"/"005010X223A2"
    load_control() -> Guide          # x12.control.00501.xml (ISA/GS/GE/TA1/IEA)
    load_code_lists() -> dict[str, frozenset[str]]   # codes.xml external code lists
    qualifier(segment_def) -> (element_index, frozenset) | None
    Guide.loop(id_or_path), Guide.loops(id), Guide.segment_defs_in(id_or_path),
    Guide.parent(loop), Guide.iter_loops(), Guide.tr3_loops(), Guide.all_segment_defs()
"""

from ..cache import cache_dir
from .loader import (
    SCHEMA_VERSION,
    Guide,
    is_tr3_loop_id,
    load_code_lists,
    load_control,
    load_guide,
    map_dir,
    normalize_kind,
    parse_guide,
)
from .model import (
    NON_TR3_LOOPS,
    CompositeDef,
    DataElement,
    ElementDef,
    LoopDef,
    SegmentDef,
    SyntaxNote,
    qualifier,
)

__all__ = [
    "SCHEMA_VERSION", "NON_TR3_LOOPS", "Guide", "LoopDef", "SegmentDef", "ElementDef",
    "CompositeDef", "DataElement", "SyntaxNote", "load_guide", "load_control",
    "load_code_lists", "qualifier", "parse_guide", "cache_dir", "map_dir",
    "normalize_kind", "is_tr3_loop_id",
]
