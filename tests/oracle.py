"""pyx12 as an oracle: one-element mutations of accepted 837 files, both validators' verdicts.

Used by tests/test_oracle.py (a deterministic sample) and benchmarks/oracle.py (every mutation
of every fixture and corpus file pyx12 accepts).  For one source file:

- :func:`mutations` yields :class:`Mutation`s, each changing one element (a date made
  impossible, a code made invalid, a value made too long / too short, a required element
  emptied, a qualifier swapped) or removing one required segment (SE01 recounted);
- :func:`pyx12_structured` runs pyx12 4.0.0 in-process and returns its errors with the
  segment ordinal, segment id and element it names (read from its error handler, not from
  its log text);
- :func:`ours` runs ``Engine(snip="1-2")`` and returns its error findings;
- :func:`compare` says whether every pyx12 error has an edi837 error at the same segment
  (and the same element when pyx12 names one).

Segment ordinals are 1-based over the whole file (ISA is 1): pyx12's ``Line:`` number and
edi837's ``Finding.segment_seq`` are both that (checked in tests/test_oracle.py).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

import pyx12.error_handler
import pyx12.params
import pyx12.x12n_document

from pyx12_check import _Collect  # pyx12's log messages, collected

ENVELOPE = frozenset({"ISA", "IEA", "GS", "GE", "ST", "SE"})


# -- pyx12, structured ----------------------------------------------------------------------
@dataclass(frozen=True)
class PyxError:
    level: str  # ISA, GS, ST, SEG, ELE, FILE
    code: str
    message: str
    seq: int | None  # segment ordinal in the file (pyx12's "Line:")
    seg_id: str | None
    element: str | None  # "DTP03", "SV101-2", None
    value: str | None = None

    def where(self) -> str:
        return f"{self.element or self.seg_id or self.level}@{self.seq}"


def _ele_name(seg_id: str | None, node) -> str | None:
    if node is None or seg_id is None:
        return None
    if node.subele_pos:
        return f"{seg_id}{node.ele_pos:02d}-{node.subele_pos}"
    return f"{seg_id}{node.ele_pos:02d}"


class _Recorder(pyx12.error_handler.err_handler):
    """pyx12's error handler, also keeping every error with its place."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[PyxError] = []

    _trailer = None

    def add_seg(self, *a, **k):
        self._trailer = None
        super().add_seg(*a, **k)

    def add_isa_loop(self, seg, src):
        self._trailer = None
        super().add_isa_loop(seg, src)

    def add_gs_loop(self, seg, src):
        self._trailer = None
        super().add_gs_loop(seg, src)

    def add_st_loop(self, seg, src):
        self._trailer = None
        super().add_st_loop(seg, src)

    def _close(self, seg, src):
        self._trailer = (src.get_cur_line(), seg.get_seg_id())

    def close_isa_loop(self, node, seg, src):
        super().close_isa_loop(node, seg, src)
        self._close(seg, src)

    def close_gs_loop(self, node, seg, src):
        super().close_gs_loop(node, seg, src)
        self._close(seg, src)

    def close_st_loop(self, node, seg, src):
        super().close_st_loop(node, seg, src)
        self._close(seg, src)

    def _seg(self):
        """(line, segment id) of the segment pyx12 is checking (a trailer's elements are
        checked after pyx12 closed its loop, when its current node is the header's)."""
        if self._trailer is not None:
            return self._trailer
        n = self.cur_seg_node
        if n is None:
            return None, None
        sid = getattr(n, "seg_id", None) or getattr(n, "id", None)
        try:
            line = n.get_cur_line()
        except Exception:  # noqa: BLE001 - pyx12 internals
            line = getattr(n, "cur_line", None)
        return line, sid

    def isa_error(self, err_cde, err_str):
        super().isa_error(err_cde, err_str)
        self.found.append(PyxError("ISA", err_cde, err_str, self.cur_isa_node.get_cur_line(), "ISA", None))

    def gs_error(self, err_cde, err_str):
        super().gs_error(err_cde, err_str)
        self.found.append(PyxError("GS", err_cde, err_str, self.cur_gs_node.get_cur_line(), "GS", None))

    def st_error(self, err_cde, err_str):
        super().st_error(err_cde, err_str)
        self.found.append(PyxError("ST", err_cde, err_str, self.cur_st_node.get_cur_line(), "ST", None))

    def seg_error(self, err_cde, err_str, err_value=None, src_line=None):
        super().seg_error(err_cde, err_str, err_value, src_line)
        line, sid = self._seg()
        self.found.append(PyxError("SEG", err_cde, err_str, src_line or line, sid, None, err_value))

    def ele_error(self, err_cde, err_str, bad_value, refdes=None):
        super().ele_error(err_cde, err_str, bad_value, refdes)
        line, sid = self._seg()
        self.found.append(PyxError("ELE", err_cde, err_str, line, sid, _ele_name(sid, self.cur_ele_node),
                                   bad_value))


def pyx12_structured(data: bytes | str) -> list[PyxError]:
    """pyx12's errors for an X12 file, with places ([] = clean).

    A failure pyx12 logs without going through its error handler (not X12 to it, no map)
    is one ``FILE`` error with its message."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    text = text.lstrip("\ufeff")
    logger = logging.getLogger("pyx12")
    handler = _Collect()
    logger.addHandler(handler)
    old_level, old_prop = logger.level, logger.propagate
    logger.setLevel(logging.ERROR)
    logger.propagate = False
    rec: list[_Recorder] = []
    orig = pyx12.error_handler.err_handler

    def make():
        r = _Recorder()
        rec.append(r)
        return r

    pyx12.error_handler.err_handler = make  # x12n_document builds its handler by this name
    try:
        ok = pyx12.x12n_document.x12n_document(param=_params(), src_file=io.StringIO(text),
                                               fd_997=None, fd_html=None)
    except Exception as e:  # noqa: BLE001 - pyx12 crashing is an answer too
        return [PyxError("FILE", "crash", f"{type(e).__name__}: {e}", None, None, None)]
    finally:
        pyx12.error_handler.err_handler = orig
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_prop
    found = list(rec[0].found) if rec else []
    if not found and (not ok or handler.messages):
        found = [PyxError("FILE", "fail", m, None, None, None) for m in handler.messages] or [
            PyxError("FILE", "fail", "pyx12 returned failure without a message", None, None, None)]
    return found


@lru_cache(maxsize=1)
def _params():
    return pyx12.params.params()


# -- edi837 ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ours:
    rule: str
    seq: int | None
    seg_id: str | None
    element: str | None
    message: str

    def where(self) -> str:
        return f"{self.element or self.seg_id}@{self.seq}"


def ours(data: bytes) -> list[Ours]:
    """edi837's SNIP 1-2 error findings."""
    from edi837.checks.engine import Engine
    from edi837.events import Found

    out = []
    for ev in Engine(snip="1-2").run_file(data, "<mutated>"):
        if isinstance(ev, Found) and ev.finding.is_error:
            f = ev.finding
            out.append(Ours(f.rule, f.segment_seq, f.segment_id, f.element, f.message))
    return out


# -- the file as segments -------------------------------------------------------------------
@dataclass
class X12:
    """A file cut into segments, put back together byte for byte by :meth:`text`."""

    head: str  # BOM or text before the ISA
    parts: list[tuple[str, str]]  # (whitespace before the segment, segment text)
    tail: str
    ele: str
    comp: str
    term: str

    @classmethod
    def parse(cls, text: str) -> "X12 | None":
        i = text.find("ISA")
        if i < 0 or len(text) < i + 106:
            return None
        head, body = text[:i], text[i:]
        ele, comp, term = body[3], body[104], body[105]
        pieces = body.split(term)
        parts = []
        for p in pieces[:-1]:
            s = p.lstrip("\r\n")
            parts.append((p[: len(p) - len(s)], s))
        return cls(head, parts, pieces[-1], ele, comp, term)

    def text(self) -> str:
        return self.head + "".join(w + s + self.term for w, s in self.parts) + self.tail

    def elements(self, i: int) -> list[str]:
        return self.parts[i][1].split(self.ele)

    def copy(self) -> "X12":
        return X12(self.head, list(self.parts), self.tail, self.ele, self.comp, self.term)

    def set_element(self, i: int, pos: int, sub: int | None, value: str) -> None:
        els = self.elements(i)
        while len(els) <= pos:
            els.append("")
        if sub is None:
            els[pos] = value
        else:
            comps = els[pos].split(self.comp)
            while len(comps) < sub:
                comps.append("")
            comps[sub - 1] = value
            while len(comps) > 1 and comps[-1] == "":
                comps.pop()
            els[pos] = self.comp.join(comps)
        while len(els) > 1 and els[-1] == "":
            els.pop()
        self.parts[i] = (self.parts[i][0], self.ele.join(els))

    def remove(self, i: int) -> None:
        del self.parts[i]
        self.recount()

    def recount(self) -> None:
        """SE01 set to the number of segments from its ST to it, so a removal is one change."""
        start = None
        for k, (_, s) in enumerate(self.parts):
            sid = s.split(self.ele, 1)[0]
            if sid == "ST":
                start = k
            elif sid == "SE" and start is not None:
                els = self.elements(k)
                if len(els) > 1:
                    els[1] = str(k - start + 1)
                    self.parts[k] = (self.parts[k][0], self.ele.join(els))
                start = None


# -- the guide: which definition a segment has ----------------------------------------------
@lru_cache(maxsize=4)
def _defs(kind: str) -> dict[str, list]:
    from edi837.guide import load_control, load_guide

    by: dict[str, list] = {}
    for g in (load_guide(kind), load_control()):
        for d in g.all_segment_defs():
            by.setdefault(d.id, []).append(d)
    return by


def kind_of(x: X12) -> str | None:
    for _, s in x.parts:
        els = s.split(x.ele)
        if els[0] == "ST" and len(els) > 3:
            v = els[3]
            return "837P" if v == "005010X222A1" else "837I" if v == "005010X223A2" else None
        if els[0] == "GS" and len(els) > 8 and els[8] in ("005010X222A1", "005010X223A2"):
            return "837P" if els[8] == "005010X222A1" else "837I"
    return None


def candidates(kind: str, els: list[str], comp: str) -> list:
    """The guide's definitions this segment can be (its qualifier narrows them)."""
    out = []
    for d in _defs(kind).get(els[0], []):
        if d.qual is not None:
            idx, codes = d.qual
            v = els[idx] if len(els) > idx else ""
            if d.elements and d.elements[idx - 1].is_composite:
                v = v.split(comp)[0]
            if v not in codes:
                continue
        out.append(d)
    return out


def _element_defs(d, pos: int) -> list[tuple[int | None, object]]:
    e = d.element(pos)
    if e is None:
        return []
    if e.is_composite:
        return [(c.seq, c) for c in e.composite.elements]
    return [(None, e)]


def _same(defs: list) -> object | None:
    """One element definition when every candidate agrees on type, lengths, codes and usage."""
    if not defs:
        return None
    a = defs[0]
    for b in defs[1:]:
        if (b.data_type, b.min_len, b.max_len, b.valid_codes, b.usage) != (
                a.data_type, a.min_len, a.max_len, a.valid_codes, a.usage):
            return None
    return a


# -- mutations ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Mutation:
    kind: str  # date, time, code, long, short, empty, segment, qualifier
    seq: int  # 1-based ordinal of the segment changed (or removed)
    seg_id: str
    element: str | None  # "DTP03", "SV101-2"; None for a removed segment
    value: str | None  # the new value (None: removed)
    old: str | None = None
    x12: X12 | None = field(default=None, compare=False, repr=False)
    defs: tuple = field(default=(), compare=False, repr=False)  # ids of the guide definitions

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.element or self.seg_id}"

    def data(self) -> bytes:
        return self.x12.text().encode("utf-8")


def _name(seg_id: str, pos: int, sub: int | None) -> str:
    return f"{seg_id}{pos:02d}" + (f"-{sub}" if sub else "")


BAD_DATES = ("20250230", "20251301", "2025010")
BAD_TIMES = ("2561", "1299")


def _invalid_code(codes: frozenset, lo: int, hi: int, old: str) -> str | None:
    for c in ("ZZ", "QQ", "9Q", "Z9", "XX", "ZZZ", "QQQ", "Q", "Z", "0Z", "ZZZZ", "QQQQQ"):
        if c not in codes and lo <= len(c) <= hi and c != old:
            return c
    return None


def mutations(text: str, dedupe: bool = True) -> Iterator[Mutation]:
    """The one-change mutations of a file, in file order (deterministic).

    ``dedupe``: one mutation per (kind, element, guide definition, new value): the same change
    to the DTP03 of every service line tells nothing new."""
    seen: set = set()
    for m in _mutations(text):
        k = (m.kind, m.element or m.seg_id, m.value if m.kind in ("date", "time", "code", "qualifier") else None,
             m.defs)
        if dedupe and k in seen:
            continue
        seen.add(k)
        yield m


def _mutations(text: str) -> Iterator[Mutation]:
    x = X12.parse(text)
    if x is None:
        return
    kind = kind_of(x)
    if kind is None:
        return
    allcodes: dict[tuple[str, int, int | None], set] = {}
    for sid, defs in _defs(kind).items():
        for d in defs:
            if d.qual:
                idx, codes = d.qual
                e = d.elements[idx - 1]
                allcodes.setdefault((sid, idx, 1 if e.is_composite else None), set()).update(codes)
    for i, (_, s) in enumerate(x.parts):
        els = s.split(x.ele)
        sid = els[0]
        seq = i + 1
        defs = candidates(kind, els, x.comp)
        if not defs:
            continue
        dkey = tuple(sorted("/".join(d.loop_path) + f"#{d.pos}" for d in defs))

        def mk(kind_, pos, sub, value, old):
            y = x.copy()
            y.set_element(i, pos, sub, value)
            return Mutation(kind_, seq, sid, _name(sid, pos, sub), value, old, y, dkey)

        # required segment removed (not the envelope: its loss is a different kind of error)
        if sid not in ENVELOPE and all(d.usage == "R" for d in defs):
            y = x.copy()
            y.remove(i)
            yield Mutation("segment", seq, sid, None, None, None, y, dkey)
        npos = max(len(d.elements) for d in defs)
        for pos in range(1, npos + 1):
            subs = sorted({sub for d in defs for sub, _ in _element_defs(d, pos)}, key=lambda v: v or 0)
            for sub in subs:
                ed = _same([e for d in defs for s_, e in _element_defs(d, pos) if s_ == sub])
                if ed is None or ed.usage == "N":
                    continue
                cur = els[pos] if len(els) > pos else ""
                if sub is not None:
                    cs = cur.split(x.comp)
                    cur = cs[sub - 1] if len(cs) >= sub else ""
                if cur == "":
                    continue
                if sid in ("ISA", "IEA"):
                    # ISA is fixed width: only same-length changes keep it readable
                    if ed.data_type == "DT":
                        yield mk("date", pos, sub, "250230", cur)
                    elif ed.data_type == "TM":
                        yield mk("time", pos, sub, "2561", cur)
                    elif ed.valid_codes and len(cur) <= 2:
                        bad = _invalid_code(ed.valid_codes, len(cur), len(cur), cur)
                        if bad:
                            yield mk("code", pos, sub, bad, cur)
                    continue
                q = d0 = defs[0]
                is_qual = q.qual is not None and q.qual[0] == pos and sub in (None, 1)
                if ed.data_type == "DT":
                    for bad in BAD_DATES if len(cur) == 8 else ("250230",):
                        yield mk("date", pos, sub, bad, cur)
                elif ed.data_type == "TM":
                    for bad in BAD_TIMES:
                        yield mk("time", pos, sub, bad, cur)
                elif sid == "DTP" and pos == 3 and len(els) > 2:
                    fmt = els[2]
                    if fmt == "D8":
                        for bad in BAD_DATES:
                            yield mk("date", pos, sub, bad, cur)
                    elif fmt == "RD8" and "-" in cur:
                        a, b = cur.split("-", 1)
                        if a != b:
                            yield mk("date", pos, sub, f"{b}-{a}", cur)  # end before start
                        yield mk("date", pos, sub, f"20250230-{b}", cur)
                    elif fmt == "DT":
                        yield mk("date", pos, sub, "202502301200", cur)
                if ed.valid_codes and not is_qual:
                    bad = _invalid_code(ed.valid_codes, ed.min_len or 1, ed.max_len or 99, cur)
                    if bad:
                        yield mk("code", pos, sub, bad, cur)
                if is_qual:
                    others = sorted(allcodes.get((sid, pos, sub), set()) - set().union(
                        *(d.qual[1] for d in defs if d.qual)))
                    if others:
                        yield mk("qualifier", pos, sub, others[0], cur)
                if ed.max_len and ed.data_type in ("AN", "N0", "N2", "R", "ID") and not ed.valid_codes:
                    pad = "9" if ed.data_type in ("N0", "N2", "R") else "A"
                    if len(cur.lstrip("-").replace(".", "")) <= ed.max_len:
                        yield mk("long", pos, sub, cur + pad * (ed.max_len - len(cur) + 1), cur)
                if ed.min_len and ed.min_len > 1 and len(cur) >= ed.min_len and ed.data_type == "AN":
                    yield mk("short", pos, sub, cur[: ed.min_len - 1], cur)
                if ed.usage == "R" and all(
                        d.element(pos) is not None and d.element(pos).usage == "R" for d in defs):
                    yield mk("empty", pos, sub, "", cur)
                del d0


# -- the verdict ----------------------------------------------------------------------------
TRAILERS = {"ISA": ("ISA", "IEA"), "GS": ("GS", "GE"), "ST": ("ST", "SE")}


def _el_match(ours_el: str | None, theirs: str) -> bool:
    if ours_el is None:
        return False
    return ours_el == theirs or ours_el.split("-")[0] == theirs.split("-")[0] and (
        "-" not in ours_el or "-" not in theirs)


MISSING_RULES = ("S2-SEG-003", "S2-LOOP-001")


def _missing(p: PyxError) -> bool:
    return "missing" in p.message or "not found" in p.message


def matched(p: PyxError, mine: list[Ours], first_seg: bool = True) -> bool:
    """Has edi837 an error where pyx12 has this one?

    - an element error: an error at the same segment naming the same element (a composite
      and its component count as the same element);
    - an ISA/GS/ST-level error: an error on that envelope segment or its trailer;
    - a segment error: an error at that segment, or at the one before it when pyx12 reports
      a missing segment or loop (pyx12 names the segment where it noticed the gap, edi837 the
      segment before it or the start of the enclosing loop: any S2-SEG-003 / S2-LOOP-001 at or
      before pyx12's place counts).  pyx12 keeps reporting "Segment X not found" for every
      segment after a structural error, where edi837 suppresses cascades: only the first
      segment error of a file must be matched (see :func:`compare`).
    """
    if p.level in TRAILERS:
        return any(o.seg_id in TRAILERS[p.level] for o in mine)
    if p.level == "FILE":
        return bool(mine)
    if p.level == "ELE" and p.element:
        return any(o.seq == p.seq and _el_match(o.element, p.element) for o in mine)
    seq = p.seq or 0
    if any(o.seq in (seq, seq - 1) for o in mine):
        return True
    return _missing(p) and any(o.rule in MISSING_RULES and (o.seq or 0) <= seq for o in mine)


@dataclass
class Outcome:
    mutation: Mutation
    pyx12: list[PyxError]
    ours: list[Ours]
    missed: list[PyxError]  # pyx12 errors with no edi837 error at their place

    @property
    def agree(self) -> bool:
        return not self.missed

    def describe(self) -> str:
        m = self.mutation
        what = f"{m.kind} {m.element or m.seg_id}@{m.seq} {m.old!r}->{m.value!r}"
        theirs = "; ".join(f"{p.where()}: {p.message}" for p in self.missed) or "-"
        mine = ", ".join(f"{o.rule} {o.where()}" for o in self.ours[:6]) or "none"
        return f"{what} | pyx12: {theirs} | ours: {mine}"


def compare(m: Mutation, baseline: set | None = None) -> Outcome:
    data = m.data()
    p = pyx12_structured(data)
    o = [f for f in ours(data) if baseline is None or (f.rule, f.seq, f.element) not in baseline]
    missed, seen_seg = [], False
    for e in p:
        if e.level == "SEG":
            if seen_seg and _missing(e):
                continue  # a cascade of the first segment error
            seen_seg = True
        if not matched(e, o):
            missed.append(e)
    return Outcome(m, p, o, missed)


def sources(corpus=None) -> list[tuple[str, str]]:
    """(name, text) of every file the oracle mutates: our valid fixtures, and the corpus's
    5010 837P/837I files pyx12 accepts (read in place, when the corpus is present)."""
    import csv
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = [(f"fixtures/{p.name}", p.read_text()) for p in sorted((root / "fixtures").glob("*.x12"))]
    if corpus is not None and (Path(corpus) / "index.tsv").exists():
        with open(Path(corpus) / "index.tsv", newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f, delimiter="\t"):
                if r["pyx12_4_0_0"] == "ok" and r["version"] in ("005010X222A1", "005010X223A2"):
                    data = (Path(corpus) / r["file"]).read_bytes()
                    try:
                        out.append((r["file"], data.decode("utf-8")))
                    except UnicodeDecodeError:
                        continue
    return out


def baseline(data: bytes) -> set:
    return {(f.rule, f.seq, f.element) for f in ours(data)}
