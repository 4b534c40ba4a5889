"""Tests for edi837.guide (pyx12 map loader) and the generated Lark grammars."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import pytest
from lark import Token, Tree

from edi837.guide import (
    ElementDef,
    LoopDef,
    SegmentDef,
    load_code_lists,
    load_control,
    load_guide,
    loader,
    qualifier,
)
from edi837.guide.grammar_gen import (
    GRAMMAR_FILES,
    START_SYMBOLS,
    build_parser,
    generate,
    grammar_path,
    segment_tokens,
)

KINDS = ["837P", "837I"]


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("EDI837_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "edi837-cache"))


# ---------------------------------------------------------------- guide ----

@pytest.mark.parametrize("kind,version", [("837P", "005010X222A1"), ("837I", "005010X223A2")])
def test_load_guide_aliases(kind, version):
    g = load_guide(kind)
    assert g.kind == kind and g.version == version
    assert load_guide(version) is g
    assert load_guide(kind.lower()) is g
    with pytest.raises(ValueError):
        load_guide("835")


@pytest.mark.parametrize("kind", KINDS)
def test_loop_lookup_and_paths(kind):
    g = load_guide(kind)
    a, c = g.loops("2300")
    assert a.path == ("ISA_LOOP", "GS_LOOP", "ST_LOOP", "DETAIL", "2000A", "2000B", "2300")
    assert c.path[-2:] == ("2000C", "2300")
    assert g.loop("2300") is a
    assert g.loop(("2000C", "2300")) is c
    assert g.loop("2000C/2300/2400") is g.loops("2400")[1]
    assert g.loop(c.path) is c
    assert g.parent(c) is g.loop("2000C")
    assert g.segment_defs_in("2300")[0].id == "CLM"
    assert all(isinstance(s, SegmentDef) and s.loop_id == "2300" for s in a.segments)
    assert [lp.id for lp in a.loops][-1] == "2400"
    with pytest.raises(KeyError):
        g.loop("9999")


def test_elements_and_composites():
    g = load_guide("837P")
    clm = g.loop("2300").first_segment
    clm01, clm05 = clm.element(1), clm.element(5)
    assert (clm01.xid, clm01.data_type, clm01.min_len, clm01.max_len) == ("CLM01", "AN", 1, 38)
    assert clm05.composite is not None and clm05.data_ele == "C023"
    pos = clm05.composite.elements[0]
    assert pos.xid == "CLM05-1" and pos.external_codes == "pos"
    assert "11" in load_code_lists()["pos"]
    hl = g.loop("2000B").first_segment
    assert qualifier(hl) == (3, frozenset({"22"}))
    nm1 = g.loop("2310A").first_segment
    assert qualifier(nm1) == (1, frozenset({"DN", "P3"}))
    hi = [s for s in g.segment_defs_in("2300") if s.id == "HI"][0]
    idx, codes = qualifier(hi)
    assert idx == 1 and hi.element(1).composite is not None and "ABK" in codes
    assert qualifier(clm) is None
    nm1_85 = g.loop("2010AA").first_segment
    assert any(s.kind == "P" for s in nm1_85.syntax)


def test_qualifier_matches_pyx12():
    """Our qualifier() agrees with pyx12's own segment_if._resolve_unique_key_field."""
    from pyx12 import params
    from pyx12.map_if import load_map_file
    from pyx12.map_if._segment import segment_if

    for kind in KINDS:
        g = load_guide(kind)
        pmap = load_map_file(g.map_file, params.params())
        theirs = {}

        def walk(node, path):
            for child in (c for pos in sorted(node.pos_map) for c in node.pos_map[pos]):
                if isinstance(child, segment_if):
                    k = child._resolve_unique_key_field(child.id, with_qual=False)
                    q = None
                    if k is not None:
                        q = (k[1], frozenset(k[0].valid_codes))
                    theirs.setdefault((path, child.id, child.pos, child.name), []).append(q)
                else:
                    walk(child, path + (child.id,))

        walk(pmap, ())
        ours = {}
        for s in g.all_segment_defs():
            ours.setdefault((s.loop_path, s.id, s.pos, s.name), []).append(qualifier(s))
        assert ours.keys() == theirs.keys()
        for k in ours:
            assert sorted(ours[k], key=repr) == sorted(theirs[k], key=repr), k


def test_pickle_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EDI837_CACHE_DIR", str(tmp_path))
    loader._load_guide_canonical.cache_clear()
    g1 = load_guide("837P")
    files = list(tmp_path.glob("guide-837P-*.pickle"))
    assert len(files) == 1
    loader._load_guide_canonical.cache_clear()
    # the second load comes from the pickle: the XML is not parsed again
    def no_parse(*a, **k):
        raise AssertionError("map XML parsed although the cache was warm")
    with monkeypatch.context() as m:
        m.setattr(loader, "parse_guide", no_parse)
        g2 = load_guide("837P")
    assert g2 is not g1 and g2.map_sha1 == g1.map_sha1
    assert [lp.path for lp in g2.iter_loops()] == [lp.path for lp in g1.iter_loops()]
    # corrupt cache: ignored
    files[0].write_bytes(b"not a pickle")
    loader._load_guide_canonical.cache_clear()
    assert load_guide("837P").loop("2300").first_segment.id == "CLM"
    # unwritable cache dir: ignored
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("EDI837_CACHE_DIR", str(blocker / "sub"))
    loader._load_guide_canonical.cache_clear()
    assert load_guide("837I").kind == "837I"
    loader._load_guide_canonical.cache_clear()


def test_model_pickles_and_is_frozen():
    g = load_guide("837I")
    lp = g.loop("2400")
    with pytest.raises(AttributeError):
        lp.id = "x"  # type: ignore[misc]
    assert isinstance(pickle.loads(pickle.dumps(lp)), LoopDef)
    assert isinstance(lp.first_segment.elements[0], ElementDef)


def test_load_control():
    c = load_control()
    assert [s.id for s in c.all_segment_defs()] == ["ISA", "TA1", "IEA", "GS", "GE"]
    isa = c.loop("ISA_LOOP").first_segment
    assert len(isa.elements) == 16 and isa.element(12).valid_codes == frozenset({"00501"})


# -------------------------------------------------------------- grammars ----

@pytest.mark.parametrize("kind", KINDS)
def test_committed_grammar_is_generated(kind):
    path = grammar_path(kind)
    assert path.name == GRAMMAR_FILES[kind]
    assert path.read_text() == generate(kind), "run: python -m edi837.guide.grammar_gen"


@pytest.mark.parametrize("kind", KINDS)
def test_grammar_builds_lalr_without_conflicts(kind):
    # strict=True makes lark raise on any shift/reduce or reduce/reduce conflict
    parser = build_parser(kind)
    for start in START_SYMBOLS:
        assert start in parser.options.start


@pytest.mark.parametrize("kind,line", [("837P", "SV1"), ("837I", "SV2")])
def test_feed_tokens_example(kind, line):
    parser = build_parser(kind)
    toks = [Token(t, t) for t in ["CLM", "DTP", "HI", "LX", line, "DTP"]]
    tree = parser.parse(toks, start="loop_2300")
    assert tree.data == "loop_2300"
    kids = [c for c in tree.children if isinstance(c, Tree)]
    assert [k.data for k in kids] == ["loop_2400"]
    assert [t.type for t in kids[0].children] == ["LX", line, "DTP"]
    ip = parser.parse_interactive(start="hl_patient")
    for t in ["HL_23", "PAT", "NM1_QC", "N3", "N4", "DMG"]:
        ip.feed_token(Token(t, t))
    tree = ip.feed_eof()
    assert [str(s.data) for s in tree.iter_subtrees_topdown()] == ["hl_patient", "loop_2010ca"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_loop_has_rule_and_qualifiers_are_hl_nm1(kind):
    """Every TR3 loop has a loop_<id> rule; a loop's first token is HL_/NM1_ qualified or bare."""
    g = load_guide(kind)
    text = grammar_path(kind).read_text()
    for lp in g.tr3_loops():
        if lp.id in ("2000A", "2000B", "2000C"):
            assert f"loop_{lp.id.lower()}: hl_" in text
        else:
            assert f"\nloop_{lp.id.lower()}: " in text
        assert segment_tokens(lp.first_segment)


# ----------------------------------- agreement with pyx12's loop assignment ----

P_SAMPLE = """\
ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *251120*0800*^*00501*000000001*0*T*:~
GS*HC*SENDER*RECEIVER*20251120*0800*1*X*005010X222A1~
ST*837*0001*005010X222A1~
BHT*0019*00*B1*20251120*0800*CH~
NM1*41*2*SUBMITTER*****46*S1~
PER*IC*DESK*TE*2175550100~
NM1*40*2*PAYER*****46*P1~
HL*1**20*1~
PRV*BI*PXC*2084P0800X~
NM1*85*2*BILLING*****XX*1234567893~
N3*1 MAIN ST~
N4*SPRINGFIELD*IL*627040123~
REF*EI*990012345~
HL*2*1*22*1~
SBR*P*01*GRP******CI~
NM1*IL*1*DOE*JOHN****MI*M1~
N3*2 MAIN ST~
N4*SPRINGFIELD*IL*62704~
DMG*D8*19700101*M~
NM1*PR*2*PAYER*****PI*P1~
HL*3*2*23*0~
PAT*19~
NM1*QC*1*DOE*JANE~
N3*2 MAIN ST~
N4*SPRINGFIELD*IL*62704~
DMG*D8*20100101*F~
CLM*C1*100***11:B:1*Y*A*Y*Y~
HI*ABK:F329~
NM1*82*1*SMITH*ANN****XX*1234567893~
PRV*PE*PXC*2084P0800X~
SBR*S*18*GRP2******CI~
OI***Y***Y~
NM1*IL*1*DOE*JOHN****MI*M2~
NM1*PR*2*OTHER PAYER*****PI*P2~
LX*1~
SV1*HC:90837*100*UN*1***1~
DTP*472*D8*20251101~
NM1*82*1*SMITH*ANN****XX*1234567893~
LX*2~
SV1*HC:90837*100*UN*1***1~
DTP*472*D8*20251102~
SE*41*0001~
GE*1*1~
IEA*1*000000001~
"""

I_SAMPLE = """\
ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *251120*0800*^*00501*000000002*0*T*:~
GS*HC*SENDER*RECEIVER*20251120*0800*2*X*005010X223A2~
ST*837*0001*005010X223A2~
BHT*0019*00*B2*20251120*0800*CH~
NM1*41*2*SUBMITTER*****46*S1~
PER*IC*DESK*TE*2175550100~
NM1*40*2*PAYER*****46*P1~
HL*1**20*1~
NM1*85*2*HOSPITAL*****XX*1234567893~
N3*1 MAIN ST~
N4*SPRINGFIELD*IL*627040123~
REF*EI*990012345~
HL*2*1*22*0~
SBR*P*18*GRP******CI~
NM1*IL*1*DOE*JOHN****MI*M1~
N3*2 MAIN ST~
N4*SPRINGFIELD*IL*62704~
DMG*D8*19700101*M~
NM1*PR*2*PAYER*****PI*P1~
CLM*C1*500***13:A:1**A*Y*Y~
DTP*434*RD8*20251101-20251101~
CL1*1*1*01~
HI*ABK:F329~
NM1*71*1*JONES*AMY****XX*1234567893~
LX*1~
SV2*0900*HC:90837*500*UN*1~
DTP*472*D8*20251101~
SE*21*0001~
GE*1*1~
IEA*1*000000002~
"""


def _pyx12_loops(x12_text: str) -> list[tuple[str, str]]:
    """(segment id, loop id pyx12 assigns) for every segment from ST to SE."""
    from pyx12 import error_handler, params, x12context

    rdr = x12context.X12ContextReader(params.params(), error_handler.errh_null(), io.StringIO(x12_text))
    out = []
    for node in rdr.iter_segments():
        seg_node = node.x12_map_node
        out.append((seg_node.id, seg_node.parent.id))
    i = [s for s, _ in out].index("ST")
    j = [s for s, _ in out].index("SE")
    return out[i:j + 1]


def _token(fields: list[str]) -> Token:
    if fields[0] == "HL":
        return Token(f"HL_{fields[3]}", fields)
    if fields[0] == "NM1":
        return Token(f"NM1_{fields[1]}", fields)
    return Token(fields[0], fields)


NODE_LOOP = {"hl_billing": "2000A", "hl_subscriber": "2000B", "hl_patient": "2000C",
             "header": "HEADER", "transaction": "ST_LOOP"}


def _grammar_loops(kind: str, x12_text: str) -> list[tuple[str, str]]:
    segs = [s.split("*") for s in x12_text.strip().rstrip("~").split("~\n")]
    i = [s[0] for s in segs].index("ST")
    j = [s[0] for s in segs].index("SE")
    tree = build_parser(kind).parse([_token(s) for s in segs[i:j + 1]], start="transaction")
    out: list[tuple[str, str]] = []

    def walk(t: Tree) -> None:
        name = str(t.data)
        loop = NODE_LOOP.get(name) or name.removeprefix("loop_").upper()
        for c in t.children:
            if isinstance(c, Tree):
                walk(c)
            else:
                seg = c.value[0]
                # ST and SE sit in ST_LOOP; BHT is HEADER's first segment
                out.append((seg, "ST_LOOP" if seg == "ST" else loop))

    walk(tree)
    return out


@pytest.mark.parametrize("kind,sample", [("837P", P_SAMPLE), ("837I", I_SAMPLE)])
def test_grammar_agrees_with_pyx12_loop_ids(kind, sample):
    assert _grammar_loops(kind, sample) == _pyx12_loops(sample)


FIXTURES = sorted((Path(__file__).parent.parent / "fixtures").glob("837*.x12"))


@pytest.mark.parametrize("path", FIXTURES, ids=[p.name for p in FIXTURES])
def test_grammar_agrees_with_pyx12_on_fixtures(path):
    text = path.read_text()
    if "~\n" not in text:
        text = text.replace("~", "~\n")
    kind = "837I" if "X223" in text else "837P"
    if text.count("\nST*") != 1 or not text.startswith("ISA*") or text[105] != "~":
        pytest.skip("only single-transaction fixtures with * and ~ delimiters")
    assert _grammar_loops(kind, text) == _pyx12_loops(text)
