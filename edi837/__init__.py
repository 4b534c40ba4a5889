"""edi837: read, validate and gate X12 837P/837I health-care claim files.

>>> import edi837
>>> for tx in edi837.read("fixtures/837p_tms_course.x12"):
...     for claim in tx.claims:
...         print(claim.claim_id, [ln.procedure_code for ln in claim.lines])
"""

from .api import iter_claims, lines, read
from .findings import Finding, Severity
from .model import Claim, FunctionalGroup, Interchange, Loop, Segment, ServiceLine, Transaction

__version__ = "0.1.0"

__all__ = ["read", "lines", "iter_claims", "Finding", "Severity", "Claim", "ServiceLine",
           "Transaction", "FunctionalGroup", "Interchange", "Loop", "Segment", "__version__"]
