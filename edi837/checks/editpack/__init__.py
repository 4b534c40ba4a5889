"""The edit pack: SNIP type 7 payer and coding edits for psychiatric
neuromodulation billing (TMS 90867-90869, ECT 90870 and its anesthesia).

The rule ids, severities and sources follow ../shared/rules/CATALOG.md; see
docs/editpack.md.  Modules register their rules on import.
"""

from . import anesthesia, dx, ect, modifiers, payer, tms  # noqa: F401
