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

Rows equal the single-machine ones (``api.lines`` / ``Engine().run(files)``)
for the same files: the executors run the rules that look at one claim
(``Engine(cross_claim="skip")``) per file and ship each claim back; the driver
runs the cross-claim rules over all files in file order
(``Engine(cross_claim="only")``, see :func:`edi837.parallel.split_events`), so
cross-claim rules see every file of the call; see docs/spark.md.
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


class _SkipEvents:
    """Picklable partition function: the skip-mode engine's events of each file
    (rules that look at one claim only), pickled, with the file's index."""

    def __init__(self, engine_args: dict[str, Any]):
        self.engine_args = engine_args

    def __call__(self, items: Iterator[tuple[int, str]]) -> Iterator[tuple[int, bytes]]:
        import pickle

        from .checks.engine import Engine
        from .parallel import dump_claim

        for i, p in items:
            eng = Engine(cross_claim="skip", **self.engine_args)
            evs = []
            for kind, obj in eng.run_file(p):
                if kind == "claim_checked":
                    obj = (dump_claim(obj.claim), obj.keys, obj.reasons, obj.ctl)
                evs.append((kind, obj))
            yield (i, pickle.dumps(evs, protocol=pickle.HIGHEST_PROTOCOL))


def _events(spark, paths, num_slices: int | None, engine_args: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """The events of one ``Engine(**engine_args).run(files)``: per-file rules on
    the executors, cross-claim rules on the driver in file order."""
    import pickle

    from .checks.engine import Engine
    from .parallel import SERIAL_OPTIONS, split_events

    files = _paths(paths)
    if not files:
        return
    sc = spark.sparkContext
    n = num_slices or max(1, min(len(files), sc.defaultParallelism * 4))
    args = {k: v for k, v in engine_args.items() if k not in SERIAL_OPTIONS}
    parent = Engine(cross_claim="only", **engine_args)
    rdd = sc.parallelize(list(enumerate(files)), max(1, min(n, len(files)))).mapPartitions(
        _SkipEvents(args))
    # parallelize/mapPartitions keep the file order; toLocalIterator fetches a partition at a time
    for _i, blob in rdd.toLocalIterator():
        yield from split_events(parent, pickle.loads(blob), None, engine_args)


def _rows(spark, paths, num_slices, engine_args, want: str) -> list[tuple]:
    names = finding_fields() if want == "finding" else None
    out = []
    for kind, obj in _events(spark, paths, num_slices, engine_args):
        if kind != want:
            continue
        if kind == "claim":
            out.append((obj.file, int(obj.claim_seq), obj.claim_id, obj.verdict))
        else:
            out.append(finding_tuple(obj.to_dict(), names))  # type: ignore[arg-type]
    return out


def verdicts(spark, paths, num_slices: int | None = None, **engine_args: Any):
    """DataFrame (file, claim_seq, claim_id, verdict), one row per claim.

    ``engine_args`` (``snip``, ``rules``, options) go to ``Engine``; the
    per-claim rules run on the executors (options other than history and
    callbacks must be picklable), the cross-claim rules on the driver over
    every file in order, so rows equal one ``Engine().run(files)``.
    """
    return spark.createDataFrame(_rows(spark, paths, num_slices, engine_args, "claim"),
                                 verdicts_schema())


def findings(spark, paths, num_slices: int | None = None, **engine_args: Any):
    """DataFrame of every finding (the fields of ``Finding.to_dict``), one row per finding,
    in the order of one ``Engine().run(files)`` (cross-claim rules included)."""
    return spark.createDataFrame(_rows(spark, paths, num_slices, engine_args, "finding"),
                                 findings_schema())
