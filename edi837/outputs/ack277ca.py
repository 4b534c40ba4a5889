"""277CA claim acknowledgments (005010X214), written on the gate's second pass.

One 277CA interchange and group per input file; one 277 transaction per input
837 transaction that has claims:

- 2000A information source (HL level 20, ``NM1*PR`` from the 837's 1000B
  receiver), 2200A ``TRN*1`` (the 837's BHT03), ``DTP*050``/``DTP*009``;
- 2000B information receiver (21, ``NM1*41`` from the 1000A submitter), 2200B
  ``TRN*2``, ``STC*A1:19:PR`` with the transaction's total charge, ``QTY*90`` /
  ``QTY*AA`` and ``AMT*YU`` / ``AMT*YY`` accepted and rejected totals;
- 2000C billing provider (19, ``NM1*85``), 2200C ``TRN*1``, ``STC``, totals;
- 2000D patient (PT, ``NM1*QC``), one per claim, with 2200D ``TRN*2*<CLM01>``,
  ``STC`` (accepted ``A1:20``, action WQ; rejected ``A3:21``, action U, with the
  rule ids that rejected it in STC12), the charge in STC04, ``REF*D9`` (the
  claim's clearinghouse trace: the 837's REF*D9, else a generated one),
  ``REF*BLT`` (837I bill type) and ``DTP*472*RD8`` (service dates from-to).

A payer claim control number (REF*1K) is the payer's to assign and is not
written by a clearinghouse gate.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..events import ClaimRead, GroupStart, HlRead, InterchangeStart, ModelEvent, TransactionEnd, TransactionStart
from .atomic import atomic_write
from .split import ACK_DELIMS, ControlCounter, SegmentWriter, ack_app_code, ack_isa_fields, ack_text

if TYPE_CHECKING:
    from ..checks.verdicts import ClaimResult
    from ..grammar.loop import Loop
    from ..model.claims import Claim
    from ..model.envelope import Transaction
    from ..reader.segment import Segment

D = ACK_DELIMS


def _clean(v: str | None, n: int = 60) -> str:
    return ack_text(v, n)


def _amt(v: Any) -> str:
    try:
        d = Decimal(str(v))
    except Exception:
        return "0"
    s = format(d.normalize(), "f") if d == d.to_integral() else format(d, "f")
    return s


class Ack277Writer:
    """Listener on the gate's second pass that writes the 277CA as it goes.

    ``results`` maps claim_seq -> ClaimResult (pass-1 verdicts);
    ``tx_totals`` maps tx_no -> [acc_n, rej_n, acc_amt, rej_amt];
    ``prov_totals`` maps (tx_no, billing HL01) -> the same.
    """

    def __init__(self, path: str, stack: contextlib.ExitStack, counter: ControlCounter,
                 now: _dt.datetime, results: dict[int, ClaimResult], tx_totals: dict[int, list[int | Decimal]],
                 prov_totals: dict[tuple[int, str], list[int | Decimal]]):
        self.path, self.stack, self.counter, self.now = path, stack, counter, now
        self.results, self.tx_totals, self.prov_totals = results, tx_totals, prov_totals
        self.w: SegmentWriter | None = None
        self.isa: Segment | None = None
        self.gs: Segment | None = None
        self.isa13 = self.gs06 = ""
        self.tx: Transaction | None = None
        self.tx_no = 0
        self.tx_open = False
        self.n_tx = 0
        self.segs = 0
        self.hl = 0
        self.billing: Loop | None = None
        self.billing_hl: str | None = None  # our HL01 of the open 2000C
        self.claims = 0

    # -- writing -----------------------------------------------------------
    def _seg(self, fields: list[str]) -> None:
        assert self.w is not None  # _open() comes first
        self.w.write(fields)
        self.segs += 1

    def _open(self) -> None:
        if self.w is not None:
            return
        fh = self.stack.enter_context(atomic_write(self.path, "wb"))
        self.w = SegmentWriter(fh, D)
        now = self.now
        f = ack_isa_fields(self.isa, self.counter.next(), now)
        self.w.write(f)
        self.isa13 = f[13]
        gs = list(self.gs.fields) if self.gs is not None else ["GS", "HC", "EDI837", "EDI837"]
        gs += [""] * (9 - len(gs))
        self.gs06 = str(self.counter.next())
        self.w.write(["GS", "HN", ack_app_code(gs[3]), ack_app_code(gs[2]), now.strftime("%Y%m%d"),
                      now.strftime("%H%M"), self.gs06, "X", "005010X214"])

    def _open_tx(self) -> None:
        if self.tx_open:
            return
        self._open()
        tx = self.tx
        self.n_tx += 1
        self.segs = 0
        self.hl = 0
        self.billing_hl = None
        self.tx_open = True
        now = self.now
        st02 = f"{self.n_tx:04d}"
        self.st02 = st02
        bht = tx.bht if tx is not None else None
        ref = _clean(bht[3] if bht is not None else "", 30) or st02
        self._seg(["ST", "277", st02, "005010X214"])
        self._seg(["BHT", "0085", "08", f"{self.isa13}{st02}", now.strftime("%Y%m%d"),
                   now.strftime("%H%M"), "TH"])
        rcv = tx.receiver.seg("NM1") if tx is not None and tx.receiver is not None else None
        sub = tx.submitter.seg("NM1") if tx is not None and tx.submitter is not None else None
        self.hl += 1
        self._seg(["HL", "1", "", "20", "1"])
        self._seg(["NM1", "PR", "2", _clean(rcv[3] if rcv else "") or "RECEIVER", "", "", "", "",
                   "46", _clean(rcv[9] if rcv else "", 80) or "UNKNOWN"])
        self._seg(["TRN", "1", ref])
        self._seg(["DTP", "050", "D8", now.strftime("%Y%m%d")])
        self._seg(["DTP", "009", "D8", now.strftime("%Y%m%d")])
        self.hl += 1
        tot = self.tx_totals.get(self.tx_no, [0, 0, Decimal(0), Decimal(0)])
        self._seg(["HL", "2", "1", "21", "1"])
        n102 = sub[2] if sub is not None and sub[2] in ("1", "2") else "2"
        nm = ["NM1", "41", n102, _clean(sub[3] if sub else "") or "SUBMITTER"]
        nm += [_clean(sub[4]) if sub is not None and n102 == "1" else "",
               _clean(sub[5]) if sub is not None and n102 == "1" else ""]
        nm += ["", "", "46", _clean(sub[9] if sub else "", 80) or "UNKNOWN"]
        self._seg(nm)
        self._seg(["TRN", "2", ref])
        self._seg(["STC", "A1:19:PR", now.strftime("%Y%m%d"), "WQ", _amt(tot[2] + tot[3])])
        self._totals(tot, "90", "AA")

    def _totals(self, tot: list[int | Decimal], qa: str, qr: str) -> None:
        if tot[0]:
            self._seg(["QTY", qa, str(tot[0])])
        if tot[1]:
            self._seg(["QTY", qr, str(tot[1])])
        if tot[0]:
            self._seg(["AMT", "YU", _amt(tot[2])])
        if tot[1]:
            self._seg(["AMT", "YY", _amt(tot[3])])

    def _open_billing(self) -> None:
        if self.billing_hl is not None:
            return
        self.hl += 1
        self.billing_hl = str(self.hl)
        self._seg(["HL", self.billing_hl, "2", "19", "1"])
        b = self.billing
        nm = None
        if b is not None:
            for lp in [b] + list(b.children):
                s = lp.seg("NM1", "85")
                if s is not None:
                    nm = s
                    break
        n102 = nm[2] if nm is not None and nm[2] in ("1", "2") else "2"
        idq = nm[8] if nm is not None and nm[8] in ("FI", "SV", "XX") else "XX"
        self._seg(["NM1", "85", n102, _clean(nm[3] if nm else "") or "BILLING PROVIDER",
                   _clean(nm[4]) if nm is not None and n102 == "1" else "",
                   _clean(nm[5]) if nm is not None and n102 == "1" else "", "", "",
                   idq, _clean(nm[9] if nm else "", 80) or "UNKNOWN"])
        hl01 = b.segments[0][1] if b is not None and b.segments else ""
        tot = self.prov_totals.get((self.tx_no, hl01), [0, 0, Decimal(0), Decimal(0)])
        self._seg(["TRN", "1", _clean(nm[9] if nm else "", 50) or f"{self.st02}{hl01}"])
        self._seg(["STC", "A1:19:PR", "", "WQ", _amt(tot[2] + tot[3])])
        self._totals(tot, "QA", "QC")

    def _claim(self, claim: Claim) -> None:
        self._open_tx()
        self._open_billing()
        assert self.billing_hl is not None  # _open_billing() set it
        r = self.results.get(claim.seq)
        self.hl += 1
        self._seg(["HL", str(self.hl), self.billing_hl, "PT"])
        p = claim.patient if claim.patient_loop is not None else claim.subscriber
        last = _clean(p.last_name) or _clean(claim.subscriber.last_name) or "UNKNOWN"
        first = _clean(p.first_name) or _clean(claim.subscriber.first_name)
        member = _clean(claim.subscriber.member_id, 80) or "UNKNOWN"
        self._seg(["NM1", "QC", "1", last, first, "", "", "", "MI", member])
        self._seg(["TRN", "2", _clean(claim.claim_id, 50) or str(claim.seq)])
        now8 = self.now.strftime("%Y%m%d")
        charge = _amt(claim.charge if claim.charge is not None else 0)
        if r is not None and r.verdict == "accepted":
            self._seg(["STC", "A1:20", now8, "WQ", charge])
        else:
            why = ", ".join(r.reasons) if r is not None and r.reasons else "rejected"
            self._seg(["STC", "A3:21", now8, "U", charge] + [""] * 7 +
                      [_clean("rejected by " + why, 264)])
        d9 = claim.loop.seg("REF", "D9")
        self._seg(["REF", "D9", _clean(d9[2], 50) if d9 is not None and d9[2]
                   else f"{self.isa13}{claim.seq:06d}"])
        blt = bill_type(claim)
        if blt:
            self._seg(["REF", "BLT", blt])
        frm, to = _dates(claim)
        if frm is None:
            frm = to = self.now.date()
        self._seg(["DTP", "472", "RD8", f"{frm:%Y%m%d}-{to:%Y%m%d}"])
        self.claims += 1

    # -- listener ----------------------------------------------------------
    def __call__(self, ev: ModelEvent) -> None:
        match ev:
            case ClaimRead(claim):
                self._claim(claim)
            case HlRead(lp):
                if lp.segments and lp.segments[0][3] == "20":
                    self.billing = lp
                    self.billing_hl = None
            case TransactionStart(tx):
                self._close_tx()
                self.tx = tx
                self.tx_no += 1
                self.billing = None
            case TransactionEnd():
                self._close_tx()
            case InterchangeStart(ic):
                if self.isa is None:
                    self.isa = ic.isa
            case GroupStart(grp):
                if self.gs is None:
                    self.gs = grp.gs

    def _close_tx(self) -> None:
        if self.tx_open:
            self.segs += 1
            assert self.w is not None  # opened with the transaction
            self.w.write(["SE", str(self.segs), self.st02])
            self.tx_open = False

    def finish(self) -> None:
        self._close_tx()
        if self.w is not None:
            self.w.write(["GE", str(self.n_tx), self.gs06])
            self.w.write(["IEA", "1", self.isa13])


def bill_type(claim: Claim) -> str:
    """REF*BLT of an 837I claim: facility type code (CLM05-1) and claim frequency
    (CLM05-3), a plain value.  A CLM05 written with another component separator
    than its ISA16 (``13>A>1`` under ISA16 ``:``) reads as one component; it is
    split on that separator here, so the 277CA gets ``131``, never the input's
    separator."""
    if claim.kind != "837I" or not claim.facility_code:
        return ""
    fac, freq = claim.facility_code, claim.frequency
    parts = re.split(r"[^A-Za-z0-9]", fac)
    if len(parts) > 1:
        fac = parts[0]
        freq = parts[2] if len(parts) > 2 else freq
    return re.sub(r"[^A-Za-z0-9]", "", fac + freq)[:50]


def _dates(claim: Claim) -> tuple[_dt.date | None, _dt.date | None]:
    ds: list[_dt.date] = []
    for ln in claim.lines:
        a, b = ln.service_date, ln.service_date_end
        ds.extend(x for x in (a, b) if x is not None)
    if not ds:
        ds = [x for x in (claim.statement_from, claim.statement_to) if x is not None]
    if not ds:
        return None, None
    return min(ds), max(ds)
