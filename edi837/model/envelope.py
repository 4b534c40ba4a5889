"""Interchange, functional group and transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from ..grammar.loop import Loop
from ..reader.segment import Segment

if TYPE_CHECKING:
    from .claims import Claim


@attrs.define(slots=True, eq=False)
class Interchange:
    isa: Segment | None
    iea: Segment | None = None
    groups: list["FunctionalGroup"] = attrs.field(factory=list)
    file: str | None = None
    group_count: int = 0  # groups seen (kept even when ``groups`` is not)

    @property
    def control_number(self) -> str:
        return self.isa[13].strip() if self.isa is not None else ""

    @property
    def sender_id(self) -> str:
        return self.isa[6].strip() if self.isa is not None else ""

    @property
    def receiver_id(self) -> str:
        return self.isa[8].strip() if self.isa is not None else ""


@attrs.define(slots=True, eq=False)
class FunctionalGroup:
    gs: Segment | None
    interchange: Interchange | None = None
    ge: Segment | None = None
    transactions: list["Transaction"] = attrs.field(factory=list)
    transaction_count: int = 0  # transaction sets seen, skipped non-837 ones included (GE01)

    @property
    def control_number(self) -> str:
        return self.gs[6] if self.gs is not None else ""

    @property
    def version(self) -> str:
        return self.gs[8] if self.gs is not None else ""


@attrs.define(slots=True, eq=False)
class Transaction:
    """One ST..SE 837 transaction.

    ``header`` is the loop holding ST, BHT and the 1000A/1000B loops;
    ``loops`` the 2000A billing-provider loops (when the transaction was read
    whole); ``claims`` its claims in file order.
    """

    header: Loop
    kind: str | None  # "837P" or "837I"
    group: FunctionalGroup | None = None
    se: Segment | None = None
    loops: list[Loop] = attrs.field(factory=list)
    claims: list[Claim] = attrs.field(factory=list)
    file: str | None = None
    segment_count: int = 0  # segments from ST to SE inclusive, as read
    claim_count: int = 0

    @property
    def st(self) -> Segment:
        return self.header.segments[0]

    @property
    def control_number(self) -> str:
        return self.st[2]

    @property
    def version(self) -> str:
        return self.st[3] or (self.group.version if self.group else "")

    @property
    def bht(self) -> Segment | None:
        return self.header.seg("BHT")

    @property
    def submitter(self) -> Loop | None:
        return self.header.child("1000A")

    @property
    def receiver(self) -> Loop | None:
        return self.header.child("1000B")

    def to_dict(self) -> dict[str, Any]:
        return {
            "transaction": self.control_number,
            "kind": self.kind,
            "version": self.version,
            "header": self.header.to_dict(),
            "loops": [lp.to_dict() for lp in self.loops],
            "trailer": ({"seq": self.se.seq, "line": self.se.line, "id": "SE",
                         "elements": self.se.fields[1:]} if self.se is not None else None),
        }
