"""WEDI SNIP type 3: balancing.

- S3-CLM-001  CLM02 equals the sum of the service line charges (SV102 / SV203).
- S3-LX-001   LX01 numbers the service lines 1, 2, 3 ... within each claim.
- S3-HL-001..005  the HL hierarchy of a transaction: unique ids numbered
  1, 2, 3 ..., each parent present before its child, levels nested
  20 > 22 > 23, and HL04 saying whether the HL has children.

The HL checks run as a stream checker that keeps only the ids and levels of
the current transaction's HLs (plus the previous HL segment, whose HL04 is
judged when the next HL -- or the end of the transaction -- shows whether it
has a child).  Their findings are held until the transaction ends, so they
reject the transaction (as a 999 would), not an unrelated HL that happens to
be current when they are discovered.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, Iterable

from ..events import HlRead, ModelEvent, TransactionEnd, TransactionStart
from ..findings import Finding
from ..grammar.parser import HL_NAME, HL_PARENT
from ..model.claims import Claim
from .registry import Hit, checker, declare, get, rule

if TYPE_CHECKING:
    from ..reader.segment import Segment

TR3_CLM02 = "TR3 005010X222A1 / X223A2 2300 CLM02 note: total claim charge must equal the sum of the service line charges"


def _money(d: Decimal) -> str:
    """150 -> '150.00', 150.5 -> '150.50' (what a clerk expects to read)."""
    return f"{d:.2f}"


def _line_span(nums: list[str]) -> str:
    if not nums:
        return "no lines"
    if len(nums) == 1:
        return f"line {nums[0]}"
    return f"lines {nums[0]}-{nums[-1]}"


@rule("S3-CLM-001", "error", 3, "CLM02 does not equal the sum of the service line charges.",
      reads=("CLM02", "SV102", "SV203"), citation=TR3_CLM02)
def clm02_balances(claim: Claim, ctx: Any) -> list[Hit] | None:
    # (a plain function, not a generator, as lx_sequence: run on every claim, they almost
    # always find nothing, and a call costs less than a generator)
    # the model reads amounts as X12 R values (ASCII, at most 18 digits: model.claims.parse_decimal),
    # so a value SNIP 1 rejects (an exponent, Unicode digits, too many digits) is None, never summed here
    charge = claim.charge
    if charge is None or not claim.lines:
        return None  # missing/invalid CLM02 is a SNIP 1/2 finding
    if claim.overflow is not None:
        return None  # more lines than the guide allows (S2-LOOP-002): those past it are not read, so not summed
    total = Decimal(0)
    for ln in claim.lines:
        if ln.charge is None:
            return None  # a line without a readable charge is reported by SNIP 1/2
        total += ln.charge  # exact: at most 18 digits each, well inside the context's 28
    if total == charge:
        return None
    el = claim.lines[0].source("charge")
    nums = [ln.line_number for ln in claim.lines]
    return [Hit(f"CLM02 total charge {_money(charge)} does not equal the sum of the service "
                f"line charges {_money(total)} ({el}, {_line_span(nums)}); difference "
                f"{_money(charge - total)}",
                claim.clm, element="CLM02", value=claim.clm[2])]


@rule("S3-LX-001", "error", 3, "LX01 service line numbers are not 1, 2, 3 ... in order within the claim.",
      reads=("LX01",), citation="TR3 2400 LX01: assigned number, begins with 1 and is incremented by 1 for each line",
      ik3="8", ik4="7")
def lx_sequence(claim: Claim, ctx: Any) -> list[Hit] | None:
    for i, ln in enumerate(claim.lines, 1):
        if ln.line_number != str(i):
            lx = ln.loop.segments[0]
            # one finding per claim: the rest follows from the first gap
            return [Hit(f"service line {i} of claim {claim.claim_id} is numbered LX*{ln.line_number or '(blank)'}; "
                        f"renumber the lines 1 to {len(claim.lines)} in order",
                        lx, element="LX01", line=ln, value=ln.line_number)]
    return None


# -- HL hierarchy ------------------------------------------------------------

HL_CITE = "X12 005010 HL segment notes; TR3 2000A/2000B/2000C HL01-HL04"
declare("S3-HL-001", "error", 3, "HL01 hierarchical id is repeated within the transaction.",
        reads=("HL01",), citation=HL_CITE, ik3="8", ik4="7", scope="stream")
declare("S3-HL-002", "error", 3, "HL02 parent id does not name an HL that comes earlier in the transaction.",
        reads=("HL01", "HL02"), citation=HL_CITE, ik3="8", ik4="7", scope="stream")
declare("S3-HL-003", "error", 3, "HL03 level is not nested as billing provider (20) > subscriber (22) > patient (23).",
        reads=("HL02", "HL03"), citation=HL_CITE, ik3="8", ik4="7", scope="stream")
declare("S3-HL-004", "error", 3, "HL04 child code does not say whether the HL has subordinate HLs (1 = yes, 0 = no).",
        reads=("HL04",), citation=HL_CITE, ik3="8", ik4="7", scope="stream")
declare("S3-HL-005", "warning", 3, "HL01 ids are not numbered 1, 2, 3 ... in order within the transaction.",
        reads=("HL01",), citation="TR3 HL01 note: begins with 1 and is incremented by one for each HL in the transaction",
        scope="stream")



@checker("S3-HL-001", "S3-HL-002", "S3-HL-003", "S3-HL-004", "S3-HL-005")
class HLChecker:
    def __init__(self, ctx: Any):
        self.ctx = ctx
        self._reset()

    def _reset(self) -> None:
        self.levels: dict[str, str] = {}  # HL01 -> HL03 of this transaction
        self.prev: Segment | None = None  # previous HL segment (HL04 judged by the next HL)
        self.count = 0
        self.held: list[Finding] = []
        self.seq_warned = False

    def _f(self, rid: str, msg: str, seg: Segment, el: str, value: str) -> None:
        if rid == "S3-HL-005" and self.seq_warned:
            return
        if rid == "S3-HL-005":
            self.seq_warned = True
        self.held.append(get(rid).finding(msg, seg, element=el, value=value, file=self.ctx.file))

    def _judge_prev(self, next_parent: str | None) -> None:
        p = self.prev
        if p is None:
            return
        has_child = next_parent is not None and next_parent == p[1] and p[1] != ""
        flag = p[4]
        if flag == "1" and not has_child:
            self._f("S3-HL-004", f"HL*{p[1]} ({HL_NAME.get(p[3], 'level ' + p[3])}) has HL04=1 but no "
                    f"HL follows with HL02={p[1]}; set HL04 to 0", p, "HL04", flag)
        elif flag == "0" and has_child:
            self._f("S3-HL-004", f"HL*{p[1]} ({HL_NAME.get(p[3], 'level ' + p[3])}) has HL04=0 but the next "
                    f"HL is its child; set HL04 to 1", p, "HL04", flag)

    def on_event(self, ev: ModelEvent) -> Iterable[Finding]:
        if isinstance(ev, TransactionStart):
            self._reset()
            return ()
        if isinstance(ev, HlRead):
            segs = ev.loop.segments
            if not segs or segs[0].fields[0] != "HL":
                return ()
            hl = segs[0]
            hid, parent, level = hl[1], hl[2], hl[3]
            self._judge_prev(parent)
            self.count += 1
            if hid in self.levels:
                self._f("S3-HL-001", f"HL01 id {hid} is used twice in transaction; give each HL its own id",
                        hl, "HL01", hid)
            elif hid != str(self.count):
                self._f("S3-HL-005", f"HL01 id {hid!r} should be {self.count} (HL ids run 1, 2, 3 ... in order)",
                        hl, "HL01", hid)
            want = HL_PARENT.get(level, "?")
            if parent:
                if parent not in self.levels:
                    self._f("S3-HL-002", f"HL*{hid} names parent HL02={parent}, but no HL with id {parent} comes "
                            f"before it in the transaction", hl, "HL02", parent)
                elif want != "?" and self.levels[parent] != want:
                    self._f("S3-HL-003", f"HL*{hid} is level {level} ({HL_NAME.get(level)}) but its parent "
                            f"HL*{parent} is level {self.levels[parent]}; a level {level} HL belongs under a "
                            f"level {want} HL", hl, "HL03", level)
            elif want not in (None, "?"):
                self._f("S3-HL-003", f"HL*{hid} is level {level} ({HL_NAME.get(level)}) but has no parent "
                        f"(HL02 blank); it belongs under a level {want} HL", hl, "HL02", parent)
            if hid not in self.levels:
                self.levels[hid] = level
            self.prev = hl
            return ()
        if isinstance(ev, TransactionEnd):
            self._judge_prev(None)
            out, self.held = self.held, []
            self.levels = {}
            self.prev = None
            return out
        return ()

    def finish(self) -> Iterable[Finding]:
        out, self.held = self.held, []
        return out

