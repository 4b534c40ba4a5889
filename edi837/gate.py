"""The clearinghouse gate: validate, split, acknowledge.

``gate(inputs, out_dir)`` runs two passes over each input file:

1. the validation :class:`~edi837.checks.engine.Engine` (findings, a verdict
   per claim, streamed into NAME.report.json);
2. a re-read with :func:`edi837.model.build.stream` that writes each claim
   into NAME.accepted.x12 or NAME.rejected.x12 by its pass-1 verdict, and
   writes NAME.277ca.x12 on the way; then NAME.999.x12 and NAME.ta1.x12 are
   written from the SNIP 1-2 findings and the envelope structure.

Every output goes through atomic_write: a failure half-way leaves no output
(and no temporary file) behind.  See docs/gate.md.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import shutil
import signal
import sqlite3
import os
import sys
import tempfile
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, NoReturn

import attrs
import click

from . import logs
from .api import Inputs, Skipped, collect_inputs
from .checks.editpack.history import HistoryStore
from .checks.engine import ClaimResult, Engine, FileResult, RunOptions
from .checks.twophase import InputChanged
from .events import ClaimVerdict, EngineEvent, FileDone, Found, ModelEvent, TransactionStart
from .findings import Severity
from .model.build import stream
from .outputs.ack277ca import Ack277Writer
from .outputs.ack999 import StreamingAcks, write_999
from .outputs.atomic import atomic_write
from .outputs.gatespool import GateSpool, err_of
from .outputs.outfolder import SCRATCH, CounterFile, fsync_dir, locked, remove_stale
from .outputs.report import JsonReport, feed
from .outputs.split import ControlCounter, SegmentWriter, Splitter, output_paths
from .outputs.ta1 import is_interchange_finding, write_ta1
from .parallel import broken_pool, file_events
from .progress import Progress, quiet_option
from .reader.segment import Delimiters

if TYPE_CHECKING:
    from .model.claims import Claim
    from .outputs.redact import Redactor

COUNTER_FILE = ".edi837-gate-control"
log = logs.get("gate")


class GateError(Exception):
    """The gate could not run (usage, unreadable input): exit code 2."""


@attrs.define(slots=True)
class FileGate:
    """What the gate did with one input file: the engine's counts (``result``),
    the outputs written (kind -> path) and the claim ids per output."""

    input: str
    result: FileResult = attrs.field()
    paths: dict[str, str] = attrs.field(factory=dict)  # kind -> path written
    accepted_ids: list[str] = attrs.field(factory=list)
    rejected_ids: list[str] = attrs.field(factory=list)
    results: list[ClaimResult] = attrs.field(factory=list, repr=False)  # verdicts, pass 1

    @result.default
    def _empty(self) -> FileResult:
        return FileResult(file=self.input)

    def summary(self) -> str:
        r = self.result
        return f"{self.input}: {r.claims} claims in, {r.accepted} accepted, {r.rejected} rejected"


@attrs.define(slots=True)
class GateResult:
    files: list[FileGate] = attrs.field(factory=list)
    claims: list[ClaimResult] = attrs.field(factory=list)
    skipped: list[Skipped] = attrs.field(factory=list)  # files of the input folders not read, and why

    @property
    def exit_code(self) -> int:
        return 1 if any(f.result.rejected or f.result.errors for f in self.files) else 0

    @property
    def paths(self) -> list[str]:
        return [p for f in self.files for p in f.paths.values()]


# -- SNIP 1 envelope counts, until the validator's own SNIP 1 rules land ------------
# -- the gate ---------------------------------------------------------------------------
def gate_inputs(inputs: Iterable[str], out_dir: str | None = None,
                echo: Callable[[str], Any] | None = None) -> Inputs:
    """The gate's inputs (:func:`edi837.api.collect_inputs`, the rule of every
    command; ``out_dir`` is not searched), each skipped file said to ``echo``;
    a missing or unreadable file given by name, or no input file at all, is a
    GateError."""
    inputs = [os.fspath(x) for x in inputs]
    got = collect_inputs(inputs, exclude=[out_dir] if out_dir else ())
    if echo is not None:
        for sk in got.skipped:
            echo(str(sk))
    if got.missing:
        raise GateError(f"{got.missing[0]}: no such file or folder")
    for x in inputs:
        if not os.path.isdir(x) and not os.access(x, os.R_OK):
            raise GateError(f"{x}: cannot read the file (permission denied)")
    if not got.files:
        raise GateError(got.no_files_message())
    return got


def expand_inputs(inputs: Iterable[str], out_dir: str | None = None) -> list[str]:
    """The gate's input files (:func:`gate_inputs`)."""
    return gate_inputs(inputs, out_dir).files


def _stem(path: str) -> str:
    base = os.path.basename(path)
    if base.lower().endswith(".gz"):  # claims.x12.gz: claims
        base = base[:-3]
    stem, ext = os.path.splitext(base)
    return stem or base


OUTPUT_SUFFIXES = (".report.json", ".accepted.x12", ".rejected.x12", ".999.x12", ".277ca.x12",
                   ".ta1.x12")


def plan_stems(files: list[str]) -> list[str]:
    """The output stem of each input, unique by construction: an input keeps
    its name's stem (``a/x.x12`` -> ``x``) unless an earlier input has it; a
    later one gets ``x.2``, ``x.3``, ... skipping every stem some input has or
    was given (so ``b/x.x12`` next to ``c/x.2.x12`` becomes ``x.3``).  Stems
    are compared case-folded (a case-insensitive file system)."""
    natural = [_stem(p) for p in files]
    taken = {s.casefold() for s in natural}
    given: set[str] = set()
    out = []
    for s in natural:
        name, k = s, 1
        while name.casefold() in given or (k > 1 and name.casefold() in taken):
            k += 1
            name = f"{s}.{k}"
        given.add(name.casefold())
        taken.add(name.casefold())
        out.append(name)
    return out


def check_outputs(files: list[str], stems: list[str], out_dir: str) -> None:
    """GateError if two inputs would write the same output or an output would
    overwrite an input (an input in ``out_dir``, symlinks resolved)."""
    real_out = os.path.normcase(os.path.realpath(out_dir))
    here: dict[str, str] = {}  # name in out_dir -> the input it is
    for f in files:
        r = os.path.realpath(f)
        if os.path.normcase(os.path.dirname(r)) == real_out:
            here[os.path.normcase(os.path.basename(r))] = f
    seen: dict[str, str] = {}
    for f, stem in zip(files, stems):
        for suffix in OUTPUT_SUFFIXES:
            name = stem + suffix
            k = name.casefold()
            if k in seen:
                raise GateError(f"{f}: its output {os.path.join(out_dir, name)} would overwrite "
                                f"that of {seen[k]}")
            seen[k] = f
            if os.path.normcase(name) in here:
                raise GateError(f"{f}: its output {os.path.join(out_dir, name)} would overwrite the "
                                f"input {here[os.path.normcase(name)]}; choose another --out folder")


def _open_history(opts: RunOptions) -> tuple[RunOptions, HistoryStore | None, bool]:
    """(options with the history store open, the store, whether it was opened here)."""
    h = opts.history
    if not h:
        return opts, None, False
    if isinstance(h, HistoryStore):
        return opts, h, False
    try:
        store = HistoryStore(os.fspath(h))
    except (sqlite3.Error, RuntimeError) as e:
        raise GateError(f"--history {h}: {e}") from None
    return attrs.evolve(opts, history=store), store, True


def _waiting(out_dir: str) -> None:
    print(f"edi837 gate: {out_dir} is in use by another gate run; waiting for it to end",
          file=sys.stderr, flush=True)


def history_waiting(command: str, store: HistoryStore) -> Callable[[int | None], None]:
    """What ``command`` says (once, on standard error) when another run holds the
    history store's run lock (:meth:`HistoryStore.begin_run`): no PHI, the store
    path and the holder's pid."""
    def say(pid: int | None) -> None:
        by = f"another run (pid {pid})" if pid else "another run"
        logs.say(log, logging.WARNING, f"edi837 {command}: history store {store.path} is in use by "
                 f"{by}; waiting for it to end", event="history wait", store=store.path, pid=pid)
    return say


def private_folder(path: str, what: str) -> None:
    """Create folder ``path`` 0700 (whatever the umask; missing parents get the
    usual modes); a folder that exists is left as it is (every file the gate
    writes in it is 0600).  GateError if it cannot be created."""
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        os.mkdir(path, 0o700)
    except FileExistsError:
        if os.path.isdir(path):
            return
        raise GateError(f"{path}: cannot create the {what} (a file is in the way)") from None
    except OSError as e:
        raise GateError(f"{path}: cannot create the {what} ({e.strerror})") from None
    os.chmod(path, 0o700)


def gate(inputs: Iterable[str] | str, out_dir: str, *, snip: Any = None, profile: Any = None,
         history: Any = None, control_number: int | None = None, now: _dt.datetime | None = None,
         echo: Callable[[str], Any] | None = None, jobs: int = 1, redact: bool = False,
         progress: bool = False, keep_results: bool = True, **engine_options: Any) -> GateResult:
    """Gate ``inputs`` (files or folders) into ``out_dir``; see the module doc.

    ``jobs > 1``: pass 1 of several files runs on that many processes
    (:func:`edi837.parallel.file_events`); pass 2 and every output are written
    here, file after file, so outputs and control numbers are those of one job.
    ``redact``: PHI is masked in the report.json files
    (:mod:`edi837.outputs.redact`); ``progress``: a bar on standard error over
    the input bytes (two passes a file, :mod:`edi837.progress`); ``keep_results``
    False: ``GateResult.claims`` and each ``FileGate.results`` stay empty (the
    claim results are in each file's report.json), so a run of millions of
    claims does not hold one result per claim (the CLI, the service and watch).

    One gate run at a time per ``out_dir`` (a lock; another run waits).  It
    starts by removing what a killed run left (hidden ``.part`` files, scratch
    files).  Control numbers are reserved in the counter file before use.  The
    history store's rows of this run are committed once every output is in
    place, and voided if the run fails (see docs/gate.md)."""
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [os.fspath(inputs)]
    if not isinstance(jobs, int) or jobs < 1:
        raise GateError(f"jobs must be a whole number of at least 1, not {jobs!r}")
    got = gate_inputs(inputs, out_dir, echo)
    files = got.files
    stems = plan_stems(files)
    check_outputs(files, stems, out_dir)
    private_folder(out_dir, "output folder")
    if now is None:
        now = _dt.datetime.now().replace(second=0, microsecond=0)
    try:
        opts = RunOptions.build(snip=snip, profile=profile, history=history, **engine_options)
        opts.check()
    except ValueError as e:
        raise GateError(str(e)) from None
    redactor: Redactor | None = None
    if redact:
        from .outputs.redact import Redactor

        redactor = Redactor()
    with locked(out_dir, on_wait=lambda: _waiting(out_dir)):
        remove_stale(out_dir)
        counter_file = CounterFile(os.path.join(out_dir, COUNTER_FILE)) if control_number is None \
            else None
        if counter_file is not None:  # every number durably reserved before it is used
            counter = ControlCounter(counter_file.read(), reserve=counter_file.reserve)
        else:
            counter = ControlCounter(control_number or 1)
        opts, store, own_store = _open_history(opts)
        # the run lock of the store: the cross-claim checks read the history, the commit
        # makes this run's claims history, with no other run in between (it waits)
        run_id = store.begin_run(on_wait=history_waiting("gate", store)) if store is not None \
            else None
        scratch = os.path.join(out_dir, SCRATCH)
        try:
            result = _gate_files(files, stems, out_dir, opts, counter, now, echo, jobs, scratch,
                                 redactor, progress, keep_results)
            result.skipped = got.skipped
            fsync_dir(out_dir)  # every output renamed into place for good, then the history
            if store is not None:
                store.commit_run(run_id)
        except BaseException:
            if store is not None:
                with contextlib.suppress(Exception):
                    store.void_run(run_id)
            raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
            if own_store and store is not None:
                store.close()
        if counter_file is not None:  # the numbers reserved and not used are free again
            counter_file.write(counter.value)
    return result


def _gate_files(files: list[str], stems: list[str], out_dir: str, opts: RunOptions,
                counter: ControlCounter, now: _dt.datetime, echo: Callable[[str], Any] | None,
                jobs: int, scratch: str, redactor: Redactor | None, progress: bool,
                keep_results: bool = True) -> GateResult:
    # part and spool files of the run (PHI, 0600 in a 0700 folder): removed at the end,
    # or at the next start
    private_folder(scratch, "scratch folder")
    from . import parallel

    engine, per_file = file_events(files, jobs, opts, tmpdir=scratch, split=parallel.GATE_SPLIT)
    # what pass 1 finds (verdicts, SNIP 1-2 errors, every claim's HL chain, noted as the engine
    # checks it: with cross-claim rules every file is checked before the first file's events
    # come, checks/twophase.py) is kept on disk, so memory does not grow with the files
    spool = GateSpool(os.path.join(scratch, "gate-state.sqlite"))

    engine.claim_listeners.append(_ChainNotes(spool))
    bar = Progress(files, "gate", passes=2) if progress else None
    if bar is not None:
        engine.claim_listeners.append(bar.claim)
    result = GateResult()
    written: set[str] = set()  # outputs of this run: never overwritten
    with contextlib.closing(per_file), contextlib.closing(spool), bar or contextlib.nullcontext():
        for (path, events), stem in zip(per_file, stems):  # both in input order
            mine = {(stem + x).casefold() for x in OUTPUT_SUFFIXES}  # all in out_dir
            if mine & written:
                raise RuntimeError(f"{path}: its outputs would overwrite outputs of this run")
            written |= mine
            t0, first = time.monotonic(), counter.value
            fg = gate_file(engine, path, out_dir, stem, counter, now, events, redact=redactor,
                           progress=bar, spool=spool, keep_results=keep_results)
            result.files.append(fg)
            if keep_results:
                result.claims.extend(fg.results)
            else:
                fg.results = []
            if bar is not None:
                bar.file_done(path)
            r = fg.result
            logs.log(log, logging.INFO, "file done", file=path, claims=r.claims, accepted=r.accepted,
                     rejected=r.rejected, errors=r.errors, warnings=r.warnings,
                     could_not_read=r.could_not_read, outputs=sorted(fg.paths),
                     control_numbers=[first, counter.value - 1] if counter.value != first else [],
                     seconds=round(time.monotonic() - t0, 3))
            if echo is not None:
                echo(fg.summary())
    return result


class _ChainNotes:
    """The gate's claim listener: each claim's HL chain into the spool of pass 1.  A file split
    by patient (``gate --jobs``) has the workers note their claims with ``worker_note`` and
    this process ``take`` the notes (edi837/parallel.py, ``_closed_ok``)."""

    def __init__(self, spool: GateSpool):
        self.spool = spool

    def __call__(self, claim: Claim) -> None:
        self.take(chain_note(claim))

    def take(self, note: tuple[str | None, int, tuple[str, str, str]]) -> None:
        self.spool.note_chain(*note)

    @property
    def worker_note(self) -> Callable[[Claim], tuple[str | None, int, tuple[str, str, str]]]:
        return chain_note


def chain_note(claim: Claim) -> tuple[str | None, int, tuple[str, str, str]]:
    """(file, claim number in the file, HL chain): what the gate notes of a claim in pass 1."""
    return claim.file, claim.seq, _chain(claim)


def _chain(claim: Claim) -> tuple[str, str, str]:
    """HL01 of the claim's billing, subscriber and patient HL loops ("" when absent)."""
    b, s, p = ((lp.segments[0][1] if lp is not None and lp.segments else "")
               for lp in (claim.billing_loop, claim.subscriber_loop, claim.patient_loop))
    return b, s, p


def gate_file(engine: Engine, path: str, out_dir: str, stem: str, counter: ControlCounter,
              now: _dt.datetime, events: Iterable[EngineEvent] | None = None, *,
              redact: Redactor | None = None, progress: Progress | None = None,
              spool: GateSpool | None = None, keep_results: bool = True) -> FileGate:
    """Gate one file; ``events`` are ``engine.run_file(path)``'s (or those
    :func:`edi837.parallel.file_events` gives for it, ``engine`` its engine);
    ``redact`` masks PHI in its report; ``progress`` moves with the split.
    ``spool``: where pass 1's state goes (:class:`GateSpool`, whose claim
    chains the caller notes as the engine checks claims); without one, a
    spool of this file's own is made in ``out_dir``'s scratch folder.
    ``keep_results`` False: the FileGate keeps no claim result or claim id."""
    fg = FileGate(input=path)
    base = os.path.join(out_dir, stem)
    hook: Callable[[Claim], None] | None = None
    with contextlib.ExitStack() as stack:
        if spool is None:
            scratch = os.path.join(out_dir, SCRATCH)
            private_folder(scratch, "scratch folder")
            fd, db = tempfile.mkstemp(prefix="gate-state.", suffix=".sqlite", dir=scratch)
            os.close(fd)
            os.unlink(db)
            spool = stack.enter_context(contextlib.closing(GateSpool(db)))
            hook = _ChainNotes(spool)
        # every output of the file is renamed into place together, when all are done
        with contextlib.ExitStack() as outputs:
            return _gate_file(engine, path, out_dir, stem, counter, now, fg, base, spool, hook,
                              outputs, events, redact, progress, keep_results)


def _gate_file(engine: Engine, path: str, out_dir: str, stem: str, counter: ControlCounter,
               now: _dt.datetime, fg: FileGate, base: str, spool: GateSpool,
               hook: Callable[[Claim], None] | None, stack: contextlib.ExitStack,
               events: Iterable[EngineEvent] | None, redact: Redactor | None = None,
               progress: Progress | None = None, keep_results: bool = True) -> FileGate:
    # pass 1: validate; verdicts, SNIP 1-2 errors and HL chains of claims into the spool
    spool.begin_file(path)
    results: dict[int, ClaimResult] = {}  # only with keep_results
    if hook is not None:
        engine.claim_listeners.append(hook)
    try:
        with contextlib.nullcontext(stack.enter_context(atomic_write(base + ".report.json", "w"))) \
                as rfh:
            rep = JsonReport(rfh, redact=redact)
            rep.file_start(path)
            for ev in (engine.run_file(path) if events is None else events):
                feed(rep, ev)
                match ev:
                    case Found(f) if f.snip in (1, 2) or f.snip is None:
                        spool.add_finding(f, error=f.severity is Severity.ERROR and f.snip in (1, 2),
                                          interchange=is_interchange_finding(f))
                    case ClaimVerdict(cr):
                        spool.add_result(cr)
                        if keep_results:
                            results[cr.claim_seq] = cr
                    case FileDone(fr):  # the engine's counts of the file
                        fg.result = fr
            rep.close()
    finally:
        if hook is not None:
            engine.claim_listeners.remove(hook)
    fg.paths["report"] = base + ".report.json"
    fg.results = list(results.values())
    spool.end_pass1()
    if fg.result.could_not_read or (not spool.claim_count() and not spool.interchange_found):
        return fg  # nothing readable to split or acknowledge
    # pass 2: split, 277CA; the 999 bodies and TA1s spooled as each group and interchange ends
    paths = output_paths(out_dir, stem)
    acks = StreamingAcks(spool)
    ack277 = Ack277Writer(base + ".277ca.x12", stack, counter, now, {}, {}, {})
    sp = Splitter(paths, {}, {}, counter, stack, keep_ids=keep_results)
    sp.source = path
    tx_no = 0

    def load(ev: ModelEvent) -> None:  # each transaction's pass-1 state, as its ST comes
        nonlocal tx_no
        if isinstance(ev, TransactionStart):
            tx_no += 1
            st = spool.transaction(tx_no)
            sp.verdicts, sp.hl_children = st.verdicts, st.hl_children
            ack277.results, ack277.tx_totals, ack277.prov_totals = \
                st.results, st.tx_totals, st.prov_totals  # type: ignore[assignment]

    with spool.writing():  # (one SQLite transaction for the pass's look-ups and pieces)
        sp.run(stream(path), listeners=[load, acks, ack277,
                                        *([progress.listener(1)] if progress is not None else [])])
        ack277.finish()
        acks.finish()
    if sp.missing:
        raise RuntimeError(f"{path}: claims {sp.missing} had no verdict in pass 1")
    for v in ("accepted", "rejected"):
        if sp.outputs[v].claims:
            fg.paths[v] = paths[v]
    fg.accepted_ids, fg.rejected_ids = sp.written["accepted"], sp.written["rejected"]
    if ack277.claims:
        fg.paths["277ca"] = base + ".277ca.x12"
    # 999, then TA1 (interchanges in error or asking for one, ISA14=1): written once the split
    # has its control numbers, from the spool in file order
    if acks.has_groups:
        with contextlib.nullcontext(stack.enter_context(
                atomic_write(base + ".999.x12", "wb"))) as fh:
            write_999(SegmentWriter(fh, Delimiters()), acks.bodies(), counter, now)
        fg.paths["999"] = base + ".999.x12"
    if spool.has_acks("ta1"):
        with contextlib.nullcontext(stack.enter_context(
                atomic_write(base + ".ta1.x12", "wb"))) as fh:
            w = SegmentWriter(fh, Delimiters())
            for _g, _ic, isa, errs in spool.acks("ta1"):
                write_ta1(w, isa, [err_of(e) for e in errs], counter, now)
        fg.paths["ta1"] = base + ".ta1.x12"
    return fg


# -- command line -------------------------------------------------------------------------
def _parse_now(v: str | None) -> _dt.datetime | None:
    if v is None:
        return None
    try:
        return _dt.datetime.fromisoformat(v)
    except ValueError:
        raise click.BadParameter(f"{v!r} is not an ISO date-time like 2026-01-01T12:00",
                                 param_hint="--now") from None


class Stopped(BaseException):
    """SIGTERM arrived during ``edi837 gate`` (see :func:`_stop_on_sigterm`)."""


@contextlib.contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """While the block runs (in the main thread), SIGTERM raises :class:`Stopped`,
    so the run unwinds as on a failure: temporaries removed, history run voided."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise Stopped()

    old = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@click.command("gate")
@click.argument("files_or_folders", nargs=-1, required=True, type=click.Path())
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for the split files, acknowledgments and report.")
@click.option("--snip", default=None, help="SNIP levels to check, e.g. 1-5 (default: all).")
@click.option("--profile", default=None, help="Payer profile for the edit pack.")
@click.option("--history", default=None, type=click.Path(), help="Claim history (duplicates).")
@click.option("--control-number", type=click.IntRange(1, 999999999), default=None,
              help="First control number (ISA13/GS06) of the outputs (default: a counter kept "
                   "in the output folder).")
@click.option("--now", "now_", default=None, help="Date-time stamped on outputs (ISO format).")
@click.option("--jobs", type=click.IntRange(1, None), default=1, show_default=True,
              help="Validate files in parallel processes (cross-claim rules, splitting and "
                   "acknowledgments stay in file order: the outputs of one job).")
@click.option("--redact", is_flag=True,
              help="Mask patient and subscriber names, member ids, dates of birth and addresses in "
                   "the report.json files; claim ids and positions are kept.")
@quiet_option
@logs.log_options
def gate_command(files_or_folders: tuple[str, ...], out_dir: str, snip: str | None,
                 profile: str | None, history: str | None, control_number: int | None,
                 now_: str | None, jobs: int, redact: bool, quiet: bool, log_format: str,
                 log_level: str | None) -> None:
    """Validate 837 files, split accepted/rejected claims, write 999/277CA/TA1 and a report.

    Exit status: 0 no errors, 1 errors found (a rejected claim or an error
    finding), 2 could not run.
    """
    from .progress import echo, wanted

    logs.setup(log_format, log_level, quiet)
    logs.log(log, logging.INFO, "run start", command="gate", inputs=len(files_or_folders), jobs=jobs,
             snip=snip, redact=redact)
    t0 = time.monotonic()
    now = _parse_now(now_)

    def fail(message: str, **fields: Any) -> NoReturn:
        logs.say(log, logging.ERROR, f"edi837 gate: {message}", **fields)
        logs.log(log, logging.INFO, "run end", command="gate", exit_code=2,
                 seconds=round(time.monotonic() - t0, 3))
        sys.exit(2)

    try:
        with _stop_on_sigterm():
            res = gate(list(files_or_folders), out_dir, snip=snip, profile=profile, history=history,
                       control_number=control_number, now=now, echo=None if quiet else echo, jobs=jobs,
                       redact=redact, progress=wanted(quiet), keep_results=False)
    except Stopped:  # the unfinished input's temporaries are removed, the history run voided
        fail("stopped (SIGTERM); the outputs of the inputs not finished were not written")
    except GateError as e:
        fail(str(e))
    except ValueError as e:  # e.g. a bad --snip
        fail(str(e))
    except OSError as e:
        fail(f"{e.filename or ''}: {e.strerror or e}")
    except InputChanged as e:  # read twice (cross-claim rules), not the same the second time
        fail(f"{e}; the run stopped (run it again once the file is complete)", file=e.path,
             event="input changed")
    except Exception as e:  # --jobs: a worker was killed (out of memory, a signal)
        if not broken_pool(e):
            raise
        fail(f"a worker process stopped: {e}", event="worker failure")
    logs.log(log, logging.INFO, "run end", command="gate", exit_code=res.exit_code,
             seconds=round(time.monotonic() - t0, 3), files=len(res.files),
             claims=sum(f.result.claims for f in res.files),
             accepted=sum(f.result.accepted for f in res.files),
             rejected=sum(f.result.rejected for f in res.files))
    sys.exit(res.exit_code)


if __name__ == "__main__":  # pragma: no cover
    gate_command()
