"""Read and validate 837 files on a Spark cluster (``pip install "edi837[spark]"``).

The list of paths is distributed with ``sc.parallelize(paths, numSlices)``;
each executor runs our own parser / :class:`~edi837.checks.engine.Engine`
on the files of its partition (``flatMap``), so every path must be readable
by the executors under the same name (a shared mount, or local paths in
``local[*]`` mode).  Folders are expanded on the driver.  See docs/spark.md.

- :func:`claim_lines` -- the lines table (``tables.COLUMNS``; ``claim_seq``
  int, every other column string)
- :func:`verdicts` -- one row per claim: file, claim_seq, claim_id, verdict
- :func:`findings` -- one row per finding (the fields of ``Finding.to_dict``)

Rows equal the single-machine ones (``api.lines`` / ``Engine().run_file``)
for the same files.  Cross-claim rules see the claims of one file only (the
engine runs per file); see docs/spark.md.
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Iterator

from .outputs.tables import COLUMN_NAMES

INT_FINDING_FIELDS = ("segment_seq", "line", "byte_offset", "claim_seq", "line_number", "snip")


def _pyspark_types():
    try:
        from pyspark.sql import types as T
    except ImportError as e:  # pragma: no cover - only without pyspark
        raise RuntimeError('edi837.spark needs pyspark: pip install "edi837[spark]"') from e
    return T


def _paths(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[str]:
    """Paths as strings; folders the driver can see are expanded (sorted)."""
    from .api import expand_paths

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    return list(expand_paths(paths))


def _rdd(spark, paths, num_slices: int | None, func):
    files = _paths(paths)
    sc = spark.sparkContext
    n = num_slices or max(1, min(len(files), sc.defaultParallelism * 4))
    return sc.parallelize(files, max(1, min(n, len(files) or 1))).mapPartitions(func)


# -- lines ----------------------------------------------------------------------
def lines_schema():
    T = _pyspark_types()
    return T.StructType([
        T.StructField(c, T.IntegerType() if c == "claim_seq" else T.StringType(), c != "claim_seq")
        for c in COLUMN_NAMES])


def _str(v: Any) -> str | None:
    if v is None:
        return None
    return v if isinstance(v, str) else str(v)


def line_tuple(row: dict[str, Any]) -> tuple:
    """A lines-table row as the tuple of the Spark schema."""
    return tuple(int(row[c]) if c == "claim_seq" else _str(row.get(c)) for c in COLUMN_NAMES)


def _lines_partition(paths: Iterator[str]) -> Iterator[tuple]:
    from .api import lines

    for p in paths:
        for r in lines(p):
            yield line_tuple(r)


def claim_lines(spark, paths, num_slices: int | None = None):
    """DataFrame of the lines table of ``paths`` (files or folders), read on the executors."""
    return spark.createDataFrame(_rdd(spark, paths, num_slices, _lines_partition), lines_schema())


# -- validation -------------------------------------------------------------------
def verdicts_schema():
    T = _pyspark_types()
    return T.StructType([
        T.StructField("file", T.StringType()),
        T.StructField("claim_seq", T.IntegerType(), False),
        T.StructField("claim_id", T.StringType()),
        T.StructField("verdict", T.StringType()),
    ])


def finding_fields() -> list[str]:
    import attrs

    from .findings import Finding

    return [f.name for f in attrs.fields(Finding)]


def findings_schema():
    T = _pyspark_types()
    return T.StructType([
        T.StructField(n, T.LongType() if n in INT_FINDING_FIELDS else T.StringType())
        for n in finding_fields()])


def finding_tuple(d: dict[str, Any], names: list[str]) -> tuple:
    out = []
    for n in names:
        v = d.get(n)
        if n in INT_FINDING_FIELDS:
            out.append(None if v is None else int(v))
        else:
            out.append(_str(getattr(v, "value", v)))
    return tuple(out)


class _Validate:
    """Picklable partition function: run one Engine per partition over its files."""

    def __init__(self, want: str, engine_args: dict[str, Any]):
        self.want = want  # "claim" or "finding"
        self.engine_args = engine_args

    def __call__(self, paths: Iterator[str]) -> Iterator[tuple]:
        from .checks.engine import Engine

        names = finding_fields() if self.want == "finding" else None
        for p in paths:
            # one engine per file: the result of a file does not depend on
            # which other files shared its partition
            eng = Engine(**self.engine_args)
            for kind, obj in eng.run_file(p):
                if kind != self.want:
                    continue
                if kind == "claim":
                    yield (obj.file, int(obj.claim_seq), obj.claim_id, obj.verdict)
                else:
                    yield finding_tuple(obj.to_dict(), names)  # type: ignore[arg-type]


def verdicts(spark, paths, num_slices: int | None = None, **engine_args: Any):
    """DataFrame (file, claim_seq, claim_id, verdict), one row per claim.

    ``engine_args`` (``snip``, ``rules``, options) go to ``Engine`` on each
    executor and must be picklable.
    """
    return spark.createDataFrame(
        _rdd(spark, paths, num_slices, _Validate("claim", engine_args)), verdicts_schema())


def findings(spark, paths, num_slices: int | None = None, **engine_args: Any):
    """DataFrame of every finding (the fields of ``Finding.to_dict``), one row per finding."""
    return spark.createDataFrame(
        _rdd(spark, paths, num_slices, _Validate("finding", engine_args)), findings_schema())
