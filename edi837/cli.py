"""The `edi837` command line.

Exit codes: 0 no errors (warnings allowed), 1 errors found, 2 could not run
(usage, unreadable file).  Bad input gives a message naming the file and the
place, never a traceback.  Output files are written atomically.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import importlib
import json
import logging
import os
import sqlite3
import sys
import time
from typing import IO, TYPE_CHECKING, Any, Iterator

import attrs
import click

from . import logs
from .api import Inputs, collect_inputs
from .events import (ClaimRead, ClaimVerdict, EngineEvent, FileDone, Found, GroupEnd, GroupStart, HlRead,
                     InterchangeEnd, InterchangeStart, OtherSegment, TransactionEnd, TransactionStart)
from .findings import Finding, Severity
from .grammar.loop import Loop
from .model.build import loop_stream, stream
from .outputs.atomic import atomic_write, remove_stale_parts
from .outputs.tables import COLUMN_NAMES, csv_row, rows
from .progress import Progress, TerminalOut, quiet_option
from .reader import ReadError
from .reader.segment import Segment

if TYPE_CHECKING:
    from .checks.verdicts import FileResult

EXIT_OK, EXIT_ERRORS, EXIT_CANNOT_RUN = 0, 1, 2
log = logs.get("cli")


class _Status:
    def __init__(self, quiet: bool = False) -> None:
        self.errors = 0
        self.cannot_run = False
        self.quiet = quiet

    def found(self, f: Finding) -> None:
        """A reader or grammar finding: counted, and said on stderr."""
        if f.severity is Severity.ERROR:
            self.errors += 1
        _say(f, self.quiet)

    @property
    def code(self) -> int:
        return EXIT_CANNOT_RUN if self.cannot_run else (EXIT_ERRORS if self.errors else EXIT_OK)


def _say(f: Finding, quiet: bool = False) -> None:
    if quiet and f.severity is not Severity.ERROR:
        return
    if f.severity is Severity.INFO:
        return
    if logs.json_mode():  # a log record: the finding's place and rule (reader and grammar
        # messages describe the structure, never an element's value)
        logs.log(log, logging.ERROR if f.severity is Severity.ERROR else logging.WARNING, f.message,
                 rule=f.rule, severity=f.severity.value, file=f.file, line=f.line,
                 segment=f.segment_seq, element=f.element or f.segment_id)
        return
    logs.echo_err(str(f))


def _start(command: str, quiet: bool, log_format: str, log_level: str | None, **fields: Any) -> float:
    """Set logging up and log the run's start; returns the start time."""
    logs.setup(log_format, log_level, quiet)
    logs.log(log, logging.INFO, "run start", command=command, **fields)
    return time.monotonic()


def _end(command: str, t0: float, code: int, **fields: Any) -> None:
    logs.log(log, logging.INFO, "run end", command=command, exit_code=code,
             seconds=round(time.monotonic() - t0, 3), **fields)


def _file_done(r: FileResult) -> None:
    """Log a file's counts (names, counts only)."""
    logs.log(log, logging.INFO, "file done", file=r.file, claims=r.claims, accepted=r.accepted,
             rejected=r.rejected, errors=r.errors, warnings=r.warnings, infos=r.infos,
             could_not_read=r.could_not_read)


class _Never(Exception):
    """Raised by nothing: what _loaded gives for a module not imported."""


def _loaded(module: str, name: str) -> Any:
    """Exception class ``name`` of ``module`` when that module is imported, else :class:`_Never`:
    nothing can raise an exception of a module that was never imported, so the CLI does not
    import it to catch it (`edi837 lines` starts without the checks or process pools)."""
    m = sys.modules.get(module)
    return getattr(m, name) if m is not None else _Never


@contextlib.contextmanager
def _run_failure() -> Iterator[None]:
    """A run that cannot finish ends the command with a message and exit 2, not
    a traceback (nothing is written to an --output file): a worker process that
    dies (--jobs; out of memory, a signal), an input file that changes while the
    run reads it (cross-claim rules read a file twice: checks/twophase.py)."""
    try:
        yield
    except Exception as e:
        # (the classes are looked up when something is raised: the modules that raise them are
        # imported by the run, and `edi837 lines` of one job imports neither up front)
        from .parallel import broken_pool  # (the gate's test too; imported only once something is raised)

        if broken_pool(e):
            logs.say(log, logging.ERROR, f"edi837: a worker process stopped: {e}", event="worker failure")
            sys.exit(EXIT_CANNOT_RUN)
        if isinstance(e, _loaded("edi837.checks.twophase", "InputChanged")):
            logs.say(log, logging.ERROR, f"{e.path or '<input>'}: error: {e.detail}; the run stopped (run it "
                     "again once the file is complete)", file=e.path, event="input changed")
            sys.exit(EXIT_CANNOT_RUN)
        raise


@contextlib.contextmanager
def _output(path: str | None, binary: bool = False, bar: Progress | None = None) -> Iterator[IO[Any]]:
    """Where the output goes: ``path`` (written atomically) or stdout; with a
    progress ``bar`` on the terminal stdout also is, writes clear the bar first."""
    with _run_failure():
        if path in (None, "-"):
            out: Any = sys.stdout.buffer if binary else sys.stdout
            if bar is not None and not binary and _isatty(sys.stdout):
                out = TerminalOut(out)
            yield out
            return
        remove_stale_parts(path)  # a killed earlier run's temporaries of this output (PHI)
        with contextlib.ExitStack() as stack:
            try:  # (the output's temporary is made here: a folder that is not there, not writable)
                f = stack.enter_context(atomic_write(path, "wb" if binary else "w",
                                                     newline="" if not binary else None))
            except OSError as e:
                logs.say(log, logging.ERROR, f"{path}: error: cannot write the output here: "
                         f"{e.strerror or e}", event="output not writable")
                sys.exit(EXIT_CANNOT_RUN)
            yield f


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _inputs(command: str, paths: tuple[str, ...], status: _Status) -> Inputs:
    """The input files (:func:`edi837.api.collect_inputs`, the rule of every
    command); a path that does not exist is named (exit 2); no input file at
    all ends the command with exit 2, each skipped file named on stderr."""
    got = collect_inputs(paths)
    for p in got.missing:
        logs.say(log, logging.ERROR, f"{p}: error: no such file or folder", file=p,
                 event="no such file or folder")
        status.cannot_run = True
    if not got.files and not got.missing:
        for sk in got.skipped:
            logs.echo_err(str(sk))
        logs.echo_err(f"edi837 {command}: {got.no_files_message()}")
        sys.exit(EXIT_CANNOT_RUN)
    return got


def _cannot_read(e: ReadError) -> None:
    logs.say(log, logging.ERROR, f"{e.file}: error: cannot read: {e.message}", file=e.file,
             event="cannot read", reason=e.message)


class _LazyGroup(click.Group):
    """The `gate`, `watch` and `serve` commands live beside their stage (edi837.gate,
    edi837.watch, edi837.service) and are imported only when asked for (or listed by
    --help): `validate` and `lines` do not pay for the gate, the acknowledgments or the web
    stack at start-up.  A command whose module cannot be imported (an optional dependency
    missing) is simply not offered."""

    LAZY = {"gate": (".gate", "gate_command"), "watch": (".watch", "watch_command"),
            "serve": (".service.command", "serve_command")}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.LAZY))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        got = super().get_command(ctx, cmd_name)
        if got is not None or cmd_name not in self.LAZY:
            return got
        module, name = self.LAZY[cmd_name]
        try:
            command = getattr(importlib.import_module(module, __package__), name)
        except Exception:  # noqa: BLE001 - the rest of the CLI must work without it
            return None
        if not isinstance(command, click.Command):
            return None
        self.add_command(command, cmd_name)
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="edi837")
def main() -> None:
    """Read, validate and gate X12 837P (005010X222A1) and 837I (005010X223A2) claim files."""
    # A run makes many short-lived objects and few reference cycles (loop trees hold their
    # parents weakly; claims are unlinked when done): young collections every 10,000 net
    # allocations instead of 700 find as little and cost about 2.5% of a validate run less
    # (instruction counts, benchmarks/README.md).  The process is ours; the library API
    # leaves the collector as the caller set it.
    gc.set_threshold(10_000, 10, 10)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=False))
@click.option("--format", "fmt", type=click.Choice(["json", "jsonl"]), default="jsonl", show_default=True,
              help="json: the loop tree; jsonl: one object per segment.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here (atomically) instead of stdout.")
def parse(file: str, fmt: str, output: str | None) -> None:
    """Read FILE into loops: print the loop tree (json) or one line per segment (jsonl)."""
    logs.setup()
    status = _Status()
    try:
        with _output(output) as out:
            if fmt == "jsonl":
                _parse_jsonl(file, out, status)
            else:
                _parse_json(file, out, status)
    except ReadError as e:
        logs.echo_err(f"{e.file}: error: cannot read: {e.message}")
        sys.exit(EXIT_CANNOT_RUN)
    sys.exit(status.code)


def _seg_obj(file: str, seg: Segment, loop: str | None, **extra: Any) -> dict[str, Any]:
    return {"file": file, "segment_seq": seg.seq, "line": seg.line, "byte_offset": seg.offset,
            "segment_id": seg.id, "loop": loop, "elements": seg.fields[1:], **extra}


def _parse_jsonl(file: str, out: IO[str], status: _Status) -> None:
    w = out.write
    dumps = json.dumps

    def emit_loop(lp: Loop) -> None:
        for s in lp.iter_segments():
            obj = _seg_obj(file, s, s.loop)
            if s.misplaced:
                obj["misplaced"] = True
            w(dumps(obj) + "\n")

    def emit_seg(seg: Segment | None) -> None:
        if seg is not None:
            w(dumps(_seg_obj(file, seg, None)) + "\n")

    for ev in stream(file):
        match ev:
            case InterchangeStart(ic):
                emit_seg(ic.isa)
            case GroupStart(grp):
                emit_seg(grp.gs)
            case InterchangeEnd(ic):
                emit_seg(ic.iea)
            case GroupEnd(grp):
                emit_seg(grp.ge)
            case TransactionStart(tx):
                emit_loop(tx.header)
            case TransactionEnd(tx):
                emit_seg(tx.se)
            case HlRead(lp):
                emit_loop(lp)
            case ClaimRead(claim):
                emit_loop(claim.loop)
            case OtherSegment(seg):
                emit_seg(seg)
            case Found(f):
                status.found(f)


def _parse_json(file: str, out: IO[str], status: _Status) -> None:
    interchanges: list[dict[str, Any]] = []
    cur_i: dict[str, Any] | None = None
    cur_g: dict[str, Any] | None = None
    stray: list[dict[str, Any]] = []

    def elements(seg: Segment | None) -> list[str] | None:
        return seg.fields[1:] if seg else None

    for ev in stream(file, keep=True):
        match ev:
            case InterchangeStart(ic):
                cur_i = {"isa": elements(ic.isa), "groups": []}
                interchanges.append(cur_i)
            case GroupStart(grp):
                cur_g = {"gs": elements(grp.gs), "transactions": []}
                (cur_i["groups"] if cur_i is not None else stray).append(cur_g)
            case GroupEnd(grp):
                if cur_g is not None:
                    cur_g["ge"] = elements(grp.ge)
                cur_g = None
            case InterchangeEnd(ic):
                if cur_i is not None:
                    cur_i["iea"] = elements(ic.iea)
                cur_i = None
            case TransactionEnd(tx):
                (cur_g["transactions"] if cur_g is not None else stray).append(tx.to_dict())
            case OtherSegment(seg):
                stray.append({"seq": seg.seq, "line": seg.line, "id": seg.id, "elements": seg.fields[1:]})
            case Found(f):
                status.found(f)
    doc: dict[str, Any] = {"file": file, "interchanges": interchanges}
    if stray:
        doc["outside_envelopes"] = stray
    json.dump(doc, out, indent=1)
    out.write("\n")


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl", "parquet"]), default="csv",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write here (atomically) instead of stdout (required for parquet).")
@click.option("--jobs", type=click.IntRange(1, None), default=1, show_default=True,
              help="Files in parallel processes.")
@quiet_option
@logs.log_options
def lines(files: tuple[str, ...], fmt: str, output: str | None, jobs: int, quiet: bool, log_format: str,
          log_level: str | None) -> None:
    """One row per service line of FILES (files or folders), the claim's columns repeated.

    Columns are described in docs/lines.md.  In the CSV, a text cell that a
    spreadsheet would run as a formula (it starts with = + - @) gets a leading
    ' (numbers such as -12.50 are kept); jsonl and parquet keep the values.
    Files in folders that are not read are named on stderr with the reason
    (see docs/gate.md, "Inputs").
    """
    t0 = _start("lines", quiet, log_format, log_level, inputs=len(files), format=fmt, jobs=jobs)
    status = _Status(quiet)
    got = _inputs("lines", files, status)
    for sk in got.skipped:
        logs.echo_err(str(sk))
    paths = got.files
    bar = Progress.maybe(paths, "lines", quiet)
    count = [0, 0]  # files, rows

    def file_end(p: str, n: int) -> None:
        count[0] += 1
        count[1] += n
        logs.log(log, logging.INFO, "file done", file=p, rows=n)
        if bar is not None:
            bar.file_done(p)

    def rows() -> Iterator[Any]:  # (dicts; lists of CSV cells for the CSV)
        for p in paths:
            n = 0
            try:
                for r in _file_rows(p, status, bar, csv=fmt == "csv"):
                    n += 1 if r.__class__ is not str else r.count("\n")  # (str: a claim's CSV lines)
                    yield r
            except ReadError as e:
                _cannot_read(e)
                status.cannot_run = True
            file_end(p, n)

    if jobs > 1 and len(paths) > 1:
        from .parallel import lines as parallel_lines

        def rows() -> Iterator[Any]:  # noqa: F811 - files on several processes
            found: list[Finding] = []
            cur, n = None, 0
            try:
                for r in parallel_lines(paths, jobs, findings=found):
                    if r["file"] != cur:  # the rows of a file come together, files in order
                        if cur is not None:
                            file_end(cur, n)
                        cur, n = r["file"], 0
                    n += 1
                    yield r
            except ReadError as e:
                _cannot_read(e)
                status.cannot_run = True
            if cur is not None:
                file_end(cur, n)
            for f in found:
                status.found(f)

    try:
        _write_lines(rows(), fmt, output, bar)
    finally:
        if bar is not None:
            bar.close()
    _end("lines", t0, status.code, files=count[0], rows=count[1])
    sys.exit(status.code)


def _write_lines(rows: Iterator[Any], fmt: str, output: str | None, bar: Progress | None) -> None:
    if fmt == "parquet":
        if not output or output == "-":
            raise click.UsageError("--format parquet needs --output FILE")
        try:
            from .outputs.parquet import write_lines_parquet
        except ImportError as e:
            logs.say(log, logging.ERROR, f"error: parquet output needs pyarrow: pip install 'edi837[parquet]' ({e})")
            sys.exit(EXIT_CANNOT_RUN)
        remove_stale_parts(output)
        with _run_failure():
            write_lines_parquet(rows, output)
        return
    with _output(output, bar=bar) as out:
        if fmt == "csv":
            w = csv.writer(out, lineterminator="\n")
            w.writerow(COLUMN_NAMES)
            # rows are dicts in COLUMN_NAMES order, or (one job: _file_rows) lists of their cells
            # already neutralised, or a claim's CSV lines as text; csv writes None as an empty
            # field; a cell that a spreadsheet would run as a formula is neutralised (csv_row)
            write, writerow = out.write, w.writerow
            for r in rows:
                if r.__class__ is str:
                    write(r)
                else:
                    writerow(r if r.__class__ is list else csv_row(r.values()))
        else:
            dumps = json.dumps
            for r in rows:
                out.write(dumps(r) + "\n")


def _file_rows(path: str, status: _Status, bar: Progress | None = None, csv: bool = False) -> Iterator[Any]:
    """The rows of one file (dicts; with ``csv`` lists of the CSV's cells, neutralised, or a claim's
    CSV lines as one string: edi837.outputs.fastlines.file_rows)."""
    from .outputs.fastlines import file_rows

    if bar is None:
        return file_rows(path, None, status.found, csv=csv)
    return file_rows(path, None, status.found, progress=lambda offset: bar.position(path, offset), wrap=bar.events,
                     csv=csv)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--snip", default=None, help="SNIP levels to check, e.g. 1-5 or 1,2,3 or 7 "
              "(default: every level, edit pack included).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report here (atomically).")
@click.option("--profile", default=None, help="Payer profile name or TOML file (edit pack).")
@click.option("--history", type=click.Path(dir_okay=False), default=None,
              help="SQLite claim-history store for cross-claim rules (created on first use).")
@click.option("--mue", type=click.Path(dir_okay=False, exists=True), default=None,
              help="CMS quarterly MUE file (CSV) to use for unit limits.")
@click.option("--jobs", type=click.IntRange(1, None), default=1, show_default=True,
              help="Parallel processes.")
@click.option("--info", "show_info", is_flag=True, help="Show info findings in the text report.")
@click.option("--redact", is_flag=True,
              help="Mask patient and subscriber names, member ids, dates of birth and addresses in the "
                   "report (messages, values, segment excerpts); claim ids and positions are kept.")
@quiet_option
@logs.log_options
def validate(files: tuple[str, ...], snip: str | None, fmt: str, output: str | None, profile: str | None,
             history: str | None, mue: str | None, jobs: int, show_info: bool, redact: bool, quiet: bool,
             log_format: str, log_level: str | None) -> None:
    """Validate FILES (files or folders) at WEDI SNIP 1-5 and the edit pack (7).

    Files given by name are read whatever their name; folders are searched as
    docs/gate.md ("Inputs") says, and the report names every file skipped.
    """
    from .checks.engine import Engine, RunOptions, parse_snip
    from .outputs.report import JsonReport, TextReport, write_events

    t0 = _start("validate", quiet, log_format, log_level, inputs=len(files), format=fmt, jobs=jobs,
                snip=snip, redact=redact)
    status = _Status(quiet)
    try:
        parse_snip(snip)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--snip")
    got = _inputs("validate", files, status)
    paths = got.paths  # a missing file is in the report too: RDR-007, could not be read
    try:
        opts = RunOptions.build(snip=snip, profile=profile or None, history=history or None, mue=mue or None)
        opts.check()
    except ValueError as e:
        raise click.UsageError(str(e))
    store = _history_run(history) if history else None
    if store is not None:  # this run's claims: visible to later runs once the report is out
        opts = attrs.evolve(opts, history=store)
    bar = Progress.maybe(paths, "validate", quiet)
    try:
        if jobs and jobs > 1 and paths:
            from . import parallel

            # same report as one job: several files, or one large file split by transaction set,
            # have the cross-claim rules run here in file order; one large file split by patient
            # has every process run every rule on its own patients (see parallel.py)
            source = parallel.validate(paths, jobs, opts, listeners=[bar.claim] if bar is not None else None,
                                       entries=fmt == "json")
        else:
            engine = Engine(opts)
            if bar is not None:  # a single large file moves the bar too
                engine.claim_listeners.append(bar.claim)
            source = engine.run(paths)
    except (ValueError, OSError, KeyError) as e:
        logs.say(log, logging.ERROR, f"error: {e}")
        sys.exit(EXIT_CANNOT_RUN)

    def counted() -> Iterator[EngineEvent]:
        for ev in source:
            match ev:
                case Found(f) if f.severity is Severity.ERROR:
                    status.errors += 1
                case ClaimVerdict(c) if c.verdict == "rejected":
                    status.errors += 1
                case FileDone(r):
                    if r.could_not_read:
                        status.cannot_run = True
                    _file_done(r)
                    if bar is not None:
                        bar.file_done(r.file)
            yield ev

    redactor = None
    if redact:
        from .outputs.redact import Redactor

        redactor = Redactor()
    try:
        with _output(output, bar=bar) as out:
            report = (JsonReport(out, skipped=got.skipped, redact=redactor) if fmt == "json"
                      else TextReport(out, show_info=show_info, skipped=got.skipped, redact=redactor))
            totals = write_events(counted(), report)
    finally:
        if bar is not None:
            bar.close()
    if store is not None:  # a run that fails before this stays pending, then is voided
        store.commit_run()
        store.close()
    _end("validate", t0, status.code, files=len(paths),
         **{k: totals.get(k, 0) for k in ("claims", "accepted", "rejected", "errors", "warnings")})
    sys.exit(status.code)


def _history_run(path: str) -> Any:
    """The history store at ``path`` with a run begun (exit 2 if it cannot be opened)."""
    from .checks.editpack.history import HistoryStore
    from .gate import history_waiting

    try:
        store = HistoryStore(path)
        # the run lock: this run's cross-claim checks and commit, no other run in between
        store.begin_run(on_wait=history_waiting("validate", store))
    except (sqlite3.Error, RuntimeError) as e:
        logs.echo_err(f"error: --history {path}: {e}")
        sys.exit(EXIT_CANNOT_RUN)
    except OSError as e:
        logs.echo_err(f"error: --history {path}: {e.filename or ''}: {e.strerror or e}")
        sys.exit(EXIT_CANNOT_RUN)
    return store


@main.command()
@click.option("--snip", "snip", default=None, help="Only these SNIP types, e.g. 7 or 1-5.")
@click.option("--group", default=None, help="Only rules of this group (e.g. tms, ect, dx, snip2).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
def rules(snip: str | None, group: str | None, fmt: str, as_json: bool) -> None:
    """List every rule: id, severity, SNIP type, meaning and source."""
    from .checks.engine import parse_snip
    from .checks.registry import all_rules

    try:
        levels = parse_snip(snip) if snip else None
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--snip")
    rs = [r for r in all_rules() if (levels is None or r.snip in levels)
          and (group is None or r.group == group)]
    if fmt == "json" or as_json:
        click.echo(json.dumps([{"id": r.id, "severity": r.severity.value, "snip": r.snip,
                                "title": r.title, "reads": list(r.reads), "source": r.citation,
                                "ik3": r.ik3, "ik4": r.ik4, "applies_to": list(r.applies_to),
                                "cross_claim": r.cross_claim, "group": r.group} for r in rs], indent=1))
        return
    for r in rs:
        click.echo(f"{r.id:<12} {r.severity.value:<8} SNIP {r.snip}  {r.title}")
        if r.citation:
            click.echo(f"{'':<12} source: {r.citation}")


if __name__ == "__main__":  # pragma: no cover
    main()
