"""Rule packs: groups of rules with run-wide state the engine does not know.

The engine runs every registered rule that the options select; a pack adds
what some of its rules need beyond one claim -- state over the whole run
(the edit pack's earlier claims of a patient, its history store), checks of
the options it reads, and what happens when a verdict is final.  The engine
imports no pack: packs register themselves with
:func:`edi837.checks.registry.pack` when their module is imported.

A pack's state for one run is made by :meth:`RulePack.start_run`; rules reach
it with ``ctx.pack_state(NAME)`` (see :class:`edi837.checks.engine.Context`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Protocol

if TYPE_CHECKING:
    from ..model.claims import Claim
    from .options import RunOptions
    from .registry import Rule
    from .verdicts import ClaimResult


class PackRun(Protocol):
    """A pack's state over one run."""

    def on_claim(self, claim: Claim) -> None:
        """The claim's rules have run (its findings are out); the claim now
        counts as an earlier claim for the claims after it."""

    def on_verdict(self, result: ClaimResult) -> None:
        """The claim's verdict is final."""

    # Optional (the engine looks it up with getattr, see :class:`ClaimNoter`):
    # ``claim_note(claim) -> Mapping[str, str] | None``.


class ClaimNoter(Protocol):
    """A :class:`PackRun` that also notes something on each claim's result
    (e.g. the edit pack: the payer profile it applied and why).  The engine
    calls ``claim_note`` once per claim, after the claim's rules ran, for every
    pack with a rule selected in the run; the pairs go into
    ``ClaimResult.notes`` and so onto the claim in the reports.  Keys must not
    clash with ClaimResult's own fields; values are short plain strings."""

    def claim_note(self, claim: Claim) -> Mapping[str, str] | None:
        """What to note on ``claim``'s result (None: nothing)."""


class RulePack(Protocol):
    """A named set of rules (``owns``) with optional run state."""

    name: str

    def owns(self, rule: Rule) -> bool:
        """Whether ``rule`` belongs to this pack."""

    def check_options(self, options: RunOptions) -> None:
        """Raise ValueError with a plain message if an option this pack reads
        cannot be used (a missing profile or MUE file, a history path that is
        a folder)."""

    def start_run(self, options: RunOptions) -> PackRun | None:
        """The pack's state for a run that runs some of its rules (None: the
        pack keeps no state)."""
