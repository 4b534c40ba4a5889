"""benchmarks/opcodes.py counts the bytecodes of one tree against another: a tree against
itself gives equal counts (the counts are exact), and the table names the engine's functions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_tree_against_itself_counts_the_same() -> None:
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "opcodes.py"), str(ROOT), str(ROOT),
                        str(ROOT / "fixtures" / "837p_tms_course.x12"), "--top", "5"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    first = r.stdout.splitlines()[0]
    old, new = (int(x.replace(",", "")) for x in first.split()[2:5:2])
    assert old == new > 10_000, first
    assert "new/old 1.000" in first
    assert "edi837" in r.stdout  # the rows name the package's functions
