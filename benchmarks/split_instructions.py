#!/usr/bin/env python
"""Instructions of ``edi837 validate --jobs 2`` on one file, per process, beside one job.

    python benchmarks/split_instructions.py [--claims 10000] [--per-st 500] [--kind 837P]

The wall time of ``--jobs 2`` depends on what else the machine runs; the instruction
count of each process does not.  This runs, under ``valgrind --tool=callgrind``
(``--trace-children=yes``), ``validate FILE --format json`` once with one job and once
with ``--jobs 2`` on a generated file of many transactions (the split is forced for a
file under ``parallel.MIN_SPLIT_BYTES``), and prints the instructions of one job, of
this process and of the worker, and one job's over the busier process's: the speed-up
``--jobs 2`` would give on two cores that do not slow each other (benchmarks/run.py's
``validate-x2`` rows measure what this machine's two cores give).  PYTHONHASHSEED is
fixed so that two runs count alike.  Takes some minutes (10,000 claims: about 45 G
instructions under callgrind).
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

# run inside the measured process: the split forced on a small file, then the CLI
_RUN = """
import os
import sys

import edi837.parallel as par

if __name__ == "__main__":
    par.MIN_SPLIT_BYTES = 0
    from edi837.cli import main
    sys.argv = ["edi837", "validate", sys.argv[1], "--format", "json", "-o", os.devnull, *sys.argv[2:]]
    try:
        main()
    except SystemExit:
        pass
"""


def _callgrind(args: list[str], out_dir: str, tag: str) -> dict[str, int]:
    """{'parent' | 'worker' | 'other': instructions} of one run (every process traced)."""
    script = os.path.join(out_dir, "run_split.py")
    with open(script, "w", encoding="utf-8") as f:
        f.write(_RUN)
    env = dict(os.environ, PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="")
    cmd = [sys.executable, script, *args]
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=str(ROOT))  # (.pyc)
    pattern = os.path.join(out_dir, f"cg-{tag}.%p")
    subprocess.run(["valgrind", "--tool=callgrind", "--trace-children=yes", f"--callgrind-out-file={pattern}",
                    *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=str(ROOT),
                   check=False)
    got: dict[str, int] = {}
    for path in glob.glob(os.path.join(out_dir, f"cg-{tag}.*")):
        text = Path(path).read_text(encoding="utf-8", errors="replace")
        m = re.search(r"^totals: (\d+)", text, re.M) or re.search(r"^summary: (\d+)", text, re.M)
        if m is None:
            continue
        cmdline = re.search(r"^cmd: (.*)$", text, re.M)
        c = cmdline.group(1) if cmdline else ""
        who = "parent" if "run_split.py" in c else "worker" if "spawn_main" in c else "other"
        got[who] = got.get(who, 0) + int(m.group(1))
        os.unlink(path)
    return got


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--claims", type=int, default=10000)
    ap.add_argument("--per-st", type=int, default=500, help="claims per transaction set (default 500)")
    ap.add_argument("--kind", default="837P", choices=["837P", "837I"])
    a = ap.parse_args(argv)
    import generate

    gen = ROOT / "benchmarks" / "generated"
    gen.mkdir(exist_ok=True)
    path = gen / f"{a.kind.lower()}_{a.claims}_st{a.per_st}.x12"
    if not path.exists():
        generate.generate(str(path), a.claims, a.kind, 3, a.per_st, 0)
    with tempfile.TemporaryDirectory(prefix="edi837-cg-") as d:
        one = _callgrind([str(path)], d, "one")
        two = _callgrind([str(path), "--jobs", "2"], d, "two")
    g = 1e9
    print(f"file: {path.name} ({a.claims:,} claims, {a.per_st} per ST)")
    print("| run | process | instructions (G) |")
    print("|---|---|---:|")
    print(f"| one job | | {one.get('parent', 0) / g:.2f} |")
    for who in ("parent", "worker", "other"):
        if who in two:
            name = {"parent": "this process", "worker": "the worker",
                    "other": "multiprocessing's resource tracker"}[who]
            print(f"| --jobs 2 | {name} | {two[who] / g:.2f} |")
    if "worker" not in two:
        print("\n--jobs 2 ran in one process: the plan did not split this file (too few transactions)")
        return 1
    busiest = max(two.get("parent", 0), two.get("worker", 0))
    if busiest and one.get("parent"):
        total = two.get("parent", 0) + two.get("worker", 0)
        print(f"\none job / the busier process: {one['parent'] / busiest:.2f}x; "
              f"both processes / one job: {total / one['parent']:.2f}x the instructions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
