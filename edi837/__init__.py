"""edi837: read, validate and gate X12 837P/837I health-care claim files.

>>> import edi837
>>> report = edi837.validate("fixtures/837p_tms_course.x12")   # a path, folder, bytes or a list
>>> report.ok, report.counts["claims"], [c.verdict for c in report.claims][:1]
(True, 4, ['accepted'])
>>> json_text = report.to_json()    # the JSON of `edi837 validate --format json`
>>> for tx in edi837.read("fixtures/837p_tms_course.x12"):
...     for claim in tx.claims:
...         print(claim.claim_id, [ln.procedure_code for ln in claim.lines])
"""

from typing import TYPE_CHECKING, Any

from .api import iter_claims, lines, read
from .findings import Finding, Severity
from .model import Claim, FunctionalGroup, Interchange, Loop, Segment, ServiceLine, Transaction

if TYPE_CHECKING:
    from .validation import Report, validate

__version__ = "0.1.0"

__all__ = ["validate", "Report", "read", "lines", "iter_claims", "Finding", "Severity", "Claim", "ServiceLine",
           "Transaction", "FunctionalGroup", "Interchange", "Loop", "Segment", "__version__"]


def __getattr__(name: str) -> Any:
    """``validate`` and ``Report`` are imported on first use (the checks are
    not loaded by ``import edi837`` alone)."""
    if name in ("validate", "Report"):
        from . import validation

        return getattr(validation, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
