"""TA1 interchange acknowledgments.

A TA1 is written for an interchange whose envelope is in error (SNIP 1
findings about ISA/IEA: error findings with an interchange but no group) or
whose ISA14 asks for one (``1``).  Each TA1 sits in its own interchange
envelope, directly after its ISA: ``ISA TA1 IEA`` (no functional group).
"""

from __future__ import annotations

import datetime as _dt
from typing import Iterable, Sequence, Union

from ..findings import Finding, Severity
from ..reader.segment import Segment
from .gatespool import Err
from .split import ACK_DELIMS, ControlCounter, SegmentWriter, ack_isa_fields

AckErr = Union[Finding, Err]  # a finding, or the fields of it the gate spooled

# TA105 interchange note codes by (segment, element) of the finding
NOTE_CODES = {
    ("IEA", "IEA02"): "001",  # control numbers in header and trailer do not match
    ("IEA", "IEA01"): "021",  # invalid number of included groups value
    ("IEA", None): "023",  # improper (premature) end-of-file / missing trailer
    ("ISA", "ISA01"): "010", ("ISA", "ISA02"): "011", ("ISA", "ISA03"): "012",
    ("ISA", "ISA04"): "013", ("ISA", "ISA05"): "005", ("ISA", "ISA06"): "006",
    ("ISA", "ISA07"): "007", ("ISA", "ISA08"): "008", ("ISA", "ISA09"): "014",
    ("ISA", "ISA10"): "015", ("ISA", "ISA11"): "026", ("ISA", "ISA12"): "017",
    ("ISA", "ISA13"): "018", ("ISA", "ISA14"): "019", ("ISA", "ISA15"): "020",
    ("ISA", "ISA16"): "027",
}


def is_interchange_finding(f: Finding) -> bool:
    """A SNIP 1 error about the interchange envelope itself."""
    return (f.severity is Severity.ERROR and f.snip == 1 and bool(f.interchange)
            and not f.group and not f.transaction and f.claim_seq is None)


def note_code(findings: Iterable[AckErr]) -> str:
    findings = list(findings)
    if any(f.rule == "S1-ENV-015" for f in findings):
        return "025"  # duplicate interchange control number
    for f in findings:
        seg = f.segment_id or ("IEA" if "IEA" in (f.message or "") else None)
        code = NOTE_CODES.get((seg or "", f.element)) or NOTE_CODES.get((seg or "", None))
        if code:
            return code
    return "022"  # invalid control structure


def write_ta1(w: SegmentWriter, isa: Segment | Sequence[str], findings: Sequence[AckErr], counter: ControlCounter,
              now: _dt.datetime) -> None:
    """One TA1 interchange (ISA TA1 IEA) answering ``isa``."""
    errs = [f for f in findings if f.severity is Severity.ERROR]
    ctl = counter.next()
    w.set_delims(ACK_DELIMS)
    f = ack_isa_fields(isa, ctl, now)
    w.write(f)
    ack = "R" if errs else "A"
    w.write(["TA1", isa[13].strip().rjust(9, "0")[:9], isa[9], isa[10], ack,
             note_code(errs) if errs else "000"])
    w.write(["IEA", "0", f[13]])
