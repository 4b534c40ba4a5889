"""Parquet output of the lines table, streamed in record batches.

pyarrow is an optional dependency: ``pip install "edi837[parquet]"``.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import TYPE_CHECKING, Any, Iterable

from .atomic import atomic_write
from .tables import COLUMN_NAMES

if TYPE_CHECKING:
    import pyarrow

INT_COLUMNS = ("claim_seq", "line_number")


def _pyarrow() -> tuple[ModuleType, ModuleType]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as e:  # pragma: no cover - exercised only without pyarrow
        raise RuntimeError(
            "Parquet output needs pyarrow, an optional dependency: "
            'pip install "edi837[parquet]"') from e
    return pa, pq


def lines_schema() -> pyarrow.Schema:
    """The Arrow schema of the lines table: strings, except claim_seq and line_number (int64)."""
    pa, _ = _pyarrow()
    fields = []
    for name in COLUMN_NAMES:
        if name == "claim_seq":
            fields.append(pa.field(name, pa.int64(), nullable=False))
        elif name == "line_number":
            fields.append(pa.field(name, pa.int64(), nullable=True))
        else:
            fields.append(pa.field(name, pa.string(), nullable=True))
    return pa.schema(fields)


def _int_or_none(v: Any) -> int | None:
    if v is None or v == "":
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        return None  # e.g. a malformed LX01; the CSV keeps the text


def _str_or_none(v: Any) -> str | None:
    if v is None:
        return None
    return v if isinstance(v, str) else str(v)


def _batch(pa: ModuleType, schema: pyarrow.Schema, rows: list[dict[str, Any]]) -> pyarrow.RecordBatch:
    arrays = []
    for name in COLUMN_NAMES:
        if name == "claim_seq":
            arrays.append(pa.array([int(r[name]) for r in rows], type=pa.int64()))
        elif name == "line_number":
            arrays.append(pa.array([_int_or_none(r.get(name)) for r in rows], type=pa.int64()))
        else:
            arrays.append(pa.array([_str_or_none(r.get(name)) for r in rows], type=pa.string()))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def write_lines_parquet(rows: Iterable[dict[str, Any]], path: str | os.PathLike[str],
                        batch_size: int = 50000, compression: str = "zstd") -> int:
    """Write lines-table rows (dicts keyed by ``tables.COLUMNS``) to a Parquet file.

    Rows are buffered ``batch_size`` at a time and written as record batches,
    so memory stays flat however many rows come.  The file appears at
    ``path`` only when complete (atomic rename).  Returns the number of rows.
    A file with no rows still gets the schema.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    pa, pq = _pyarrow()
    schema = lines_schema()
    n = 0
    with atomic_write(path, "wb") as f:
        with pq.ParquetWriter(f, schema, compression=compression) as w:
            buf: list[dict[str, Any]] = []
            for r in rows:
                buf.append(r)
                if len(buf) >= batch_size:
                    w.write_batch(_batch(pa, schema, buf))
                    n += len(buf)
                    buf = []
            if buf:
                w.write_batch(_batch(pa, schema, buf))
                n += len(buf)
    return n
