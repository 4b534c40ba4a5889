"""Segments into loops with the Lark LALR grammars of grammars/.

A transaction is parsed in chunks so that claims can be handed on as they
complete: the header (ST up to the first HL), each HL with its own segments
and 2010 loops, and each 2300 claim loop.  Each chunk is turned into a
sequence of tokens by the structure stage as it reads (the segment id;
``HL_<HL03>`` and ``NM1_<NM101>`` for HL and NM1) and parsed with the chunk's start symbol.  The loop structure found for one
token sequence is cached, so Lark parses each distinct claim shape once.

A segment the grammar does not accept where it stands is not dropped: it is
kept in the loop of the segment before it, marked ``misplaced``, for the
validator to report.
"""

from __future__ import annotations

import functools
import hashlib
import sys
from operator import itemgetter
from pathlib import Path
from typing import Any, Iterator, Sequence, TypeAlias

import lark
from lark import Lark, Token, Tree
from lark.common import LexerConf
from lark.exceptions import UnexpectedInput
from lark.lexer import Lexer

from ..cache import cache_dir, cached
from ..reader.segment import Segment
from .loop import Loop

GRAMMAR_FILES = {
    "837P": "837p_005010x222a1.lark",
    "837I": "837i_005010x223a2.lark",
}

START_SYMBOLS = ("header", "hl_billing", "hl_subscriber", "hl_patient", "loop_2300", "transaction")

# tree node name -> TR3 loop id (None: outside the TR3 loops)
_NODE_LOOP = {"header": None, "hl_billing": "2000A", "hl_subscriber": "2000B", "hl_patient": "2000C",
              "transaction": None}

# The 837's HL levels (HL03), in one table every stage uses: its name, the
# level its parent HL must have (None: no parent) and the grammar start symbol.
HL_NAME = {"20": "billing provider", "22": "subscriber", "23": "patient"}
HL_PARENT: dict[str, str | None] = {"20": None, "22": "20", "23": "22"}
HL_START = {"20": "hl_billing", "22": "hl_subscriber", "23": "hl_patient"}

MAX_CACHE = 20000


def grammar_dir() -> Path:
    """grammars/ inside the installed wheel, else at the top of the source tree."""
    # (found beside the package: importlib.resources costs its own imports on every start-up)
    p = Path(__file__).resolve().parents[1] / "grammars"
    if p.is_dir():
        return p
    return Path(__file__).resolve().parents[2] / "grammars"


class _TokenFeed(Lexer):
    """A 'lexer' that hands Lark the tokens we made from segments."""

    def __init__(self, lexer_conf: LexerConf) -> None:  # noqa: D401 - Lark API
        pass

    # Lark's simple custom-lexer interface: ``data`` is what was passed to
    # Lark.parse(), here the list of tokens
    def lex(self, data: Any, parser_state: Any = None) -> Iterator[Token]:
        return iter(data)


# A template is (loop_id, own segment indices, child templates): a loop's own
# segments and its child loops, each in file order.
Template: TypeAlias = tuple[str | None, tuple[int, ...], tuple["Template", ...]]


@functools.cache
def _lark(kind: str) -> Lark:
    text = (grammar_dir() / GRAMMAR_FILES[kind]).read_text()
    # the LALR tables are kept in our cache folder (edi837.cache: read only when no other user
    # could have written them), keyed by a hash of the grammar, the options and the versions;
    # that saves most of the parser's start-up.  (Not Lark's own cache= file: Lark unpickles it
    # before any check.)
    key = hashlib.sha256("\0".join((text, *START_SYMBOLS, "lalr", lark.__version__,
                                     sys.version.split()[0])).encode()).hexdigest()[:16]
    stem = GRAMMAR_FILES[kind].removesuffix(".lark")
    try:
        path: Path | None = cache_dir() / f"lark-{stem}-{key}.pickle"
    except RuntimeError:  # no home folder: no cache
        path = None
    return cached(path, lambda: Lark(text, parser="lalr", lexer=_TokenFeed, start=list(START_SYMBOLS)),
                  lambda obj: isinstance(obj, Lark), dump=lambda obj, f: obj.save(f), load=Lark.load)


class ChunkParser:
    """Parses token sequences of one guide ("837P" or "837I") with a shape cache."""

    def __init__(self, kind: str):
        self.kind = kind
        self.lark = _lark(kind)
        self.cache: dict[tuple[str, tuple[str, ...]], tuple[Template, tuple[int, ...]]] = {}
        self.lark_calls = 0

    def shape(self, start: str, types: Sequence[str]) -> tuple[Template, tuple[int, ...]]:
        key = (start, tuple(types))
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        res = self._parse(start, list(types))
        if len(self.cache) >= MAX_CACHE:
            self.cache.clear()
        self.cache[key] = res
        return res

    def _parse(self, start: str, types: list[str]) -> tuple[Template, tuple[int, ...]]:
        idx = list(range(len(types)))
        misplaced: list[int] = []
        # the chunk's first token decides the start symbol; it is never dropped
        for _ in range(len(types) + 1):
            toks = [Token(types[i], i) for i in idx]
            self.lark_calls += 1
            try:
                tree = self.lark.parse(toks, start=start)
            except UnexpectedInput as e:
                tok = getattr(e, "token", None)
                if tok is None or not isinstance(tok.value, int) or tok.value == idx[0]:
                    # cannot place even the start: everything after it is misplaced
                    misplaced.extend(idx[1:])
                    idx = idx[:1]
                    if tok is not None and isinstance(tok.value, int) and tok.value == idx[0]:
                        return (None, (), ()), tuple(range(len(types)))
                    continue
                misplaced.append(tok.value)
                idx.remove(tok.value)
                continue
            return _template(tree), tuple(sorted(misplaced))
        return (None, (), ()), tuple(range(len(types)))  # pragma: no cover


def _template(tree: Tree[Token]) -> Template:
    name = tree.data if isinstance(tree.data, str) else tree.data.value
    if name in _NODE_LOOP:
        loop_id = _NODE_LOOP[name]
    elif name.startswith("loop_"):
        loop_id = name[5:].upper()
    else:  # pragma: no cover - grammar contract
        loop_id = name
    own: list[int] = []
    kids: list[Template] = []
    for ch in tree.children:
        if isinstance(ch, Token):
            own.append(ch.value)
        elif isinstance(ch, Tree):
            kids.append(_template(ch))
    return (loop_id, tuple(own), tuple(kids))


def build_loop(template: Template, segs: Sequence[Segment], misplaced: Sequence[int],
               parent: Loop | None = None) -> Loop:
    """Instantiate a template over the chunk's segments; place misplaced ones."""
    root = _instantiate(template, segs, parent)
    if misplaced:
        owner: dict[int, Loop] = {}
        _owners(root, owner)
        for i in misplaced:
            j = i - 1
            while j >= 0 and segs[j].seq not in owner:
                j -= 1
            lp = owner.get(segs[j].seq, root) if j >= 0 else root
            s = segs[i]
            s.misplaced = True
            s.loop = lp.id
            lp.segments.append(s)
            lp.segments.sort(key=lambda x: x.seq)
            owner[s.seq] = lp
    return root


# A template's loops in pre-order (a loop before its child loops, these in order): (loop id, a
# getter of its own segments from the chunk, how many it has, its parent's place in the order
# or -1 for the root).  Templates are few and shared (ChunkParser caches them), so each is
# walked once; kept per template (the entry holds it, so its id is not reused meanwhile).
_Plan: TypeAlias = tuple[tuple[str | None, Any, int, int], ...]
# (template, its plan, a getter of all its segments in that pre-order from the chunk, how many)
_PLANS: dict[int, tuple[Template, _Plan, Any, int]] = {}


def _planned(t: Template) -> tuple[Template, _Plan, Any, int]:
    got = _PLANS.get(id(t))
    if got is None or got[0] is not t:
        if len(_PLANS) >= MAX_CACHE:
            _PLANS.clear()
        plan = _plan(t)
        order = [i for node in _walk(t) for i in node[1]]
        got = _PLANS[id(t)] = (t, plan, itemgetter(*order) if order else None, len(order))
    return got


def _walk(t: Template) -> Iterator[Template]:
    yield t
    for k in t[2]:
        yield from _walk(k)


def preorder(t: Template, segs: Sequence[Segment]) -> tuple[Segment, ...]:
    """The segments of the chunk ``segs`` in the order of the loops template ``t`` builds (a loop's
    own segments, then its child loops'): the order of a walk of the loop :func:`build_loop` gives
    when nothing is misplaced."""
    _, _, get, n = _planned(t)
    return tuple(get(segs)) if n > 1 else (get(segs),) if n else ()


def _plan(t: Template) -> _Plan:
    out: list[tuple[str | None, Any, int, int]] = []

    def walk(node: Template, up: int) -> None:
        loop_id, idx, kids = node
        me = len(out)
        out.append((loop_id, itemgetter(*idx) if idx else None, len(idx), up))
        for k in kids:
            walk(k, me)

    walk(t, -1)
    return tuple(out)


def _instantiate(t: Template, segs: Sequence[Segment], parent: Loop | None) -> Loop:
    """The loops of template ``t`` over the chunk ``segs``, in one pass over its plan (what a
    walk of the template builds: each loop's own segments in the template's order, its child
    loops in order)."""
    got = _PLANS.get(id(t))
    if got is None or got[0] is not t:
        got = _planned(t)
    loops: list[Loop] = []
    for loop_id, get, n, up in got[1]:
        # (itemgetter of several indices gives a tuple, of one the item itself)
        own: list[Segment] = list(get(segs)) if n > 1 else [get(segs)] if n else []
        for s in own:
            s.loop = loop_id
        if up < 0:
            lp = Loop(loop_id, own, [], parent)
        else:
            up_lp = loops[up]
            lp = Loop(loop_id, own, [], up_lp)
            up_lp.children.append(lp)
        loops.append(lp)
    return loops[0]


def _owners(lp: Loop, out: dict[int, Loop]) -> None:
    for s in lp.segments:
        out[s.seq] = lp
    for c in lp.children:
        _owners(c, out)
