#!/usr/bin/env python
"""A file cut by patient: what a patient-partitioned ``--jobs`` would give, measured.

    python benchmarks/patient_split.py [--claims 10000] [--kind 837P] [--parts 2] [--instructions]

Every cross-claim rule of the edit pack reads the claims of one patient, and a patient's
key starts with the member id (2010BA NM109) and the payer (2010BB NM109).  So the claims of
a file can be cut by subscriber loop (HL 22 with its 2000C patients and their claims) on
(member id, payer) into parts that need nothing of each other: each part, validated alone,
gives the findings and verdicts its claims have in the whole file.  This script checks that
on a generated file (benchmarks/generate.py) and, with ``--instructions``, counts each part
under ``valgrind --tool=callgrind`` beside the whole file: the work one process of a
``--jobs`` split by patient would do for its claims (what it would also pay to step over the
other parts' bytes, and to merge, is not in it; benchmarks/README.md).

The cut: the header and the billing provider loops (HL 20) go to every part, each subscriber
loop to part crc32(member id | payer) mod N; HL numbers are given again in each part and SE01
counted again.  Findings are compared as multisets of (CLM01, rule, message, element, segment
id) and claims as (CLM01, verdict).  For files this tool or benchmarks/generate.py writes
(one segment terminator, then a line break): not a general 837 splitter.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))


def cut(data: str, parts: int) -> list[str]:
    """``data`` (a generated 837) as ``parts`` files, each subscriber loop in the part of its
    (member id, payer)."""
    term, sep = data[105], data[3]
    segs = [s.strip("\r\n") for s in data.split(term)]
    segs = [s for s in segs if s]
    outs: list[list[str]] = [[] for _ in range(parts)]
    tx: dict | None = None
    unit: list | None = None
    for s in segs:
        f = s.split(sep)
        sid = f[0]
        if sid == "ST":
            tx, unit = {"head": [s], "units": []}, None
            continue
        if tx is None:  # ISA, GS, GE, IEA: every part
            for o in outs:
                o.append(s)
            continue
        if sid == "SE":
            for k, o in enumerate(outs):
                body = tx["head"] + _renumbered(tx["units"], k, sep)
                o.extend(body)
                o.append(sep.join(["SE", str(len(body) + 1), *f[2:]]))
            tx = None
            continue
        if sid == "HL" and f[3] in ("20", "22"):
            unit = [None if f[3] == "22" else "all", [s]]
            tx["units"].append(unit)
            continue
        if unit is None:
            tx["head"].append(s)
            continue
        unit[1].append(s)
        if unit[0] is None and sid == "NM1" and f[1] == "PR":  # 2010BB closes the key
            member = next(x for x in unit[1] if x.startswith(f"NM1{sep}IL{sep}")).split(sep)[9]
            unit[0] = zlib.crc32(f"{member}|{f[9]}".encode()) % parts
    return [f"{term}\n".join(o) + f"{term}\n" for o in outs]


def _renumbered(units: list, k: int, sep: str) -> list[str]:
    out: list[str] = []
    n = top = sub = 0
    for owner, segs in units:
        if owner != "all" and owner != k:
            continue
        for s in segs:
            if s.startswith(f"HL{sep}"):
                f = s.split(sep)
                n += 1
                f[1] = str(n)
                if f[3] == "20":
                    top, f[2] = n, ""
                elif f[3] == "22":
                    sub, f[2] = n, str(top)
                else:
                    f[2] = str(sub)
                s = sep.join(f)
            out.append(s)
    return out


def _report(path: str, out: str) -> dict:
    r = subprocess.run([sys.executable, "-m", "edi837", "validate", path, "--format", "json", "-o", out],
                       cwd=ROOT, capture_output=True, text=True)
    if r.returncode not in (0, 1):
        raise SystemExit(f"validate {path}: exit {r.returncode}: {r.stderr.strip()}")
    return json.loads(Path(out).read_text())


def _multisets(rep: dict) -> tuple[collections.Counter, collections.Counter]:
    found = collections.Counter((f.get("claim_id"), f["rule"], f["message"], f.get("element"), f.get("segment_id"))
                                for f in rep["findings"])
    claims = collections.Counter((c.get("claim_id"), c["verdict"]) for c in rep["claims"])
    return found, claims


def _instructions(path: str, tmp: str) -> int:
    out = os.path.join(tmp, "callgrind.out")
    env = dict(os.environ, PYTHONHASHSEED="0")
    r = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-m",
                        "edi837", "validate", path, "--format", "json", "-o", os.devnull],
                       cwd=ROOT, env=env, capture_output=True, text=True)
    for line in r.stderr.splitlines():
        if "Collected :" in line:
            return int(line.rsplit(":", 1)[1].strip())
    raise SystemExit(f"callgrind gave no count for {path}: {r.stderr[-500:]}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--claims", type=int, default=10000)
    ap.add_argument("--kind", default="837P", choices=["837P", "837I"])
    ap.add_argument("--parts", type=int, default=2)
    ap.add_argument("--file", help="a file benchmarks/generate.py wrote (default: generated here)")
    ap.add_argument("--instructions", action="store_true", help="count each file under callgrind (minutes)")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="edi837-psplit-") as tmp:
        path = a.file
        if path is None:
            import generate

            path = os.path.join(tmp, "whole.x12")
            generate.generate(path, a.claims, a.kind, 3, 5000, 0)
        parts = cut(Path(path).read_text(), a.parts)
        names = []
        for k, text in enumerate(parts):
            names.append(os.path.join(tmp, f"part{k}.x12"))
            Path(names[-1]).write_text(text)
        whole = _multisets(_report(path, os.path.join(tmp, "whole.json")))
        got = [_multisets(_report(p, os.path.join(tmp, f"part{k}.json"))) for k, p in enumerate(names)]
        found = sum((g[0] for g in got), collections.Counter())
        claims = sum((g[1] for g in got), collections.Counter())
        same = found == whole[0] and claims == whole[1]
        print(f"{path}: {sum(whole[1].values())} claims, {sum(whole[0].values())} findings; parts: "
              + ", ".join(f"{sum(g[1].values())} claims" for g in got))
        print("findings and verdicts of the parts = the whole file's:", "yes" if same else "NO")
        if not same:
            for what, w, p in (("finding", whole[0], found), ("claim", whole[1], claims)):
                for key in sorted(set(w) | set(p), key=str)[:20]:
                    if w[key] != p[key]:
                        print(f"  {what} {key}: whole {w[key]}, parts {p[key]}")
        if a.instructions:
            one = _instructions(path, tmp)
            each = [_instructions(p, tmp) for p in names]
            print("\n| file | instructions |\n|---|---:|")
            print(f"| the whole file, one job | {one / 1e9:.2f} G |")
            for k, n in enumerate(each):
                print(f"| part {k} alone | {n / 1e9:.2f} G |")
            print(f"\none job / the largest part: {one / max(each):.2f}x")
        return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
