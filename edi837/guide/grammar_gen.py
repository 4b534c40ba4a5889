"""Generate the Lark grammars (grammars/*.lark) of the 837P / 837I loop structure.

Run ``python -m edi837.guide.grammar_gen`` to (re)write the grammar files from
the pyx12 maps (``--check`` only compares). The files are committed;
``tests/test_grammars.py`` checks they are up to date.

Contract (relied on by ``edi837.grammar``):

* one token per segment; its type is ``HL_<HL03>`` for HL (HL_20, HL_22, HL_23),
  ``NM1_<NM101>`` for NM1 (NM1_85, NM1_IL, ...), else the segment id (CLM, REF,
  ...). All terminals are ``%declare``d: the caller makes the tokens.
* ``loop_<id>`` for each TR3 loop below the transaction header: first-segment
  token, then ``_body_<id>*`` (the loop's other segments, any order, any count),
  then its child loops in map order, each zero or more times, written
  ``_loops_<child>`` with ``_loops_<child>: loop_<child>*`` (one helper rule per
  ``*``: lark expands a rule with n ``*`` items into 2**n alternatives). The 2300
  subtree is written once and used under 2000B and 2000C. ``_`` rules are
  inlined by lark, so trees hold only transaction/header/hl_*/loop_* nodes.
* start symbols: ``transaction``, ``header``, ``hl_billing``, ``hl_subscriber``,
  ``hl_patient``, ``loop_2300``.

Feeding tokens (lark 1.3)::

    >>> from lark import Token
    >>> from edi837.guide.grammar_gen import build_parser
    >>> parser = build_parser("837P")
    >>> toks = [Token(t, t) for t in ["CLM", "DTP", "HI", "LX", "SV1", "DTP"]]
    >>> tree = parser.parse(toks, start="loop_2300")
    >>> [str(st.data) for st in tree.iter_subtrees_topdown()]
    ['loop_2300', 'loop_2400']
    >>> ip = parser.parse_interactive(start="hl_subscriber")
    >>> for t in ["HL_22", "SBR", "NM1_IL", "N3", "NM1_PR"]:
    ...     _ = ip.feed_token(Token(t, t))
    >>> [str(st.data) for st in ip.feed_eof().iter_subtrees_topdown()]
    ['hl_subscriber', 'loop_2010ba', 'loop_2010bb']

``build_parser`` is ``Lark(text, parser="lalr", lexer=TokenPassthroughLexer,
start=START_SYMBOLS, strict=True)``: ``TokenPassthroughLexer.lex`` yields the
``lark.Token`` objects given to ``parse()`` unchanged (their ``value`` can be
anything, e.g. the parsed segment). ``parse_interactive(start=...)`` +
``feed_token`` / ``feed_eof`` works with the same parser.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .loader import Guide, load_guide
from .model import LoopDef, SegmentDef

START_SYMBOLS = ("transaction", "header", "hl_billing", "hl_subscriber", "hl_patient", "loop_2300")

GRAMMAR_FILES = {
    "837P": "837p_005010x222a1.lark",
    "837I": "837i_005010x223a2.lark",
}

#: HL loops -> (rule holding the HL with its own segments and non-HL child loops)
HL_RULES = {"2000A": "hl_billing", "2000B": "hl_subscriber", "2000C": "hl_patient"}

#: loops that hold a claim (2300) subtree
CLAIM_LOOP = "2300"


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def grammar_path(kind: str) -> Path:
    return repo_root() / "grammars" / GRAMMAR_FILES[kind]


def segment_tokens(seg: SegmentDef) -> list[str]:
    """Token types a segment definition can produce (several for e.g. NM1 with DN/P3)."""
    if seg.id in ("HL", "NM1"):
        idx = 3 if seg.id == "HL" else 1
        el = seg.element(idx)
        codes = el.valid_codes if el is not None else None
        if not codes:
            raise ValueError(f"{seg.id} in {'/'.join(seg.loop_path)} has no {seg.id}{idx:02d} codes")
        return [f"{seg.id}_{c}" for c in sorted(codes)]
    return [seg.id]


def rule_name(loop: LoopDef) -> str:
    return f"loop_{loop.id.lower()}"


def _star(loop: LoopDef) -> str:
    """Helper rule for "zero or more <loop>": ``_loops_<id>: loop_<id>*``.

    A rule made of n ``x*`` items makes lark expand 2**n alternatives (5000+
    rules, minutes to build), so each ``*`` of a child loop gets its own rule.
    """
    return f"_loops_{loop.id.lower()}"


def _alts(tokens: list[str]) -> str:
    return tokens[0] if len(tokens) == 1 else "(" + " | ".join(tokens) + ")"


def _dedupe(items: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for i in items:
        seen.setdefault(i, None)
    return list(seen)


def _loop_shape(lp: LoopDef) -> Any:
    """Structure of a loop subtree, for comparing the two 2300 copies (usage of the top ignored)."""
    return (
        lp.id, lp.name, lp.repeat, lp.pos,
        tuple(
            (c.id, c.name, c.usage, c.pos, c.max_use, c.elements, c.syntax, c.qual)
            if isinstance(c, SegmentDef)
            else (_loop_shape(c), c.usage)
            for c in lp.children
        ),
    )


def _fmt_repeat(r: int | None) -> str:
    return ">1" if r is None else str(r)


class _Gen:
    def __init__(self, guide: Guide) -> None:
        self.g = guide
        self.lines: list[str] = []
        self.tokens: list[str] = []
        self.done: set[str] = set()

    def tok(self, seg: SegmentDef) -> list[str]:
        t = segment_tokens(seg)
        self.tokens.extend(t)
        return t

    def emit(self, s: str = "") -> None:
        self.lines.append(s)

    def loop_comment(self, lp: LoopDef, note: str = "") -> None:
        wheres = _dedupe(
            [f"usage {x.usage}, repeat {_fmt_repeat(x.repeat)}" for x in self.g.loops(lp.id)]
        )
        if len(wheres) > 1:
            wheres = [
                f"under {x.path[-2]}: usage {x.usage}, repeat {_fmt_repeat(x.repeat)}"
                for x in self.g.loops(lp.id)
            ]
        where = "; ".join(wheres)
        self.emit(f"// Loop {lp.id} {lp.name} ({where}){note}")

    def head_and_body(self, lp: LoopDef) -> tuple[str, list[str]]:
        """(first-token expression, body lines) for a loop; body rule emitted separately."""
        first = lp.first_segment
        if first is None:
            raise ValueError(f"loop {lp.id} does not start with a segment")
        head = _alts(self.tok(first))
        body: list[str] = []
        for s in lp.segments[1:]:
            if s.id in ("HL", "NM1"):
                raise ValueError(f"{s.id} in the body of loop {lp.id} (not a first segment)")
            body.extend(self.tok(s))
        return head, _dedupe(body)

    def body_rule(self, lp: LoopDef, body: list[str]) -> str:
        if not body:
            return ""
        name = f"_body_{lp.id.lower()}"
        lines: list[list[str]] = [[]]
        for t in body:  # wrap long alternatives; continuation lines start with "|"
            if lines[-1] and len(" | ".join(lines[-1] + [t])) > 80:
                lines.append([])
            lines[-1].append(t)
        pad = " " * len(name)
        self.emit(f"{name}: " + f"\n{pad}| ".join(" | ".join(x) for x in lines))
        return f" {name}*"

    def plain_loop(self, lp: LoopDef, note: str = "") -> None:
        """loop_<id>: FIRST _body_<id>* child_loop* ..., then the child loops' rules."""
        if lp.id in self.done:
            return
        self.done.add(lp.id)
        self.loop_comment(lp, note)
        head, body = self.head_and_body(lp)
        kids = "".join(f" {_star(c)}" for c in lp.loops)
        pending = len(self.lines)
        self.emit("")  # placeholder for the loop rule
        b = self.body_rule(lp, body)
        self.lines[pending] = f"{rule_name(lp)}: {head}{b}{kids}"
        self.emit(f"{_star(lp)}: {rule_name(lp)}*")
        self.emit()
        for c in lp.loops:
            self.plain_loop(c)

    def hl_loop(self, lp: LoopDef, wrapper_children: list[LoopDef]) -> None:
        """loop_2000x: hl_x <wrapper children>*  and  hl_x: HL_nn _body* <other child loops>*."""
        hl = HL_RULES[lp.id]
        self.done.add(lp.id)
        self.loop_comment(lp, f"\n// {hl}: the HL with its own segments and loops")
        wrap = "".join(f" {_star(c)}" for c in wrapper_children)
        self.emit(f"{rule_name(lp)}: {hl}{wrap}")
        self.emit(f"{_star(lp)}: {rule_name(lp)}*")
        head, body = self.head_and_body(lp)
        own = [c for c in lp.loops if c not in wrapper_children]
        kids = "".join(f" {_star(c)}" for c in own)
        pending = len(self.lines)
        self.emit("")
        b = self.body_rule(lp, body)
        self.lines[pending] = f"{hl}: {head}{b}{kids}"
        self.emit()
        for c in own:
            self.plain_loop(c)

    def generate(self, map_version: str) -> str:
        g = self.g
        st_loop = g.loop("ST_LOOP")
        header = g.loop("HEADER")
        detail = g.loop("DETAIL")
        st, se = st_loop.segments[0], st_loop.segments[-1]
        assert (st.id, se.id) == ("ST", "SE"), (st.id, se.id)
        assert [s.id for s in header.segments] == ["BHT"], "HEADER holds more than BHT"
        bht = header.first_segment
        assert bht is not None
        assert [c.id for c in header.loops] == ["1000A", "1000B"]
        a = g.loop("2000A")
        b = g.loop("2000B")
        c = g.loop("2000C")
        assert [x.id for x in detail.loops] == ["2000A"]
        assert b in a.loops and c in b.loops
        claims = g.loops(CLAIM_LOOP)
        assert [x.path[-2] for x in claims] == ["2000B", "2000C"]
        if _loop_shape(claims[0]) != _loop_shape(claims[1]):
            raise ValueError("the 2300 subtrees under 2000B and 2000C differ beyond usage")
        claim = claims[0]
        c_claim = claims[1]

        self.emit("// Structure")
        self.emit(f"transaction: header {_star(a)} {_alts(self.tok(se))}")
        self.emit()
        self.emit(f"// {st.id}/{bht.id}: Transaction Set Header, {header.name} (outside TR3 loops)")
        self.emit(f"header: {_alts(self.tok(st))} {_alts(self.tok(bht))}? "
                  + " ".join(_star(x) for x in header.loops))
        self.emit()
        for x in header.loops:
            self.plain_loop(x)
        self.hl_loop(a, [b])
        self.hl_loop(b, [claim, c])
        self.hl_loop(c, [c_claim])
        usage = ", ".join(f"{x.usage} under {x.path[-2]}" for x in claims)
        self.plain_loop(
            claim,
            f"\n// Written once, used under 2000B and 2000C: the two subtrees in {g.map_file}\n"
            f"// are identical except for the usage of 2300 itself ({usage}).",
        )
        missing = [lp.id for lp in g.tr3_loops() if lp.id not in self.done]
        assert not missing, missing

        toks = sorted(set(self.tokens))
        out = [
            f"// Lark grammar of the {g.kind} ({g.version}) loop structure: {g.name}.",
            f"// GENERATED by `python -m edi837.guide.grammar_gen` from pyx12 {g.pyx12_version}",
            f"// map {g.map_file} (sha1 {g.map_sha1[:12]}). Do not edit by hand.",
            "//",
            "// One token per segment: HL_<HL03>, NM1_<NM101>, else the segment id. The",
            "// caller supplies the tokens (no lexer rules). Within a loop, segments after",
            "// the first may come in any order and number; child loops follow in map order,",
            "// each zero or more times (_loops_X: loop_X*). _rules are inlined in the tree.",
            "// Order, counts and usage are checked by the validator, not by this grammar.",
            f"// Start symbols: {', '.join(START_SYMBOLS)}.",
            "",
        ]
        wrapped = textwrap.wrap(" ".join(toks), width=88)
        out += [f"%declare {w}" for w in wrapped]
        out.append("")
        text = "\n".join(out + self.lines).rstrip() + "\n"
        return text


def generate(kind: str) -> str:
    """Grammar text for ``kind`` ("837P" / "837I")."""
    g = load_guide(kind)
    return _Gen(g).generate(g.version)


def _lexer_class() -> type:
    from lark.lexer import Lexer

    class TokenPassthroughLexer(Lexer):
        """A no-op lexer: ``parse()`` input is an iterable of ``lark.Token``."""

        def __init__(self, lexer_conf: Any) -> None:
            pass

        def lex(self, data: Any, *_: Any) -> Iterator[Any]:
            # lark calls a custom lexer class's lex() with the parse() input itself
            yield from data

    return TokenPassthroughLexer


def build_parser(kind: str, text: str | None = None, **kw: Any) -> Any:
    """A ``lark.Lark`` LALR parser over pre-made tokens for the committed grammar of ``kind``."""
    from lark import Lark

    kind = load_guide(kind).kind
    if text is None:
        text = grammar_path(kind).read_text()
    opts: dict[str, Any] = dict(parser="lalr", lexer=_lexer_class(), start=list(START_SYMBOLS), strict=True)
    opts.update(kw)
    return Lark(text, **opts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only check the files are up to date")
    args = ap.parse_args(argv)
    rc = 0
    for kind in GRAMMAR_FILES:
        path = grammar_path(kind)
        text = generate(kind)
        if args.check:
            if not path.exists() or path.read_text() != text:
                print(f"{path} is out of date", file=sys.stderr)
                rc = 1
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
