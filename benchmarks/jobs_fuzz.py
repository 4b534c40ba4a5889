#!/usr/bin/env python
"""Differential fuzz of ``validate --jobs N`` on one file: the output must be one job's.

    python benchmarks/jobs_fuzz.py [--cases 200] [--seed 0] [--gate]

Each case is a generated 837P or 837I (benchmarks/generate.py: a random size, service lines
per claim and claims per transaction), half of them with random one-element edits
(differential.mutate), and some with one subscriber's NM1*IL copied over others, so that a
patient's claims are in several transactions.  Files of every size are split
(``parallel.MIN_SPLIT_BYTES = 0``).  ``validate`` runs in this process through the CLI with
``--jobs 1`` and ``--jobs 2`` (``--jobs 3`` on every fifth case), JSON or text, with
``--profile medicare`` on every third; exit codes and outputs must be equal, and nothing may
raise.  ``--gate``: ``gate`` instead, every file of its output folder compared byte for byte.  The first difference is printed with its input kept; exit 1.  At the end: how many
files were split, and how many of those by patient.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _run(args: list[str], out: str | bool = False) -> tuple[int, str, dict[str, bytes]]:
    """(exit code, output, the files of ``--out`` folder ``out`` when given: removed after)."""
    import shutil

    from click.testing import CliRunner

    from edi837.cli import main as cli

    if out:
        args = [*args, "--out", str(out)]
    r = CliRunner().invoke(cli, args)
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    files: dict[str, bytes] = {}
    if out:
        files = {q.name: q.read_bytes() for q in sorted(Path(str(out)).rglob("*")) if q.is_file()}
        shutil.rmtree(str(out))
    return r.exit_code, r.output.replace(str(out), "OUT") if out else r.output, files


def _case(path: str, rng: random.Random) -> None:
    from differential import mutate
    from generate import generate

    generate(path, rng.randint(10, 300), rng.choice(["837P", "837I"]), lines_per_claim=rng.randint(1, 4),
             claims_per_st=rng.randint(1, 40), seed=rng.randrange(10**6))
    data = Path(path).read_bytes()
    if rng.random() < 0.5:
        data = mutate(data, rng)
    if rng.random() < 0.3:  # one subscriber's NM1*IL over others: a patient in several transactions
        text = data.decode("latin-1")
        names = re.findall(r"NM1\*IL\*1\*[^~]*", text)
        if len(names) > 3:
            src = rng.choice(names)
            for _ in range(rng.randint(1, 4)):
                text = text.replace(rng.choice(names), src, 1)
            data = text.encode("latin-1")
    Path(path).write_bytes(data)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gate", action="store_true",
                    help="run gate (every output file compared) instead of validate")
    a = ap.parse_args(argv)
    from edi837 import parallel

    parallel.MIN_SPLIT_BYTES = 0
    rng = random.Random(a.seed)
    d = tempfile.mkdtemp(prefix="jobs-fuzz-")
    split = closed = 0
    for case in range(a.cases):
        p = os.path.join(d, f"case{case}.x12")
        _case(p, rng)
        plan = parallel.split_plan(p, 2)
        split += plan is not None
        closed += plan is not None and plan.closed is not None
        if a.gate:
            args = ["gate", "--control-number", "1", "--now", "2026-01-15T06:00"]
        else:
            args = ["validate", "--format", rng.choice(["json", "text"]) if case % 2 else "json"]
        args += ["--profile", "medicare"] if case % 3 == 0 else []
        one = _run([*args, p], a.gate and os.path.join(d, "one"))
        for jobs in (2, 3) if case % 5 == 0 else (2,):
            got = _run([*args, "--jobs", str(jobs), p], a.gate and os.path.join(d, f"j{jobs}"))
            if got != one:
                print(f"differs: {p} {' '.join(args)} --jobs {jobs} (exit {got[0]}, one job {one[0]})")
                return 1
        os.remove(p)
        if (case + 1) % 20 == 0:
            print(f"{case + 1} cases the same; split {split}, by patient {closed}", flush=True)
    os.rmdir(d)
    print(f"all {a.cases} cases the same; split {split}, by patient {closed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
