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

The HL loops enclosing the claims (billing provider, subscriber, patient: one per several
claims) are built as the grammar path builds them, with ``Segment`` objects; claims, the bulk
of the file, are lists of elements.
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable, Generator, Iterator

from ..findings import Finding
from ..grammar.parser import HL_START, build_loop
from ..grammar.stream import _FEWEST_LINES, GUIDES, MAX_CLAIM_SEGMENTS, _shared_parser, line_cap, old_version
from ..grammar.loop import Loop
from ..model.build import loop_stream
from ..reader import MAX_SEGMENT, open_source
from ..reader.segment import Delimiters, Segment
from . import columnar
from .columnar import _billing, _patient, _subscriber, compile_plan, plan_rows
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
    With ``csv`` each row is the list of its CSV cells, neutralised (:func:`.tables.csv_row`)."""
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
    white space is stripped."""
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
    # -- the envelope and chunk state (edi837.grammar.stream.Structurer, edi837.model.build._stream)
    isa_open = in_st = False
    gs_open = False
    ic = gc = tc = ""
    gs08 = ""
    kind: str | None = None
    parser: Any = None
    head: tuple[Any, ...] = ()
    chunk: list[list[str]] = []
    toks: list[str] = []
    what = ""  # the open chunk: "ST" (header), "HL", "CLM"
    level = ""
    lx = 0
    billing: Loop | None = None
    subscriber: Loop | None = None
    patient: Loop | None = None
    seq = 0  # claims
    by_template = columnar._BY_TEMPLATE
    offset = 0  # bytes of the file split so far
    eof = False

    def hl_loop(start: str) -> Loop:
        tmpl, misplaced = parser.shape(start, toks)
        if misplaced:
            raise Fallback
        return build_loop(tmpl, [Segment(f, 0, 0, 0, delims, name) for f in chunk], ())

    def claim() -> list[Any]:
        tmpl, misplaced = parser.shape("loop_2300", toks)
        if misplaced:
            raise Fallback
        key = (kind, True, id(tmpl))
        got = by_template.get(key)
        if got is None or got[0] is not tmpl:
            segs = [Segment(f, 0, 0, 0, delims, name) for f in chunk]
            plan = compile_plan(kind, build_loop(tmpl, segs, ()), segs)
            if len(by_template) >= columnar.MAX_PLANS:
                by_template.clear()
            got = by_template[key] = (tmpl, plan)
        plan = got[1]
        if plan is None:
            raise Fallback
        sub_cols = _subscriber(subscriber)
        out = plan_rows(plan, chunk, comp, rep, kind, head, seq, _billing(billing), sub_cols,
                        _patient(patient) if patient is not None else sub_cols[2:], columns, lists)
        return [csv_row(r) for r in out] if dirty and lists else out

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
        if lists and not dirty:
            dirty = any(x in text for x in needles)
        for raw in parts:
            f = raw.split(ele)
            sid = f[0]
            if in_st:
                if sid in _MARKS:
                    if sid == "LX":
                        if what == "CLM":
                            lx += 1
                            if lx > _FEWEST_LINES + 1:
                                cap = line_cap(kind)
                                if cap is not None and lx > cap + 1:
                                    raise Fallback  # GRM-008, the lines past the guide's maximum
                    elif sid == "HL" or sid == "CLM" or sid == "SE":
                        # the chunk before it
                        if what == "CLM":
                            yield claim()
                        elif what == "HL":
                            if level == "20":
                                billing, subscriber, patient = hl_loop(HL_START[level]), None, None
                            elif level == "22":
                                subscriber, patient = hl_loop(HL_START[level]), None
                            else:
                                patient = hl_loop(HL_START[level])
                        if sid == "SE":
                            in_st = False
                            what = ""
                            continue
                        if sid == "CLM":
                            if billing is None or subscriber is None:
                                raise Fallback  # (a claim outside the HL levels: not mirrored here)
                            what = "CLM"
                            seq += 1
                            lx = 0
                            chunk = [f]
                            toks = ["CLM"]
                        else:
                            level = f[3] if len(f) > 3 else ""
                            if level not in HL_START:
                                raise Fallback  # GRM-002
                            what = "HL"
                            chunk = [f]
                            toks = ["HL_" + level]
                        continue
                    else:
                        raise Fallback  # an envelope segment before SE: GRM-004
                chunk.append(f)
                toks.append("NM1_" + (f[1] if len(f) > 1 else "") if sid == "NM1" else sid)
                if what == "CLM" and len(chunk) >= MAX_CLAIM_SEGMENTS:
                    raise Fallback
                continue
            if sid == "ST":
                if not gs_open or len(f) < 3 or f[1] != "837":
                    raise Fallback
                version = f[3] if len(f) > 3 and f[3] else gs08
                kind = _VERSION_KIND.get(version)
                if kind is None:
                    raise Fallback  # GRM-001 (another version), GRM-003/5/6/7
                parser = _shared_parser(kind)
                tc = f[2]
                head = (name, ic, gc, tc)
                in_st = True
                what = "ST"
                chunk, toks = [], []
                billing = subscriber = patient = None
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
            else:
                raise Fallback  # a segment outside a transaction
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
