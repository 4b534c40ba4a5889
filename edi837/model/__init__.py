"""The model: interchange, group, transaction, loops, segments; claims and service lines."""

from ..grammar.loop import Loop
from ..reader.segment import Delimiters, Segment
from .build import iter_claims, stream
from .claims import Claim, CodeEntry, Diagnosis, Person, Provider, ServiceLine, build_claim
from .envelope import FunctionalGroup, Interchange, Transaction

__all__ = ["Loop", "Segment", "Delimiters", "Interchange", "FunctionalGroup", "Transaction",
           "Claim", "ServiceLine", "Provider", "Person", "Diagnosis", "CodeEntry", "stream",
           "iter_claims", "build_claim"]
