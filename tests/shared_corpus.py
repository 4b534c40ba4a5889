"""Access to the public corpus in ../shared/corpus (absent in a user's fresh clone).

Tests that use it skip when it is absent; its files are never copied into the repo.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("EDI837_CORPUS", ROOT.parent / "shared" / "corpus"))
INDEX = CORPUS / "index.tsv"

needs_corpus = pytest.mark.skipif(not INDEX.exists(), reason="../shared/corpus is absent")


def rows() -> list[dict[str, str]]:
    if not INDEX.exists():
        return []
    with open(INDEX, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def path(row: dict[str, str]) -> Path:
    return CORPUS / row["file"]


def is_5010_837(row: dict[str, str]) -> bool:
    return row["transaction"] in ("837P", "837I") and row["version"].startswith("005010")


def has_isa(row: dict[str, str]) -> bool:
    return "ISA=0" not in row["envelope"] and "no ISA" not in row["features"]


def ids(rs: list[dict[str, str]]) -> list[str]:
    return [r["file"].split("/", 1)[-1] for r in rs]
