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

Rows equal the single-machine ones (``api.lines`` / one ``Engine().run(files)``,
as ``edi837 validate a.x12 b.x12``) for the same files, cross-claim rules included,
and nothing is collected on the driver.  ``verdicts`` / ``findings`` run in
three steps (see docs/spark.md):

1. per file, on the executors: ``Engine(cross_claim="skip")`` runs every rule
   that looks at one claim (:class:`_CheckFiles`); each checked claim is
   keyed by its patient (``Claim.patient_key``) and arrival order (file
   index, position in the file);
2. shuffled by patient (``repartitionAndSortWithinPartitions`` with a
   crc32 of the patient key, sorted by (patient, file index, position)):
   one ``Engine(cross_claim="only")`` per partition runs the cross-claim
   rules on each patient's claims in arrival order and completes findings
   and verdicts (:func:`edi837.parallel.split_events`, :class:`_CrossClaim`).
   Every cross-claim rule reads only the same patient's earlier claims, and a
   claim's verdict only its own findings and what encloses it (already
   counted in step 1), so the grouping changes nothing;
3. shuffled back by file range and sorted by (file index, position, n): the
   rows come in the single-machine order.

With ``history`` (the SQLite store is read and written in one run's order,
and its filter looks at every earlier claim of the run, of any patient),
``on_verdict`` or ``on_finish`` (callables of the driver), step 2 runs on the
driver instead, over the files in order.
"""

from __future__ import annotations

import itertools
import json
import os
import zlib
from typing import Any, Callable, Iterable, Iterator, Union

from .checks.options import RunOptions
from .events import ClaimChecked, ClaimSent, ClaimVerdict, EngineEvent, Found
from .findings import Finding
from .outputs.tables import COLUMN_NAMES

# pyspark has no usable type stubs here: its session, RDDs, DataFrames and types are Any
Paths = Union[str, "os.PathLike[str]", Iterable[Union[str, "os.PathLike[str]"]]]
Row = tuple[Any, ...]  # a DataFrame row
Key1 = tuple[str, int, int]  # a stage-1 record key: (patient, file index, position)
# a stage-1 record: a claim with its findings so far, a verdict, or a finding outside claims
Rec1 = tuple[Key1, Union[tuple[ClaimSent, list[Finding]], ClaimVerdict, Found]]

INT_FINDING_FIELDS = ("segment_seq", "line", "byte_offset", "claim_seq", "line_number", "snip")


def _pyspark_types() -> Any:
    try:
        from pyspark.sql import types as T
    except ImportError as e:  # pragma: no cover - only without pyspark
        raise RuntimeError('edi837.spark needs pyspark: pip install "edi837[spark]"') from e
    return T


def _paths(paths: Paths) -> list[str]:
    """Paths as strings; folders the driver can see are expanded (sorted)."""
    from .api import expand_paths

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    return list(expand_paths(paths))


def _plan(spark: Any, paths: Paths, num_slices: int | None, partitions: int | None = None
          ) -> tuple[list[str], int, int]:
    """(files, partitions of the path list, partitions of the patient stage)."""
    files = _paths(paths)
    par = spark.sparkContext.defaultParallelism
    slices = max(1, min(num_slices or par * 4, len(files) or 1))
    return files, slices, max(1, partitions or par)


def _rdd(spark: Any, paths: Paths, num_slices: int | None, func: Callable[[Iterator[str]], Iterator[Row]]) -> Any:
    files, slices, _ = _plan(spark, paths, num_slices)
    return spark.sparkContext.parallelize(files, slices).mapPartitions(func)


# -- lines ----------------------------------------------------------------------
def lines_schema() -> Any:
    T = _pyspark_types()
    return T.StructType([
        T.StructField(c, T.IntegerType() if c == "claim_seq" else T.StringType(), c != "claim_seq")
        for c in COLUMN_NAMES])


def _str(v: Any) -> str | None:
    if v is None:
        return None
    return v if isinstance(v, str) else str(v)


def line_tuple(row: dict[str, Any]) -> Row:
    """A lines-table row as the tuple of the Spark schema."""
    return tuple(int(row[c]) if c == "claim_seq" else _str(row.get(c)) for c in COLUMN_NAMES)


def _lines_partition(paths: Iterator[str]) -> Iterator[Row]:
    from .api import lines

    for p in paths:
        for r in lines(p):
            yield line_tuple(r)


def claim_lines(spark: Any, paths: Paths, num_slices: int | None = None) -> Any:
    """DataFrame of the lines table of ``paths`` (files or folders), read on the executors."""
    return spark.createDataFrame(_rdd(spark, paths, num_slices, _lines_partition), lines_schema())


# -- validation -------------------------------------------------------------------
def verdicts_schema() -> Any:
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


def findings_schema() -> Any:
    T = _pyspark_types()
    return T.StructType([
        T.StructField(n, T.LongType() if n in INT_FINDING_FIELDS else T.StringType())
        for n in finding_fields()])


def finding_tuple(d: dict[str, Any], names: list[str]) -> Row:
    out: list[int | str | None] = []
    for n in names:
        v = d.get(n)
        if n in INT_FINDING_FIELDS:
            out.append(None if v is None else int(v))
        else:
            out.append(_str(getattr(v, "value", v)))
    return tuple(out)


def _pid(patient_key: tuple[str, ...]) -> str:
    """The patient's key as a string (what partitions, and sorts, claims by patient)."""
    return json.dumps(list(patient_key))


def patient_partition(key: Key1) -> int:
    """Partition number (before ``% n``) of a stage-1 record key ``(patient, file index, position)``:
    a stable hash of the patient (``zlib.crc32``, the same on every executor whatever
    ``PYTHONHASHSEED``); records of no patient (findings outside claims) go by file index."""
    pid, i, _ = key
    return zlib.crc32(pid.encode("utf-8")) if pid else i


class _FileRange:
    """Partition function of output keys ``(file index, position, n)``: consecutive
    files to consecutive partitions, so sorting within partitions orders all rows."""

    def __init__(self, files: int, parts: int):
        self.files, self.parts = files, parts

    def __call__(self, key: tuple[int, int, int]) -> int:
        return key[0] * self.parts // self.files


class _CheckFiles:
    """Stage 1 (picklable partition function over ``(file index, path)``): the
    skip-mode engine (rules that look at one claim) on each file, its events as
    records ``((patient, file index, position), value)``:

    - ``(ClaimSent, findings)``: a claim (``parallel.dump_claim``), its order
      keys, reasons and control numbers, and its findings so far;
    - ``ClaimVerdict``: the claim's verdict before cross-claim rules
      (``patient`` from ``ClaimResult.patient_key``, so it meets its claim);
    - ``Found``: findings outside claims (``patient`` ``""``).

    ``keep`` names which of "claim" / "finding" records to emit besides claims."""

    def __init__(self, options: RunOptions, keep: tuple[str, ...]):
        self.options = options
        self.keep = keep

    def __call__(self, items: Iterator[tuple[int, str, dict[int, str]]]) -> Iterator[Rec1]:
        from .checks.engine import Engine
        from .parallel import dump_claim

        # verdicts always travel: the cross-claim stage needs each claim's own verdict
        keep_f, keep_c = "finding" in self.keep, True
        for i, p, dups in items:
            eng = Engine(self.options, cross_claim="skip")
            eng.dup_ics = dups  # interchanges sent before (S1-ENV-015), found by the driver
            buf: list[Finding] = []  # findings since the last other event
            pos = 0
            for ev in eng.run_file(p):
                if isinstance(ev, Found):
                    buf.append(ev.finding)
                    continue
                n = len(ev.keys) if isinstance(ev, ClaimChecked) else 0
                cut = len(buf) - n
                if keep_f:
                    for f in buf[:cut]:
                        yield ("", i, pos), Found(f)
                        pos += 1
                if isinstance(ev, ClaimChecked):
                    sent = ClaimSent(dump_claim(ev.claim), ev.keys, ev.reasons, ev.ctl)
                    yield (_pid(ev.claim.patient_key), i, pos), (sent, buf[cut:])
                    pos += 1
                elif isinstance(ev, ClaimVerdict) and keep_c:
                    yield (_pid(ev.result.patient_key), i, pos), ev
                    pos += 1
                buf = []
            if keep_f:
                for f in buf:
                    yield ("", i, pos), Found(f)
                    pos += 1


def _as_events(records: Iterable[Rec1], cur: list[Key1 | None]) -> Iterator[EngineEvent]:
    """Stage-1 records back into the skip-mode events ``parallel.split_events`` takes;
    ``cur[0]`` is the key of the record being read."""
    for key, v in records:
        cur[0] = key
        if isinstance(v, tuple):  # (ClaimChecked, the claim's findings so far)
            yield from map(Found, v[1])
            yield v[0]
        else:
            yield v


def _row(ev: object, want: type, names: list[str]) -> Row | None:
    """The DataFrame row of ``ev`` when it is a ``want`` event (ClaimVerdict or Found)."""
    if not isinstance(ev, want):
        return None
    if isinstance(ev, ClaimVerdict):
        c = ev.result
        return (c.file, int(c.claim_seq), c.claim_id, c.verdict)
    if isinstance(ev, Found):
        return finding_tuple(ev.finding.to_dict(), names)
    return None


class _CrossClaim:
    """Stage 2 (picklable partition function over stage-1 records partitioned by
    patient and sorted by (patient, file index, position)): one
    ``Engine(cross_claim="only")`` per partition completes each patient's claims
    in arrival order (``parallel.split_events``: cross-claim findings merged in
    one-run order, verdicts recomputed); yields ``((file index, position, n), row)``."""

    def __init__(self, options: RunOptions, want: type):
        self.options = options
        self.want = want

    def __call__(self, records: Iterator[Rec1]) -> Iterator[tuple[tuple[int, int, int], Row]]:
        from .checks.engine import Engine
        from .parallel import split_events

        names = finding_fields()
        want = self.want
        eng: Engine | None = None
        for pid, group in itertools.groupby(records, key=lambda kv: kv[0][0]):
            if not pid:  # findings outside claims
                for (_, i, pos), found in group:
                    row = _row(found, Found, names)
                    if row is not None:
                        yield (i, pos, 0), row
                continue
            if eng is None:
                eng = Engine(self.options, cross_claim="only")
            cur: list[Key1 | None] = [None]
            last: Key1 | None = None
            n = 0
            for ev in split_events(eng, _as_events(group, cur), None, cur):
                row = _row(ev, want, names)
                if row is None:
                    continue
                if cur[0] != last:
                    last, n = cur[0], 0
                assert last is not None  # _as_events set it before yielding the event
                _, i, pos = last
                yield (i, pos, n), row
                n += 1


def _work(files: list[str], options: RunOptions, engine: Any = None) -> list[tuple[int, str, dict[int, str]]]:
    """(file index, path, interchanges sent before) of each file: the driver scans the
    interchange headers in input order (``Engine.scan_interchanges``, with the
    history store when ``engine`` has one), as one run does."""
    from .checks.engine import Engine

    eng = engine if engine is not None else Engine(options)
    return [(i, p, eng.scan_interchanges(p, p)) for i, p in enumerate(files)]


def by_patient(spark: Any, files: list[str], slices: int, parts: int, args: RunOptions, keep: tuple[str, ...]
               ) -> Any:
    """Stage 1 on ``files`` (cut into ``slices`` partitions), its records shuffled into
    ``parts`` partitions by patient and sorted by (patient, file index, position)."""
    return (spark.sparkContext.parallelize(_work(files, args), slices)
            .mapPartitions(_CheckFiles(args, keep))
            .repartitionAndSortWithinPartitions(parts, patient_partition))


def _distributed(spark: Any, paths: Paths, num_slices: int | None, partitions: int | None, options: RunOptions,
                 want: type) -> Any:
    """The rows of ``want`` ("claim" or "finding") as an RDD, cross-claim rules on the executors."""
    from .checks.engine import Engine

    files, slices, parts = _plan(spark, paths, num_slices, partitions)
    args = options.serial
    Engine(args, cross_claim="only")  # bad arguments raise here, not later in a task
    if not files:
        return spark.sparkContext.emptyRDD()
    out_parts = min(len(files), slices)
    return (by_patient(spark, files, slices, parts, args, (_KEEP[want],))
            .mapPartitions(_CrossClaim(args, want))
            .repartitionAndSortWithinPartitions(out_parts, _FileRange(len(files), out_parts))
            .values())


def _serial(spark: Any, paths: Paths, num_slices: int | None, options: RunOptions, want: type) -> list[Row]:
    """The rows of ``want``, cross-claim rules (history store, verdict callbacks)
    on the driver in file order: what ``history`` / ``on_verdict`` / ``on_finish`` need."""
    from .checks.engine import Engine
    from .checks.twophase import TwoPhase
    from .parallel import _claims_loaded

    files, slices, _ = _plan(spark, paths, num_slices, None)
    if not files:
        return []
    args = options.serial
    parent = Engine(options, cross_claim="only")
    rdd = spark.sparkContext.parallelize(_work(files, options, parent), slices).mapPartitions(
        _CheckFiles(args, ("claim", "finding")))
    names = finding_fields()
    out = []
    # parallelize/mapPartitions keep the file order; toLocalIterator fetches a partition at a
    # time; the cross-claim rules run in two phases over every file (checks/twophase.py)
    tp = TwoPhase(parent)
    for _i, recs in itertools.groupby(rdd.toLocalIterator(), key=lambda kv: kv[0][1]):
        tp.add_file(None, _claims_loaded(_as_events(recs, [None])))
    for _src, evs in tp.files():
        for ev in evs:
            row = _row(ev, want, names)
            if row is not None:
                out.append(row)
    fin = options.on_finish
    if fin is not None:
        fin()
    return out


_KEEP = {ClaimVerdict: "claim", Found: "finding"}  # what stage 1 keeps for each kind of row


def _frame(spark: Any, paths: Paths, num_slices: int | None, partitions: int | None, engine_args: dict[str, Any],
           want: type, schema: Any) -> Any:
    options = RunOptions.build(**engine_args)
    if options.serial != options:  # a history store or callbacks: on the driver
        return spark.createDataFrame(_serial(spark, paths, num_slices, options, want), schema)
    return spark.createDataFrame(_distributed(spark, paths, num_slices, partitions, options, want),
                                 schema)


def verdicts(spark: Any, paths: Paths, num_slices: int | None = None, partitions: int | None = None,
             **engine_args: Any) -> Any:
    """DataFrame (file, claim_seq, claim_id, verdict), one row per claim, in file order.

    ``engine_args`` (``snip``, ``rules``, options) go to ``Engine`` on the
    executors (they must be picklable).  Files are checked on the executors,
    then claims are grouped by patient into ``partitions`` partitions (default:
    the default parallelism) where the cross-claim rules run in arrival order,
    so rows equal one ``Engine().run(files)``.  With ``history``,
    ``on_verdict`` or ``on_finish`` the cross-claim rules run on the driver
    instead (see docs/spark.md).
    """
    return _frame(spark, paths, num_slices, partitions, engine_args, ClaimVerdict, verdicts_schema())


def findings(spark: Any, paths: Paths, num_slices: int | None = None, partitions: int | None = None,
             **engine_args: Any) -> Any:
    """DataFrame of every finding (the fields of ``Finding.to_dict``), one row per finding,
    in the order of one ``Engine().run(files)`` (cross-claim rules included); run as
    :func:`verdicts`."""
    return _frame(spark, paths, num_slices, partitions, engine_args, Found, findings_schema())
