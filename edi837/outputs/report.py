"""Validation reports: a text report a person reads, a JSON report a program reads.

Both are written as the run goes (streamed): findings are written as they
are found; claim verdicts as they become final.  The JSON report's shape is
documented by docs/report.schema.json:

    {"files": [...], "skipped": [...], "claims": [...], "findings": [...], "summary": {...}}

(``skipped``: the files of the input folders that were not read, with the
reason; written by ``edi837 validate``, not by the gate's per-file reports.)

The text report escapes control characters in what it quotes from outside
(file names, skip reasons, messages, segment excerpts: :func:`edi837.findings.printable`),
so an input cannot forge a line of it; the JSON report keeps the text as it is.

Claims and findings are spooled to temporary files while the run goes and
joined at the end, so memory does not grow with the number of claims.

``redact`` (a :class:`~edi837.outputs.redact.Redactor`, ``--redact``): each
finding is redacted before either report takes it (the JSON spool included).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import defaultdict
from typing import IO, TYPE_CHECKING, Any, Iterable, Protocol

from ..events import ClaimVerdict, EngineEvent, FileDone, FileStart, Found, FoundEntry, VerdictEntry
from ..checks.verdicts import ClaimResult, FileResult
from ..findings import EXCERPT, Finding, Severity, excerpt, printable

if TYPE_CHECKING:
    from .redact import Redactor

SCHEMA_VERSION = "1.0"

# one encoder for every claim and finding entry: json.dumps(obj, default=str) makes a new
# JSONEncoder for each call; this one has the same settings, so it writes the same text
_ENTRY = json.JSONEncoder(default=str).encode


class JsonReport:
    """Streams the JSON report to ``out`` (a text stream).  ``skipped``: the
    files of the input folders not read (objects with ``path`` and ``reason``,
    e.g. :class:`edi837.api.Skipped`), written as ``"skipped"`` when given."""

    def __init__(self, out: IO[str], skipped: Iterable[SkippedFile] | None = None,
                 redact: Redactor | None = None):
        self.out = out
        self.skipped = None if skipped is None else list(skipped)
        self.redact = redact
        self._claims = tempfile.TemporaryFile("w+", encoding="utf-8")
        self._findings = tempfile.TemporaryFile("w+", encoding="utf-8")
        self._nclaims = 0
        self._nfindings = 0
        self.files: list[dict[str, Any]] = []
        self.totals: defaultdict[str, int] = defaultdict(int)

    def file_start(self, name: str) -> None:
        pass

    def finding(self, f: Finding, entry: str | None = None) -> None:
        """``entry``: :func:`finding_entry` of ``f``, when it was made already (not used when
        the report is redacted)."""
        if self.redact is not None:
            f = self.redact.finding(f)
            entry = None
        self._findings.write(("," if self._nfindings else "") + "\n    " +
                             (entry if entry is not None else finding_entry(f)))
        self._nfindings += 1
        self.totals[f.severity.value + "s"] += 1

    def claim(self, c: ClaimResult, entry: str | None = None) -> None:
        """``entry``: :func:`claim_entry` of ``c``, when it was made already."""
        self._claims.write(("," if self._nclaims else "") + "\n    " +
                           (entry if entry is not None else claim_entry(c)))
        self._nclaims += 1
        self.totals["claims"] += 1
        self.totals[c.verdict] += 1

    def file_end(self, r: FileResult) -> None:
        self.files.append({"file": r.file, "claims": r.claims, "accepted": r.accepted,
                           "rejected": r.rejected, "errors": r.errors, "warnings": r.warnings,
                           "infos": r.infos, "could_not_read": r.could_not_read})

    def close(self) -> None:
        out = self.out
        out.write('{\n  "schema_version": ' + json.dumps(SCHEMA_VERSION) + ',\n  "files": ')
        out.write(json.dumps(self.files, indent=None))
        if self.skipped is not None:
            out.write(',\n  "skipped": ' + json.dumps([{"path": k.path, "reason": k.reason}
                                                      for k in self.skipped]))
        out.write(',\n  "claims": [')
        _copy(self._claims, out)
        out.write("\n  ],\n  \"findings\": [")
        _copy(self._findings, out)
        summary = {k: self.totals.get(k, 0) for k in
                   ("claims", "accepted", "rejected", "errors", "warnings", "infos")}
        summary["files"] = len(self.files)
        if self.skipped is not None:
            summary["skipped"] = len(self.skipped)
        out.write("\n  ],\n  \"summary\": " + json.dumps(summary) + "\n}\n")
        self._claims.close()
        self._findings.close()


def finding_entry(f: Finding) -> str:
    """A finding's entry in the JSON report's ``findings``."""
    return _ENTRY(_bounded(f.to_dict()))


def claim_entry(c: ClaimResult) -> str:
    """A claim's entry in the JSON report's ``claims``."""
    return _ENTRY(_bounded(c.to_dict()))


#: values of a report entry that are ours (not quoted from the input): never cut
_OURS = frozenset({"file", "message", "citation", "rule", "severity", "verdict", "transaction_type"})


def _bounded(d: dict[str, Any]) -> dict[str, Any]:
    """A report entry whose values quoted from the input (segment text, element values, claim ids
    ...) are at most an excerpt (:func:`edi837.findings.excerpt`): a 50 MB segment gives a short
    excerpt, not a report three times its size.  (A finding's message is bounded by the finding.)"""
    for k, v in d.items():
        if type(v) is str and len(v) > EXCERPT and k not in _OURS:  # (excerpt: kept as they are)
            d[k] = excerpt(v)
    return d


def _copy(src: IO[str], dst: IO[str]) -> None:
    src.flush()
    src.seek(0)
    while True:
        block = src.read(1 << 16)
        if not block:
            break
        dst.write(block)


_SEV_MARK = {Severity.ERROR: "ERROR  ", Severity.WARNING: "warning", Severity.INFO: "info   "}


class TextReport:
    """A report a person can follow: per file, first what is wrong outside any
    claim (envelope, header, provider and subscriber loops: these reject every
    claim they enclose), then each claim with a problem, each finding with its
    place and the offending segment."""

    def __init__(self, out: IO[str], show_info: bool = False, skipped: Iterable[SkippedFile] | None = None,
                 redact: Redactor | None = None):
        self.out = out
        self.show_info = show_info
        self.redact = redact
        self.skipped = list(skipped or ())
        if self.skipped:  # first, so a reader sees what the run left out
            out.write(f"skipped ({len(self.skipped)} file(s) in the input folders not read):\n")
            for k in self.skipped:
                out.write(f"  {printable(k.path)}: {printable(k.reason)}\n")
            out.write("\n")
        self._buf: dict[int, list[Finding]] = defaultdict(list)  # claim_seq -> findings
        self._file_level: list[Finding] = []
        self._claim_blocks: list[str] = []
        self.totals: defaultdict[str, int] = defaultdict(int)
        self.nfiles = 0
        self._name = ""

    def file_start(self, name: str) -> None:
        self._buf.clear()
        self._file_level = []
        self._claim_blocks = []
        self._name = name

    def finding(self, f: Finding) -> None:
        self.totals[f.severity.value + "s"] += 1
        if f.severity is Severity.INFO and not self.show_info:
            return
        if self.redact is not None:
            f = self.redact.finding(f)
        if f.claim_seq is None:
            self._file_level.append(f)
        else:
            self._buf[f.claim_seq].append(f)

    @staticmethod
    def _format(f: Finding, indent: str) -> str:
        place = f.place()
        lines = [f"{indent}{_SEV_MARK[f.severity]} {f.rule}: {printable(f.message)}"]
        if place:
            lines.append(f"{indent}        at {printable(', '.join(place))}")
        if f.segment_text:  # (an excerpt: Finding bounds it)
            lines.append(f"{indent}        > {printable(f.segment_text)}")
        if f.citation:
            lines.append(f"{indent}        source: {printable(f.citation)}")
        return "\n".join(lines) + "\n"

    def claim(self, c: ClaimResult) -> None:
        self.totals["claims"] += 1
        self.totals[c.verdict] += 1
        fs = self._buf.pop(c.claim_seq, [])
        if not fs and c.verdict == "accepted":
            return
        mark = "REJECTED" if c.verdict == "rejected" else "accepted"
        why = ""
        if c.verdict == "rejected" and not any(f.severity is Severity.ERROR for f in fs):
            why = f" by an error outside the claim ({', '.join(c.reasons)}; see above)"
        block = [f"  claim #{c.claim_seq} {excerpt(c.claim_id)!r}: {mark}{why}\n"]
        notes = dict(c.notes)
        if "profile" in notes:
            reason = notes.get("profile_reason")
            block.append(printable(f"    payer profile: {notes['profile']}" + (f" ({reason})" if reason else ""))
                         + "\n")
        block += [self._format(f, "    ") for f in fs]
        self._claim_blocks.append("".join(block))

    def file_end(self, r: FileResult) -> None:
        self.nfiles += 1
        w = self.out.write
        name = printable(r.file)
        w(f"== {name}\n")
        rest = [f for fs in self._buf.values() for f in fs]  # claims never settled (unreadable)
        outside = self._file_level + rest
        if outside:
            w("  outside the claims (envelope, header, provider/subscriber loops):\n")
            for f in outside:
                w(self._format(f, "    "))
        for block in self._claim_blocks:
            w(block)
        self._buf.clear()
        self._claim_blocks = []
        status = "could not be read" if r.could_not_read else (
            f"{r.claims} claims: {r.accepted} accepted, {r.rejected} rejected; "
            f"{r.errors} errors, {r.warnings} warnings")
        w(f"== {name}: {status}\n\n")

    def close(self) -> None:
        t = self.totals
        self.out.write(f"{self.nfiles} file(s), {t['claims']} claims: {t['accepted']} accepted, "
                       f"{t['rejected']} rejected; {t['errors']} errors, {t['warnings']} warnings, "
                       f"{t['infos']} infos" + (f"; {len(self.skipped)} file(s) skipped (listed at the top)"
                                                if self.skipped else "") + "\n")


class SkippedFile(Protocol):
    """A file not read (:class:`edi837.api.Skipped`): its path and the reason."""

    @property
    def path(self) -> str: ...

    @property
    def reason(self) -> str: ...


class Report(Protocol):
    """What :func:`write_events` feeds: :class:`JsonReport`, :class:`TextReport`."""

    totals: defaultdict[str, int]

    def file_start(self, name: str) -> None: ...

    def finding(self, f: Finding) -> None: ...

    def claim(self, c: ClaimResult) -> None: ...

    def file_end(self, r: FileResult) -> None: ...

    def close(self) -> None: ...


def feed(report: Report, ev: EngineEvent) -> None:
    """Hand one engine event to a report (events it does not show are ignored)."""
    match ev:
        case FoundEntry(f, entry) if isinstance(report, JsonReport):
            report.finding(f, entry)
        case Found(f):
            report.finding(f)
        case VerdictEntry(c, entry) if isinstance(report, JsonReport):
            report.claim(c, entry)
        case ClaimVerdict(c):
            report.claim(c)
        case FileDone(r):
            report.file_end(r)
        case FileStart(src):
            report.file_start(os.fspath(src) if isinstance(src, (str, os.PathLike)) else "<bytes>")


def write_events(events: Iterable[EngineEvent], report: Report) -> dict[str, int]:
    """Feed engine events into a report; returns the totals."""
    for ev in events:
        feed(report, ev)
    report.close()
    return dict(report.totals)
