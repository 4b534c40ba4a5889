"""Parquet output of the lines table (needs pyarrow: the "parquet" extra)."""

from __future__ import annotations

import glob
import os

import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from edi837 import api  # noqa: E402
from edi837.outputs.parquet import lines_schema, write_lines_parquet  # noqa: E402
from edi837.outputs.tables import COLUMN_NAMES  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")
FILES = sorted(glob.glob(os.path.join(FIXTURES, "*.x12")))


def _expected(rows):
    out = []
    for r in rows:
        d = {}
        for c in COLUMN_NAMES:
            v = r.get(c)
            if c in ("claim_seq", "line_number"):
                d[c] = None if v in (None, "") else int(v)
            else:
                d[c] = None if v is None else str(v)
        out.append(d)
    return out


def test_schema():
    s = lines_schema()
    assert s.names == COLUMN_NAMES
    assert s.field("claim_seq").type == pa.int64()
    assert s.field("line_number").type == pa.int64() and s.field("line_number").nullable
    assert all(s.field(c).type == pa.string() for c in COLUMN_NAMES
               if c not in ("claim_seq", "line_number"))


def test_roundtrip_all_fixtures(tmp_path):
    assert FILES
    rows = list(api.lines(FILES))
    assert rows
    out = tmp_path / "lines.parquet"
    # a small batch size makes several record batches
    n = write_lines_parquet(iter(rows), out, batch_size=7)
    assert n == len(rows)
    t = pq.read_table(out)
    assert t.schema.equals(lines_schema())
    assert t.to_pylist() == _expected(rows)
    assert pq.ParquetFile(out).metadata.num_rows == len(rows)
    # nothing left beside the output
    assert [p.name for p in tmp_path.iterdir()] == ["lines.parquet"]


def test_empty_and_atomic(tmp_path):
    out = tmp_path / "empty.parquet"
    assert write_lines_parquet([], out) == 0
    assert pq.read_table(out).num_rows == 0

    def boom():
        yield {c: ("1" if c != "claim_seq" else 1) for c in COLUMN_NAMES}
        raise RuntimeError("interrupted")

    bad = tmp_path / "bad.parquet"
    with pytest.raises(RuntimeError):
        write_lines_parquet(boom(), bad, batch_size=1)
    assert not bad.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.parquet"]
