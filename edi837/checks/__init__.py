"""The checks: WEDI SNIP types 1-5 and the edit pack (type 7), over the model.

Every rule is declared in :mod:`.registry`; :mod:`.engine` runs them.
"""

from .engine import ClaimResult, Engine, FileResult, parse_snip
from .options import RunOptions
from .registry import RULES, Hit, Rule, all_rules, checker, declare, rule

__all__ = ["Engine", "RunOptions", "ClaimResult", "FileResult", "parse_snip", "RULES", "Rule", "Hit", "rule",
           "declare", "checker", "all_rules"]
