"""Loop events into the model: interchanges, groups, transactions, claims.

:func:`stream` is the one pass every face uses.  It yields ``(kind, obj)``:

- ``("interchange", Interchange)`` at its ISA, ``("interchange_end", ...)`` at IEA
- ``("group", FunctionalGroup)`` / ``("group_end", ...)``
- ``("transaction", Transaction)`` at ST (header loops read), ``("transaction_end", ...)`` at SE
- ``("hl", Loop)`` for each 2000A/B/C loop
- ``("claim", Claim)`` as each claim completes
- ``("segment", Segment)`` for a segment outside any 837 transaction
- ``("finding", Finding)`` for what the reader and the grammar found

With ``keep=True`` the loop tree is kept whole (``Transaction.loops`` and
``Transaction.claims``); otherwise claims are handed on and dropped, so
memory does not grow with the file.
"""

from __future__ import annotations

from typing import Iterator

from ..grammar.loop import Loop
from ..grammar.stream import events
from .claims import Claim, Enclosing, build_claim
from .envelope import FunctionalGroup, Interchange, Transaction

Source = "str | os.PathLike[str] | bytes | BinaryIO"


def stream(source, file: str | None = None, keep: bool = False) -> Iterator[tuple[str, object]]:
    ev = events(source, file)
    fname = ev.file
    ic: Interchange | None = None
    grp: FunctionalGroup | None = None
    tx: Transaction | None = None
    billing: Loop | None = None
    subscriber: Loop | None = None
    patient: Loop | None = None
    claim_seq = 0
    enclosing = Enclosing()
    for e in ev:
        k = e[0]
        if k == "claim":
            lp: Loop = e[1]
            claim_seq += 1
            parent = patient or subscriber
            lp.parent = parent
            if tx is not None:
                tx.claim_count += 1
                tx.segment_count += e[2]
            c = build_claim(lp, tx.kind if tx else None, claim_seq, fname, tx, billing, subscriber, patient,
                            enclosing)
            if keep:
                if parent is not None:
                    parent.children.append(lp)
                if tx is not None:
                    tx.claims.append(c)
            yield ("claim", c)
        elif k == "hl":
            lp = e[1]
            level = e[2]
            if tx is not None:
                tx.segment_count += e[3]
            if level == "20":
                billing, subscriber, patient = lp, None, None
                if keep and tx is not None:
                    tx.loops.append(lp)
            elif level == "22":
                lp.parent = billing
                subscriber, patient = lp, None
                if keep and billing is not None:
                    billing.children.append(lp)
            elif level == "23":
                lp.parent = subscriber
                patient = lp
                if keep and subscriber is not None:
                    subscriber.children.append(lp)
            elif keep and tx is not None:
                lp.parent = patient or subscriber or billing
                (lp.parent.children if lp.parent is not None else tx.loops).append(lp)
            yield ("hl", lp)
        elif k == "st":
            tx = Transaction(header=e[1], kind=e[2], group=grp, file=fname)
            tx.segment_count = e[3]
            billing = subscriber = patient = None
            if grp is not None:
                grp.transaction_count += 1
                if keep:
                    grp.transactions.append(tx)
            yield ("transaction", tx)
        elif k == "se":
            if tx is not None:
                tx.se = e[1]
                if e[1] is not None:
                    tx.segment_count += 1
                yield ("transaction_end", tx)
            tx = None
            billing = subscriber = patient = None
        elif k == "finding":
            yield e  # type: ignore[misc]
        elif k == "isa":
            ic = Interchange(isa=e[1], file=fname)
            grp = None
            yield ("interchange", ic)
        elif k == "gs":
            grp = FunctionalGroup(gs=e[1], interchange=ic)
            if ic is not None:
                ic.group_count += 1
                if keep:
                    ic.groups.append(grp)
            yield ("group", grp)
        elif k == "ge":
            if grp is not None:
                grp.ge = e[1]
                yield ("group_end", grp)
            else:
                yield ("segment", e[1])
            grp = None
        elif k == "iea":
            if ic is not None:
                ic.iea = e[1]
                yield ("interchange_end", ic)
            else:
                yield ("segment", e[1])
            ic = None
            grp = None
        else:  # "seg"
            if e[1].fields[0] == "ST" and grp is not None:
                grp.transaction_count += 1  # a skipped (non-837) transaction counts in GE01 too
            yield ("segment", e[1])


def iter_claims(source, file: str | None = None) -> Iterator[Claim]:
    """Yield the claims of a file one by one as they complete (memory stays flat)."""
    for k, obj in stream(source, file):
        if k == "claim":
            yield obj  # type: ignore[misc]
