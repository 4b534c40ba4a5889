"""External code sets for WEDI SNIP type 5 checks on 837P/837I claims.

Pure and dependency-light: the only imports outside the standard library are
``simple_icd_10_cm`` (compiled once into a cached table, on the first ICD-10-CM lookup)
and ``pycountry`` (ISO 3166-1 country codes, on the first country lookup).  Tables
live as CSV data files in ``edi837/codesets/data/``; each file carries a
header comment with its source, and ``data/sources.toml`` is the provenance
sidecar (also exposed as :data:`SOURCES` / :func:`describe_sources`).

Every function returns plain values and never prints.  Lookups do not
normalise case or whitespace unless documented: X12 values are taken as sent.
"""

from __future__ import annotations

import csv
import re
import tomllib
import warnings
from datetime import date
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Literal, cast

from ..cache import cache_dir, cached, content_key, dist_version

__all__ = [
    "ICD10_DX_QUALIFIERS", "ICD9_DX_QUALIFIERS", "ICD10_PROC_QUALIFIERS",
    "ICD9_PROC_QUALIFIERS", "ICD10_QUALIFIERS", "ICD9_QUALIFIERS",
    "HCPCS_PROC_QUALIFIERS", "ICD10_EFFECTIVE", "SOURCES",
    "npi_is_valid", "npi_problem", "npi_check_digit",
    "icd10cm_status", "icd10pcs_format_ok", "icd9_dx_format_ok", "icd9_proc_format_ok",
    "pos_name", "pos_is_valid", "pos_status",
    "revenue_code_status", "revenue_code_name",
    "condition_code_known", "condition_code_name",
    "occurrence_code_known", "occurrence_code_name",
    "taxonomy_format_ok", "taxonomy_is_physician", "taxonomy_kind",
    "hcpcs_format_ok", "is_anesthesia_code",
    "state_is_valid", "zip_format_ok", "zip_problem", "country_is_valid", "country_alpha2_for",
    "claim_frequency_name", "claim_frequency_is_valid", "PROFESSIONAL_FREQUENCY_CODES",
    "facility_type_name", "describe_sources",
]

# ---------------------------------------------------------------------------
# data loading


def _data_text(name: str) -> str:
    # (beside this module: importlib.resources costs its own imports on every start-up)
    return (Path(__file__).parent / "data" / name).read_text(encoding="utf-8")


def _load_csv(name: str) -> list[dict[str, str]]:
    lines = [ln for ln in _data_text(name).splitlines() if ln.strip() and not ln.startswith("#")]
    return list(csv.DictReader(lines))


@lru_cache(maxsize=None)
def _table(name: str, key: str = "code") -> dict[str, dict[str, str]]:
    return {row[key]: row for row in _load_csv(name)}


SOURCES: dict[str, dict[str, object]] = tomllib.loads(_data_text("sources.toml"))
"""Provenance per table: source, url, version, compiled date, completeness."""


def describe_sources() -> str:
    """Return a plain-text (Markdown list) description of every table's source and date."""
    out = []
    for name, info in SOURCES.items():
        line = f"- **{name}**: {info['source']} ({info.get('version', '')}); {info.get('url', '')}; compiled {info.get('compiled', '')}"
        if not info.get("complete", True):
            line += " - partial table"
        if info.get("note"):
            line += f". {info['note']}"
        out.append(line)
    return "\n".join(out)


# ---------------------------------------------------------------------------
# NPI


def npi_check_digit(first9: str) -> int:
    """Luhn check digit for the first 9 NPI digits, computed over ``"80840" + first9``."""
    total = 0
    for i, ch in enumerate(reversed("80840" + first9)):
        d = int(ch)
        if i % 2 == 0:  # rightmost payload digit is doubled (check digit not yet appended)
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


@lru_cache(maxsize=8192)
def npi_problem(npi: str) -> str | None:
    """Human-readable reason ``npi`` is not a valid NPI, or ``None`` if it is valid.
    (Memoised: the same few NPIs recur on every claim of a file.)"""
    if not isinstance(npi, str) or len(npi) != 10 or not npi.isascii() or not npi.isdigit():
        return "NPI must be 10 digits"
    if npi[0] not in "12":
        return f"NPI must start with 1 or 2, not {npi[0]}"
    want = npi_check_digit(npi[:9])
    if want != int(npi[9]):
        return f"NPI check digit should be {want}, not {npi[9]}"
    return None


def npi_is_valid(npi: str) -> bool:
    """True if ``npi`` is 10 digits starting 1/2 with a correct Luhn check digit (80840 prefix)."""
    return npi_problem(npi) is None


# ---------------------------------------------------------------------------
# ICD

ICD10_DX_QUALIFIERS: frozenset[str] = frozenset({"ABK", "ABF", "ABJ", "APR", "ABN"})
ICD9_DX_QUALIFIERS: frozenset[str] = frozenset({"BK", "BF", "BJ", "PR", "BN"})
ICD10_PROC_QUALIFIERS: frozenset[str] = frozenset({"BBR", "BBQ"})
ICD9_PROC_QUALIFIERS: frozenset[str] = frozenset({"BR", "BQ"})
ICD10_QUALIFIERS: frozenset[str] = ICD10_DX_QUALIFIERS | ICD10_PROC_QUALIFIERS
ICD9_QUALIFIERS: frozenset[str] = ICD9_DX_QUALIFIERS | ICD9_PROC_QUALIFIERS
HCPCS_PROC_QUALIFIERS: frozenset[str] = frozenset({"BP", "BO"})
"""X222A1 anesthesia-related procedure HI qualifiers (BP principal, BO other; HCPCS/CPT codes)."""
ICD10_EFFECTIVE: date = date(2015, 10, 1)
"""Dates of service/discharge on or after this use ICD-10 qualifiers; before, ICD-9."""

IcdStatus = Literal["billable", "header", "unknown"]
PosStatus = Literal["assigned", "unassigned", "unknown"]


def _icd() -> ModuleType:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # simple_icd_10_cm uses deprecated importlib.resources APIs
        import simple_icd_10_cm
    return cast(ModuleType, simple_icd_10_cm)  # (untyped: mypy sees Any)


# The ICD-10-CM table, compiled once from simple_icd_10_cm (the source of truth)
# into {code as the library names it: status} and pickled to the user cache
# directory (edi837.cache: read only when no other user could have written it),
# keyed by the library's version and a hash of its data files, so a run does
# not parse the library's XML (about 2 s) after the first one.  Cache problems
# are ignored: the table is then compiled from the library in-process.
# What is pickled is the table packed by category (:func:`_pack_icd`): one string per
# category of three characters, unpacked on the first look-up in it, so a run reads
# two thousand strings, not a hundred thousand codes, and builds only the categories its
# claims use (a file names a few dozen).
_ICD_SCHEMA = 2
_ICD_TABLE: dict[str, str] | None = None  # category -> its packed entries (_pack_icd)
_ICD_CATS: dict[str, dict[str, IcdStatus]] = {}  # category -> its entries, unpacked
_ICD_CODE: dict[str, IcdStatus] = {"b": "billable", "h": "header", "u": "unknown"}


def _icd_cache_file() -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec("simple_icd_10_cm")  # locates it without importing (import loads the XML)
    if spec is None or not spec.submodule_search_locations:
        return None
    pkg = Path(next(iter(spec.submodule_search_locations)))
    data = pkg / "data"
    # keyed by the content of the library's data files (edi837.cache.content_key: hashed
    # again only when a file's size or dates change), not their dates
    files = sorted(p for p in data.iterdir() if p.is_file() and not p.name.endswith((".py", ".pyc")))
    key = content_key(f"{_ICD_SCHEMA}|{dist_version('simple_icd_10_cm', pkg)}", files)[:16]
    return cache_dir() / f"icd10cm-s{_ICD_SCHEMA}-{key}.pickle"


def _compile_icd_table() -> dict[str, IcdStatus]:
    """Every item of the library (chapters, blocks, categories, codes) with its status."""
    icd = _icd()
    out: dict[str, IcdStatus] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for code in icd.get_all_codes(True):
            if code in out:
                continue
            if icd.is_chapter_or_block(code):
                out[code] = "unknown"
            else:
                out[code] = "billable" if icd.is_leaf(code) else "header"
    return out


def _pack_icd(table: dict[str, IcdStatus]) -> dict[str, str]:
    """``table`` by its keys' first three characters (a code's category): for each, its
    entries as lines of the key, a space and its status's first letter (read back with
    rpartition; the keys are the library's codes, blocks and chapters: no newline)."""
    out: dict[str, list[str]] = {}
    for k, st in table.items():
        out.setdefault(k[:3], []).append(f"{k} {st[0]}")
    return {cat: "\n".join(lines) for cat, lines in out.items()}


def _icd_table() -> dict[str, str]:
    global _ICD_TABLE
    if _ICD_TABLE is None:
        try:
            cfile = _icd_cache_file()
        except Exception:  # noqa: BLE001 - no cache: compile in memory
            cfile = None
        _ICD_CATS.clear()
        _ICD_TABLE = cached(cfile, lambda: _pack_icd(_compile_icd_table()),
                            lambda t: isinstance(t, dict) and bool(t))
    return _ICD_TABLE


def _icd_category(cat: str) -> dict[str, IcdStatus]:
    """The entries of the table whose key starts with ``cat`` (unpacked on first use)."""
    table = _icd_table()
    got = _ICD_CATS.get(cat)
    if got is None:
        packed = table.get(cat)
        got = _ICD_CATS[cat] = {} if packed is None else \
            {k: _ICD_CODE[st] for k, _, st in (e.rpartition(" ") for e in packed.split("\n"))}
    return got


_ICD_RE = re.compile(r"[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?")


@lru_cache(maxsize=65536)
def icd10cm_status(code: str) -> IcdStatus:
    """Classify an ICD-10-CM diagnosis code as sent in X12 (no dot, e.g. ``F332``).

    ``"billable"``: a leaf code of the tabular list (valid on a claim);
    ``"header"``: a category/subcategory that has children (needs more characters);
    ``"unknown"``: not an ICD-10-CM code (chapters and blocks such as ``F30-F39`` count as unknown).
    A dotted code (``F33.2``) is accepted too; case is not folded.
    Data: ICD-10-CM April 2026 release as bundled in simple-icd-10-cm 1.5 (compiled
    once into a cached table; see :func:`_icd_table`).
    """
    if not isinstance(code, str) or not _ICD_RE.fullmatch(code):
        return "unknown"
    # every key looked up below starts with the code's first three characters
    table = _icd_category(code[:3])
    # the library's lookup: is_valid_item() and the node _add_dot_to_code() picks
    if len(code) >= 4 and code[3] != ".":
        st = table.get(code[:3] + "." + code[3:])
        if st is not None:
            return st
    return table.get(code, "unknown")


_PCS_RE = re.compile(r"[0-9A-HJ-NP-Z]{7}")
_ICD9_DX_RE = re.compile(r"(?:[0-9]{3}[0-9]{0,2}|V[0-9]{2}[0-9]{0,2}|E[0-9]{3}[0-9]?)")
_ICD9_PROC_RE = re.compile(r"[0-9]{2}[0-9]{0,2}")


def icd10pcs_format_ok(code: str) -> bool:
    """True if ``code`` is 7 characters of the ICD-10-PCS alphabet (digits and letters except I and O)."""
    return isinstance(code, str) and bool(_PCS_RE.fullmatch(code))


def icd9_dx_format_ok(code: str) -> bool:
    """Format-only check of an ICD-9-CM diagnosis code without dot: ``ddd[d[d]]``, ``Vdd[d[d]]`` or ``Eddd[d]``."""
    return isinstance(code, str) and bool(_ICD9_DX_RE.fullmatch(code))


def icd9_proc_format_ok(code: str) -> bool:
    """Format-only check of an ICD-9-CM (volume 3) procedure code without dot: 2 to 4 digits."""
    return isinstance(code, str) and bool(_ICD9_PROC_RE.fullmatch(code))


# ---------------------------------------------------------------------------
# Place of service


def pos_status(code: str) -> PosStatus:
    """CMS POS status of a 2-digit code: ``assigned``, ``unassigned`` (in 01-99 but unused) or ``unknown``."""
    row = _table("pos.csv").get(code)
    return cast(PosStatus, row["status"]) if row else "unknown"  # pos.csv holds only these


def pos_name(code: str) -> str | None:
    """Name of an assigned CMS place-of-service code (e.g. ``"11"`` -> ``"Office"``), else ``None``."""
    row = _table("pos.csv").get(code)
    return row["name"] if row and row["status"] == "assigned" else None


def pos_is_valid(code: str) -> bool:
    """True if ``code`` is an assigned CMS place-of-service code."""
    ok = _POS_ASSIGNED
    if ok is None:
        ok = _pos_assigned()
    return code in ok  # (on every claim and service line: a set, not pos_name's row look-up)


_POS_ASSIGNED: frozenset[str] | None = None


def _pos_assigned() -> frozenset[str]:
    """The codes :func:`pos_name` names (so ``pos_name(code) is not None`` for exactly these)."""
    global _POS_ASSIGNED
    _POS_ASSIGNED = frozenset(c for c in _table("pos.csv") if pos_name(c) is not None)
    return _POS_ASSIGNED


# ---------------------------------------------------------------------------
# NUBC revenue, condition, occurrence, frequency, facility type


def revenue_code_status(code: str) -> Literal["valid", "format", "unknown"]:
    """``"format"`` unless 4 digits; ``"valid"`` if in the (partial) NUBC table; else ``"unknown"``.

    The table is not the whole NUBC list, so ``"unknown"`` should be a warning, not an error.
    """
    if not isinstance(code, str) or len(code) != 4 or not code.isascii() or not code.isdigit():
        return "format"
    known = _REVENUE_CODES
    if known is None:
        known = _revenue_codes()
    return "valid" if code in known else "unknown"


_REVENUE_CODES: frozenset[str] | None = None  # (two rules ask on every 837I service line)


def _revenue_codes() -> frozenset[str]:
    global _REVENUE_CODES
    _REVENUE_CODES = frozenset(_table("revenue_codes.csv"))
    return _REVENUE_CODES


def revenue_code_name(code: str) -> str | None:
    """NUBC name of a revenue code in the table, else ``None``."""
    row = _table("revenue_codes.csv").get(code)
    return row["name"] if row else None


def condition_code_known(code: str) -> bool:
    """True if ``code`` is in the (partial) NUBC condition code table (e.g. ``"41"`` partial hospitalization)."""
    return code in _table("condition_codes.csv")


def condition_code_name(code: str) -> str | None:
    """Name of a known NUBC condition code, else ``None``."""
    row = _table("condition_codes.csv").get(code)
    return row["name"] if row else None


def occurrence_code_known(code: str) -> bool:
    """True if ``code`` is in the (partial) NUBC occurrence code table (e.g. ``"11"``, ``"32"`` ABN date)."""
    return code in _table("occurrence_codes.csv")


def occurrence_code_name(code: str) -> str | None:
    """Name of a known NUBC occurrence code, else ``None``."""
    row = _table("occurrence_codes.csv").get(code)
    return row["name"] if row else None


PROFESSIONAL_FREQUENCY_CODES: frozenset[str] = frozenset({"1", "7", "8"})
"""CLM05-3 values commonly accepted on 837P: original, replacement, void."""


def claim_frequency_name(code: str) -> str | None:
    """Name of a claim frequency type code (NUBC type-of-bill 4th digit; CLM05-3), else ``None``."""
    row = _table("claim_frequency.csv").get(code)
    return row["name"] if row else None


def claim_frequency_is_valid(code: str, professional: bool = False) -> bool:
    """True if ``code`` is a known frequency code; with ``professional=True`` only 1, 7, 8."""
    if professional:
        return code in PROFESSIONAL_FREQUENCY_CODES
    return code in _table("claim_frequency.csv")


def facility_type_name(code: str) -> str | None:
    """Name of a facility type code (first two type-of-bill digits, 837I CLM05-1), else ``None``."""
    row = _table("facility_types.csv").get(code)
    return row["name"] if row else None


# ---------------------------------------------------------------------------
# Taxonomy

_TAXONOMY_RE = re.compile(r"[0-9]{3}[0-9A-Z]{6}X")


@lru_cache(maxsize=8192)
def taxonomy_format_ok(code: str) -> bool:
    """True if ``code`` has the NUCC taxonomy shape: 3 digits, 6 uppercase alphanumerics, then ``X``.
    (Memoised, as npi_problem: the same few taxonomies recur on every claim of a file.)"""
    return isinstance(code, str) and bool(_TAXONOMY_RE.fullmatch(code))


def taxonomy_is_physician(code: str) -> bool:
    """True for well-formed allopathic/osteopathic physician taxonomies (NUCC group ``20``)."""
    return taxonomy_format_ok(code) and code.startswith("20")


def taxonomy_kind(code: str) -> str:
    """Coarse provider kind from the taxonomy prefix table (longest prefix wins).

    Returns e.g. ``"physician"``, ``"nurse_practitioner"``, ``"physician_assistant"``,
    ``"clinical_nurse_specialist"``, ``"psychologist"``, ``"social_worker"``,
    ``"counselor"``, ``"anesthesia"``; ``"other"`` for an unclassified well-formed
    code and ``"invalid"`` for a malformed one.
    """
    if not taxonomy_format_ok(code):
        return "invalid"
    table = _table("taxonomy_kinds.csv", "prefix")
    for n in range(len(code), 1, -1):
        row = table.get(code[:n])
        if row:
            return row["kind"]
    return "other"


# ---------------------------------------------------------------------------
# Procedure codes

_HCPCS_RE = re.compile(r"[0-9]{5}|[0-9]{4}[FTU]|[A-EG-HJ-MP-V][0-9]{4}")


@lru_cache(maxsize=8192)
def hcpcs_format_ok(code: str) -> bool:
    """Format-only check: CPT (5 digits), CPT Cat II/III/PLA (4 digits + F/T/U) or HCPCS Level II (letter + 4 digits).
    (Memoised: asked for every service line, of a few codes.)"""
    return isinstance(code, str) and bool(_HCPCS_RE.fullmatch(code))


def is_anesthesia_code(code: str) -> bool:
    """True for CPT anesthesia codes 00100-01999."""
    return isinstance(code, str) and len(code) == 5 and code.isascii() and code.isdigit() and 100 <= int(code) <= 1999


# ---------------------------------------------------------------------------
# Geography


def state_is_valid(code: str) -> bool:
    """True for a USPS 2-letter state/DC/territory/freely-associated/military (AA, AE, AP) code."""
    return code in _table("states.csv")


def zip_problem(code: str, require_9: bool = False, country: str = "US") -> str | None:
    """Reason a US ZIP code is malformed, or ``None``. 5 or 9 digits; ``require_9`` for 2010AA N403.

    Non-US countries are not checked (returns ``None``).
    """
    if country != "US":
        return None
    if not isinstance(code, str) or not code.isascii() or not code.isdigit() or len(code) not in (5, 9):
        return "ZIP code must be 5 or 9 digits" if not require_9 else "ZIP code must be 9 digits (ZIP+4)"
    if require_9 and len(code) != 9:
        return "ZIP code must be 9 digits (ZIP+4)"
    return None


def zip_format_ok(code: str, country: str = "US") -> bool:
    """True if ``code`` is 5 or 9 digits (US); non-US postal codes are not checked."""
    return zip_problem(code, country=country) is None


@lru_cache(maxsize=1)
def _countries() -> tuple[frozenset[str], dict[str, str]]:
    """(ISO 3166-1 alpha-2 codes, alpha-3 and numeric codes to alpha-2) from pycountry."""
    import pycountry  # the maintained ISO 3166-1 list (Debian iso-codes)

    alpha2 = frozenset(c.alpha_2 for c in pycountry.countries)
    other = {}
    for c in pycountry.countries:
        other[c.alpha_3] = c.alpha_2
        other[c.numeric] = c.alpha_2
    return alpha2, other


def country_is_valid(code: str) -> bool:
    """True for an assigned ISO 3166-1 alpha-2 country code, as sent (upper case: ``GB``, not ``gb``)."""
    return code in _countries()[0]


def country_alpha2_for(code: str) -> str | None:
    """The alpha-2 code an ISO 3166-1 alpha-3 or numeric code (or a lower-case alpha-2) stands for:
    ``USA`` -> ``US``, ``826`` -> ``GB``; ``None`` when it is none of them."""
    alpha2, other = _countries()
    up = code.upper()
    if up in alpha2:
        return up
    return other.get(up)
