#!/usr/bin/env python
"""Compare two source trees of edi837 on the same inputs, interleaved.

    python benchmarks/compare.py OLD_TREE NEW_TREE [--claims 10000] [--runs 5]

For example, before and after a change: ``git worktree add /tmp/old HEAD~3``,
then ``python benchmarks/compare.py /tmp/old .``.  Each tree is imported
through PYTHONPATH in a fresh subprocess (``python -m edi837.cli``) running
``validate --format json``, ``lines --format csv`` and ``gate`` (into a fresh
out folder each run) on generated 837P and 837I files.  Runs alternate old, new, old, new ... so load on a shared
machine hits both alike; the table gives the median CPU time (user + sys,
steadier than wall time when other work runs), the median wall time and the
peak RSS, with new/old ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def run_once(tree: str, args: list[str]) -> tuple[float, float, int]:
    """(cpu seconds, wall seconds, peak RSS KiB) of one run of the CLI from ``tree``."""
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
    # as users run it: with bytecode caches (else every run compiles each tree's modules, and a
    # tree with more code pays for its size at each start-up)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    out = None
    if "OUT" in args:  # the gate: a fresh out folder each run
        out = tempfile.mkdtemp(prefix="edi837-compare-out-")
        args = [out if x == "OUT" else x for x in args]
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-m", "edi837.cli", *args], env=env, cwd=tree,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if out is not None:
        shutil.rmtree(out, ignore_errors=True)
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"{tree}: edi837 {' '.join(args)} exited {code}")
    return ru.ru_utime + ru.ru_stime, wall, ru.ru_maxrss


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--claims", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--kinds", default="837P,837I")
    ap.add_argument("--tools", default="validate,lines,gate")
    a = ap.parse_args(argv)
    from generate import generate

    tmp = Path(tempfile.mkdtemp(prefix="edi837-compare-"))
    rows = []
    for kind in a.kinds.split(","):
        f = tmp / f"{kind}_{a.claims}.x12"
        generate(str(f), a.claims, kind, seed=0)
        for tool in (["validate", str(f), "--format", "json", "-o", os.devnull],
                     ["lines", str(f), "--format", "csv", "-o", os.devnull],
                     ["gate", str(f), "--out", "OUT"]):
            if tool[0] not in a.tools.split(","):
                continue
            got: dict[str, list[tuple[float, float, int]]] = {"old": [], "new": []}
            run_once(a.old, tool), run_once(a.new, tool)  # warm caches (grammar tables, page cache)
            for _ in range(a.runs):
                for which in ("old", "new"):
                    got[which].append(run_once(getattr(a, which), tool))
            med = {w: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v),
                       max(x[2] for x in v)) for w, v in got.items()}
            rows.append((f"{tool[0]} {kind} {a.claims}", med["old"], med["new"]))
    print(f"{'run':<26} {'cpu old':>8} {'cpu new':>8} {'ratio':>6} {'wall old':>9} {'wall new':>9} "
          f"{'ratio':>6} {'RSS old':>8} {'RSS new':>8}")
    for name, o, n in rows:
        print(f"{name:<26} {o[0]:8.2f} {n[0]:8.2f} {n[0] / o[0]:6.3f} {o[1]:9.2f} {n[1]:9.2f} "
              f"{n[1] / o[1]:6.3f} {o[2] // 1024:6d}MB {n[2] // 1024:6d}MB")
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
