"""The reader: bytes in, segments with their positions out.

Delimiters come from each ISA (element separator at byte 3, repetition
separator ISA11, component separator ISA16 and the segment terminator right
after it).  Reads what real files look like: a UTF-8 byte-order mark, text
before the ISA, CR/LF/CRLF or no line breaks, newline as the terminator,
indented segments, an ISA that is not fixed width, several interchanges per
file.  Files are read in blocks, so memory does not grow with file size.
A gzip-compressed input (bytes 1f 8b) is read through :mod:`gzip` as it
streams; byte offsets are then those of the uncompressed text.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import zlib
from itertools import islice
from typing import BinaryIO, Iterator, cast

from ..findings import EXCERPT, Finding, Severity
from .segment import Delimiters, Segment

__all__ = ["Delimiters", "Segment", "SegmentReader", "read_segments", "ReadError", "open_source",
           "GZIP_MAGIC", "starts_like_x12"]

BLOCK = 1 << 20
#: the longest segment the reader takes, in bytes (leading white space included): a longer one is
#: RDR-009 and is skipped up to its terminator without being held.  The 5010 837 guides' longest
#: segment is about 2 KB (HI: 12 composites; see tests/test_issue14_bounded.py), so a megabyte is a
#: margin of 500 for files that overrun the guide (their long values are SNIP 2 findings,
#: quoted as excerpts); it bounds what one segment costs (the reader holds at most a block and
#: one segment, ``MAX_SEGMENT + BLOCK`` characters).
MAX_SEGMENT = 1 << 20
_WS = " \t\r\n\x00\x0b\x0c"
# ISA, its element separator, and ISA01 (2 chars) followed by the same separator
_ISA = re.compile(r"ISA([^A-Za-z0-9\s])[^\r\n]{2}\1")
_GS_ST = re.compile(r"(?:^|[~\n])\s*(GS|ST)([^A-Za-z0-9\s])")

RULES = {
    "RDR-001": "The file is empty.",
    "RDR-002": "The file holds no X12 interchange (no ISA, GS or ST segment found).",
    "RDR-003": "Text before the ISA (or between interchanges) was skipped.",
    "RDR-004": "The ISA header cannot be read: delimiters could not be found.",
    "RDR-005": "No ISA: delimiters were guessed from the first GS/ST segment.",
    "RDR-006": "The last segment has no segment terminator (the file may be truncated).",
    "RDR-007": "The file cannot be read (missing, unreadable or a folder).",
    "RDR-008": ("Characters other than line breaks (spaces, tabs, control characters) between a segment "
                "terminator and the next segment, as in indented files; CR and LF there are tolerated."),
    "RDR-009": ("A segment is longer than the reader takes (1 MiB; the guides' longest is about 2 KB): it was "
                "skipped up to its segment terminator (or the end of the file) and is not read; what encloses "
                "it (its transaction, else its group or interchange) is rejected."),
}
_BREAKS = "\r\n"
EXCERPT_AT = EXCERPT + 32  # (what a finding quotes of a segment at most)
_CONTROL_GAPS = ("\t", "\x00", "\x0b", "\x0c")


def _space_after(term: str) -> "re.Pattern[str]":
    """A space right after ``term`` or a line break: a literal-first pattern, so the
    search jumps from space to space (about 1 ms a megabyte) instead of testing
    every segment's leading white space."""
    p = _SPACE_AFTER.get(term)
    if p is None:
        p = _SPACE_AFTER[term] = re.compile(" (?<=[" + re.escape(term) + "\r\n] )")
    return p


_SPACE_AFTER: dict[str, "re.Pattern[str]"] = {}


class ReadError(Exception):
    """The input could not be opened at all."""

    def __init__(self, file: str, message: str):
        super().__init__(f"{file}: {message}")
        self.file = file
        self.message = message


GZIP_MAGIC = b"\x1f\x8b"


class _Gunzip(gzip.GzipFile):
    """A gzip stream whose damaged or truncated data is an OSError (the reader's
    RDR-007 "cannot read"), not an EOFError or zlib.error; closing it closes
    the compressed stream too."""

    def __init__(self, fileobj: BinaryIO):
        super().__init__(fileobj=fileobj, mode="rb")
        self._owned: BinaryIO | None = fileobj

    def close(self) -> None:
        try:
            super().close()
        finally:
            owned, self._owned = self._owned, None
            if owned is not None:
                owned.close()

    def read(self, size: int | None = -1) -> bytes:
        try:
            return super().read(-1 if size is None else size)
        except (EOFError, zlib.error) as e:
            raise OSError(f"gzip: the compressed data is truncated or damaged ({e})") from None


def _gunzip(stream: BinaryIO, name: str) -> BinaryIO:
    """``stream`` decompressed; a ReadError (the file cannot be read at all)
    when not even its start decompresses."""
    g = _Gunzip(stream)
    try:
        g.peek(1)
    except (OSError, EOFError, zlib.error) as e:
        g.close()
        raise ReadError(name, f"gzip: cannot decompress the file ({e})") from None
    return cast(BinaryIO, g)


def _head(stream: BinaryIO) -> bytes:
    """The first two bytes of ``stream``, left unread (b"" when they cannot be
    looked at without consuming them)."""
    peek = getattr(stream, "peek", None)
    if peek is not None:
        try:
            return bytes(peek(2)[:2])
        except (OSError, ValueError):
            return b""
    try:
        if stream.seekable():
            pos = stream.tell()
            head = stream.read(2)
            stream.seek(pos)
            return head
    except (OSError, ValueError, AttributeError):
        pass
    return b""


def open_source(source: "str | os.PathLike[str] | bytes | BinaryIO", file: str | None = None
                ) -> tuple[BinaryIO, str]:
    """Open a path, bytes or a binary stream; return (stream, display name).

    Gzip-compressed input (bytes 1f 8b) comes back decompressed as it is read."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if data[:2] == GZIP_MAGIC:
            return _gunzip(io.BytesIO(data), file or "<bytes>"), file or "<bytes>"
        return io.BytesIO(data), file or "<bytes>"
    if isinstance(source, (str, os.PathLike)):
        name = file or os.fspath(source)
        try:
            if os.path.isdir(source):
                raise ReadError(name, "is a folder, not a file")
            fh = open(source, "rb")
            if _head(fh) == GZIP_MAGIC:
                return _gunzip(fh, name), name
            return fh, name
        except OSError as e:
            raise ReadError(name, e.strerror or str(e)) from None
    if hasattr(source, "read"):
        name = file or str(getattr(source, "name", "<stream>"))
        if _head(source) == GZIP_MAGIC:
            return _gunzip(source, name), name
        return source, name
    raise TypeError(f"cannot read {type(source).__name__}")


def read_range(source: "str | os.PathLike[str] | bytes | BinaryIO", start: int, end: int | None,
               block: int = BLOCK) -> Iterator[bytes]:
    """The input's bytes from byte offset ``start`` up to ``end`` (None: its end), a block at a
    time; offsets are the reader's (:attr:`Segment.offset`: of the decompressed bytes of gzip
    input).  A path or bytes are opened anew (and closed); a stream is sought to ``start`` (read up
    to it, from where it stands, when it cannot seek) and left open."""
    stream, _ = open_source(source)
    try:
        pos = 0
        try:
            stream.seek(start)
            pos = start
        except (OSError, AttributeError, ValueError):
            pass
        while pos < start:  # (a stream that cannot seek: read up to ``start``)
            b = stream.read(min(block, start - pos))
            if not b:
                return
            pos += len(b)
        while end is None or pos < end:
            b = stream.read(block if end is None else min(block, end - pos))
            if not b:
                return
            pos += len(b)
            yield b
    finally:
        if not hasattr(source, "read"):
            stream.close()


def starts_like_x12(head: bytes) -> bool:
    """Whether the first bytes of a file (decompressed, if it was gzip) begin
    with an ISA header, after an optional UTF-8 byte-order mark and white space."""
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    return head.lstrip(b" \t\r\n\x00\x0b\x0c")[:3] == b"ISA"


def _decode(s: str) -> tuple[str, bool]:
    """Segments are decoded as latin-1 (1 char = 1 byte), then UTF-8 text is re-read as such.

    (the segment's text, True when it was re-read as UTF-8): a segment that is valid UTF-8 is
    read as UTF-8; any other stays latin-1 (Windows-1252 and other 8-bit text: 1 char = 1 byte).
    Either way :attr:`Segment.encoding` gives back its bytes."""
    if s.isascii():
        return s, False
    try:
        return s.encode("latin-1").decode("utf-8"), True
    except UnicodeDecodeError:
        return s, False


class SegmentReader:
    """Iterate the segments of one file; findings collect in ``self.findings``.

    The consumer drains ``findings`` as it goes (the structure stage does).
    """

    def __init__(self, source: "str | os.PathLike[str] | bytes | BinaryIO", file: str | None = None,
                 block: int = BLOCK, max_segment: int = MAX_SEGMENT):
        self.stream, self.file = open_source(source, file)
        self.block = block
        self.max_segment = max_segment
        self.findings: list[Finding] = []
        self.delims: Delimiters | None = None
        self.seq = 0
        self.interchanges = 0
        # set by the consumer after a segment is read: the segments that follow, up to one that
        # ends a transaction's body (SE, ST, GE, GS, IEA, ISA), are counted, not read
        # (``skipped``: [segments, CLMs], added to as they go; :meth:`end_skip` takes them).  Only
        # blocks of clean segments are passed over so (they hold nothing to report); the rest
        # are read as always, and the consumer counts those it is given
        self.skip_body = False
        self.skipped = [0, 0]

    def end_skip(self) -> tuple[int, int]:
        """Stop passing over a body (:attr:`skip_body`): the segments and the CLMs passed over
        since the last call."""
        self.skip_body = False
        n, c = self.skipped
        self.skipped = [0, 0]
        return n, c

    # -- helpers -----------------------------------------------------------
    def _note(self, rule: str, severity: Severity, message: str, line: int | None = None,
              offset: int | None = None, segment_id: str | None = None) -> None:
        self.findings.append(Finding(rule=rule, severity=severity, message=message, file=self.file,
                                     line=line, byte_offset=offset, segment_id=segment_id, snip=1,
                                     segment_seq=self.seq + 1 if segment_id is not None else None))

    def _between(self, gap: str, seq: int, line: int, offset: int, fields: list[str], text: str) -> None:
        """RDR-008 for ``gap``, what stood between a terminator and the segment ``fields``."""
        shown = "".join(c for c in gap if c not in _BREAKS)
        self.findings.append(Finding(
            rule="RDR-008", severity=Severity.ERROR, snip=1,
            message=(f"{shown[:20]!r} between the segment terminator and {fields[0][:3]}: only line "
                     f"breaks (CR, LF) may stand between segments"),
            file=self.file, segment_seq=seq, line=line, byte_offset=offset,
            segment_id=fields[0][:3], segment_text=text[:80]))

    def _too_long(self, seq: int, line: int, offset: int, head: str, ele: str, size: int, ended: bool) -> None:
        """RDR-009 for segment ``seq`` of ``size`` bytes starting with ``head`` (skipped, not read);
        ``ended``: whether a segment terminator ended it (else the end of the file did)."""
        sid = head.split(ele, 1)[0][:3]
        self.findings.append(Finding(
            rule="RDR-009", severity=Severity.ERROR, snip=1,
            message=(f"segment {sid or '?'!r} is {size:,} bytes long, more than the {self.max_segment:,} the reader "
                     f"takes (the 837 guides' longest segment is about 2 KB): it was skipped "
                     + ("up to its segment terminator" if ended else
                        "up to the end of the file, which has no segment terminator after it")),
            file=self.file, segment_seq=seq, line=line, byte_offset=offset, segment_id=sid or None,
            segment_text=f"{head[:EXCERPT]}... ({size - EXCERPT} more)"))

    def close(self) -> None:
        try:
            self.stream.close()
        except Exception:
            pass

    def __iter__(self) -> Iterator[Segment]:
        try:
            yield from self._segments()
        finally:
            self.close()

    # -- the scanner -------------------------------------------------------
    def _segments(self) -> Iterator[Segment]:
        stream, file = self.stream, self.file
        try:
            first = stream.read(self.block)
        except OSError as e:
            self._note("RDR-007", Severity.ERROR, f"cannot read the file: {e.strerror or e}")
            return
        if not first:
            self._note("RDR-001", Severity.ERROR, "the file is empty", line=1, offset=0)
            return
        base = 0  # absolute byte offset of buf[0]
        if first.startswith(b"\xef\xbb\xbf"):
            first = first[3:]
            base = 3
        buf = first.decode("latin-1")
        eof = False
        pos = 0  # scan position in buf
        line = 1  # line number at buf[pos]
        delims: Delimiters | None = None
        term = ""
        seen_isa = False
        isa_open = False  # an ISA was read and its IEA not yet
        seq = self.seq
        # the segments split from the buffer and not yet read: parts[pi] starts at buffer offset parts_at;
        # kept across an IEA, so each byte is split once however small the interchanges
        parts: list[str] = []
        pi = parts_at = 0
        parts_term = ""
        ascii_block = gaps = False
        # parts of a clean block (see _clean_split) are read by a short loop: psep, the length of
        # what separates them (the terminator and its line break), dline the lines each spans;
        # short_last, the last part ended the block with a terminator but no line break yet
        fast = short_last = False
        psep, dline = 1, 0

        def read_block() -> bytes:
            """The next block of the file; b"" at its end (a read error is RDR-007 and ends it)."""
            try:
                return stream.read(self.block)
            except OSError as e:
                self._note("RDR-007", Severity.ERROR, f"read error: {e.strerror or e}")
                return b""

        def more() -> bool:
            nonlocal buf, base, pos, eof
            if eof:
                return False
            chunk = read_block()
            if not chunk:
                eof = True
                return False
            # drop consumed text
            base += pos
            buf = buf[pos:] + chunk.decode("latin-1")
            pos = 0
            parts.clear()  # (split at the old offsets)
            return True

        max_seg = self.max_segment

        def skip_long(nl_term: int) -> None:
            """The segment at ``pos`` has no terminator within ``max_seg`` bytes: RDR-009, and read on
            to its terminator (or the end of the file) a block at a time, holding none of it."""
            nonlocal buf, base, pos, eof, line, seq
            raw = buf[pos:pos + EXCERPT_AT]
            lead = len(raw) - len(raw.lstrip(_WS))
            start_line, start = line + raw.count("\n", 0, lead), base + pos + lead
            size = len(buf) - pos - lead
            line += buf.count("\n", pos)
            ended = False
            while True:
                base += len(buf)
                buf, pos = "", 0
                if eof:
                    break
                chunk = read_block()
                if not chunk:
                    eof = True
                    break
                buf = chunk.decode("latin-1")
                k = buf.find(term)
                if k >= 0:
                    size += k
                    line += buf.count("\n", 0, k) + nl_term
                    pos = k + 1
                    ended = True
                    break
                size += len(buf)
                line += buf.count("\n")
            seq += 1
            self._too_long(seq, start_line, start, raw[lead:], delims.element if delims else "*", size, ended)

        # text of more than max_seg bytes with no ISA in it is dropped as it is searched, keeping a
        # tail where an ISA may begin; what the findings quote of it: (its first 40 characters, line
        # and offset of its first one, line and offset of its start)
        junk: tuple[str, int, int, int, int] | None = None

        def drop_junk() -> None:
            nonlocal pos, line, junk
            cut = len(buf) - 256
            text = buf[pos:cut]
            body = text.lstrip(_WS) if junk is None else ""
            if body:
                lead = len(text) - len(body)
                junk = (body[:40], line + text.count("\n", 0, lead), base + pos + lead, line, base + pos)
            line += text.count("\n")
            pos = cut

        while True:
            self.seq = seq  # (read by _note for the findings about what comes next)
            if delims is None:
                # look for the next ISA
                while True:
                    m = _ISA.search(buf, pos)
                    if m and (len(buf) - m.start() >= 200 or eof):
                        break
                    if m is None and len(buf) - pos > max_seg:
                        if not seen_isa and _GS_ST.search(buf, pos) is not None:
                            break  # a megabyte and no ISA, but a GS or ST: read with guessed delimiters
                        drop_junk()
                    if not more():
                        m = _ISA.search(buf, pos)
                        break
                if m is None:
                    rest = buf[pos:]
                    if not seen_isa:
                        g = _GS_ST.search(buf, pos)
                        if g is None:
                            if junk is not None:
                                self._note("RDR-002", Severity.ERROR,
                                           "no X12 interchange found: the file has no ISA, GS or ST segment",
                                           line=junk[3], offset=junk[4])
                            elif rest.strip(_WS):
                                self._note("RDR-002", Severity.ERROR,
                                           "no X12 interchange found: the file has no ISA, GS or ST segment",
                                           line=line, offset=base + pos)
                            else:
                                self._note("RDR-001", Severity.ERROR, "the file holds only white space",
                                           line=line, offset=base + pos)
                            self.seq = seq
                            return
                        sep = g.group(2)
                        start = g.start(1)
                        t = "~" if "~" in buf[start:start + 4000] else "\n"
                        delims = Delimiters(element=sep, component=":" if sep != ":" else ">",
                                            repetition=None, segment=t)
                        term = t
                        self._note("RDR-005", Severity.ERROR,
                                   f"no ISA interchange header; the file starts at {g.group(1)} "
                                   f"(delimiters guessed: {delims.describe()})",
                                   line=line + buf.count("\n", pos, start), offset=base + start,
                                   segment_id=g.group(1))
                        line += buf.count("\n", pos, start)
                        pos = start
                        seen_isa = True
                        self.delims = delims
                        continue
                    if junk is not None:
                        self._note("RDR-003", Severity.WARNING,
                                   f"text after the last interchange was skipped: {junk[0]!r}",
                                   line=junk[1], offset=junk[2])
                    elif rest.strip(_WS):
                        self._note("RDR-003", Severity.WARNING,
                                   f"text after the last interchange was skipped: {rest.strip(_WS)[:40]!r}",
                                   line=line + (len(rest) - len(rest.lstrip(_WS)) and
                                                rest[:len(rest) - len(rest.lstrip(_WS))].count("\n")),
                                   offset=base + pos + len(rest) - len(rest.lstrip(_WS)))
                    self.seq = seq
                    return
                start = m.start()
                skipped = buf[pos:start]
                if junk is not None:
                    self._note("RDR-003", Severity.WARNING,
                               ("text before the ISA was skipped: " if not seen_isa else
                                "text between interchanges was skipped: ") + repr(junk[0]),
                               line=junk[1], offset=junk[2])
                elif skipped.strip(_WS):
                    lead = len(skipped) - len(skipped.lstrip(_WS))
                    self._note("RDR-003", Severity.WARNING,
                               ("text before the ISA was skipped: " if not seen_isa else
                                "text between interchanges was skipped: ")
                               + repr(skipped.strip(_WS)[:40]),
                               line=line + skipped.count("\n", 0, lead), offset=base + pos + lead)
                elif seen_isa and skipped.strip(_BREAKS):
                    # white space between the previous interchange's IEA terminator and this ISA
                    self._between(skipped, seq + 1, line + skipped.count("\n"), base + start, ["ISA"],
                                  buf[start:start + 80])
                line += skipped.count("\n")
                pos = start
                seen_isa = True
                junk = None
                # parse the ISA: 16 element separators, then ISA16, then the terminator
                sep = m.group(1)
                i = start + 3
                n = 0
                while n < 16:
                    i = buf.find(sep, i)
                    if i < 0:
                        break
                    n += 1
                    i += 1
                if n < 16:
                    self._note("RDR-004", Severity.ERROR,
                               "the ISA header is incomplete: fewer than 16 elements",
                               line=line, offset=base + start, segment_id="ISA")
                    self.seq = seq
                    return
                comp = buf[i] if i < len(buf) else ":"
                t = buf[i + 1] if i + 1 < len(buf) else "~"
                if t == "\r" and buf[i + 2:i + 3] == "\n":
                    t = "\n"
                isa_fields = buf[start:i - 1].split(sep)
                rep = isa_fields[11] if len(isa_fields) > 12 else ""
                ver = isa_fields[12] if len(isa_fields) > 12 else ""
                repetition = rep if (len(rep) == 1 and not rep.isalnum() and rep not in (sep, comp, t)
                                     and ver >= "00402") else None
                if t.isalnum() or t == " " or comp.isalnum() or comp == sep:
                    self._note("RDR-004", Severity.ERROR,
                               f"the ISA header cannot be read: component separator {comp!r} and "
                               f"segment terminator {t!r} are not usable delimiters",
                               line=line, offset=base + start, segment_id="ISA")
                    self.seq = seq
                    return
                delims = Delimiters(element=sep, component=comp, repetition=repetition, segment=t)
                term = t
                self.delims = delims
                self.interchanges += 1

            # split segments in the current delimiter regime
            cur = delims  # (a name that stays a Delimiters until the next ISA)
            restart = False
            nl_term = 1 if term == "\n" else 0
            while not restart:
                if parts:
                    # the parts split before the last IEA: go on from where the ISA search left pos
                    while pi < len(parts) and parts_at + len(parts[pi]) < pos:
                        parts_at += len(parts[pi]) + psep
                        pi += 1
                    if pi < len(parts) and parts_at < pos:
                        parts[pi] = parts[pi][pos - parts_at:]
                        parts_at = pos
                    if pi >= len(parts) or parts_at != pos or parts_term != term:
                        parts.clear()
                if not parts and buf.find(term, pos) < 0:
                    if len(buf) - pos > max_seg:
                        skip_long(nl_term)
                        continue
                    if more():
                        continue
                    rest = buf[pos:]
                    m2 = _ISA.search(buf, pos + 1)
                    if m2 is not None and rest.strip(_WS):
                        # no terminator left, but another ISA follows: the text
                        # before it is not segments of this interchange
                        skipped = buf[pos:m2.start()]
                        lead = len(skipped) - len(skipped.lstrip(_WS))
                        self._note("RDR-003", Severity.WARNING,
                                   "text with no segment terminator skipped before the next ISA: "
                                   + repr(skipped.strip(_WS)[:40]),
                                   line=line + skipped.count("\n", 0, lead), offset=base + pos + lead)
                        line += skipped.count("\n")
                        pos = m2.start()
                        delims = None
                        isa_open = False
                        restart = True
                        break
                    if rest.strip(_WS):
                        lead = len(rest) - len(rest.lstrip(_WS))
                        text = rest.strip(_WS)
                        seq += 1
                        decoded, u8 = _decode(text)
                        fields = decoded.split(cur.element)
                        seg_line = line + rest.count("\n", 0, lead)
                        self.findings.append(Finding(
                            rule="RDR-006", severity=Severity.ERROR, snip=1,
                            message="the last segment has no segment terminator: the file may be truncated",
                            file=file, segment_seq=seq, line=seg_line, byte_offset=base + pos + lead,
                            segment_id=fields[0][:3], segment_text=text[:80]))
                        if rest[:lead].strip(_BREAKS):
                            self._between(rest[:lead], seq, seg_line, base + pos + lead, fields, text)
                        self.seq = seq
                        yield Segment(fields, seq, seg_line, base + pos + lead, cur, file, utf8=u8)
                    self.seq = seq
                    return
                if not parts:
                    # split every complete segment currently in the buffer
                    block = buf[pos:]
                    ascii_block = block.isascii()
                    # RDR-008 costs a test per segment only in blocks that may hold a gap (a test over
                    # the whole block: still right for what is left of it after an IEA)
                    gaps = (block[:1] == " " or any(c in block for c in _CONTROL_GAPS)
                            or _space_after(term).search(block) is not None)
                    got = _clean_split(block, term, max_seg) if ascii_block and not gaps else None
                    if got is not None:
                        parts, lead, psep, dline, short_last = got
                        fast = True
                        pos += lead
                        line += 1 if lead else 0
                    else:
                        parts = block.split(term)
                        parts.pop()  # incomplete (or empty) tail
                        fast = short_last = False
                        psep, dline = 1, nl_term
                    pi, parts_at, parts_term = 0, pos, term
                ele = cur.element
                if fast:
                    # (what starts a skipped body's end, and a claim in it)
                    ends, clm = tuple(i + ele for i in BODY_ENDS), "CLM" + ele
                    # a clean block: each part is one segment's text, nothing around it
                    for raw in islice(parts, pi, None):
                        if self.skip_body:
                            if not raw.startswith(ends) and raw not in BODY_ENDS:
                                # (counted, not read: the body of a transaction the consumer skips)
                                seq += 1
                                pi += 1
                                pos += len(raw) + psep
                                line += dline
                                counts = self.skipped
                                counts[0] += 1
                                if raw.startswith(clm):
                                    counts[1] += 1
                                continue
                            self.skip_body = False
                        seq += 1
                        fields = raw.split(ele)
                        sid = fields[0]
                        if sid in _ENVELOPE:
                            if sid == "ISA":
                                if isa_open:  # a new ISA without IEA: re-detect delimiters (as below)
                                    seq -= 1
                                    parts_at = pos
                                    delims = None
                                    isa_open = False
                                    restart = True
                                    break
                                isa_open = True
                            else:
                                yield Segment(fields, seq, line, base + pos, cur, file)
                                isa_open = False
                                pi += 1
                                pos += len(raw) + psep
                                line += dline
                                if short_last and pi == len(parts):
                                    pos -= psep - 1
                                    line -= dline
                                parts_at = pos
                                delims = None
                                restart = True
                                break
                        yield Segment(fields, seq, line, base + pos, cur, file)
                        pi += 1
                        pos += len(raw) + psep
                        line += dline
                    if not restart:
                        if short_last:
                            pos -= psep - 1
                            line -= dline
                        parts.clear()
                        more()
                    continue
                brk = _BREAKS
                while pi < len(parts):
                    raw = parts[pi]
                    n = len(raw)
                    if n > max_seg:
                        seq += 1
                        lead = n - len(raw.lstrip(_WS))
                        self._too_long(seq, line + raw.count("\n", 0, lead), base + pos + lead,
                                       raw[lead:lead + EXCERPT_AT], ele, n - lead, True)
                        pi += 1
                        pos += n + 1
                        line += raw.count("\n") + nl_term
                        continue
                    text = raw.lstrip(_WS)
                    lead = n - len(text)
                    nl = raw.count("\n")
                    seg_line = line + raw.count("\n", 0, lead) if lead and nl else line
                    if text:
                        if text[-1] in _WS:
                            text = text.rstrip(_WS)
                        seq += 1
                        if ascii_block or text.isascii():
                            fields, u8 = text.split(ele), False
                        else:
                            decoded, u8 = _decode(text)
                            fields = decoded.split(ele)
                        sid = fields[0]
                        if gaps and lead and (lead > 2 or raw[0] not in brk or raw[lead - 1] not in brk) \
                                and raw[:lead].strip(brk):
                            self._between(raw[:lead], seq, seg_line, base + pos + lead, fields, text)
                        if sid == "ISA" and isa_open:
                            # a new ISA without IEA: re-detect delimiters from it (this part is read
                            # again, from pos, once they are known)
                            seq -= 1
                            pos += lead
                            line = seg_line
                            delims = None
                            isa_open = False
                            restart = True
                            break
                        seg = Segment(fields, seq, seg_line, base + pos + lead, cur, file)
                        if u8:
                            seg.utf8 = True
                        yield seg
                        if sid == "ISA":
                            isa_open = True
                        elif sid == "IEA":
                            isa_open = False
                            pi += 1
                            pos += n + 1
                            parts_at = pos
                            line += nl + nl_term
                            delims = None
                            restart = True
                            break
                    pi += 1
                    pos += n + 1
                    parts_at = pos
                    line += nl + nl_term
                if not restart:
                    parts.clear()
                    more()
            # delims is None: look for the next ISA


_ENVELOPE = frozenset(("ISA", "IEA"))
#: segment ids that end the body of a transaction (SegmentReader.skip_body; the structure stage's
#: own count of a body it skips, edi837/grammar/stream.py)
BODY_ENDS = frozenset(("SE", "ST", "GE", "GS", "IEA", "ISA"))


def _clean_split(block: str, term: str, max_seg: int) -> tuple[list[str], int, int, int, bool] | None:
    """The complete segments of an ASCII ``block`` without gaps (RDR-008), when it is clean:
    every segment is its text alone, separated by the terminator and always the same line break
    (none, LF or CR LF), with no empty segment, no white space around any and none longer than
    ``max_seg``.  Returns (the segments' texts, the length of a line break the block starts
    with, the length of a separator, the lines a separator ends, whether the last segment ended
    the block at its terminator, before its line break); None when the block is not clean
    (it is read segment by segment, as any other)."""
    lead = 0
    i = block.find(term)
    if i < 0 or block[:1] == term:
        return None
    if term == "\n":
        nl = ""
    else:
        nl = "\r\n" if block[i + 1:i + 3] == "\r\n" else "\n" if block[i + 1:i + 2] == "\n" else ""
        if nl and block.startswith(nl):
            lead = len(nl)
            block = block[lead:]
            if block[:1] == term:
                return None
    sep = term + nl
    k = block.count(sep)
    if term == "\n":
        if "\r" in block or "\n\n" in block or " \n" in block:
            return None
    # (a count of none is a test that there is none: a scan that stops at the first)
    elif (block.count("\n") != k if nl else "\n" in block) \
            or (block.count("\r") != k if nl == "\r\n" else "\r" in block) \
            or block.count(term) != k + (1 if nl and block.endswith(term) else 0):
        return None
    if " " + term in block or sep + term in block or sep + sep in block:
        return None
    parts = block.split(sep)
    tail = parts.pop()  # the incomplete (or empty) rest, unless a segment ends the block
    short = False
    if nl and tail.endswith(term):  # (its line break is in the next block, or the file has none)
        parts.append(tail[:-1])
        short = True
    if not parts or max(map(len, parts)) > max_seg:
        return None
    return parts, lead, len(sep), 1 if term == "\n" or nl else 0, short


def read_segments(source: "str | os.PathLike[str] | bytes | BinaryIO", file: str | None = None
                  ) -> Iterator[Segment]:
    """Plain iteration over the segments of a file (findings are dropped)."""
    return iter(SegmentReader(source, file))
