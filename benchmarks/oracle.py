"""pyx12 as an oracle over every one-element mutation (issue 11).

    python benchmarks/oracle.py [--corpus ../shared/corpus] [--out oracle.md] [--jobs 2] [--limit N]

Mutates every valid fixture and every corpus 837P/837I (005010X222A1 / 005010X223A2) file
pyx12 accepts, one element (or one required segment) at a time (tests/oracle.py), runs
pyx12 4.0.0 and ``Engine(snip="1-2")`` on each, and writes a Markdown table: per mutation
key (kind:element) how many mutations agree, and every disagreement (pyx12 reports an error
where edi837 reports none at that segment/element).  Listed deliberate differences
(``edi837.checks.conformance.ORACLE_DISAGREE``) are shown apart.  Exit 0 when every
difference is listed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import oracle  # noqa: E402
from edi837.checks.conformance import ORACLE_DISAGREE, oracle_reason  # noqa: E402


def _work(item):
    name, text, limit = item
    out = []
    for k, m in enumerate(oracle.mutations(text)):
        if limit and k >= limit:
            break
        o = oracle.compare(m)
        out.append((name, m.kind, m.key, m.seq, m.old, m.value, o.agree,
                    [(p.where(), p.message) for p in o.missed],
                    [f"{f.rule} {f.where()}" for f in o.ours[:5]], len(o.pyx12)))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default=os.environ.get("EDI837_CORPUS", str(ROOT.parent / "shared" / "corpus")))
    ap.add_argument("--out", default="oracle.md")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--limit", type=int, default=0, help="at most N mutations per file (0: all)")
    ap.add_argument("--only", default="", help="only files whose name contains this")
    a = ap.parse_args(argv)
    t0 = time.time()
    srcs = [s for s in oracle.sources(a.corpus) if a.only in s[0]]
    items = [(n, t, a.limit) for n, t in srcs]
    rows = []
    if a.jobs > 1:
        with multiprocessing.get_context("fork").Pool(a.jobs) as pool:
            for r in pool.imap_unordered(_work, items):
                rows.extend(r)
                with open(a.out + ".jsonl", "a") as f:
                    for x in r:
                        f.write(json.dumps(x) + "\n")
                print(f"{r[0][0] if r else '?'}: {len(r)} mutations, {time.time() - t0:.0f}s", file=sys.stderr)
    else:
        for it in items:
            rows.extend(_work(it))
    rows.sort(key=lambda r: (r[0], r[3], r[2], str(r[5])))
    by = collections.defaultdict(lambda: [0, 0, 0])
    for r in rows:
        c = by[r[2]]
        c[0] += 1
        if not r[6]:
            c[1 if oracle_reason(r[0], r[2]) is None else 2] += 1
    unlisted = sum(v[1] for v in by.values())
    lines = ["# pyx12 oracle: one-element mutations", "",
             f"{len(rows)} mutations of {len(srcs)} files in {time.time() - t0:.0f}s "
             f"(`python benchmarks/oracle.py`, pyx12 4.0.0 vs `Engine(snip=\"1-2\")`). "
             f"Disagreement: pyx12 reports an error where edi837 reports none at that segment "
             f"(and element); see tests/oracle.py `matched`.", "",
             f"- agree: {sum(1 for r in rows if r[6])}",
             f"- disagree, not listed: {unlisted}",
             f"- disagree, listed in ORACLE_DISAGREE: {sum(v[2] for v in by.values())}", "",
             "## By mutation", "", "| mutation | n | disagree | listed |", "|---|---|---|---|"]
    for k in sorted(by):
        n, d, l = by[k]
        lines.append(f"| {k} | {n} | {d} | {l} |")
    lines += ["", "## Disagreements", "", "| file | mutation | seg | old -> new | pyx12 (missed) | ours | listed |",
              "|---|---|---|---|---|---|---|"]

    def cell(s):
        s = str(s).replace("|", "\\|").replace("\n", " ")
        return s if len(s) < 160 else s[:159] + "…"

    for r in rows:
        if r[6]:
            continue
        why = oracle_reason(r[0], r[2])
        lines.append(f"| {cell(r[0].split('/')[-1])} | {r[2]} | {r[3]} | {cell(r[4])} -> {cell(r[5])} | "
                     f"{cell('; '.join(f'{w}: {m}' for w, m in r[7][:3]))} | {cell(', '.join(r[8]) or 'none')} | "
                     f"{'yes: ' + cell(why) if why else ''} |")
    Path(a.out).write_text("\n".join(lines) + "\n")
    print(f"{len(rows)} mutations, {unlisted} unlisted disagreements -> {a.out} ({time.time() - t0:.0f}s)")
    return 1 if unlisted else 0


if __name__ == "__main__":
    raise SystemExit(main())
