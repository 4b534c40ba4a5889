"""Loader for CMS's quarterly MUE (Medically Unlikely Edits) files.

CMS publishes one CSV per service type with a few header/disclaimer lines
before the table, whose columns are::

    HCPCS/CPT Code, Practitioner Services MUE Values (or Outpatient Hospital
    Services MUE Values / DME Supplier Services MUE Values),
    MUE Adjudication Indicator, MUE Rationale

The adjudication indicator (MAI) reads like ``"2 Date of Service Edit: Policy"``:
1 = line edit, 2 = date-of-service edit (policy), 3 = date-of-service edit
(clinical).  Pass ``mue=PATH`` (or a list of paths) to the engine.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Iterable

import attrs


@attrs.define(frozen=True)
class MueEntry:
    code: str
    value: int
    mai: int  # 1 line edit, 2/3 date-of-service edits
    rationale: str
    table: str  # "practitioner" | "facility" | "dme"


def _kind(col: str) -> str:
    c = col.lower()
    if "practitioner" in c:
        return "practitioner"
    if "outpatient" in c or "facility" in c or "hospital" in c:
        return "facility"
    return "dme"


def read_mue(path: str | Path) -> dict[str, MueEntry]:
    text = Path(path).read_bytes().decode("utf-8-sig", errors="replace")
    rows = list(csv.reader(io.StringIO(text)))
    for i, row in enumerate(rows):
        low = [c.strip().lower() for c in row]
        if any(c.startswith("hcpcs") for c in low) and any("mue value" in c for c in low):
            header = [c.strip() for c in row]
            body = rows[i + 1:]
            break
    else:
        raise ValueError(f"{path}: no MUE table header (HCPCS/CPT Code, ... MUE Values) found")
    ci = next(j for j, c in enumerate(header) if c.lower().startswith("hcpcs"))
    vi = next(j for j, c in enumerate(header) if "mue value" in c.lower())
    ai = next((j for j, c in enumerate(header) if "adjudication" in c.lower()), None)
    ri = next((j for j, c in enumerate(header) if "rationale" in c.lower()), None)
    kind = _kind(header[vi])
    out: dict[str, MueEntry] = {}
    for row in body:
        if len(row) <= max(ci, vi) or not row[ci].strip():
            continue
        code = row[ci].strip().upper()
        try:
            value = int(float(row[vi].strip()))
        except ValueError:
            continue
        mai = 1
        if ai is not None and ai < len(row):
            m = row[ai].strip()[:1]
            mai = int(m) if m.isascii() and m.isdigit() else 1
        rat = row[ri].strip() if ri is not None and ri < len(row) else ""
        out[code] = MueEntry(code, value, mai, rat, kind)
    return out


def load_mue(paths: str | Path | Iterable[str | Path]) -> dict[str, dict[str, MueEntry]]:
    """``{"practitioner": {code: entry}, "facility": {...}}`` from one or more files."""
    if isinstance(paths, (str, Path)):
        paths = [p for p in str(paths).split(",") if p] if isinstance(paths, str) else [paths]
    tables: dict[str, dict[str, MueEntry]] = {}
    for p in paths:
        t = read_mue(p)
        for code, e in t.items():
            tables.setdefault(e.table, {})[code] = e
    return tables
