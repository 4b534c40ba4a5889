"""The compiled ICD-10-CM table answers exactly as simple_icd_10_cm does."""

from __future__ import annotations

import re
import warnings

import pytest

from edi837 import codesets as cs


def _library_status(code: str) -> str:
    """icd10cm_status as it was: straight through the library."""
    if not re.fullmatch(r"[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?", code):
        return "unknown"
    icd = cs._icd()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not icd.is_valid_item(code) or icd.is_chapter_or_block(code):
            return "unknown"
        return "billable" if icd.is_leaf(code) else "header"


@pytest.fixture()
def fresh(monkeypatch, tmp_path):
    monkeypatch.setenv("EDI837_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(cs, "_ICD_TABLE", None)
    cs.icd10cm_status.cache_clear()
    yield tmp_path
    cs.icd10cm_status.cache_clear()


def test_table_matches_library_on_every_code(fresh):
    icd = cs._icd()
    codes = set(icd.get_all_codes(True)) | set(icd.get_all_codes(False))
    # dotted/undotted variants, near misses, blocks, chapters, lower case
    extra = {"F33.", "F3.32", "f332", "F30-F39", "5", "A00", "A000", "A00.0", "S72001A", "S72.001A",
             "S72001", "Z9999", "F9999", "U071", "U07.1", "T360X1A", "T36.0X1A", "T360X1"}
    for c in sorted(codes | extra):
        assert cs.icd10cm_status(c) == _library_status(c), c


def test_cache_file_written_and_reused(fresh):
    assert cs.icd10cm_status("F332") == "billable"
    files = list(fresh.glob("icd10cm-*.pickle"))
    assert len(files) == 1
    # a second process-like start reads the pickle, not the library
    cs._ICD_TABLE = None
    cs.icd10cm_status.cache_clear()
    called = []
    real = cs._compile_icd_table
    cs._compile_icd_table = lambda: called.append(1) or real()  # type: ignore[assignment]
    try:
        assert cs.icd10cm_status("F33") == "header"
        assert cs.icd10cm_status("F9999") == "unknown"
    finally:
        cs._compile_icd_table = real  # type: ignore[assignment]
    assert called == []


def test_unwritable_cache_falls_back(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("EDI837_CACHE_DIR", str(blocker / "sub"))
    monkeypatch.setattr(cs, "_ICD_TABLE", None)
    cs.icd10cm_status.cache_clear()
    try:
        assert cs.icd10cm_status("F332") == "billable"
        assert cs.icd10cm_status("F33.2") == "billable"
        assert cs.icd10cm_status("F30-F39") == "unknown"
    finally:
        cs.icd10cm_status.cache_clear()


def test_corrupt_cache_is_ignored(fresh):
    cs.icd10cm_status("F332")
    (f,) = fresh.glob("icd10cm-*.pickle")
    f.write_bytes(b"garbage")
    cs._ICD_TABLE = None
    cs.icd10cm_status.cache_clear()
    assert cs.icd10cm_status("F332") == "billable"
    assert cs.icd10cm_status("F33") == "header"
