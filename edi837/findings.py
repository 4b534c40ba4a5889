"""The one error vocabulary of edi837.

Every stage (reader, grammar, model, checks, edit pack) reports problems as
:class:`Finding` objects.  A finding carries everything a person needs to fix
a claim -- where it is (file, segment ordinal, line, byte offset, loop,
segment id, element position), which claim and service line it belongs to,
which rule says so and why, and the 999 codes it maps to.

This module sits at the bottom of the package: it imports nothing of ours.
"""

from __future__ import annotations

import operator

import enum
import re
from typing import Any, Callable, cast

import attrs


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.value


SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}

#: how much of a segment (or value) a finding quotes; a message keeps its head and its tail
EXCERPT = 200
MESSAGE_HEAD, MESSAGE_TAIL = 700, 200


_ROOM = 32  # room for the "... (N more)" mark: an excerpt is never cut again


def excerpt(text: str, limit: int = EXCERPT) -> str:
    """``text`` itself, or its first ``limit`` characters and ``... (N more)``: a finding on a
    50 MB segment quotes a short excerpt of it, in every report.  (At most ``limit`` + 32
    characters; an excerpt is its own excerpt.)"""
    if len(text) <= limit + _ROOM:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more)"


# Characters that must not reach a line of text as they are: C0 and C1 controls (a newline
# would forge a line of a report, ESC would repaint the terminal), the Unicode line and
# paragraph separators, bidirectional overrides (they reorder what is shown) and lone
# surrogates (a file name that is not UTF-8, as Python decodes it).
_CONTROLS = "\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_UNPRINTABLE = re.compile(f"[{_CONTROLS}]")
_TO_ESCAPE = re.compile(f"[\\\\{_CONTROLS}]")
_NAMED = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(m: re.Match[str]) -> str:
    c = m.group()
    return _NAMED.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def printable(text: str) -> str:
    """``text`` fit for one line of a text report or of standard error: as it is when it holds
    no control character (the usual case), else with each one escaped as Python writes it
    (``\\n``, ``\\x1b``, ``\\u202e``; a backslash as ``\\\\``), so that a file name or a
    value read from the input cannot forge a line or a terminal sequence.  (JSON output escapes
    by itself and keeps the text as it is.)"""
    if text.isprintable() or _UNPRINTABLE.search(text) is None:
        return text
    return _TO_ESCAPE.sub(_escape, text)


def _quote(v: str | None) -> str | None:
    return v if v is None or len(v) <= EXCERPT + _ROOM else excerpt(v)


def _message(m: str) -> str:
    """A message quoting a huge value keeps its head and its tail (what the rule says of it)."""
    if len(m) <= MESSAGE_HEAD + MESSAGE_TAIL + _ROOM:
        return m
    return f"{m[:MESSAGE_HEAD]}... ({len(m) - MESSAGE_HEAD - MESSAGE_TAIL} more) ...{m[-MESSAGE_TAIL:]}"


@attrs.define(slots=True, kw_only=True, on_setattr=attrs.setters.NO_OP)
class Finding:
    """One problem found in an 837 file.

    The converters bound what a finding quotes when it is made; fields set
    afterwards are set as given (no setattr hook: the engine sets a finding's
    place on every finding, and the code that sets ``segment_text`` sets an
    excerpt)."""

    rule: str
    severity: Severity
    message: str = attrs.field(converter=_message)
    file: str | None = None
    segment_seq: int | None = None
    line: int | None = None
    byte_offset: int | None = None
    loop: str | None = None
    segment_id: str | None = None
    element: str | None = None
    # claim context
    claim_seq: int | None = None  # 1-based ordinal of the claim in its file
    claim_id: str | None = None  # CLM01
    line_number: int | None = None  # LX01 of the service line
    # envelope context (control numbers) for acknowledgments
    interchange: str | None = None  # ISA13
    group: str | None = None  # GS06
    transaction: str | None = None  # ST02
    # rule metadata
    snip: int | None = None  # WEDI SNIP type 1-7
    citation: str | None = None
    ik3: str | None = None  # 999 IK304 segment syntax error code
    ik4: str | None = None  # 999 IK403 element syntax error code
    segment_text: str | None = attrs.field(default=None, converter=_quote)  # the offending segment (an excerpt)
    value: str | None = attrs.field(default=None, converter=_quote)  # the offending value, when there is one

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def __reduce__(self) -> tuple[Any, ...]:
        # pickled as a plain tuple of its fields (spool files, worker parts): several
        # times cheaper than attrs' slot state
        return (_finding, _FIELDS_OF(self))

    def place(self, *, line: bool = True, byte: bool = False) -> list[str]:
        """The parts of the finding's place: line, segment, byte, element (or
        segment id), loop, service line."""
        out = []
        if line and self.line is not None:
            out.append(f"line {self.line}")
        if self.segment_seq is not None:
            out.append(f"segment {self.segment_seq}")
        if byte and self.byte_offset is not None:
            out.append(f"byte {self.byte_offset}")
        if self.element:
            out.append(self.element)
        elif self.segment_id:
            out.append(self.segment_id)
        if self.loop:
            out.append(f"loop {self.loop}")
        if self.line_number is not None:
            out.append(f"service line {self.line_number}")
        return out

    def where(self) -> str:
        """A short human description of the place: 'file:line (segment 12, byte 400, CLM02)'."""
        head = self.file or "<input>"
        if self.line is not None:
            head += f":{self.line}"
        inner = self.place(line=False, byte=True)
        return head + (" (" + ", ".join(inner) + ")" if inner else "")

    def to_dict(self) -> dict[str, Any]:
        d = attrs.asdict(self, recurse=False)
        d["severity"] = self.severity.value
        return d

    def __str__(self) -> str:
        return f"{self.where()}: {self.severity.value} {self.rule}: {self.message}"


_FIELDS = tuple(a.name for a in attrs.fields(Finding))
_FIELDS_OF = operator.attrgetter(*_FIELDS)  # the fields as one tuple (pickling)
_SET = object.__setattr__


def _finding_builder() -> Callable[..., Finding]:
    """``_finding(*fields)``: a Finding from its fields in order, as pickled (no converter runs
    again).  Generated once: one plain slot store per field (the class has no setattr hook),
    several times cheaper than a loop of ``object.__setattr__``."""
    src = (f"def _finding({', '.join(_FIELDS)}):\n    f = _new(Finding)\n"
           + "".join(f"    f.{n} = {n}\n" for n in _FIELDS) + "    return f\n")
    ns: dict[str, Any] = {"_new": object.__new__, "Finding": Finding}
    exec(compile(src, "<edi837.findings._finding>", "exec"), ns)  # noqa: S102 - our own field names
    return cast(Callable[..., Finding], ns["_finding"])


_finding = _finding_builder()
