"""The edit pack: SNIP type 7 payer and coding edits for psychiatric
neuromodulation billing (TMS 90867-90869, ECT 90870 and its anesthesia).

The rule ids, severities and sources follow ../shared/rules/CATALOG.md; see
docs/editpack.md.  Modules register their rules on import.
"""

from typing import Any

from ..registry import pack
from . import anesthesia, dup, dx, ect, modifiers, payer, tms  # noqa: F401
from .run_state import RunState
from .options import check_options


class EditPack:
    """The edit pack as a rule pack (:mod:`edi837.checks.packs`): its rules are
    SNIP type 7; its run state holds the run's claims per patient and the
    history store."""

    name = "editpack"

    def owns(self, rule: Any) -> bool:
        return bool(rule.snip == 7)

    def check_options(self, options: Any) -> None:
        check_options(options)

    def start_run(self, options: Any) -> RunState:
        return RunState(options)


pack(EditPack())
