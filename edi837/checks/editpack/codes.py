"""The code tables the rules test against (from data/tables.toml)."""

from __future__ import annotations

from .profiles import tables

T = tables  # T()["facility"], T()["pos"], ...: every table with its source and date
CODES = tables()["codes"]
TMS = frozenset(CODES["tms"])
NEURO = frozenset(CODES["neuromodulation"])
ECT = CODES["ect"]
ECT_REV = CODES["ect_revenue"]
PHP_REV = frozenset(tables()["facility"]["php_revenue_codes"])
