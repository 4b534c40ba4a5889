"""The code tables the rules test against (from data/tables.toml)."""

from __future__ import annotations

from typing import Any

from .profiles import tables

T = tables  # T()["facility"], T()["pos"], ...: every table with its source and date
CODES: dict[str, Any] = tables()["codes"]
TMS = frozenset(CODES["tms"])
NEURO = frozenset(CODES["neuromodulation"])
ECT: str = CODES["ect"]
ECT_REV: str = CODES["ect_revenue"]
PHP_REV = frozenset(tables()["facility"]["php_revenue_codes"])


def _em_codes() -> frozenset[str]:
    out: set[str] = set()
    for fam in tables()["em"]["families"]:
        a, b = fam["from"], fam["to"]
        out.update(f"{n:05d}" for n in range(int(a), int(b) + 1))
    return frozenset(out)


EM = _em_codes()  # every E/M family of tables.toml [em]
NOT_TIMED_ANESTHESIA = frozenset(tables()["anesthesia"]["not_time_based"])
