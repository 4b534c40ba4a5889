"""WEDI SNIP types 1-5 as a rule pack: rules over one file at a time, no run state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .registry import Rule, pack

if TYPE_CHECKING:
    from .options import RunOptions


class SnipPack:
    name = "snip"

    def owns(self, rule: Rule) -> bool:
        return rule.snip != 7

    def check_options(self, options: RunOptions) -> None:
        return None

    def start_run(self, options: RunOptions) -> None:
        return None


pack(SnipPack())
