"""Small helpers the tests use to pick events of one kind out of a stream."""

from __future__ import annotations

from typing import Any, Iterable

from edi837.events import ClaimRead, ClaimVerdict, Found, OtherSegment


def found(events: Iterable[Any]) -> list[Any]:
    """The findings (:class:`Found`) of a stream, in order."""
    return [e.finding for e in events if isinstance(e, Found)]


def verdicts(events: Iterable[Any]) -> list[Any]:
    """The claim results (:class:`ClaimVerdict`) of an engine stream."""
    return [e.result for e in events if isinstance(e, ClaimVerdict)]


def claims(events: Iterable[Any]) -> list[Any]:
    """The claims (:class:`ClaimRead`) of a model stream."""
    return [e.claim for e in events if isinstance(e, ClaimRead)]


def others(events: Iterable[Any]) -> list[Any]:
    """The segments outside any 837 transaction (:class:`OtherSegment`)."""
    return [e.seg for e in events if isinstance(e, OtherSegment)]
