"""Issue 16 item 1: the columnar lines (edi837.outputs.columnar) give the rows the claim model
gives, to the byte (CSV and JSON Lines), on the fixtures, generated files and the shared corpus."""

from __future__ import annotations

import csv
import io
import json
import random
import sys
from pathlib import Path

import pytest

from edi837.model import build
from edi837.model.build import loop_stream
from edi837.outputs import columnar
from edi837.outputs.tables import COLUMN_NAMES, csv_row, rows

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = sorted(p for p in (ROOT / "fixtures").rglob("*") if p.is_file() and p.suffix in (".x12", ".edi", ".txt"))
CORPUS = ROOT.parent / "shared" / "corpus" / "files"
sys.path.insert(0, str(ROOT / "benchmarks"))


def _both(src: bytes | Path) -> tuple[list[dict], list[dict], list, list]:
    fa: list = []
    fb: list = []
    data = src.read_bytes() if isinstance(src, Path) else src
    name = str(src) if isinstance(src, Path) else "gen.x12"
    fast = list(rows(loop_stream(data, name), fa.append, model=False))
    slow = list(rows(loop_stream(data, name), fb.append, model=True))
    return fast, slow, fa, fb


def _csv(rs: list[dict]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COLUMN_NAMES)
    w.writerows(csv_row(r.values()) for r in rs)
    return out.getvalue()


def _jsonl(rs: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rs)


def _same(src: bytes | Path) -> int:
    fast, slow, fa, fb = _both(src)
    assert [list(r.items()) for r in fast] == [list(r.items()) for r in slow]
    assert _csv(fast) == _csv(slow)
    assert _jsonl(fast) == _jsonl(slow)
    assert [f.rule for f in fa] == [f.rule for f in fb]
    return len(fast)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: str(p.relative_to(ROOT / "fixtures")))
def test_fixture_rows_equal_the_model(path: Path) -> None:
    _same(path)


def _generated(kind: str, claims: int, seed: int, **kw: int) -> bytes:
    from generate import generate

    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "g.x12"
        generate(str(p), claims, kind, seed=seed, **kw)
        return p.read_bytes()


@pytest.mark.parametrize("kind", ["837P", "837I"])
@pytest.mark.parametrize("seed", [0, 1, 7])
def test_generated_rows_equal_the_model(kind: str, seed: int) -> None:
    data = _generated(kind, 300, seed, lines_per_claim=1 + seed % 4, claims_per_st=120)
    assert _same(data) > 0


@pytest.mark.parametrize("kind", ["837P", "837I"])
def test_generated_shapes_take_the_fast_path(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The TMS/ECT shapes of benchmarks/generate.py are read without the model."""
    data = _generated(kind, 200, 3)
    import edi837.model.build as build

    def no_model(self: object) -> None:
        raise AssertionError("read through the model")

    monkeypatch.setattr(build.ClaimLoopRead, "build", no_model)
    assert sum(1 for _ in rows(loop_stream(data, "g.x12"), model=False)) > 0


def _mutants(data: bytes, rng: random.Random, n: int) -> list[bytes]:
    """Variants of a file: elements of claim and line segments blanked, changed or dropped."""
    text = data.decode("latin-1")
    segs = text.split("~")
    out = []
    values = ["", "RD8", "D8", "20250230", "20250101-20250105", "12.50", "-0", "1E2", "XX", "PXC", "G1",
              "472", "434", "435", "ABK:Z00", "BF:F32", "BG:01", "1:2:9", "HC:90837:25:59", "A"]
    for _ in range(n):
        s2 = list(segs)
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(s2))
            f = s2[i].split("*")
            if f[0].strip() in ("ISA", "GS", "ST", "SE", "GE", "IEA", "HL") or len(f) < 2:
                continue
            j = rng.randrange(1, len(f) + 1)
            if j == len(f) or rng.random() < 0.15:
                f.append(rng.choice(values))
            elif rng.random() < 0.1:
                del f[j]
            else:
                f[j] = rng.choice(values)
            s2[i] = "*".join(f)
        if rng.random() < 0.4:  # a segment moved (the grammar places it as misplaced, or elsewhere)
            i, j = rng.randrange(len(s2)), rng.randrange(len(s2))
            if not s2[i].lstrip().startswith(("ISA", "GS", "ST", "SE", "GE", "IEA")) and 2 < j < len(s2) - 3:
                s2.insert(j, s2.pop(i))
        if rng.random() < 0.3:  # a segment dropped or repeated
            i = rng.randrange(len(s2))
            if not s2[i].lstrip().startswith(("ISA", "GS", "ST", "SE", "GE", "IEA")):
                if rng.random() < 0.5:
                    del s2[i]
                else:
                    s2.insert(i, s2[i])
        out.append("~".join(s2).encode("latin-1"))
    return out


@pytest.mark.parametrize("kind", ["837P", "837I"])
def test_fuzzed_files_rows_equal_the_model(kind: str) -> None:
    rng = random.Random(16)
    base = _generated(kind, 12, 5, lines_per_claim=2)
    for data in _mutants(base, rng, 60):
        try:
            _same(data)
        except AssertionError:
            raise
        except Exception as e:  # noqa: BLE001  # both paths must fail alike
            with pytest.raises(type(e)):
                list(rows(loop_stream(data, "g.x12"), model=True))
    for p in FIXTURES[:6]:
        for data in _mutants(p.read_bytes(), rng, 15):
            _same(data)


def test_misplaced_segments_are_read_by_their_loops() -> None:
    """Claims with misplaced segments (no template: the shape is read from the loops) are among
    the fuzzed ones, and read without the model."""
    rng = random.Random(16)
    seen = 0
    for data in _mutants(_generated("837P", 12, 5, lines_per_claim=2), rng, 60):
        try:
            evs = [e for e in loop_stream(data, "g.x12") if isinstance(e, build.ClaimLoopRead)]
        except Exception:  # noqa: BLE001 - (a mutant the reader rejects)
            continue
        for e in evs:
            if e.shape is None:
                seen += 1
                assert columnar.claim_line_rows(e, COLUMN_NAMES) is not None
    assert seen > 0


def test_a_shape_without_plan_is_read_through_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    data = (ROOT / "fixtures" / "837p_tms_course.x12").read_bytes()
    want = list(rows(loop_stream(data, "f.x12"), model=True))
    monkeypatch.setattr(columnar, "compile_plan", lambda kind, lp, segs: None)
    columnar._PLANS.clear()
    columnar._BY_TEMPLATE.clear()
    assert list(rows(loop_stream(data, "f.x12"), model=False)) == want
    columnar._PLANS.clear()
    columnar._BY_TEMPLATE.clear()


def test_plans_are_cached_per_shape() -> None:
    columnar._PLANS.clear()
    columnar._BY_TEMPLATE.clear()
    data = _generated("837P", 200, 2)
    list(rows(loop_stream(data, "g.x12"), model=False))
    assert 0 < len(columnar._PLANS) + len(columnar._BY_TEMPLATE) < 200


@pytest.mark.skipif(not CORPUS.is_dir(), reason="no shared corpus (../shared/corpus)")
def test_corpus_rows_equal_the_model() -> None:
    n = 0
    for p in sorted(CORPUS.rglob("*")):
        if p.is_file() and p.stat().st_size < 5_000_000:
            _same(p)
            n += 1
    assert n > 0
