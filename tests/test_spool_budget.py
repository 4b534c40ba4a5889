"""The two-phase run's spools keep their items in memory while the run's budget lasts, then
write them to temporary files: the report is the same either way, a run larger than the
budget does use a file, and no spool file outlives the run (issue 13, throughput)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

import edi837
from edi837.checks import twophase

FIX = Path(__file__).resolve().parent.parent / "fixtures"
FILES = [FIX / "837p_tms_course.x12", FIX / "837p_ect_anesthesia.x12", FIX / "837i_ect_inpatient.x12",
         FIX / "837i_ect_outpatient.x12", FIX / "837p_2000c_patient.x12"]


def run(monkeypatch, tmp_path, budget):
    monkeypatch.setattr(twophase, "MEMORY_ITEMS", budget)
    made: list[str] = []
    real = tempfile.mkstemp

    def mkstemp(*a, **k):
        fd, path = real(*a, **k)
        if Path(path).name.startswith("edi837-spool-"):
            made.append(path)
        return fd, path
    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    rep = edi837.validate([str(p) for p in FILES])
    assert not list(tmp_path.glob("edi837-spool-*"))  # none left
    return rep.to_json(), made


@pytest.mark.parametrize("budget", [0, 1, 5, 12])
def test_same_report_in_memory_and_on_disk(monkeypatch, tmp_path, budget):
    whole, made = run(monkeypatch, tmp_path, 1_000_000)
    assert made == []  # everything stayed in memory
    small, made = run(monkeypatch, tmp_path, budget)
    assert small == whole
    assert made  # the budget ran out: the rest went to a file
