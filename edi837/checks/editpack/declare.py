"""Declaring an edit-pack rule (:func:`erule`) and wording its messages (:func:`say`)."""

from __future__ import annotations

import re
from typing import Any, Callable, Iterable, TypeVar

from ..registry import Hit, rule

F = TypeVar("F", bound=Callable[..., Any])

SHORT: dict[str, str] = {}  # rule id -> short source, quoted in messages

# The three articles the specification calls S0, S1 and S2: a biller reads their titles
ARTICLES = {
    "S0": '"How To Use CPT Code 90868"',
    "S1": '"CPT 90868 billing guide" (Pabau, 2026)',
    "S2": '"CPT 90870, 01967 - Electroconvulsive Therapy - Add-On Codes of Anesthesia"',
}
_ARTICLE = re.compile(r"\b(S[012])\b(?!-)")
_UNVERIFIED = re.compile(r"\bunverified\b")


def public(text: str) -> str:
    """``text`` as a biller reads it: the articles by title, and "not confirmed by a
    public source" for facts the specification marks unverified."""
    # (on every edit-pack message: the pattern only matches where S0, S1 or S2 occurs in the text)
    if "S0" in text or "S1" in text or "S2" in text:
        text = _ARTICLE.sub(lambda m: ARTICLES[m.group(1)], text)
    if "unverified" in text:
        text = _UNVERIFIED.sub("not confirmed by a public source", text)
    return text


def erule(id: str, severity: str, title: str, *, citation: str, short: str, reads: Iterable[str],
          scope: str = "claim", applies_to: Iterable[str] = ("837P", "837I"),
          cross_claim: bool = False, group: str = "",
          codes: Iterable[str] | None = None, modifiers: Iterable[str] | None = None) -> Callable[[F], F]:
    """Register an edit-pack rule (SNIP type 7).

    ``codes``: the procedure codes the rule is about; the engine calls a line rule
    only for lines with one of them, a claim rule only for claims with such a line.
    ``modifiers`` (line rules): the rule fires only on a line with one of them."""
    SHORT[id] = public(short)
    return rule(id, severity, 7, title, reads=tuple(reads), citation=public(citation), scope=scope,
                applies_to=tuple(applies_to), cross_claim=cross_claim, group=group or "editpack",
                codes=codes, modifiers=modifiers)


def say(rid: str, text: str) -> str:
    """A plain-words message that names the rule and its source."""
    return f"{public(text)} [{rid}; source: {SHORT.get(rid, '')}]"


_ON_PURPOSE = {  # modifier -> who is liable when the line is denied
    "GA": "the patient is liable under the ABN on file",
    "GZ": "the provider is liable (no ABN)",
    "GY": "the service is not a benefit, the patient is liable",
}


def coverage(ln: Any, rid: str, text: str, **kw: Any) -> Hit:
    """The :class:`Hit` of a coverage edit (DX-001, DX-002, TMS-005, TMS-009, PA-001,
    PA-002) on line ``ln``: on a line with GA, GZ or GY, which is sent to be denied,
    a warning that says the line will be denied as intended."""
    mod = next((m for m in ln.modifiers if m in _ON_PURPOSE), None) if ln is not None else None
    if mod is not None:
        text = (f"{text}; the line carries {mod}, so the payer will deny it as intended "
                f"({_ON_PURPOSE[mod]}): no change needed if that is the intent")
        if kw.get("severity") in (None, "error"):
            kw["severity"] = "warning"
    return Hit(say(rid, text), **kw)
