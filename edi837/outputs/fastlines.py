"""The rows of ``edi837 lines`` read from the file's text, without a ``Segment`` per segment
(issue 16 item 1): a file that the reader and the grammar would read without a word is split
a block at a time on its segment terminator (with its line break) and each segment on the
element separator, as the str.split floor does; claims are cut at HL, CLM and SE as the
structure stage cuts them, placed by the grammar's shape cache (the same templates, found by
the same tokens: segment ids, ``NM1_`` + NM101, ``HL_`` + HL03) and read by the plans of
:mod:`.columnar` (:func:`.columnar.plan_rows`), so their rows are those of the grammar path.

Only what is certain is read this way.  Anything the reader, the structure stage or the
grammar would say a word about, or that this path does not mirror step by step -- bytes
outside ASCII, white space or control characters around segments, an empty or overlong
segment, a second line-break style, a terminator without its line break, a file not starting
with its ISA or not ending with a terminator, an ISA of other delimiters, any segment outside
ISA/GS/ST/SE/GE/IEA order, a transaction that is not a 5010 837P/837I of the exact guide
version, an HL level the guide does not define, a misplaced segment, a claim of more lines than
its guide allows, a shape without plan -- ends it: the file is then read again by the grammar
path (:func:`edi837.outputs.tables.rows` over :func:`edi837.model.build.loop_stream`), which
gives every finding and the rows of the claims not yet given (those given are skipped by their
ordinal).  A wrong row is far worse than a slow one.  The whole of a file is never held:
one block (and the segment it cuts) at a time.

Claims and the HL loops enclosing them (billing provider, subscriber, patient) are lists of
elements: a claim's plan is compiled once per template from ``Segment`` objects of its first
claim (:func:`.columnar.compile_plan`, as the grammar path compiles it), an HL template's from
its segment ids (:func:`_hl_plan`).  For ``edi837 lines --format csv`` the rows of a claim
come as CSV text when no value needs quoting or neutralising (:func:`claim_rows`).
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable, Generator, Iterator

from ..findings import Finding
from ..grammar.parser import HL_START, build_loop
from ..grammar.stream import _FEWEST_LINES, GUIDES, MAX_CLAIM_SEGMENTS, _shared_parser, line_cap, old_version
from ..model.build import loop_stream
from ..reader import MAX_SEGMENT, open_source
from ..reader.segment import Delimiters, Segment
from . import columnar
from .columnar import DICTS, LISTS, TEXT, _el, _iso, compile_plan, plan_rows
from .tables import COLUMN_NAMES, FORMULA_START, csv_row, model_forced, rows

#: bytes read at a time; with :data:`_CARRY` (the most of a segment cut by a block's end) below
#: the reader's MAX_SEGMENT, so no segment read here is one the reader would skip (RDR-009)
BLOCK = 1 << 19
_CARRY = 1 << 16
assert BLOCK + _CARRY < MAX_SEGMENT
_WS = " \t\r\n\x00\x0b\x0c"
_CONTROL = re.compile("[\t\x00\x0b\x0c]").search
# the reader's ISA: its element separator, two characters, the separator again
_ISA = re.compile(r"ISA([^A-Za-z0-9\s])[^\r\n]{2}\1")
_VERSION_KIND = {v: k for k, v in GUIDES.items()}  # exact 5010 guide version -> 837P / 837I
_MARKS = frozenset(("HL", "CLM", "SE", "LX", "ST", "GS", "GE", "IEA", "ISA"))


class Fallback(Exception):
    """The file holds something the text path does not read with certainty."""


def file_rows(source: "str | os.PathLike[str]", file: str | None = None,
              on_finding: Callable[[Finding], None] | None = None,
              progress: Callable[[int], None] | None = None,
              wrap: Callable[[Iterator[Any]], Iterator[Any]] | None = None,
              model: bool | None = None, csv: bool = False) -> Iterator[Any]:
    """The rows of ``edi837 lines`` for the file at ``source``: its text read by :func:`claim_rows`
    as long as it is clean, else (from the claim where it stops being so) by the grammar path,
    which reads the file again and gives every finding.  ``progress`` is told each block's end
    offset (the text path); ``wrap`` wraps the grammar path's events (a progress bar's).  With
    ``model`` (default: ``EDI837_LINES_MODEL`` set) every claim is read through the claim model.
    With ``csv`` each row is the list of its CSV cells, neutralised (:func:`.tables.csv_row`), or
    (:func:`claim_rows`) a string holds the CSV text of a claim's rows."""
    if model or (model is None and model_forced()):
        events = loop_stream(source, file)
        got_rows = rows(wrap(events) if wrap is not None else events, on_finding, model=True)
    else:
        done = 0  # claims whose rows were given
        fast = claim_rows(source, file, progress, lists=csv)
        try:
            for got in fast:
                done += 1
                yield from got
            return
        except Fallback:
            pass
        finally:
            fast.close()
        events = loop_stream(source, file)
        got_rows = rows(wrap(events) if wrap is not None else events, on_finding, model=False, skip=done)
    if csv:
        yield from (csv_row(r.values()) for r in got_rows)
    else:
        yield from got_rows


def _isa(f: list[str], ele: str, term: str) -> tuple[str, str | None]:
    """(ISA16, the repetition separator) of an ISA's elements, as the reader reads them."""
    rep = f[11] if len(f) > 12 else ""
    ver = f[12] if len(f) > 12 else ""
    comp = f[16][:1] if len(f) > 16 else ""
    return comp, rep if (len(rep) == 1 and not rep.isalnum() and rep not in (ele, comp, term)
                         and ver >= "00402") else None


def claim_rows(source: "str | os.PathLike[str]", file: str | None = None,
               progress: Callable[[int], None] | None = None, lists: bool = False) -> Generator[list[Any], None, None]:
    """Each claim's rows, in file order, read from the text; :class:`Fallback` where the file is not
    one this path reads (nothing of that claim given).  With ``lists`` a row is the list of its CSV
    cells, neutralised as :func:`.tables.csv_row` does -- only in a file where a value could start
    with what a spreadsheet takes for a formula: a delimiter followed by = + - or @ in its text (the
    cells that are not values of the input, as dates, cannot), its name or an ISA13 after its
    white space is stripped; and as long as no value needs neutralising or quoting (no comma or
    double quote in the text or the name), a claim's rows come as one string, the CSV text
    ``csv.writer`` writes for them (:data:`.columnar.TEXT`)."""
    try:
        stream, name = open_source(source, file)
    except Exception:  # noqa: BLE001 - (the grammar path says why: RDR-007, ReadError)
        raise Fallback from None
    try:
        yield from _claims(stream, name, COLUMN_NAMES, progress, lists)
    except OSError:
        raise Fallback from None
    finally:
        stream.close()


def _claims(stream: Any, name: str, columns: list[str], progress: Callable[[int], None] | None,
            lists: bool) -> Iterator[list[Any]]:
    buf = stream.read(BLOCK).decode("latin-1")
    while len(buf) < 4096:  # (the ISA whole, however small the blocks)
        more = stream.read(BLOCK)
        if not more:
            break
        buf += more.decode("latin-1")
    # -- the delimiters, from the first ISA, as the reader finds them (the file starts with it)
    m = _ISA.match(buf)
    if m is None:
        raise Fallback
    ele = m.group(1)
    i, n = 3, 0
    while n < 16:
        i = buf.find(ele, i)
        if i < 0:
            raise Fallback
        n += 1
        i += 1
    comp, term = buf[i:i + 1], buf[i + 1:i + 2]
    if not comp or not term or term in _WS or comp in _WS or term.isalnum() or comp.isalnum() \
            or len({ele, comp, term}) < 3:
        raise Fallback
    nl = "\r\n" if buf[i + 2:i + 4] == "\r\n" else "\n" if buf[i + 2:i + 3] == "\n" else ""
    sep = term + nl
    k_sep = len(sep)
    _, rep = _isa(buf[:i + 1].split(ele), ele, term)
    delims = Delimiters(element=ele, component=comp, repetition=rep, segment=term)
    # CSV cells to neutralise: those of a value after a delimiter starting = + - @ (tabs and CRs are
    # not in a segment read here), the file's name, ISA13 once stripped
    needles = [d + ch for d in (ele, comp, rep) if d for ch in "=+-@"]
    dirty = name[:1] in FORMULA_START
    # CSV cells that csv.writer quotes: a comma, a double quote (line breaks are not in a segment)
    quoted = any(ch in name for ch in ',"\r\n')
    # -- the envelope and chunk state (edi837.grammar.stream.Structurer, edi837.model.build._stream)
    isa_open = in_st = gs_open = False
    ic = gc = ""
    gs08 = ""
    kind: str | None = None
    parser: Any = None
    head: tuple[Any, ...] = ()
    chunk: list[list[str]] = []
    what = ""  # the open chunk: "ST" (header), "HL", "CLM"
    level = ""
    lx = 0
    # the columns the HL loops give (columnar._billing, _subscriber, _patient): None before the loop
    bp: tuple[str, str] | None = None
    billing_seen = False
    sub_cols: tuple[Any, ...] | None = None
    pat_cols: tuple[Any, ...] | None = None
    seq = 0  # claims
    by_template = columnar._BY_TEMPLATE
    offset = 0  # bytes of the file split so far
    eof = False
    marks = _MARKS
    while True:
        if not buf.isascii():
            raise Fallback
        cut = buf.rfind(sep)
        if cut < 0:
            if not eof:
                if len(buf) > _CARRY:
                    raise Fallback
                more = stream.read(BLOCK)
                if more:
                    buf += more.decode("latin-1")
                    continue
                eof = True
            # the end of the file: a last segment ends it with its terminator, not its line break
            if not buf:
                break
            if not (nl and buf.endswith(term)):
                raise Fallback
            text, rest = buf[:-len(term)], ""
        else:
            text, rest = buf[:cut], buf[cut + k_sep:]
            if len(rest) > _CARRY:
                raise Fallback
        # the segments of ``text``, each alone between separators: no other terminator or line
        # break, no white space or control character around one, none empty
        k = text.count(sep)
        if (text.count(term) != k or _CONTROL(text) is not None
                or (nl == "" and ("\n" in text or "\r" in text))
                or (nl == "\n" and (text.count("\n") != k or "\r" in text))
                or (nl == "\r\n" and (text.count("\n") != k or text.count("\r") != k))
                or text[:1] == " " or text[-1:] == " " or " " + term in text or sep + " " in text):
            raise Fallback
        parts = text.split(sep)
        if "" in parts:
            raise Fallback
        if lists:
            dirty = dirty or any(x in text for x in needles)
            quoted = quoted or "," in text or '"' in text
            form = TEXT if not dirty and not quoted else LISTS
        else:
            form = DICTS
        for raw in parts:
            f = raw.split(ele)
            sid = f[0]
            if in_st:
                if sid not in marks:
                    chunk.append(f)
                    continue
                if sid == "LX":
                    if what == "CLM":
                        lx += 1
                        if lx > _FEWEST_LINES + 1:
                            cap = line_cap(kind)
                            if cap is not None and lx > cap + 1:
                                raise Fallback  # GRM-008, the lines past the guide's maximum
                    chunk.append(f)
                    continue
                if sid != "HL" and sid != "CLM" and sid != "SE":
                    raise Fallback  # an envelope segment before SE: GRM-004
                # -- the chunk before it
                if what == "CLM":
                    if len(chunk) >= MAX_CLAIM_SEGMENTS:
                        raise Fallback  # GRM-008, a claim of too many segments
                    tmpl, misplaced = parser.shape("loop_2300", _tokens(chunk, "CLM"))
                    if misplaced:
                        raise Fallback
                    key = (kind, True, id(tmpl))
                    got = by_template.get(key)
                    if got is None or got[0] is not tmpl:
                        segs = [Segment(x, 0, 0, 0, delims, name) for x in chunk]
                        plan = compile_plan(kind, build_loop(tmpl, segs, ()), segs)
                        if len(by_template) >= columnar.MAX_PLANS:
                            by_template.clear()
                        got = by_template[key] = (tmpl, plan)
                    plan = got[1]
                    if plan is None:
                        raise Fallback
                    assert sub_cols is not None
                    out = plan_rows(plan, chunk, comp, rep, kind, head, seq, bp, sub_cols,
                                    pat_cols if pat_cols is not None else sub_cols[2:], columns, form)
                    yield [csv_row(r) for r in out] if dirty and lists else out
                elif what == "HL":
                    got_hl = _hl_columns(parser, level, chunk)
                    if level == "20":
                        bp, billing_seen, sub_cols, pat_cols = got_hl, True, None, None
                    elif level == "22":
                        sub_cols, pat_cols = got_hl, None
                    else:
                        pat_cols = got_hl
                if sid == "SE":
                    in_st = False
                    what = ""
                    continue
                if sid == "CLM":
                    if not billing_seen or sub_cols is None:
                        raise Fallback  # (a claim outside the HL levels: not mirrored here)
                    what = "CLM"
                    seq += 1
                    lx = 0
                else:
                    level = f[3] if len(f) > 3 else ""
                    if level not in HL_START:
                        raise Fallback  # GRM-002
                    what = "HL"
                chunk = [f]
                continue
            if sid == "ST":
                if not gs_open or len(f) < 3 or f[1] != "837":
                    raise Fallback
                version = f[3] if len(f) > 3 and f[3] else gs08
                kind = _VERSION_KIND.get(version)
                if kind is None:
                    raise Fallback  # GRM-001 (another version), GRM-003/5/6/7
                parser = _shared_parser(kind)
                head = (name, ic, gc, f[2])
                in_st = True
                what = "ST"
                chunk = []
                bp, billing_seen, sub_cols, pat_cols = None, False, None, None
            elif sid == "GS":
                if not isa_open or gs_open:
                    raise Fallback
                gs_open = True
                gc = f[6] if len(f) > 6 else ""
                gs08 = f[8] if len(f) > 8 else ""
                if old_version(gs08) is not None:
                    raise Fallback
            elif sid == "GE":
                if not gs_open:
                    raise Fallback
                gs_open = False
            elif sid == "IEA":
                if not isa_open or gs_open:
                    raise Fallback
                isa_open = False
            elif sid == "ISA":
                if isa_open or len(f) != 17 or len(f[1]) != 2 or len(f[16]) != 1 or _isa(f, ele, term) != (comp, rep):
                    raise Fallback
                if old_version(f[12], isa12=True) is not None:
                    raise Fallback
                isa_open = True
                ic = f[13].strip()
                if ic[:1] in FORMULA_START:
                    dirty = True
                    form = LISTS if lists else DICTS
            else:
                raise Fallback  # a segment outside a transaction
        if what == "CLM" and len(chunk) >= MAX_CLAIM_SEGMENTS:
            raise Fallback  # (what is held stays bounded)
        offset += len(text) + k_sep
        if progress is not None:
            progress(offset)
        if eof:
            break
        buf = rest
        more = stream.read(BLOCK)
        if more:
            buf += more.decode("latin-1")
        else:
            eof = True
    if isa_open or in_st or gs_open:
        raise Fallback


def _tokens(chunk: list[list[str]], first: str) -> list[str]:
    """The grammar's tokens of a chunk's segments (Structurer: the id, NM1_ + NM101), ``first`` the
    first one's (CLM, HL_ + HL03)."""
    toks = [f[0] if f[0] != "NM1" else "NM1_" + (f[1] if len(f) > 1 else "") for f in chunk]
    toks[0] = first
    return toks


# (the grammar's template of an HL chunk, held so its id is not reused) -> where its columns are
_HL_PLANS: dict[int, tuple[object, tuple[int, ...]]] = {}


def _hl_columns(parser: Any, level: str, chunk: list[list[str]]) -> Any:
    """What an HL chunk gives the claims under it, as :mod:`.columnar` reads it from the loop the
    grammar builds (level 20: _billing's (NPI, taxonomy) or None; 22: _subscriber's columns; 23:
    _patient's)."""
    tmpl, misplaced = parser.shape(HL_START[level], _tokens(chunk, "HL_" + level))
    if misplaced:
        raise Fallback
    got = _HL_PLANS.get(id(tmpl))
    if got is None or got[0] is not tmpl:
        if len(_HL_PLANS) >= columnar.MAX_PLANS:
            _HL_PLANS.clear()
        got = _HL_PLANS[id(tmpl)] = (tmpl, _hl_plan(tmpl, [f[0] for f in chunk]))
    at = got[1]
    if level == "20":  # (2010AA NM1, 2000A PRV): -2 no 2010AA
        if at[0] == -2:
            return None
        nm1 = chunk[at[0]]
        npi = _el(nm1, 9) if _el(nm1, 8) == "XX" else ""
        if at[1] < 0:
            return (npi, "")
        prv = chunk[at[1]]
        return (npi, _el(prv, 3) if _el(prv, 2) == "PXC" else "")
    if level == "22":  # (2010BB NM1, 2010BA NM1, its DMG)
        payer = chunk[at[0]] if at[0] >= 0 else None
        return (_el(payer, 9) if payer is not None else "", _el(payer, 3) if payer is not None else "",
                *_person(chunk, at[1], at[2]))
    return _person(chunk, at[0], at[1])  # (2010CA NM1, its DMG)


def _person(chunk: list[list[str]], nm1_at: int, dmg_at: int) -> tuple[str, str, str, str | None]:
    """columnar._person: (member id, last name, first name, ISO birth date)."""
    nm1 = chunk[nm1_at] if nm1_at >= 0 else None
    return (_el(nm1, 9) if nm1 else "", _el(nm1, 3) if nm1 else "", _el(nm1, 4) if nm1 else "",
            _iso(_el(chunk[dmg_at], 2)) if dmg_at >= 0 else None)


def _hl_plan(tmpl: Any, ids: list[str]) -> tuple[int, ...]:
    """Where an HL template's columns are (indices into the chunk; -1: none): the first segment
    of each child loop :mod:`.columnar` reads (``Loop.child``: the first of that id) and the first
    PRV / DMG of the loop it reads them from (``Loop.seg``)."""
    _, own, kids = tmpl

    def child(lid: str) -> Any:
        return next((k for k in kids if k[0] == lid), None)

    def first(t: Any) -> int:
        if t is None:
            return -1
        if not t[1]:
            raise Fallback  # (a loop without segments: columnar would fail on it; not mirrored)
        return int(t[1][0])

    def first_of(t: Any, sid: str) -> int:
        return next((i for i in t[1] if ids[i] == sid), -1) if t is not None else -1

    lid = tmpl[0]
    if lid == "2000A":
        aa = child("2010AA")
        return (first(aa) if aa is not None else -2, first_of(tmpl, "PRV"))
    if lid == "2000B":
        ba = child("2010BA")
        return (first(child("2010BB")), first(ba), first_of(ba, "DMG"))
    if lid == "2000C":
        ca = child("2010CA")
        return (first(ca), first_of(ca, "DMG"))
    raise Fallback
