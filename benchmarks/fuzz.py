"""Longer fuzzing run: python benchmarks/fuzz.py [--examples 500] [--save]

Mutates our synthetic fixtures (tests/fuzz.py) and runs every face on each; prints every
problem, and with --save writes each new crashing input to tests/regressions/fuzz_<hash>.x12
(add it to STILL_CRASHING in tests/test_fuzz.py until fixed).  Known crashes are counted apart.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import fuzz  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=500)
    ap.add_argument("--save", action="store_true")
    a = ap.parse_args(argv)
    found: dict[str, tuple[str, bytes]] = {}
    known = 0

    @settings(max_examples=a.examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(fuzz.mutated())
    def run(case):
        nonlocal known
        name, data = case
        for p in fuzz.crashes(data):
            if fuzz.known(p):
                known += 1
                continue
            sig = p.strip().splitlines()[-1][:200]
            found.setdefault(sig, (name, data))

    run()
    for sig, (name, data) in found.items():
        h = hashlib.sha1(data).hexdigest()[:10]
        print(f"NEW CRASH from {name}: {sig} -> fuzz_{h}.x12")
        if a.save:
            (ROOT / "tests" / "regressions" / f"fuzz_{h}.x12").write_bytes(data)
    print(f"{a.examples} examples: {len(found)} new crash signatures, {known} known crashes hit")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
