#!/usr/bin/env python
"""Hostile and huge input (issue 14 item 6): each shape at two sizes, for each command.

    python benchmarks/hostile.py [--shapes tiny_interchanges,...] [--factor 4] [--scale 1]
                                 [--commands validate,gate,lines] [--repeat 3] [--write-docs]

The shapes (benchmarks/shapes.py) are written to benchmarks/generated/ (gitignored) at a
base size N and at ``--factor`` times N (``--scale`` multiplies every base size).  Each run is a
fresh subprocess (``python -m edi837 ...``; wall time and peak RSS as benchmarks/run.py measures
them, GNU ``/usr/bin/time``); runs are interleaved (every file and command once, then again) and
each figure is the median of ``--repeat`` runs.  The target: time grows like the input (time
ratio about the size ratio, less the start-up every run pays) and memory does not (memory ratio
about 1).  ``--write-docs`` puts the table in docs/performance.md under its own heading, leaving
the other sections as they are.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import DOCS, cached, machine_info, measure  # noqa: E402
from shapes import SHAPES, write_shape  # noqa: E402

#: base sizes (N): the runs of every shape at N and 4N take a few minutes on two shared cores
BASE = {"tiny_interchanges": 500, "envelope_errors": 500, "many_lines": 5000, "no_terminator": 10_000_000,
        "giant_segment": 10_000_000, "many_findings": 200}
UNITS = {"tiny_interchanges": "interchanges", "envelope_errors": "interchanges", "many_lines": "lines",
         "no_terminator": "bytes", "giant_segment": "bytes", "many_findings": "claims"}
COMMANDS = ("validate", "gate", "lines")
HEADING = "## Hostile input (issue 14)"
OK = {0, 1}  # exit 1: errors found (every shape but one has some)


def shape_file(shape: str, n: int) -> Path:
    return cached(f"hostile_{shape}_{n}.x12", lambda tmp: write_shape(str(tmp), shape, n))


def run_once(command: str, path: Path) -> tuple[float, float]:
    """(seconds, peak RSS MB) of one run of ``edi837 command path``."""
    out = tempfile.mkdtemp(prefix="edi837-hostile-") if command == "gate" else None
    try:
        extra = {"validate": ["--format", "json"], "lines": ["--format", "csv"],
                 "gate": ["--out", out or "", "-q"]}[command]
        wall, rss, status = measure([sys.executable, "-m", "edi837", command, str(path), *extra])
        if status not in OK:
            raise SystemExit(f"edi837 {command} {path} exited {status}")
        return wall, rss
    finally:
        if out is not None:
            shutil.rmtree(out, ignore_errors=True)


def fmt_size(shape: str, n: int) -> str:
    if UNITS[shape] == "bytes":
        return f"{n / 1e6:,.1f} MB"
    return f"{n:,} {UNITS[shape]}"


def _net(r: dict) -> str:
    """The time ratio less the start-up floor; "" where the run at N is within 0.3 s of the
    floor (the difference is then noise)."""
    if r["t1"] - r["floor"] < 0.3:
        return ""
    return f"{(r['t2'] - r['floor']) / (r['t1'] - r['floor']):.2f}"


def table(rows: list[dict]) -> list[str]:
    head = ["shape", "command", "size N", "size kN", "seconds N", "seconds kN", "time ratio",
            "net time ratio", "peak RSS MB N", "peak RSS MB kN", "memory ratio"]
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    for r in rows:
        out.append("| " + " | ".join([
            r["shape"], r["command"], fmt_size(r["shape"], r["n"]), fmt_size(r["shape"], r["kn"]),
            f"{r['t1']:.2f}", f"{r['t2']:.2f}", f"{r['t2'] / r['t1']:.2f}",
            _net(r),
            f"{r['m1']:.0f}", f"{r['m2']:.0f}", f"{r['m2'] / r['m1']:.2f}"]) + " |")
    return out


def write_docs(lines: list[str]) -> None:
    """Put ``lines`` (starting with HEADING) in docs/performance.md in place of the section of
    that heading, or at the end; every other section stays as it is."""
    text = DOCS.read_text(encoding="utf-8") if DOCS.exists() else "# Performance\n"
    start = text.find(HEADING + "\n")
    if start < 0:
        head, tail = text.rstrip("\n") + "\n\n", ""
    else:
        nxt = text.find("\n## ", start + len(HEADING))
        head, tail = text[:start], (text[nxt + 1:] if nxt >= 0 else "")
    DOCS.write_text(head + "\n".join(lines) + "\n" + ("\n" + tail if tail else ""), encoding="utf-8")
    print(f"wrote {DOCS}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--commands", default=",".join(COMMANDS))
    ap.add_argument("--factor", type=int, default=4, help="the larger size is FACTOR times N (default 4)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every base size N")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each (median; default 3)")
    ap.add_argument("--write-docs", action="store_true", help="write the table to docs/performance.md")
    a = ap.parse_args(argv)
    shapes = [s for s in a.shapes.split(",") if s]
    commands = [c for c in a.commands.split(",") if c]
    for s in shapes:
        if s not in SHAPES:
            ap.error(f"unknown shape {s!r} (one of {', '.join(SHAPES)})")
    info = machine_info()
    sizes = {s: (max(1, int(BASE[s] * a.scale)), max(1, int(BASE[s] * a.scale)) * a.factor) for s in shapes}
    files = {(s, n): shape_file(s, n) for s in shapes for n in sizes[s]}
    floor_file = shape_file("tiny_interchanges", 1)  # start-up and imports: the floor every run pays
    times: dict[tuple[str, int, str], list[float]] = {}
    mems: dict[tuple[str, int, str], list[float]] = {}
    for rep in range(a.repeat):
        for c in commands:
            t, m = run_once(c, floor_file)
            times.setdefault(("floor", 1, c), []).append(t)
            mems.setdefault(("floor", 1, c), []).append(m)
        for s in shapes:
            for n in sizes[s]:
                for c in commands:
                    t, m = run_once(c, files[(s, n)])
                    times.setdefault((s, n, c), []).append(t)
                    mems.setdefault((s, n, c), []).append(m)
                    print(f"[{rep + 1}/{a.repeat}] {s} {n} {c}: {t:.2f} s {m:.0f} MB", file=sys.stderr, flush=True)
    med = statistics.median
    rows = []
    for s in shapes:
        n, kn = sizes[s]
        for c in commands:
            rows.append({"shape": s, "command": c, "n": n, "kn": kn, "floor": med(times[("floor", 1, c)]),
                         "t1": med(times[(s, n, c)]), "t2": med(times[(s, kn, c)]),
                         "m1": med(mems[(s, n, c)]), "m2": med(mems[(s, kn, c)])})
    out = table(rows)
    print("\n".join(out))
    if a.write_docs:
        cmd = "python benchmarks/hostile.py " + " ".join(argv if argv is not None else sys.argv[1:])
        floors = ", ".join(f"{c} {med(times[('floor', 1, c)]):.2f} s" for c in commands)
        doc = [HEADING, "",
               "Generated by `benchmarks/hostile.py --write-docs`; do not edit the numbers by hand.", "",
               f"Command: `{cmd.strip()}` ({info['Date']}; load average {info['Load average']}; "
               f"{info['Cores available']} cores, {info['CPU']})", "",
               "The shapes of benchmarks/shapes.py, each at a size N and at "
               f"{a.factor}N, for each command (`validate --format json`, `gate --out DIR`, "
               "`lines --format csv`), one fresh subprocess a run, runs interleaved, "
               f"the median of {a.repeat}:", "",
               "- tiny_interchanges: interchanges of one claim each;",
               "- envelope_errors: interchanges of one claim each, each with one envelope error "
               "(IEA02 is not ISA13: a TA1 each);",
               "- many_lines: one claim with N service lines (the guide allows 50);",
               "- no_terminator: a header, then N bytes of segments with no segment terminator (RDR-009);",
               "- giant_segment: a claim whose NTE segment holds N bytes (RDR-009);",
               "- many_findings: N claims of 10 service lines, each line with three errors.", "",
               f"`time ratio` = seconds at {a.factor}N / seconds at N (linear: {a.factor}); each run "
               f"pays the start-up and imports (the floor, a one-claim file: {floors}), so "
               "`net time ratio` takes it off both (empty where the run at N is within 0.3 s of the floor: "
               "noise). `memory ratio` = peak RSS at "
               f"{a.factor}N / peak RSS at N (bounded: about 1).", ""]
        doc += out
        doc += ["", STILL_GROWS]
        write_docs(doc)
    return 0


#: what is left that grows, said under the table
STILL_GROWS = (
    "What the gate holds of a file is bounded: pass 1's verdicts, HL chains and SNIP 1-2 errors are "
    "kept in a SQLite spool in the run's scratch folder (edi837/outputs/gatespool.py), the split and "
    "the 277CA look them up claim by claim, and the 999 and TA1 are built a transaction and an "
    "interchange at a time (tests/test_gate_spooled_acks.py holds what the gate keeps to the same size "
    "from N to 4N). What grows a little in every command is the run's own memory of what it read: the "
    "interchange control numbers (to find one sent twice; past 2,000 they go to a SQLite file) and "
    "the edit pack's cross-claim state by patient (spilled to disk past its limit), which, like the "
    "history store, belong to the run, not to one file.")


if __name__ == "__main__":
    sys.exit(main())
