"""Issue 14 (leftover of the two-phase run): an input file that changes between the two
phases of a run (the cross-claim rules read it again) ends ``validate`` and ``gate`` with a
message naming the file and exit 2, not a traceback; nothing is written to ``--output``.

Two files for one patient, the later-dated 90867 first: the first file's claim must be
checked again in phase 2, so the first file is read again; a hook on phase 2 rewrites it
just before.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from edi837.checks import Engine, twophase
from edi837.checks.editpack.synth import build
from edi837.checks.twophase import InputChanged
from edi837.cli import main

LATE = {"id": "LATE", "lines": [{"code": "90867", "date": "2025-03-10"}]}
EARLY = {"id": "EARLY", "lines": [{"code": "90867", "date": "2025-03-03"}, {"code": "90868", "date": "2025-03-04"}]}


@pytest.fixture()
def inputs(tmp_path):
    first, second = tmp_path / "first.x12", tmp_path / "second.x12"
    first.write_bytes(build("837P", [LATE], isa="000000101"))
    second.write_bytes(build("837P", [EARLY], isa="000000102"))
    return first, second


@pytest.fixture()
def changes_between_phases(monkeypatch, inputs):
    """Phase 2 finds the first file rewritten (its claim gone); returns the calls seen."""
    first, _ = inputs
    real = twophase.TwoPhase._recheck
    seen = []

    def rewritten_first(self, uids):
        seen.append(sorted(uids))
        first.write_bytes(build("837P", [], isa="000000101"))
        return real(self, uids)

    monkeypatch.setattr(twophase.TwoPhase, "_recheck", rewritten_first)
    return seen


def test_unchanged_inputs_are_read_again_and_fine(inputs):
    """Without the rewrite the run re-reads the first file and gives its verdicts."""
    res = CliRunner().invoke(main, ["validate", "--format", "json", *map(str, inputs)])
    assert res.exit_code in (0, 1), res.output
    assert '"claim_id": "LATE"' in res.stdout and "TMS-003" in res.stdout


def test_validate_names_the_file_and_exits_2(inputs, changes_between_phases, tmp_path):
    out = tmp_path / "report.txt"
    res = CliRunner().invoke(main, ["validate", "-o", str(out), *map(str, inputs)])
    assert changes_between_phases, "the first file was not read again"
    assert res.exit_code == 2
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert f"{inputs[0]}: error: the file changed while it was read; the run stopped" in res.stderr
    assert "Traceback" not in res.output
    assert not out.exists()  # nothing written


def test_gate_names_the_file_and_exits_2(inputs, changes_between_phases, tmp_path):
    res = CliRunner().invoke(main, ["gate", *map(str, inputs), "--out", str(tmp_path / "out"),
                                    "--control-number", "1", "--now", "2026-01-01T12:00"])
    assert changes_between_phases
    assert res.exit_code == 2
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert f"edi837 gate: {inputs[0]}: the file changed while it was read" in res.stderr


def test_the_library_raises_input_changed_with_the_path(inputs, changes_between_phases):
    with pytest.raises(InputChanged) as e:
        list(Engine().run([str(p) for p in inputs]))
    assert e.value.path == str(inputs[0]) and "changed while it was read" in str(e.value)


def test_a_file_gone_before_phase_2(inputs, monkeypatch):
    first, _ = inputs
    real = twophase.TwoPhase._recheck

    def removed(self, uids):
        first.unlink()
        return real(self, uids)

    monkeypatch.setattr(twophase.TwoPhase, "_recheck", removed)
    res = CliRunner().invoke(main, ["validate", *map(str, inputs)])
    assert res.exit_code == 2
    assert f"{first}: error: could not read the file again" in res.stderr
