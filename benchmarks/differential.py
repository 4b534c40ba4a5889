#!/usr/bin/env python
"""Differential fuzz: two source trees of edi837 must give the same outputs.

    python benchmarks/differential.py OLD_TREE NEW_TREE [--cases 200] [--seed 0]

For a refactor that must not change behaviour (``git worktree add /tmp/old
HEAD~5``, then ``python benchmarks/differential.py /tmp/old .``).  Each case is
one input written to a temporary folder: a generated 837P or 837I file
(benchmarks/generate.py, a random seed and size), or a fixture with random
one-element edits (values from a small alphabet, elements emptied, segments
dropped or repeated, separators inserted).  Both trees run, in subprocesses
through PYTHONPATH, ``validate --format json`` (default options, and with
``--profile medicare`` on every third case), ``lines --format csv`` and
``parse --format jsonl``; stdout, stderr and exit codes must be equal.  The
first difference is printed with the input kept; exit 1.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

ALPHABET = ["", "0", "1", "X", "ZZ", "99", "20250230", "20251301", "D8", "RD8", "1E+9", "-1", "A B", "90867",
            "90870", "00104", "F332", "F339", "GA", "25", "0901", "11", "23", "HC", "BK", "ABK", "00401"]


def mutate(data: bytes, rng: random.Random) -> bytes:
    text = data.decode("latin-1")
    term = "~" if "~" in text else "\n"
    segs = text.split(term)
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(segs))
        if not segs[i].strip():
            continue
        op = rng.random()
        if op < 0.6:
            els = segs[i].split("*")
            if len(els) > 1:
                j = rng.randrange(1, len(els))
                els[j] = rng.choice(ALPHABET)
                segs[i] = "*".join(els)
        elif op < 0.75:
            del segs[i]
        elif op < 0.9:
            segs.insert(i, segs[i])
        else:
            segs[i] = segs[i] + rng.choice([" ", "*", ":", "^", "\t"])
    return term.join(segs).encode("latin-1")


def run(tree: str, args: list[str]) -> tuple[int, bytes, bytes]:
    # (in the tree's folder: ``python -m`` puts the working folder before PYTHONPATH, so run from
    # another checkout it would import that checkout's edi837, and compare a tree with itself)
    tree = os.path.abspath(tree)
    env = dict(os.environ, PYTHONPATH=tree)
    p = subprocess.run([sys.executable, "-m", "edi837.cli", *args], env=env, capture_output=True, timeout=600,
                       cwd=tree)
    return p.returncode, p.stdout, p.stderr


def imported_from(tree: str) -> str:
    """The folder whose edi837 :func:`run` imports for ``tree`` (it must be the tree's own)."""
    tree = os.path.abspath(tree)
    p = subprocess.run([sys.executable, "-c", "import edi837; print(edi837.__file__)"], cwd=tree,
                       env=dict(os.environ, PYTHONPATH=tree), capture_output=True, text=True, check=True)
    return os.path.dirname(os.path.dirname(os.path.abspath(p.stdout.strip())))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    for tree in (a.old, a.new):
        got = imported_from(tree)
        if got != os.path.abspath(tree):
            print(f"{tree}: a run there imports edi837 from {got}, not from the tree", file=sys.stderr)
            return 2
    from generate import generate

    rng = random.Random(a.seed)
    fixtures = sorted(p for p in (ROOT / "fixtures").glob("*.x12"))
    tmp = Path(tempfile.mkdtemp(prefix="edi837-diff-"))
    try:
        for n in range(a.cases):
            f = tmp / f"case{n}.x12"
            if n % 4 == 0:
                generate(str(f), rng.randint(1, 400), rng.choice(["837P", "837I"]), lines_per_claim=rng.randint(1, 5),
                         claims_per_st=rng.randint(1, 200), seed=rng.randrange(1 << 30))
            else:
                f.write_bytes(mutate(rng.choice(fixtures).read_bytes(), rng))
            runs = [["validate", str(f), "--format", "json"], ["lines", str(f), "--format", "csv"],
                    ["parse", str(f), "--format", "jsonl"]]
            if n % 3 == 0:
                runs.append(["validate", str(f), "--format", "json", "--profile", "medicare"])
            for args in runs:
                old, new = run(a.old, args), run(a.new, args)
                if old != new:
                    keep = Path(tempfile.gettempdir()) / f"edi837-diff-case{n}.x12"
                    shutil.copy(f, keep)
                    print(f"case {n}: {' '.join(args[:1] + args[2:])} differs (input kept: {keep})")
                    print(f"  exit {old[0]} vs {new[0]}; stdout equal: {old[1] == new[1]}; "
                          f"stderr equal: {old[2] == new[2]}")
                    return 1
            f.unlink()
            if (n + 1) % 25 == 0:
                print(f"{n + 1} cases: identical", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{a.cases} cases, {a.cases * 3 + (a.cases + 2) // 3} runs per tree: identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
