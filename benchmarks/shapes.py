"""Hostile and huge 837 inputs for benchmarks/hostile.py and tests/test_issue14_bounded.py
(issue 14 item 6).  Every shape is synthetic and is written to a file as it is generated,
so a shape of hundreds of megabytes costs no memory to build.

    write_shape(path, shape, n)

Shapes (``n`` is the size knob):

- ``tiny_interchanges``   n interchanges of one claim each
- ``envelope_errors``     n interchanges of one claim each, each with one envelope error
                          (IEA02 does not match ISA13: a TA1 each)
- ``many_lines``          one claim with n service lines (the guide allows 50)
- ``no_terminator``       a valid header, then n bytes of segments with no segment terminator
- ``giant_segment``       a valid file whose NTE segment holds n bytes
- ``many_findings``       n claims of 10 service lines, each line with errors
"""

from __future__ import annotations

from typing import BinaryIO, Callable

SHAPES = ("tiny_interchanges", "envelope_errors", "many_lines", "no_terminator", "giant_segment",
          "many_findings")

_ISA = ("ISA*00*          *00*          *ZZ*EDI837SYNTH    *ZZ*SYNTHPAYER     *251015*0930*^*00501*{ctl:09d}"
        "*0*T*:~\n")
_HEAD = ("GS*HC*EDI837SYNTH*SYNTHPAYER*20251015*0930*{gs}*X*005010X222A1~\n"
         "ST*837*0001*005010X222A1~\n"
         "BHT*0019*00*B{gs}*20251015*0930*CH~\n"
         "NM1*41*2*SYNTHETIC CLEARINGHOUSE*****46*SUB0001~\n"
         "PER*IC*BILLING DESK*TE*2175550100~\n"
         "NM1*40*2*SYNTHETIC HEALTH PLAN*****46*SYNPLAN01~\n"
         "HL*1**20*1~\n"
         "PRV*BI*PXC*2084P0800X~\n"
         "NM1*85*2*SYNAPSE PSYCHIATRY ASSOCIATES*****XX*1582739409~\n"
         "N3*400 CORTEX AVE STE 2~\n"
         "N4*SPRINGFIELD*IL*627040123~\n"
         "REF*EI*990012345~\n")
_SUB = ("HL*{hl}*1*22*0~\n"
        "SBR*P*18*GRP00417******CI~\n"
        "NM1*IL*1*DOE*JANE****MI*SYN{member:09d}~\n"
        "N3*12 EXAMPLE LANE~\n"
        "N4*SPRINGFIELD*IL*62704~\n"
        "DMG*D8*19840512*F~\n"
        "NM1*PR*2*SYNTHETIC HEALTH PLAN*****PI*SYNHP1~\n")
_HEAD_SEGS = 11  # ST .. REF*EI
_SUB_SEGS = 7  # HL .. NM1*PR
_CLM = ("CLM*{cid}*{amount}***11:B:1*Y*A*Y*Y~\n"
        "REF*G1*PA25TMS0001~\n"
        "HI*ABK:F332~\n"
        "NM1*82*1*MORROW*ELLEN****XX*1324509870~\n"
        "PRV*PE*PXC*2084P0800X~\n")
_CLM_SEGS = 5
_LINE = "LX*{n}~\nSV1*HC:90868*300*UN*1*11**1~\nDTP*472*D8*20250909~\n"
# a line with errors: a procedure code not in the code set, a bad date, a unit count that is no number
_BAD_LINE = "LX*{n}~\nSV1*HC:ZZZZZ*300*UN*X*11**1~\nDTP*472*D8*20251340~\n"
_LINE_SEGS = 3
_TAIL = "SE*{n}*0001~\nGE*1*{gs}~\nIEA*1*{ctl:09d}~\n"


def _interchange(ctl: int, lines: int = 1, *, iea_ctl: int | None = None, line: str = _LINE,
                 note: str = "") -> str:
    body = _CLM.format(cid=f"C{ctl}", amount=300 * lines)
    if note:  # NTE (2300) after REF, before HI
        body = body.replace("HI*", f"NTE*ADD*{note}~\nHI*", 1)
    body += "".join(line.format(n=i) for i in range(1, lines + 1))
    segs = _HEAD_SEGS + _SUB_SEGS + _CLM_SEGS + (1 if note else 0) + _LINE_SEGS * lines + 1
    return (_ISA.format(ctl=ctl) + _HEAD.format(gs=ctl) + _SUB.format(hl=2, member=ctl) + body
            + _TAIL.format(n=segs, gs=ctl, ctl=ctl if iea_ctl is None else iea_ctl))


def _tiny(f: BinaryIO, n: int) -> None:
    for i in range(1, n + 1):
        f.write(_interchange(i).encode())


def _envelope_errors(f: BinaryIO, n: int) -> None:
    for i in range(1, n + 1):
        f.write(_interchange(i, iea_ctl=i + 500_000_000).encode())


def _many_lines(f: BinaryIO, n: int) -> None:
    f.write(_interchange(1, n).encode())


def _no_terminator(f: BinaryIO, n: int) -> None:
    # the ISA says '~', the rest of the file has none: one "segment" of n bytes
    f.write((_ISA.format(ctl=1) + "GS*HC*EDI837SYNTH*SYNTHPAYER*20251015*0930*1*X*005010X222A1~\n").encode())
    piece = "\n".join(s.rstrip("~") for s in _interchange(1, 50).splitlines()[2:]).encode() + b"\n"
    left = n
    while left > 0:
        f.write(piece[:left])
        left -= len(piece)


def _giant_segment(f: BinaryIO, n: int) -> None:
    text = _interchange(1, 2, note="@")
    head, tail = text.split("NTE*ADD*@~", 1)
    f.write((head + "NTE*ADD*").encode())
    chunk = b"LONG NOTE " * 100_000
    left = n
    while left > 0:
        f.write(chunk[:left])
        left -= len(chunk)
    f.write(("~" + tail).encode())


def _many_findings(f: BinaryIO, n: int) -> None:
    lines = 10
    f.write((_ISA.format(ctl=1) + _HEAD.format(gs=1)).encode())
    per = _SUB_SEGS + _CLM_SEGS + _LINE_SEGS * lines
    for i in range(1, n + 1):  # a subscriber (patient) of its own for each claim
        f.write((_SUB.format(hl=i + 1, member=i) + _CLM.format(cid=f"C{i}", amount=300 * lines)
                 + "".join(_BAD_LINE.format(n=k) for k in range(1, lines + 1))).encode())
    f.write(_TAIL.format(n=_HEAD_SEGS + per * n + 1, gs=1, ctl=1).encode())


_WRITERS: dict[str, Callable[[BinaryIO, int], None]] = {
    "tiny_interchanges": _tiny, "envelope_errors": _envelope_errors, "many_lines": _many_lines,
    "no_terminator": _no_terminator, "giant_segment": _giant_segment, "many_findings": _many_findings}


def write_shape(path: str, shape: str, n: int) -> None:
    """Write the ``shape`` of size ``n`` to ``path``."""
    with open(path, "wb") as f:
        _WRITERS[shape](f, n)


def shape_bytes(shape: str, n: int) -> bytes:
    """The ``shape`` of size ``n`` as bytes (small sizes, for tests)."""
    import io

    buf = io.BytesIO()
    _WRITERS[shape](buf, n)  # type: ignore[arg-type]
    return buf.getvalue()
