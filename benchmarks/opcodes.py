#!/usr/bin/env python
"""Where two source trees differ in work: bytecodes executed per Python function.

    python benchmarks/opcodes.py OLD_TREE NEW_TREE FILE [--top 40] [--rules nocross]

Each tree runs the engine in process (``Engine().run([FILE])``, every event
consumed, no report) in a fresh subprocess, twice: the second run, under
``sys.settrace`` with opcode events, counts the bytecodes each function executes
itself (the first loads what is loaded once: imports, code sets, parsers).  The table
lists the functions whose counts differ most.  Unlike wall or CPU time the
counts are exact and do not move with the machine's load; unlike callgrind they
name the Python function.  They do not weigh calls or C work (a call is one
bytecode however dear; pickling, sorting and hashing are none), so judge a
change that trades calls for inline code with callgrind (benchmarks/README.md).
The run is about 40 times slower than a plain one: use files of a few thousand
claims.
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
from collections import Counter

_CHILD = r"""
import os, pickle, sys
from collections import Counter
path, mode, out, root = sys.argv[1:5]
from edi837.checks import registry
from edi837.checks.engine import Engine
from edi837.checks.registry import RULES
registry._load_all()
kw = {}
if mode == "nocross":
    kw["rules"] = [r.id for r in RULES.values() if r.func is not None and not r.cross_claim]
cnt = Counter()

def tracer(frame, event, arg):
    frame.f_trace_opcodes = True
    frame.f_trace_lines = False
    code = frame.f_code
    key = (code.co_filename.replace(root, ""), code.co_qualname)

    def local(frame, event, arg):
        if event == "opcode":
            cnt[key] += 1
        return local
    return local

for _ in Engine(**kw).run([path]):  # (a first run untraced: imports and one-time tables are loaded)
    pass
engine = Engine(**kw)
sys.settrace(tracer)
for _ in engine.run([path]):
    pass
sys.settrace(None)
with open(out, "wb") as f:
    pickle.dump(dict(cnt), f)
"""


def count(tree: str, path: str, mode: str) -> Counter[tuple[str, str]]:
    """Bytecodes per (file, function) of one run of ``tree`` on ``path``."""
    tree = os.path.abspath(tree)
    fd, out = tempfile.mkstemp(suffix=".pickle")
    os.close(fd)
    try:
        env = dict(os.environ, PYTHONPATH=tree, PYTHONHASHSEED="0")  # (set order: the same walk each run)
        subprocess.run([sys.executable, "-c", _CHILD, os.path.abspath(path), mode, out, tree], env=env,
                       cwd=tree, check=True, stdout=subprocess.DEVNULL)
        with open(out, "rb") as f:
            got: dict[tuple[str, str], int] = pickle.load(f)
    finally:
        os.unlink(out)
    c: Counter[tuple[str, str]] = Counter()
    for (fn, q), v in got.items():
        c[(fn.split("site-packages/")[-1], q)] += v
    return c


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("file")
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--rules", choices=("all", "nocross"), default="all",
                    help="nocross: only the rules that look at one claim")
    a = ap.parse_args(argv)
    old, new = count(a.old, a.file, a.rules), count(a.new, a.file, a.rules)
    to, tn = sum(old.values()), sum(new.values())
    print(f"bytecodes: old {to:,}  new {tn:,}  new/old {tn / to:.3f}")
    rows = sorted(set(old) | set(new), key=lambda k: -abs(new[k] - old[k]))
    print(f"{'new - old':>11} {'old':>11} {'new':>11}  function")
    for k in rows[:a.top]:
        print(f"{new[k] - old[k]:+11,} {old[k]:11,} {new[k]:11,}  {k[0][-40:]}:{k[1][:60]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
