"""Issue 2 acceptance: each segment's `loop` (as `edi837 parse --format jsonl`
prints it) equals the loop pyx12's map walker assigns, on every corpus file
pyx12 validates clean and on our own fixtures."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from edi837.cli import main

from shared_corpus import ids, is_5010_837, needs_corpus, path, rows

NON_TR3 = {"ISA_LOOP", "GS_LOOP", "ST_LOOP", "HEADER", "DETAIL", "FOOTER"}
# edi837 reads the 5010 guides; pyx12 also validates two 004010X096A1 files
# clean, whose loops (2010BC, 2310E, ...) are 4010's and not ours to assign.
PYX12_OK = [r for r in rows() if r["pyx12_4_0_0"] == "ok" and is_5010_837(r)]
FIXTURES = sorted((Path(__file__).resolve().parents[1] / "fixtures").glob("*.x12"))


def pyx12_loops(data: bytes) -> list[tuple[str, str | None]]:
    from pyx12 import error_handler, params, x12context

    text = data.decode("latin-1")
    if text.startswith("\xef\xbb\xbf"):
        text = text[3:]
    rdr = x12context.X12ContextReader(params.params(), error_handler.errh_null(), io.StringIO(text))
    out = []
    for node in rdr.iter_segments():
        seg_node = node.x12_map_node
        loop = seg_node.parent.id
        out.append((seg_node.id, None if loop in NON_TR3 else loop))
    return out


def our_loops(p: Path) -> list[tuple[str, str | None]]:
    res = CliRunner().invoke(main, ["parse", str(p), "--format", "jsonl"])
    assert res.exit_code == 0, res.output
    objs = [json.loads(ln) for ln in res.stdout.splitlines()]
    assert [o["segment_seq"] for o in objs] == list(range(1, len(objs) + 1))
    return [(o["segment_id"], o["loop"]) for o in objs]


def _agree(p: Path) -> None:
    ours = our_loops(p)
    theirs = pyx12_loops(p.read_bytes())
    assert len(ours) == len(theirs)
    diffs = [(i + 1, a, b) for i, (a, b) in enumerate(zip(ours, theirs)) if a != b]
    assert diffs == [], diffs[:10]


@needs_corpus
def test_there_are_pyx12_clean_files():
    assert len(PYX12_OK) >= 15


@needs_corpus
@pytest.mark.parametrize("row", PYX12_OK, ids=ids(PYX12_OK))
def test_loops_agree_with_pyx12_on_corpus(row):
    _agree(path(row))


@pytest.mark.parametrize("p", FIXTURES, ids=[p.name for p in FIXTURES])
def test_loops_agree_with_pyx12_on_fixtures(p):
    _agree(p)
