"""Load pyx12's map XML (the machine-readable TR3) into :mod:`edi837.guide.model` objects.

The maps are read from the installed pyx12 package at run time. A parsed
guide is cached in-process and pickled to ``$EDI837_CACHE_DIR`` (default
``~/.cache/edi837``), keyed by pyx12 version, the sha1 of the map and
dataele files, and :data:`SCHEMA_VERSION`; read back only when no other user
could have written it (:mod:`edi837.cache`). Cache problems are ignored.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from ..cache import cache_dir, cached, dist_version

if TYPE_CHECKING:  # (parsed only when the cache has no entry: not imported on every start-up)
    import xml.etree.ElementTree as ET

from .model import (
    NON_TR3_LOOPS,
    CompositeDef,
    DataElement,
    ElementDef,
    LoopDef,
    SegmentDef,
    SyntaxNote,
)

#: Bump whenever the model classes or the loader's output change.
SCHEMA_VERSION = 2

#: kind -> (canonical kind, version string (maps.xml vriic), map file name)
GUIDES = {
    "837P": ("837P", "005010X222A1", "837.5010.X222.A1.xml"),
    "837I": ("837I", "005010X223A2", "837Q3.I.5010.X223.A1.xml"),
    "X12": ("X12", "00501", "x12.control.00501.xml"),
}
_ALIASES = {
    "837P": "837P", "005010X222A1": "837P", "005010X222": "837P",
    "837I": "837I", "005010X223A2": "837I", "005010X223": "837I", "837Q3": "837I",
    "X12": "X12", "CONTROL": "X12", "00501": "X12",
}
TR3_LOOP_RE = re.compile(r"^\d{4}[A-Z]{0,2}$")


def map_dir() -> Path:
    """Directory of pyx12's map XML files."""
    import pyx12

    return Path(pyx12.__file__).parent / "map"


def pyx12_version() -> str:
    import pyx12

    try:
        return dist_version("pyx12", Path(pyx12.__file__).parent)
    except Exception:  # pragma: no cover
        return str(getattr(pyx12, "__version__", "unknown"))


def normalize_kind(kind: str) -> str:
    try:
        return _ALIASES[kind.strip().upper()]
    except KeyError:
        raise ValueError(
            f"unknown guide {kind!r}: expected 837P/005010X222A1 or 837I/005010X223A2"
        ) from None


@attrs.frozen(eq=False)
class Guide:
    """A whole implementation guide (or the X12 control map).

    ``root`` is a synthetic loop holding the map's top-level loops (ISA_LOOP);
    its path is ``()``. Use :meth:`loop` / :meth:`loops` for lookups.
    """

    kind: str
    version: str
    name: str
    transaction_id: str
    map_file: str
    map_sha1: str
    pyx12_version: str
    root: LoopDef
    data_elements: dict[str, DataElement]
    _by_path: dict[tuple[str, ...], LoopDef]
    _by_id: dict[str, tuple[LoopDef, ...]]

    # -- lookups -----------------------------------------------------------
    def iter_loops(self) -> Iterator[LoopDef]:
        """Every loop (envelope wrappers included), depth first in map order."""
        for c in self.root.loops:
            yield from c.walk()

    def tr3_loops(self) -> Iterator[LoopDef]:
        """Every TR3 loop (1000A, 2000A, ..., 2440), depth first; 2300 etc. twice."""
        return (lp for lp in self.iter_loops() if lp.is_tr3)

    def loops(self, loop_id: str) -> tuple[LoopDef, ...]:
        """All occurrences of a loop id, in map order (2300 -> under 2000B, under 2000C)."""
        return self._by_id.get(loop_id, ())

    def loop(self, loop: str | tuple[str, ...] | list[str]) -> LoopDef:
        """Find a loop.

        * a loop id (``"2010AA"``): its first occurrence in map order (for
          ``"2300"`` and below, the one under 2000B);
        * a path tuple, either full (``LoopDef.path``) or any suffix of it, e.g.
          ``("2000C", "2300")`` or ``("2000C", "2300", "2400")``; a suffix
          matching several loops gives the first in map order;
        * a string with ``/`` separators is taken as a path (``"2000C/2300"``).

        Raises KeyError when nothing matches.
        """
        if isinstance(loop, str):
            if "/" in loop:
                loop = tuple(p for p in loop.split("/") if p)
            else:
                found = self._by_id.get(loop)
                if not found:
                    raise KeyError(loop)
                return found[0]
        path = tuple(loop)
        if path in self._by_path:
            return self._by_path[path]
        if path:
            for lp in self._by_id.get(path[-1], ()):
                if lp.path[-len(path):] == path:
                    return lp
        raise KeyError(path)

    def segment_defs_in(self, loop: str | tuple[str, ...] | list[str]) -> tuple[SegmentDef, ...]:
        """The segments directly in a loop (not in its child loops), in map order."""
        return self.loop(loop).segments

    def parent(self, loop: LoopDef) -> LoopDef | None:
        """The loop holding ``loop`` (None for top-level loops)."""
        return self._by_path.get(loop.path[:-1])

    def all_segment_defs(self) -> Iterator[SegmentDef]:
        for lp in self.iter_loops():
            yield from lp.segments


# -- parsing ----------------------------------------------------------------

def _text(e: ET.Element, tag: str, default: str = "") -> str:
    v = e.get(tag) or e.findtext(tag)
    return v.strip() if v is not None else default


def _int_or_none(v: str | None, default: int | None = 1) -> int | None:
    if v is None or v.strip() == "":
        return default
    v = v.strip()
    if v in (">1", "&gt;1"):
        return None
    return int(v)


def _load_dataele(path: Path) -> dict[str, DataElement]:
    out: dict[str, DataElement] = {}
    import xml.etree.ElementTree as ET

    for d in ET.parse(path).getroot().iter("data_ele"):
        num = d.get("ele_num")
        if not num:
            continue
        out[num] = DataElement(
            ele_num=num,
            data_type=d.get("data_type", ""),
            min_len=int(d.get("min_len", "0")),
            max_len=int(d.get("max_len", "0")),
            name=d.get("name", ""),
        )
    return out


def _parse_element(e: ET.Element, xid: str, dataele: dict[str, DataElement]) -> ElementDef:
    data_ele = _text(e, "data_ele") or None
    de = dataele.get(data_ele) if data_ele else None
    vc = e.find("valid_codes")
    codes = None
    external = None
    if vc is not None:
        external = vc.get("external") or None
        lst = [c.text.strip() for c in vc.findall("code") if c.text is not None]
        codes = frozenset(lst) if lst else None
    regex = e.findtext("regex")
    return ElementDef(
        xid=xid,
        seq=int(_text(e, "seq")),
        data_ele=data_ele,
        name=_text(e, "name"),
        usage=_text(e, "usage"),
        data_type=de.data_type if de else None,
        min_len=de.min_len if de else None,
        max_len=de.max_len if de else None,
        valid_codes=codes,
        external_codes=external,
        regex=regex if regex else None,
        repeat=_int_or_none(e.get("repeat") or e.findtext("repeat") or e.findtext("max_use")),
    )


def _parse_syntax(text: str) -> SyntaxNote | None:
    text = text.strip()
    m = re.fullmatch(r"([PRCLE])((?:\d\d)+)", text)
    if not m:
        return None
    digits = m.group(2)
    return SyntaxNote(
        kind=m.group(1),
        positions=tuple(int(digits[i:i + 2]) for i in range(0, len(digits), 2)),
        text=text,
    )


def _compute_qual(seg_id: str, elements: tuple[ElementDef, ...]) -> tuple[int, frozenset[str]] | None:
    """Mirror of pyx12 ``segment_if._resolve_unique_key_field(with_qual=False)``."""
    c0 = elements[0] if len(elements) > 0 else None
    c1 = elements[1] if len(elements) > 1 else None
    c2 = elements[2] if len(elements) > 2 else None
    if c0 is not None and c0.composite is None and c0.data_type == "ID" and c0.usage == "R" and c0.valid_codes:
        return (1, c0.valid_codes)
    if seg_id == "ENT" and c1 is not None and c1.composite is None and c1.data_type == "ID" and c1.valid_codes:
        return (2, c1.valid_codes)
    if c0 is not None and c0.composite is not None and c0.composite.elements:
        first = c0.composite.elements[0]
        if seg_id == "CTX" and first.data_type == "AN" and first.valid_codes:
            return (1, first.valid_codes)
        if first.data_type == "ID" and first.valid_codes:
            return (1, first.valid_codes)
    if seg_id == "HL" and c2 is not None and c2.composite is None and c2.valid_codes:
        return (3, c2.valid_codes)
    return None


def _parse_segment(e: ET.Element, loop_path: tuple[str, ...], dataele: dict[str, DataElement]) -> SegmentDef:
    seg_id = e.get("xid") or ""
    by_seq: dict[int, ElementDef] = {}
    for c in e:
        if c.tag == "element":
            seq = int(_text(c, "seq"))
            by_seq[seq] = _parse_element(c, f"{seg_id}{seq:02d}", dataele)
        elif c.tag == "composite":
            seq = int(_text(c, "seq"))
            xid = f"{seg_id}{seq:02d}"
            subs = []
            for s in c.findall("element"):
                sseq = int(_text(s, "seq"))
                subs.append(_parse_element(s, f"{xid}-{sseq}", dataele))
            subs.sort(key=lambda x: x.seq)
            repeat = _int_or_none(c.get("repeat") or c.findtext("repeat"))
            comp = CompositeDef(
                xid=xid,
                data_ele=_text(c, "data_ele") or None,
                name=_text(c, "name"),
                usage=_text(c, "usage"),
                seq=seq,
                repeat=repeat,
                elements=tuple(subs),
            )
            by_seq[seq] = ElementDef(
                xid=xid, seq=seq, data_ele=comp.data_ele, name=comp.name, usage=comp.usage,
                repeat=repeat, composite=comp,
            )
    elements = tuple(by_seq[k] for k in sorted(by_seq))
    syntax = tuple(s for s in (_parse_syntax(x.text or "") for x in e.findall("syntax")) if s)
    return SegmentDef(
        id=seg_id,
        name=_text(e, "name"),
        usage=_text(e, "usage"),
        pos=int(_text(e, "pos")),
        max_use=_int_or_none(_text(e, "max_use") or None),
        elements=elements,
        syntax=syntax,
        loop_id=loop_path[-1] if loop_path else "",
        loop_path=loop_path,
        qual=_compute_qual(seg_id, elements),
    )


def _parse_loop(e: ET.Element, parent_path: tuple[str, ...], dataele: dict[str, DataElement]) -> LoopDef:
    lid = e.get("xid") or ""
    path = parent_path + (lid,)
    children: list[SegmentDef | LoopDef] = []
    for c in e:
        if c.tag == "loop":
            children.append(_parse_loop(c, path, dataele))
        elif c.tag == "segment":
            children.append(_parse_segment(c, path, dataele))
    # Children stay in map (document) order. NB pyx12 iterates a loop's
    # children sorted by <pos>; the two differ in one place: in the 837I map
    # 2000C has pos 0200 but is written after 2300 (pos 1300) under 2000B.
    return LoopDef(
        id=lid,
        name=_text(e, "name"),
        usage=_text(e, "usage"),
        repeat=_int_or_none(_text(e, "repeat") or None),
        pos=int(_text(e, "pos") or 0),
        path=path,
        children=tuple(children),
    )


def _sha1(*paths: Path) -> str:
    h = hashlib.sha1()
    for p in paths:
        h.update(p.read_bytes())
    return h.hexdigest()


def parse_guide(kind: str, sha1: str | None = None) -> Guide:
    """Parse the map XML for ``kind`` (no caching)."""
    kind, version, fname = GUIDES[normalize_kind(kind)]
    mdir = map_dir()
    map_path = mdir / fname
    dataele = _load_dataele(mdir / "dataele.xml")
    import xml.etree.ElementTree as ET

    root_el = ET.parse(map_path).getroot()
    top = tuple(_parse_loop(c, (), dataele) for c in root_el if c.tag == "loop")
    root = LoopDef(id=root_el.get("xid") or "", name=_text(root_el, "name"), usage="R",
                   repeat=1, pos=0, path=(), children=top)
    by_path: dict[tuple[str, ...], LoopDef] = {}
    by_id: dict[str, list[LoopDef]] = {}
    for t in top:
        for lp in t.walk():
            by_path[lp.path] = lp
            by_id.setdefault(lp.id, []).append(lp)
    return Guide(
        kind=kind,
        version=version,
        name=root.name,
        transaction_id=root.id,
        map_file=fname,
        map_sha1=sha1 or _sha1(map_path),
        pyx12_version=pyx12_version(),
        root=root,
        data_elements=dataele,
        by_path=by_path,
        by_id={k: tuple(v) for k, v in by_id.items()},
    )


# -- caching ----------------------------------------------------------------

def _cache_key(kind: str) -> tuple[str, str]:
    _, _, fname = GUIDES[kind]
    mdir = map_dir()
    map_sha1 = _sha1(mdir / fname)
    key = hashlib.sha1(
        f"{SCHEMA_VERSION}|{pyx12_version()}|{map_sha1}|{_sha1(mdir / 'dataele.xml')}".encode()
    ).hexdigest()[:16]
    return key, map_sha1


def _load_cached(kind: str) -> Guide:
    kind = normalize_kind(kind)
    try:
        key, map_sha1 = _cache_key(kind)
    except OSError:  # pragma: no cover - map missing: let parse_guide raise
        return parse_guide(kind)
    cfile = cache_dir() / f"guide-{kind}-s{SCHEMA_VERSION}-{key}.pickle"
    return cached(cfile, lambda: parse_guide(kind, sha1=map_sha1),
                  lambda g: isinstance(g, Guide) and g.kind == kind and g.map_sha1 == map_sha1)


@functools.cache
def _load_guide_canonical(kind: str) -> Guide:
    return _load_cached(kind)


def load_guide(kind: str) -> Guide:
    """The guide for ``"837P"`` / ``"005010X222A1"`` or ``"837I"`` / ``"005010X223A2"``.

    Parsed once per process (and pickled to the cache directory).
    """
    k = normalize_kind(kind)
    if k == "X12":
        raise ValueError("use load_control() for the X12 envelope map")
    return _load_guide_canonical(k)


def load_control() -> Guide:
    """The X12 00501 envelope map (ISA_LOOP > ISA, GS_LOOP > GS, GE; TA1; IEA)."""
    return _load_guide_canonical("X12")


@functools.cache
def load_code_lists() -> dict[str, frozenset[str]]:
    """External code lists from pyx12's codes.xml, by id (``states``, ``country``, ``pos``, ...).

    When a code set has several versions their codes are merged.
    """
    out: dict[str, set[str]] = {}
    import xml.etree.ElementTree as ET

    for cs in ET.parse(map_dir() / "codes.xml").getroot().iter("codeset"):
        cid = (cs.findtext("id") or "").strip()
        codes = out.setdefault(cid, set())
        for c in cs.iter("code"):
            if c.text:
                codes.add(c.text.strip())
    return {k: frozenset(v) for k, v in out.items()}


def is_tr3_loop_id(loop_id: str) -> bool:
    return loop_id not in NON_TR3_LOOPS and bool(TR3_LOOP_RE.match(loop_id))
