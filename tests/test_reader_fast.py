"""The reader's short loop for clean blocks (reader._clean_split) reads exactly what the
segment-by-segment loop reads: the same segments (text, ordinal, line, byte offset,
delimiters) and the same findings, on every terminator style, block size and damage."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import edi837.reader as reader

FIXTURES = sorted(p for p in (Path(__file__).resolve().parent.parent / "fixtures").glob("*.x12"))


def _read(data: bytes, block: int | None, monkeypatch: pytest.MonkeyPatch | None = None,
          count: list[int] | None = None) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    rd = reader.SegmentReader(data, "f")
    if block:
        rd.block = block
    segs = [(tuple(s.fields), s.seq, s.line, s.offset, s.utf8, s.delims.segment, s.delims.element) for s in rd]
    return segs, [(f.rule, f.line, f.byte_offset, f.segment_seq, f.message) for f in rd.findings]


def _both(data: bytes, block: int | None, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object, int]:
    used = [0]
    real = reader._clean_split

    def counting(*a: object) -> object:
        got = real(*a)  # type: ignore[arg-type]
        used[0] += got is not None
        return got

    monkeypatch.setattr(reader, "_clean_split", counting)
    fast = _read(data, block)
    monkeypatch.setattr(reader, "_clean_split", lambda *a: None)
    slow = _read(data, block)
    monkeypatch.setattr(reader, "_clean_split", real)
    return fast, slow, used[0]


def _variants(data: bytes) -> list[bytes]:
    flat = data.replace(b"\r\n", b"").replace(b"~\n", b"~")
    return [flat, flat.replace(b"~", b"~\n"), flat.replace(b"~", b"~\r\n"), flat.replace(b"~", b"~\n").rstrip(b"\n"),
            flat + b"\n\n", flat.replace(b"~", b"\n")]


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_clean_blocks_read_as_segment_by_segment(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    used = 0
    for data in _variants(path.read_bytes()):
        for block in (None, 61, 256, 1000):
            fast, slow, n = _both(data, block, monkeypatch)
            used += n
            assert fast == slow, (path.name, block, data[:60])
    assert used  # the short loop was taken (else this test compares the slow loop with itself)


def test_damaged_blocks_read_as_segment_by_segment(monkeypatch: pytest.MonkeyPatch) -> None:
    rnd = random.Random(11)
    sources = [p.read_bytes() for p in FIXTURES]
    inserts = [b"\n", b"\r\n", b" ", b"\t", b"~", b"~\n", b"\x00", b"\r", b"~~", b"\n\n", b"\xe9", b"\xc3\xa9",
               b"IEA*1*000000001~", b"ISA", b"~\r\n~"]
    used = 0
    for _ in range(400):
        d = bytearray(rnd.choice(sources))
        for _ in range(rnd.randint(1, 4)):
            i = rnd.randrange(len(d))
            op = rnd.random()
            if op < 0.6:
                d[i:i] = rnd.choice(inserts)
            elif op < 0.8:
                del d[i:i + rnd.randint(1, 30)]
            else:
                d[i:i + 1] = rnd.choice(inserts)
        for block in (None, 97):
            fast, slow, n = _both(bytes(d), block, monkeypatch)
            used += n
            assert fast == slow, bytes(d)[:200]
    assert used


def test_a_segment_that_ends_a_block_before_its_line_break() -> None:
    # the block ends at a terminator whose line break is in the next block (or the file has none)
    seg = b"ISA*00*          *00*          *ZZ*A              *ZZ*B              *260101*0000*^*00501*000000001*0*T*:~"
    data = seg + b"\nGS*HC*A*B*20260101*0000*1*X*005010X222A1~\nGE*0*1~\nIEA*1*000000001~"
    for block in range(40, len(data) + 2, 7):
        rd = reader.SegmentReader(data, "f")
        rd.block = block
        got = [(s.fields[0], s.line, s.offset) for s in rd]
        assert got == [("ISA", 1, 0), ("GS", 2, len(seg) + 1), ("GE", 3, data.index(b"GE*")),
                       ("IEA", 4, data.index(b"IEA"))], block
