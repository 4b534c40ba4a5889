"""PHI redaction of reports (``--redact``).

A report shows the patient's data in three places of a finding: its message
(e.g. "separate patient (2000C, DOE JAMIE)", "the patient (born 2007-02-20)"),
its offending value and its segment excerpt.  :class:`Redactor` replaces, in
those three, the names (NM103, NM104, NM105, NM107), member ids (NM109, REF02),
dates of birth (DMG02) and addresses (N301, N302, N401 city, N403 postal code)
of the subscriber, patient and other-subscriber loops (2010BA, 2010CA, 2330A:
NM1*IL / NM1*QC and the N3, N4, DMG and REF segments after it) by
:data:`MASK`, two ways:

- **by position**: a quoted segment that is one of those has its PHI elements
  masked (the element count and separators stay, so positions still read), and
  a finding pointing at such an element has its value masked;
- **by value**: every PHI value of the finding's file (read once per file with
  the reader, see :func:`file_values`) and of its own segment is masked wherever
  it stands in the message, value or excerpt as a whole word or phrase (case
  ignored; dates of birth also in ISO and MM/DD/CCYY form, 9-digit postal codes
  also as 5 digits and ZIP+4).

Claim ids (CLM01, the finding's ``claim_id`` is never masked), file names,
rule ids, control numbers and positions (segment ordinal, line, byte offset,
loop, element) are kept.  Redaction errs towards masking: a provider's city
that is also a patient's city is masked too.
"""

from __future__ import annotations

import collections
import os
import re
from typing import Iterable

import attrs

from ..findings import Finding
from ..reader import ReadError, read_segments

MASK = "[redacted]"

PERSON_LOOPS = frozenset({"2010BA", "2010CA", "2330A"})  # subscriber, patient, other subscriber
PERSON_NM1 = frozenset({"IL", "QC"})  # NM101: insured/subscriber, patient
PERSON_IDS = frozenset({"SY", "1W"})  # REF01 of a person's id: social security number, member id
# the PHI elements of each segment of a person's loop
PHI_ELEMENTS: dict[str, tuple[int, ...]] = {
    "NM1": (3, 4, 5, 7, 9), "N3": (1, 2), "N4": (1, 3), "DMG": (2,), "REF": (2,)}
_FOLLOWERS = frozenset({"N3", "N4", "DMG", "REF"})  # segments of a person's loop after its NM1

# a word of a message or excerpt: what stands between blanks, quotes, brackets and
# the usual X12 separators
_WORD = re.compile(r"[^\s'\"`()\[\]{}<>,;*~^|:=]+")
_ELEMENT = re.compile(r"^([A-Z0-9]{2,3}?)(\d{2})(?:-\d+)?$")
_D8 = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


def phi_positions(fields: list[str], loop: str | None) -> tuple[int, ...]:
    """The PHI element positions of a segment (``fields[0]`` its id) in ``loop``
    (None: not known); () for a segment that holds none."""
    sid = fields[0] if fields else ""
    pos = PHI_ELEMENTS.get(sid)
    if pos is None:
        return ()
    if loop in PERSON_LOOPS or sid == "DMG":  # DMG is only in a person's loop
        return pos
    q = fields[1] if len(fields) > 1 else ""
    if sid == "NM1":
        return pos if q in PERSON_NM1 else ()
    if sid == "REF":
        return pos if q in PERSON_IDS else ()
    return pos if loop is None else ()  # N3/N4 of a place not known: masked, to be safe


def variants(sid: str, i: int, v: str) -> list[str]:
    """``v`` (element ``i`` of segment ``sid``) with the other forms a report may show it in."""
    v = v.strip()
    out = [v]
    if sid == "DMG" and i == 2:
        m = _D8.match(v)
        if m:
            y, mo, d = m.groups()
            out += [f"{y}-{mo}-{d}", f"{mo}/{d}/{y}"]
    elif sid == "N4" and i == 3 and len(v) == 9 and v.isdigit():
        out += [v[:5], f"{v[:5]}-{v[5:]}"]
    return out


@attrs.define(slots=True)
class Values:
    """PHI values to mask: single words, and phrases by their first word."""

    words: set[str] = attrs.field(factory=set)
    phrases: dict[str, set[tuple[str, ...]]] = attrs.field(factory=dict)

    def add(self, v: str) -> None:
        ws = tuple(_WORD.findall(v.upper()))
        if not ws or (len(ws) == 1 and len(ws[0]) < 2):  # a middle initial is masked by position only
            return
        if len(ws) == 1:
            self.words.add(ws[0])
        else:
            self.phrases.setdefault(ws[0], set()).add(ws)

    def add_segment(self, fields: list[str], positions: Iterable[int]) -> None:
        sid = fields[0]
        for i in positions:
            if i < len(fields) and fields[i]:
                for v in variants(sid, i, fields[i]):
                    self.add(v)

    def __bool__(self) -> bool:
        return bool(self.words or self.phrases)


def file_values(path: str) -> Values:
    """The PHI values of a file's subscriber, patient and other-subscriber loops,
    read with the reader (no grammar: an NM1*IL or NM1*QC and the N3, N4, DMG
    and REF segments right after it).  Empty when the file cannot be read."""
    vals = Values()
    person = False
    try:
        for seg in read_segments(path):
            f = seg.fields
            sid = f[0]
            if sid == "NM1":
                person = len(f) > 1 and f[1] in PERSON_NM1
            elif sid not in _FOLLOWERS:
                person = False
            if person:
                vals.add_segment(f, PHI_ELEMENTS[sid] if sid != "REF" else (2,))
    except (ReadError, OSError, UnicodeError):
        pass
    return vals


def mask_text(text: str, vals: Iterable[Values], keep: str | None = None) -> str:
    """``text`` with every word or phrase of ``vals`` replaced by :data:`MASK`
    (``keep``, a claim id, is never masked)."""
    sets = [v for v in vals if v]
    if not sets or not text:
        return text
    keep_u = keep.upper() if keep else None
    words = list(_WORD.finditer(text))  # matched on the text itself: upper() may change lengths
    spans: list[tuple[int, int]] = []
    for k, m in enumerate(words):
        w = m.group().upper()
        if w == keep_u:
            continue
        w2 = w.rstrip(".")  # a word that ends a sentence
        for vs in sets:
            if w in vs.words or w2 in vs.words:
                spans.append((m.start(), m.start() + (len(w) if w in vs.words else len(w2))))
                break
            hit = False
            for ph in vs.phrases.get(w, ()):
                n = len(ph)
                if tuple(x.group().upper() for x in words[k:k + n]) == ph:
                    spans.append((m.start(), words[k + n - 1].end()))
                    hit = True
            if hit:
                break
    if not spans:
        return text
    spans.sort()
    out, at = [], 0
    for a, b in spans:
        if b <= at:
            continue
        a = max(a, at)
        out.append(text[at:a])
        out.append(MASK)
        at = b
    out.append(text[at:])
    return "".join(out)


def mask_segment(text: str, segment_id: str | None, loop: str | None) -> tuple[str, Values]:
    """A quoted segment with its PHI elements masked, and the values masked.

    The element separator is the character after the segment id (the excerpt
    is the segment as written, possibly cut short)."""
    sid = segment_id or ""
    if not sid or not text.startswith(sid) or len(text) <= len(sid):
        return text, Values()
    sep = text[len(sid)]
    if sep.isalnum():
        return text, Values()
    fields = text.split(sep)
    pos = phi_positions(fields, loop)
    vals = Values()
    if not pos:
        return text, vals
    vals.add_segment(fields, pos)
    for i in pos:
        if i < len(fields) and fields[i]:
            fields[i] = MASK
    return sep.join(fields), vals


class Redactor:
    """Redacts findings before a report writes them (:meth:`finding`).

    The PHI values of a file are read on its first finding and kept for the
    few files last seen (a run reads its files in order)."""

    KEEP_FILES = 4

    def __init__(self) -> None:
        self._files: collections.OrderedDict[str, Values] = collections.OrderedDict()

    def values_of(self, file: str | None) -> Values:
        if not file:
            return Values()
        vals = self._files.get(file)
        if vals is None:  # (a source that is not a file, e.g. bytes, has none)
            vals = self._files[file] = file_values(file) if os.path.isfile(file) else Values()
            while len(self._files) > self.KEEP_FILES:
                self._files.popitem(last=False)
        else:
            self._files.move_to_end(file)
        return vals

    def finding(self, f: Finding) -> Finding:
        """A copy of ``f`` with PHI masked in its message, value and segment excerpt."""
        own = Values()
        seg = f.segment_text
        if seg:
            seg, own = mask_segment(seg, f.segment_id, f.loop)
        vals = (own, self.values_of(f.file))
        value = f.value
        if value:
            m = _ELEMENT.match(f.element or "")
            if m and f.segment_id == m.group(1) and int(m.group(2)) in phi_positions(
                    _fields_for(f), f.loop):
                value = MASK
            else:
                value = mask_text(value, vals, f.claim_id)
        return attrs.evolve(f, message=mask_text(f.message, vals, f.claim_id),
                            segment_text=mask_text(seg, vals, f.claim_id) if seg else seg,
                            value=value)


def _fields_for(f: Finding) -> list[str]:
    """The finding's segment id and first element (enough for :func:`phi_positions`)."""
    sid = f.segment_id or ""
    text = f.segment_text or ""
    if text.startswith(sid) and len(text) > len(sid) and not text[len(sid)].isalnum():
        return text.split(text[len(sid)])[:2]
    return [sid]
