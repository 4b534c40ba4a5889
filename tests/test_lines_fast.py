"""Issue 16 item 1: the text path of ``edi837 lines`` (edi837.outputs.fastlines) gives the rows
and findings of the model path, to the byte (CSV and JSON Lines), on the fixtures, generated
files, damaged and re-delimited variants and the shared corpus; it reads a file only when the
grammar path would find nothing in it, and hands any other file (from the claim where it stops
being sure) to the grammar path."""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

import pytest

from edi837.model.build import loop_stream
from edi837.outputs import fastlines
from edi837.outputs.tables import COLUMN_NAMES, rows

from test_lines_columnar import CORPUS, FIXTURES, _csv, _generated, _jsonl, _mutants


def _fast_all(path: Path) -> int | None:
    """How many claims the text path reads of ``path``; None when it hands the file on."""
    try:
        return sum(1 for _ in fastlines.claim_rows(path))
    except fastlines.Fallback:
        return None


def _csv_cells(cells: list) -> str:
    """The CSV of the CLI: lists of cells written by csv.writer, strings (a claim's CSV lines) as they are."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COLUMN_NAMES)
    for c in cells:
        if c.__class__ is str:
            out.write(c)
        else:
            w.writerow(c)
    return out.getvalue()


def _same(path: Path, name: str | None = None) -> tuple[int, int | None]:
    """The text path's rows and findings equal the model path's, and so does its CSV (rows as
    lists of neutralised cells); (rows, claims read by text)."""
    fa: list = []
    fb: list = []
    fc: list = []
    try:
        want = list(rows(loop_stream(path, name), fb.append, model=True))
    except Exception as e:  # noqa: BLE001 - both paths must fail alike
        with pytest.raises(type(e)):
            list(fastlines.file_rows(path, name, fa.append, model=False))
        return 0, None
    got = list(fastlines.file_rows(path, name, fa.append, model=False))
    assert [list(r.items()) for r in got] == [list(r.items()) for r in want]
    assert _csv(got) == _csv(want)
    assert _jsonl(got) == _jsonl(want)
    assert fa == fb
    cells = list(fastlines.file_rows(path, name, fc.append, model=False, csv=True))
    assert all(c.__class__ in (list, str) for c in cells)
    assert _csv_cells(cells) == _csv(want)
    assert fc == fb
    n = _fast_all(path)
    if n is not None:  # read by text alone: the grammar path found nothing
        assert fb == []
    return len(got), n


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: str(p))
def test_fixtures(path: Path) -> None:
    _same(path)


def test_clean_fixtures_take_the_text_path() -> None:
    root = FIXTURES[0].parent
    for name in ("837p_tms_course.x12", "837i_ect_inpatient.x12", "multi_envelope.x12", "no_line_breaks.x12"):
        assert _fast_all(root / name), name


def _write(tmp: Path, name: str, data: bytes) -> Path:
    p = tmp / name
    p.write_bytes(data)
    return p


@pytest.mark.parametrize("kind", ["837P", "837I"])
@pytest.mark.parametrize("seed", [0, 1, 7, 11])
def test_generated(kind: str, seed: int, tmp_path: Path) -> None:
    data = _generated(kind, 300, seed, lines_per_claim=1 + seed % 4, claims_per_st=120)
    p = _write(tmp_path, "g.x12", data)
    n, fast = _same(p)
    assert n > 0 and fast == 300
    # (as CSV text: no value to quote or neutralise)
    assert all(c.__class__ is str for c in fastlines.file_rows(p, csv=True))


@pytest.mark.parametrize("block", [64, 1000, 4099])
def test_block_boundaries(block: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Segments and separators cut by a block's end (small blocks) read as in one block."""
    monkeypatch.setattr(fastlines, "BLOCK", block)
    for i, data in enumerate((_generated("837P", 40, 3), _generated("837I", 40, 4))):
        text = data.decode("latin-1")
        for j, v in enumerate((text, text.replace("~\n", "~"), text.replace("~\n", "~\r\n"),
                               text.rstrip("\n"))):
            p = _write(tmp_path, f"b{i}{j}.x12", v.encode("latin-1"))
            assert _same(p) [1] == 40


def _variants(data: bytes, rng: random.Random) -> list[bytes]:
    """The file re-delimited, its line breaks changed, bytes that the reader reports (or that the
    text path does not read) put in at random places, envelopes and versions changed."""
    text = data.decode("latin-1")
    out: list[str] = []
    segs = text.split("~\n")

    def at(s: str, i: int | None = None) -> str:
        k = rng.randrange(1, len(segs) - 2) if i is None else i
        return "~\n".join(segs[:k]) + s + "~\n".join(segs[k:])

    out.append(text.replace("~\n", "~"))
    out.append(text.replace("~\n", "~\r\n"))
    out.append(text.replace("~\n", "'\n").replace("*:~", "*:'"))  # another terminator
    isa = text[:text.index("~")]
    out.append(isa.replace("*", "|") + text[len(isa):].replace("*", "|"))  # another element separator
    out.append(isa.replace("*", "|") + text[len(isa):])  # the ISA's separator not the body's
    out.append(text.replace(":", ">"))  # a component separator the body does not use (ISA16 too)
    k = rng.randrange(1, len(segs) - 2)
    out.append("~\n".join(segs[:k]) + "~\r\n" + "~\n".join(segs[k:]))  # two line-break styles
    out.append("~\n".join(segs[:k]) + "~" + "~\n".join(segs[k:]))  # a terminator without its break
    out.append(at(" "))  # a space before a segment (RDR-008)
    out.append(at("\t"))
    out.append(at("\n"))  # a blank line
    out.append(at("~\n"))  # an empty segment
    s2 = list(segs)
    s2[k] += " "  # a space before the terminator
    out.append("~\n".join(s2))
    s2 = list(segs)
    s2[k] = s2[k].replace("*", "*\xe9", 1)  # latin-1
    out.append("~\n".join(s2))
    s2 = list(segs)
    s2[k] = s2[k].replace("*", "*\xc3\xa9", 1)  # UTF-8
    out.append("~\n".join(s2))
    out.append("\xef\xbb\xbf" + text)  # a byte-order mark
    out.append("\n" + text)
    out.append("junk\n" + text)
    out.append(text + text)  # two interchanges
    out.append(text + "junk~\n" + text)
    out.append(text + text.replace("*^*", "*|*", 1))  # the second ISA's repetition separator differs
    out.append(text + text.replace(":~", ">~", 1))  # ... its component separator
    out.append(text.rstrip("\n"))
    out.append(text + "\n\n")
    out.append(text[:rng.randrange(200, len(text))])  # truncated
    out.append(text.replace("005010X222A1", "005010X222").replace("005010X223A2", "005010X223"))  # GRM-001
    out.append(text.replace("ST*837*", "ST*835*", 1))  # GRM-003
    out.append(text.replace("ST*837*", "ST**", 1))  # GRM-005
    out.append(text.replace("*00501*", "*00401*", 1))  # GRM-007 at ISA12
    out.append(text.replace("*22*", "*99*", 1))  # GRM-002
    out.append(text.replace("SE*", "XX*", 1))  # GRM-004
    out.append(text.replace("GE*", "XX*", 1))
    out.append(text.replace("IEA*", "XX*", 1))
    out.append(text.replace("\nGS*", "\nXX*~\nGS*", 1))  # a stray segment between ISA and GS
    i = text.find("LX*")
    j = text.find("CLM*", i)
    if i > 0 and j > 0:  # a claim of 60 lines: past the guide's maximum (GRM-008)
        out.append(text[:j] + text[i:j] * 59 + text[j:])
    i = text.rfind("CLM*")
    if i > 0:  # the last claim misplaced (after the text path has read the others)
        out.append(text[:i] + "BHT*0019~\n" + text[i:])
        out.append(text[:i] + "CLM*X~\nCLM*Y~\n" + text[i:])
    return [v.encode("latin-1") for v in out]


@pytest.mark.parametrize("kind", ["837P", "837I"])
def test_variants(kind: str, tmp_path: Path) -> None:
    rng = random.Random(1616)
    base = _generated(kind, 15, 5, lines_per_claim=2, claims_per_st=6)
    fell_late = 0
    for n, data in enumerate(_variants(base, rng)):
        _same(_write(tmp_path, f"v{n}.x12", data))
        got: list = []
        try:
            for rs in fastlines.claim_rows(tmp_path / f"v{n}.x12"):
                got.append(rs)
        except fastlines.Fallback:
            if got:
                fell_late += 1
    assert fell_late > 3  # (the grammar path took over after rows were given)


@pytest.mark.parametrize("kind", ["837P", "837I"])
def test_formula_cells(kind: str, tmp_path: Path) -> None:
    """Values a spreadsheet would run (= + - @ first, after a delimiter, in ISA13 once stripped, in
    the file's name) are neutralised in the CSV as csv_row does; a file without is not scanned."""
    text = _generated(kind, 20, 2, lines_per_claim=2).decode("latin-1")
    i = text.find("CLM*")
    variants = [text,
                text.replace("NM1*IL*1*", "NM1*IL*1*=HYPERLINK(1)"),
                text.replace("NM1*IL*1*", "NM1*IL*1*@SUM", 1),
                text[:i] + text[i:].replace("*1*", "*-1*", 1),
                text[:i] + text[i:].replace("*", "*+", 2),
                text.replace("HC:", "HC:-", 1),
                text.replace("*000000001*", "* =0000001*", 1),
                text.replace("NM1*IL*1*", 'NM1*IL*1*A,B', 1),  # cells csv.writer quotes
                text[:i] + text[i:].replace("NM1*IL*1*", 'NM1*IL*1*"Q"', 1)]
    for n, v in enumerate(variants):
        p = _write(tmp_path, f"x{n}.x12", v.encode("latin-1"))
        for name in (None, "=name.x12", "a,b.x12", 'a"b.x12'):
            assert _same(p, name)[1] == 20
    assert "'=" in _csv_cells(list(fastlines.file_rows(tmp_path / "x1.x12", csv=True)))


@pytest.mark.parametrize("kind", ["837P", "837I"])
def test_fuzzed(kind: str, tmp_path: Path) -> None:
    rng = random.Random(61)
    base = _generated(kind, 12, 5, lines_per_claim=2)
    for n, data in enumerate(_mutants(base, rng, 80)):
        _same(_write(tmp_path, f"m{n}.x12", data))
    for n, p in enumerate(FIXTURES[:8]):
        for k, data in enumerate(_mutants(p.read_bytes(), rng, 10)):
            _same(_write(tmp_path, f"f{n}_{k}.x12", data))


def test_model_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    """EDI837_LINES_MODEL=1 reads every claim through the model, not the text."""
    monkeypatch.setenv("EDI837_LINES_MODEL", "1")
    monkeypatch.setattr(fastlines, "claim_rows", None)
    p = FIXTURES[0].parent / "837p_tms_course.x12"
    assert list(fastlines.file_rows(p)) == list(rows(loop_stream(p), model=True))


@pytest.mark.skipif(not CORPUS.is_dir(), reason="no shared corpus (../shared/corpus)")
def test_corpus() -> None:
    n = fast = 0
    for p in sorted(CORPUS.rglob("*")):
        if p.is_file() and p.stat().st_size < 5_000_000:
            _, k = _same(p)
            n += 1
            fast += k is not None
    assert n > 0 and fast > 0  # (34 of the 204 files, 2026-12-01: most are hand-made, with line breaks or text around)
