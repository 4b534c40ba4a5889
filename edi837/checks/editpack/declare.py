"""Declaring an edit-pack rule (:func:`erule`) and wording its messages (:func:`say`)."""

from __future__ import annotations

from typing import Any, Callable, Iterable, TypeVar

from ..registry import rule

F = TypeVar("F", bound=Callable[..., Any])

SHORT: dict[str, str] = {}  # rule id -> short source, quoted in messages


def erule(id: str, severity: str, title: str, *, citation: str, short: str, reads: Iterable[str],
          scope: str = "claim", applies_to: Iterable[str] = ("837P", "837I"),
          cross_claim: bool = False, group: str = "",
          codes: Iterable[str] | None = None) -> Callable[[F], F]:
    """Register an edit-pack rule (SNIP type 7).

    ``codes`` (line rules): the procedure codes the rule is about; the engine
    calls the rule only for lines with one of them."""
    SHORT[id] = short
    return rule(id, severity, 7, title, reads=tuple(reads), citation=citation, scope=scope,
                applies_to=tuple(applies_to), cross_claim=cross_claim, group=group or "editpack",
                codes=codes)


def say(rid: str, text: str) -> str:
    """A plain-words message that names the rule and its source."""
    return f"{text} [{rid}; source: {SHORT.get(rid, '')}]"
