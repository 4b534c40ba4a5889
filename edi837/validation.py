"""``edi837.validate``: the library entry point of a validation run.

>>> import edi837
>>> report = edi837.validate("fixtures/837p_tms_course.x12", snip="1-5")
>>> report.ok, report.exit_code, report.counts["claims"]
(True, 0, 4)

It takes its inputs as the ``edi837 validate`` command does (files given by
name whatever their name, folders searched by the rule of
:func:`edi837.api.collect_inputs`, gzip read as it streams) and returns a
:class:`Report` that holds the whole run in memory: every file's counts, every
claim's verdict, every finding and the files skipped.  ``report.to_json()`` is
the JSON report of ``edi837 validate --format json`` (docs/report.schema.json),
``report.to_text()`` its text report.  For runs too large to hold in memory,
use the command (its reports are streamed) or :class:`edi837.checks.engine.Engine`.
"""

from __future__ import annotations

import io
import os
from typing import Any, Iterable, Iterator, Union

import attrs

from .api import Inputs, Skipped, collect_inputs
from .checks.options import RunOptions
from .checks.verdicts import ClaimResult, FileResult
from .events import ClaimVerdict, EngineEvent, FileDone, FileStart, Found
from .findings import Finding, Severity
from .outputs.report import JsonReport, TextReport, write_events

__all__ = ["Report", "validate", "Input"]

EXIT_OK, EXIT_ERRORS, EXIT_CANNOT_RUN = 0, 1, 2

#: what :func:`validate` reads: a path (file or folder), the bytes of a file,
#: or a list of those
Input = Union[str, "os.PathLike[str]", bytes, Iterable[Union[str, "os.PathLike[str]", bytes]]]

_Event = Union[FileStart, Found, ClaimVerdict, FileDone]


@attrs.define(slots=True, eq=False)
class Report:
    """The result of :func:`validate`.

    - ``files``: each input file's counts (:class:`FileResult`: claims,
      accepted, rejected, errors, warnings, infos, could_not_read), in input order;
    - ``claims``: every claim's verdict (:class:`ClaimResult`: file,
      claim_seq, claim_id, verdict "accepted"/"rejected", reasons, ...);
    - ``findings``: every finding (:class:`edi837.Finding`: rule, severity,
      message, file, segment, line, element, claim, ...);
    - ``skipped``: the files of the input folders that were not read, with the
      reason (:class:`edi837.api.Skipped`);
    - ``counts``, ``exit_code`` (0 no errors, 1 errors, 2 a file could not be
      read: the exit status of ``edi837 validate``), ``ok`` (exit_code 0).
    """

    files: list[FileResult] = attrs.field(factory=list)
    claims: list[ClaimResult] = attrs.field(factory=list)
    findings: list[Finding] = attrs.field(factory=list)
    skipped: list[Skipped] = attrs.field(factory=list)
    _events: list[_Event] = attrs.field(factory=list, repr=False, init=False)  # for to_json / to_text

    @classmethod
    def from_events(cls, events: Iterable[EngineEvent], skipped: Iterable[Skipped] = ()) -> "Report":
        """A report of an engine run's events (those reports do not show are dropped)."""
        rep = cls(skipped=list(skipped))
        for ev in events:
            match ev:
                case Found(f):
                    rep.findings.append(f)
                case ClaimVerdict(c):
                    rep.claims.append(c)
                case FileDone(r):
                    rep.files.append(r)
                case FileStart():
                    pass
                case _:
                    continue
            rep._events.append(ev)
        return rep

    @property
    def errors(self) -> list[Finding]:
        """The findings of severity error."""
        return [f for f in self.findings if f.severity is Severity.ERROR]

    @property
    def accepted(self) -> list[ClaimResult]:
        return [c for c in self.claims if c.verdict == "accepted"]

    @property
    def rejected(self) -> list[ClaimResult]:
        return [c for c in self.claims if c.verdict == "rejected"]

    @property
    def counts(self) -> dict[str, int]:
        """The ``summary`` of the JSON report: files, claims, accepted, rejected,
        errors, warnings, infos, skipped."""
        sev = {s: 0 for s in Severity}
        for f in self.findings:
            sev[f.severity] += 1
        return {"claims": len(self.claims), "accepted": len(self.accepted), "rejected": len(self.rejected),
                "errors": sev[Severity.ERROR], "warnings": sev[Severity.WARNING], "infos": sev[Severity.INFO],
                "files": len(self.files), "skipped": len(self.skipped)}

    @property
    def exit_code(self) -> int:
        """0 no errors (warnings allowed), 1 an error finding or a rejected claim,
        2 a file could not be read (as ``edi837 validate``)."""
        if any(r.could_not_read for r in self.files):
            return EXIT_CANNOT_RUN
        if self.rejected or any(f.severity is Severity.ERROR for f in self.findings):
            return EXIT_ERRORS
        return EXIT_OK

    @property
    def ok(self) -> bool:
        """No error and no rejected claim (``exit_code == 0``)."""
        return self.exit_code == EXIT_OK

    def to_json(self) -> str:
        """The JSON report, as ``edi837 validate --format json`` writes it
        (docs/report.schema.json)."""
        out = io.StringIO()
        write_events(self._events, JsonReport(out, skipped=self.skipped))
        return out.getvalue()

    def to_text(self, show_info: bool = False) -> str:
        """The text report, as ``edi837 validate`` prints it."""
        out = io.StringIO()
        write_events(self._events, TextReport(out, show_info=show_info, skipped=self.skipped))
        return out.getvalue()


def _sources(paths_or_bytes: Input) -> tuple[list[Any], list[Skipped]]:
    """Input files in order (folders expanded, paths that do not exist kept: the
    engine reports them as unreadable) and the files skipped in the folders."""
    items: Iterable[Any]
    if isinstance(paths_or_bytes, (str, os.PathLike, bytes, bytearray, memoryview)):
        items = [paths_or_bytes]
    else:
        items = paths_or_bytes
    sources: list[Any] = []
    acc = Inputs()
    for x in items:
        if isinstance(x, (bytes, bytearray, memoryview)):
            sources.append(bytes(x))
        elif isinstance(x, (str, os.PathLike)):
            got = collect_inputs([x])
            sources.extend(got.paths)  # a missing one too: could_not_read, exit_code 2
            acc.skipped.extend(got.skipped)
            acc.empty.extend(got.empty)
        else:
            raise TypeError(f"edi837.validate reads paths and bytes, not {type(x).__name__}")
    if not sources:
        raise ValueError(acc.no_files_message())
    return sources, acc.skipped


def validate(paths_or_bytes: Input, *, jobs: int = 1, **options: Any) -> Report:
    """Validate 837 files (a path, a folder, bytes, or a list of those) at WEDI
    SNIP 1-5 and the edit pack (7) and return the :class:`Report`.

    ``options`` are those of :class:`edi837.checks.options.RunOptions`:
    ``snip`` ("1-5", [1, 2]), ``rules``, ``profile``, ``history``, ``mue``,
    ``history_record``, ``editpack_cache``, ``on_verdict``, ``on_finish``.
    ``jobs``: files in that many processes (same report as one).

    Raises ValueError (naming it) for an unknown or unusable option, a folder
    that holds no file to read, or no input at all; a file that cannot be read
    is in the report (``could_not_read``, exit_code 2), not an exception.
    """
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"jobs must be a whole number of at least 1, not {jobs!r}")
    opts = RunOptions.build(**options)
    opts.check()
    sources, skipped = _sources(paths_or_bytes)
    events: Iterator[EngineEvent]
    if jobs > 1 and sources and all(isinstance(s, str) for s in sources):
        from . import parallel

        events = parallel.validate(sources, jobs, opts)
    else:
        from .checks.engine import Engine

        events = Engine(opts).run(sources)
    return Report.from_events(events, skipped)
