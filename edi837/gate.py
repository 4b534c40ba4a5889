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
import os
import sys
from concurrent.futures.process import BrokenProcessPool
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Iterable

import attrs
import click

from .api import X12_SUFFIXES, expand_paths
from .checks.engine import ClaimResult, Engine, FileResult, RunOptions
from .events import ClaimVerdict, EngineEvent, FileDone, Found
from .findings import Finding
from .model.build import stream
from .outputs.ack277ca import Ack277Writer
from .outputs.ack999 import EnvelopeCollector, write_999
from .outputs.atomic import atomic_write
from .outputs.report import JsonReport, feed
from .outputs.split import ControlCounter, SegmentWriter, Splitter, output_paths
from .outputs.ta1 import is_interchange_finding, write_ta1
from .parallel import file_events
from .reader.segment import Delimiters

if TYPE_CHECKING:
    from .model.claims import Claim

COUNTER_FILE = ".edi837-gate-control"


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

    @property
    def exit_code(self) -> int:
        return 1 if any(f.result.rejected or f.result.errors for f in self.files) else 0

    @property
    def paths(self) -> list[str]:
        return [p for f in self.files for p in f.paths.values()]


# -- SNIP 1 envelope counts, until the validator's own SNIP 1 rules land ------------
# -- the gate ---------------------------------------------------------------------------
def expand_inputs(inputs: Iterable[str]) -> list[str]:
    """The gate's input files (:func:`edi837.api.expand_paths` with ``x12_only``);
    a folder without X12 files, a missing or unreadable file is a GateError."""
    files: list[str] = []
    for x in inputs:
        x = os.fspath(x)
        if os.path.isdir(x):
            found = list(expand_paths([x], x12_only=True))
            if not found:
                raise GateError(f"{x}: folder holds no X12 files ({', '.join(X12_SUFFIXES)})")
            files.extend(found)
        elif not os.path.exists(x):
            raise GateError(f"{x}: no such file or folder")
        elif not os.access(x, os.R_OK):
            raise GateError(f"{x}: cannot read the file (permission denied)")
        else:
            files.append(x)
    if not files:
        raise GateError("no input files given")
    return files


def _stem(path: str) -> str:
    base = os.path.basename(path)
    stem, ext = os.path.splitext(base)
    return stem or base


def gate(inputs: Iterable[str] | str, out_dir: str, *, snip: Any = None, profile: Any = None,
         history: Any = None, control_number: int | None = None, now: _dt.datetime | None = None,
         echo: Callable[[str], Any] | None = None, jobs: int = 1, **engine_options: Any) -> GateResult:
    """Gate ``inputs`` (files or folders) into ``out_dir``; see the module doc.

    ``jobs > 1``: pass 1 of several files runs on that many processes
    (:func:`edi837.parallel.file_events`: the cross-claim rules run here, in
    file order); pass 2 and every output are written here, file after file, so
    outputs and control numbers are those of one job."""
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [os.fspath(inputs)]
    files = expand_inputs(inputs)
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        raise GateError(f"{out_dir}: cannot create the output folder ({e.strerror})") from None
    if now is None:
        now = _dt.datetime.now().replace(second=0, microsecond=0)
    counter_path = os.path.join(out_dir, COUNTER_FILE)
    persist = control_number is None
    if control_number is None:  # persist
        try:
            with open(counter_path, encoding="ascii") as fh:
                control_number = int(fh.read().strip() or 1)
        except (OSError, ValueError):
            control_number = 1
    counter = ControlCounter(control_number)
    try:
        opts = RunOptions.build(snip=snip, profile=profile, history=history, **engine_options)
        opts.check()
    except ValueError as e:
        raise GateError(str(e)) from None
    engine, per_file = file_events(files, jobs, opts)
    result = GateResult()
    seen_stems: dict[str, int] = {}
    with contextlib.closing(per_file):
        for path, events in per_file:
            stem = _stem(path)
            n = seen_stems.get(stem, 0)
            seen_stems[stem] = n + 1
            if n:
                stem = f"{stem}.{n + 1}"
            fg = gate_file(engine, path, out_dir, stem, counter, now, events)
            result.files.append(fg)
            result.claims.extend(fg.results)
            if echo is not None:
                echo(fg.summary())
    if persist:
        with atomic_write(counter_path, "w", encoding="ascii") as fh:
            fh.write(f"{counter.value}\n")
    return result


def gate_file(engine: Engine, path: str, out_dir: str, stem: str, counter: ControlCounter,
              now: _dt.datetime, events: Iterable[EngineEvent] | None = None) -> FileGate:
    """Gate one file; ``events`` are ``engine.run_file(path)``'s (or those
    :func:`edi837.parallel.file_events` gives for it, ``engine`` its engine)."""
    fg = FileGate(input=path)
    base = os.path.join(out_dir, stem)
    # pass 1: validate; keep verdicts, SNIP 1-2 findings, HL chains of claims
    hl_of: dict[int, tuple[str, str, str]] = {}

    def hook(claim: Claim) -> None:
        b, s, p = ((lp.segments[0][1] if lp is not None and lp.segments else "")
                   for lp in (claim.billing_loop, claim.subscriber_loop, claim.patient_loop))
        hl_of[claim.seq] = (b, s, p)

    # every output of the file is renamed into place together, when all are done
    with contextlib.ExitStack() as stack:
        return _gate_file(engine, path, out_dir, stem, counter, now, fg, base, hl_of, hook, stack,
                          events)


def _gate_file(engine: Engine, path: str, out_dir: str, stem: str, counter: ControlCounter,
               now: _dt.datetime, fg: FileGate, base: str, hl_of: dict[int, tuple[str, str, str]],
               hook: Callable[[Claim], None],
               stack: contextlib.ExitStack, events: Iterable[EngineEvent] | None) -> FileGate:
    engine.claim_listeners.append(hook)
    results: dict[int, ClaimResult] = {}
    findings: list[Finding] = []
    try:
        with contextlib.nullcontext(stack.enter_context(atomic_write(base + ".report.json", "w"))) \
                as rfh:
            rep = JsonReport(rfh)
            rep.file_start(path)
            for ev in (engine.run_file(path) if events is None else events):
                feed(rep, ev)
                match ev:
                    case Found(f) if f.snip in (1, 2) or f.snip is None:
                        findings.append(f)
                    case ClaimVerdict(cr):
                        results[cr.claim_seq] = cr
                    case FileDone(fr):  # the engine's counts of the file
                        fg.result = fr
            rep.close()
    finally:
        engine.claim_listeners.remove(hook)
    fg.paths["report"] = base + ".report.json"
    fg.results = list(results.values())
    verdicts = {s: r.verdict for s, r in results.items()}
    hl_children: dict[str, set[tuple[int, str]]] = {"accepted": set(), "rejected": set()}
    # [accepted, rejected, accepted amount, rejected amount]
    tx_totals: dict[int, list[int | Decimal]] = {}  # by tx_no
    prov_totals: dict[tuple[int, str], list[int | Decimal]] = {}  # by (tx_no, billing HL01)
    key: Any  # either table's key
    table: dict[Any, list[int | Decimal]]
    for s, r in results.items():
        b, sub, pat = hl_of.get(s, ("", "", ""))
        if b and sub:
            hl_children[r.verdict].add((r.tx_no, b))
        if sub and pat:
            hl_children[r.verdict].add((r.tx_no, sub))
        amt = Decimal(r.charge) if r.charge not in (None, "") else Decimal(0)
        for key, table in ((r.tx_no, tx_totals), ((r.tx_no, b), prov_totals)):
            t = table.setdefault(key, [0, 0, Decimal(0), Decimal(0)])
            i = 0 if r.verdict == "accepted" else 1
            t[i] += 1
            t[2 + i] += amt
    if fg.result.could_not_read or (not results and not any(f.interchange for f in findings)):
        return fg  # nothing readable to split or acknowledge
    # pass 2: split, 277CA; collect the envelope for the 999 / TA1
    paths = output_paths(out_dir, stem)
    env = EnvelopeCollector({f.segment_seq for f in findings if f.ik3 == "3" and f.segment_seq is not None})
    ack277 = Ack277Writer(base + ".277ca.x12", stack, counter, now, results, tx_totals,
                          prov_totals)
    sp = Splitter(paths, verdicts, hl_children, counter, stack)
    sp.run(stream(path), listeners=[env, ack277])
    ack277.finish()
    if sp.missing:
        raise RuntimeError(f"{path}: claims {sp.missing} had no verdict in pass 1")
    for v in ("accepted", "rejected"):
        if sp.outputs[v].claims:
            fg.paths[v] = paths[v]
    fg.accepted_ids, fg.rejected_ids = sp.written["accepted"], sp.written["rejected"]
    if ack277.claims:
        fg.paths["277ca"] = base + ".277ca.x12"
    # TA1: interchanges in error or asking for one (ISA14=1)
    ta1s = []
    for isa in env.interchanges:
        ctl = isa[13].strip()
        errs = [f for f in findings if is_interchange_finding(f) and f.interchange == ctl]
        if errs or isa[14] == "1":
            ta1s.append((isa, errs))
    # an interchange the TA1 rejects: its groups are rejected in the 999 too
    ta1_rejected = [isa for isa, errs in ta1s if errs]
    if env.groups:
        with contextlib.nullcontext(stack.enter_context(
                atomic_write(base + ".999.x12", "wb"))) as fh:
            write_999(SegmentWriter(fh, Delimiters()), env.groups, findings,
                      list(results.values()), counter, now, rejected_interchanges=ta1_rejected,
                      loops=env.loops)
        fg.paths["999"] = base + ".999.x12"
    if ta1s:
        with contextlib.nullcontext(stack.enter_context(
                atomic_write(base + ".ta1.x12", "wb"))) as fh:
            w = SegmentWriter(fh, Delimiters())
            for isa, errs in ta1s:
                write_ta1(w, isa, errs, counter, now)
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
def gate_command(files_or_folders: tuple[str, ...], out_dir: str, snip: str | None,
                 profile: str | None, history: str | None, control_number: int | None,
                 now_: str | None, jobs: int) -> None:
    """Validate 837 files, split accepted/rejected claims, write 999/277CA/TA1 and a report.

    Exit status: 0 no errors, 1 errors found (a rejected claim or an error
    finding), 2 could not run.
    """
    now = _parse_now(now_)
    try:
        res = gate(list(files_or_folders), out_dir, snip=snip, profile=profile, history=history,
                   control_number=control_number, now=now, echo=click.echo, jobs=jobs)
    except GateError as e:
        click.echo(f"edi837 gate: {e}", err=True)
        sys.exit(2)
    except ValueError as e:  # e.g. a bad --snip
        click.echo(f"edi837 gate: {e}", err=True)
        sys.exit(2)
    except OSError as e:
        click.echo(f"edi837 gate: {e.filename or ''}: {e.strerror or e}", err=True)
        sys.exit(2)
    except BrokenProcessPool as e:  # --jobs: a worker was killed (out of memory, a signal)
        click.echo(f"edi837 gate: a worker process stopped: {e}", err=True)
        sys.exit(2)
    sys.exit(res.exit_code)


if __name__ == "__main__":  # pragma: no cover
    gate_command()
