"""The reader passes over the body of a transaction its consumer does not read
(``SegmentReader.skip_body``, set by the structure stage for ``validate --jobs N``'s shares):
the structure events are those of a reader that gives every segment, for every block size
(a body that spans blocks), line break and place of the transactions skipped."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from edi837.events import BodySkipped
from edi837.grammar.stream import Structurer
from edi837.reader import SegmentReader

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from generate import generate  # noqa: E402


class _GivesAll(SegmentReader):
    """A reader that never passes over a body: every segment goes to the consumer."""

    @property  # type: ignore[override]
    def skip_body(self) -> bool:
        return False

    @skip_body.setter
    def skip_body(self, value: bool) -> None:
        pass


class _Counts(SegmentReader):
    """A reader that counts the segments it gives."""

    given = 0

    def __iter__(self):  # type: ignore[no-untyped-def]
        for seg in super().__iter__():
            self.given += 1
            yield seg


def _seg(s: Any) -> tuple[Any, ...] | None:
    return None if s is None else (s.seq, s.line, s.offset, tuple(s.fields))


def _loop(lp: Any) -> list[Any]:
    return [_seg(s) for s in lp.iter_segments()]


def _events(reader: SegmentReader, skip: Any) -> list[Any]:
    st = Structurer(reader)
    st.skip_tx = skip
    out: list[Any] = []
    for ev in st:
        name = type(ev).__name__
        if hasattr(ev, "loop"):
            out.append((name, _loop(ev.loop), getattr(ev, "n", None)))
        elif hasattr(ev, "seg"):
            out.append((name, _seg(ev.seg)))
        elif hasattr(ev, "finding"):
            out.append((name, ev.finding.to_dict()))
        else:
            out.append((name, ev))
    return out


def _variants(tmp_path: Path) -> dict[str, Path]:
    p = tmp_path / "g.x12"
    generate(str(p), 60, "837P", claims_per_st=7, seed=3)
    data = p.read_bytes()
    assert data.count(b"~\n") > 100
    out = {}
    for name, brk in (("lf", b"~\n"), ("none", b"~"), ("crlf", b"~\r\n")):
        q = tmp_path / f"{name}.x12"
        q.write_bytes(data.replace(b"~\n", brk))
        out[name] = q
    # a bare SE (no elements) ends a skipped body too; an unknown segment inside it is counted
    odd = data.replace(b"~\nSE*", b"~\nZZ*1~\nSE~\nXX*", 1)
    q = tmp_path / "odd.x12"
    q.write_bytes(odd)
    out["odd"] = q
    return out


@pytest.mark.parametrize("block", [97, 512, 4096, 1 << 20])
@pytest.mark.parametrize("which", ["odd", "even", "first", "all"])
def test_skipped_bodies_read_as_if_given(tmp_path, block, which):
    skip = {"odd": lambda n: n % 2 == 1, "even": lambda n: n % 2 == 0, "first": lambda n: n == 1,
            "all": lambda n: True}[which]
    for name, path in _variants(tmp_path).items():
        want = _events(_GivesAll(str(path), block=block), skip)
        reader = _Counts(str(path), block=block)
        got = _events(reader, skip)
        assert got == want, (name, block, which)
        # (and it did pass over them: fewer segments given than the file holds)
        assert reader.given < reader.seq - 100, (name, block, which)
        skipped = [e for e in got if e[0] == "BodySkipped"]
        assert skipped and all(isinstance(e[1], BodySkipped) and e[1].n > 0 for e in skipped)
        # the claims of the skipped bodies are counted (9 transactions: 7 claims each, 4 in the last)
        if name != "odd":
            assert sum(e[1].claims for e in skipped) == {"odd": 32, "even": 28, "first": 7, "all": 60}[which]


def test_a_reader_not_told_reads_every_segment(tmp_path):
    path = _variants(tmp_path)["lf"]
    r = SegmentReader(str(path))
    n = sum(1 for _ in r)
    assert n == path.read_bytes().count(b"~") and r.skipped == [0, 0]
