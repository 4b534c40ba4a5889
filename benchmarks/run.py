#!/usr/bin/env python
"""Side-by-side benchmark of edi837 against pyx12 and a plain str.split floor.

    python benchmarks/run.py [--sizes 1000,10000,100000] [--kinds 837P,837I]
                             [--pyx12-max 10000] [--tools validate,validate-j2,validate-x2,gate,gate-j2,lines,x12valid,x12reader,split]
                             [--repeat 3] [--instructions 10000] [--large 1000000] [--write-docs]

Generated inputs are cached in benchmarks/generated/ (gitignored).  Every
measurement runs in a fresh subprocess; wall time is measured around it and
peak RSS is the child's own ``ru_maxrss`` (from ``os.wait4``), so each figure
includes interpreter start-up and imports.

Tools:

- ``edi837 validate``  full validation (the ``edi837 validate FILE --format json``
  CLI when it exists, else ``Engine().run_file`` with every finding and claim
  verdict serialised as JSON to /dev/null)
- ``edi837 lines``     parse to service-line rows (``edi837 lines FILE --format csv``
  when the CLI exists, else ``api.lines`` written with csv.DictWriter to /dev/null)
- ``pyx12 x12valid``   pyx12's validator (skipped above ``--pyx12-max`` claims)
- ``pyx12 X12Reader``  pyx12's tokenizer alone, iterating segments
- ``str.split``        floor: read the file, split on the segment terminator, then '*'
- ``edi837 validate --jobs 2``  the same validation on two processes (one file split by
  transaction set when the CLI does that; the ``--jobs 2`` target)
- ``edi837 gate``, ``gate --jobs 2``  the gate, every output written to a new folder (files of
  100,000 claims and more)

``--repeat N`` runs every command N times, the tools of one file interleaved (tool 1, tool
2, ..., tool 1, ...), and reports the median wall time and the largest RSS: the machine is
shared, so one run says little.  ``--instructions MAX`` also counts each command's
instructions once under ``valgrind --tool=callgrind`` on files of at most MAX claims
(pyx12 x12valid: at most a tenth of that, it runs about 50 times slower under valgrind):
unlike wall time the count does not move with the machine's load.  The Targets section
states issue 16's targets against the measured rows.

With ``--write-docs`` the table and machine information go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GENERATED = HERE / "generated"
DOCS = ROOT / "docs" / "performance.md"
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(ROOT))

TOOLS = ["validate", "validate-j2", "validate-x2", "gate", "gate-j2", "lines", "x12valid", "x12reader", "split"]
LABELS = {
    "validate": "edi837 validate",
    "validate-j2": "edi837 validate --jobs 2",
    "validate-x2": "two validates at once",
    "gate": "edi837 gate",
    "gate-j2": "edi837 gate --jobs 2",
    "lines": "edi837 lines",
    "x12valid": "pyx12 x12valid",
    "x12reader": "pyx12 X12Reader",
    "split": "str.split floor",
}


# -- workers (run inside the measured subprocess) -----------------------------
def _worker(tool: str, path: str) -> None:
    if tool == "validate":
        import json

        from edi837.checks.engine import Engine

        with open(os.devnull, "w") as out:
            for kind, obj in Engine().run_file(path):
                if kind in ("finding", "claim"):
                    d = obj.to_dict()
                    out.write(json.dumps(d, default=str))
                    out.write("\n")
    elif tool == "lines":
        import csv

        from edi837 import api
        from edi837.outputs.tables import COLUMN_NAMES

        with open(os.devnull, "w", newline="") as out:
            w = csv.DictWriter(out, COLUMN_NAMES)
            w.writeheader()
            for row in api.lines(path):
                w.writerow(row)
    elif tool == "x12reader":
        from pyx12.x12file import X12Reader

        n = 0
        for _seg in X12Reader(path):
            n += 1
        print(n)
    elif tool == "split":
        print(split_count(path))
    else:  # pragma: no cover
        raise SystemExit(f"unknown worker tool {tool}")


def split_count(path: str) -> int:
    """Tokenise with str.split only; return the number of segments."""
    with open(path, "r", encoding="latin-1", newline="") as f:
        data = f.read()
    start = data.find("ISA")
    seg_term = data[start + 105]
    elem_sep = data[start + 3]
    n = 0
    for seg in data.split(seg_term):
        seg = seg.strip()
        if seg:
            seg.split(elem_sep)
            n += 1
    return n


# -- the parent ----------------------------------------------------------------
def _cli_has(sub: str) -> bool:
    exe = shutil.which("edi837") or str(Path(sys.executable).parent / "edi837")
    if not os.path.exists(exe):
        return False
    try:
        r = subprocess.run([exe, sub, "--help"], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


def command(tool: str, path: str, use_cli: dict[str, bool]) -> list[str]:
    bindir = Path(sys.executable).parent
    if tool == "validate" and use_cli.get("validate"):
        return [str(bindir / "edi837"), "validate", path, "--format", "json"]
    if tool == "validate-j2":
        return [str(bindir / "edi837"), "validate", path, "--format", "json", "--jobs", "2"]
    if tool == "validate-x2":  # the machine's ceiling for two processes: two one-job runs side by side
        one = shlex.join(command("validate", path, use_cli))
        return ["sh", "-c", f"{one} > /dev/null & p=$!; {one} > /dev/null & q=$!; wait $p; a=$?; wait $q; b=$?; "
                            "[ $a -le 1 ] && [ $b -le 1 ]"]
    if tool in ("gate", "gate-j2"):  # (every output file written to a new folder, removed after)
        gate = shlex.join([str(bindir / "edi837"), "gate", path, "--jobs", "2" if tool == "gate-j2" else "1",
                           "--out"])
        return ["sh", "-c", f'd=$(mktemp -d) && {gate} "$d/out" > /dev/null; s=$?; rm -rf "$d"; exit $s']
    if tool == "lines" and use_cli.get("lines"):
        return [str(bindir / "edi837"), "lines", path, "--format", "csv"]
    if tool == "x12valid":
        exe = shutil.which("x12valid") or str(bindir / "x12valid")
        return [exe, path]
    return [sys.executable, str(Path(__file__).resolve()), "--worker", tool, path]


TIME = "/usr/bin/time"


def measure(cmd: list[str], timeout: float | None = None) -> tuple[float, float, int]:
    """Run ``cmd``; return (wall seconds, peak RSS MB, exit status).

    Peak RSS comes from GNU ``/usr/bin/time`` when present: a child forked
    straight from this (bigger) Python process would report this process's
    RSS at fork time as its own ``ru_maxrss`` floor.  Otherwise ``os.wait4``.
    """
    if os.path.exists(TIME):
        import tempfile

        fd, out = tempfile.mkstemp(prefix="edi837-bench-", suffix=".time")
        os.close(fd)
        try:
            wall, _rss, status = _measure([TIME, "-f", "%M", "-o", out] + cmd, timeout)
            try:
                with open(out) as f:
                    kib = int(f.read().strip().splitlines()[-1])
                return wall, kib / 1024.0, status
            except (OSError, ValueError, IndexError):
                return wall, float("nan"), status
        finally:
            os.unlink(out)
    return _measure(cmd, timeout)


def _measure(cmd: list[str], timeout: float | None = None) -> tuple[float, float, int]:
    t0 = time.perf_counter()
    with open(os.devnull, "wb") as null:
        p = subprocess.Popen(cmd, stdout=null, stderr=null, cwd=str(ROOT))
        deadline = None if timeout is None else t0 + timeout
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.perf_counter() > deadline:
                p.kill()
                pid, status, ru = os.wait4(p.pid, 0)
                p.returncode = -9
                return (float("nan"), ru.ru_maxrss / 1024.0, -9)
            time.sleep(0.005)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    return wall, ru.ru_maxrss / 1024.0, p.returncode  # ru_maxrss is KiB on Linux


# Validators exit 1 for "file has errors" (and pyx12's console script exits 1
# even for a clean file: it calls sys.exit(main()) with main() -> True), so
# exit 1 counts as a completed run for them.
OK_STATUS = {"validate": {0, 1}, "validate-j2": {0, 1}, "gate": {0, 1}, "gate-j2": {0, 1}, "x12valid": {0, 1}}  # (validate-x2: 0, both ran)


def instructions(cmd: list[str], timeout: float | None = None) -> float | None:
    """Instructions (in G, 10^9) ``cmd`` executes, counted by ``valgrind --tool=callgrind``
    (every process it starts included); None when valgrind is missing or the run fails."""
    vg = shutil.which("valgrind")
    if vg is None:
        return None
    import re
    import tempfile

    with tempfile.TemporaryDirectory(prefix="edi837-bench-cg-") as d:
        try:
            r = subprocess.run([vg, "--tool=callgrind", "--trace-children=yes",
                                f"--callgrind-out-file={d}/cg.%p"] + cmd,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=str(ROOT),
                               timeout=timeout, text=True)
        except subprocess.TimeoutExpired:
            return None
        got = [int(x) for x in re.findall(r"Collected : (\d+)", r.stderr)]
        return sum(got) / 1e9 if got else None


def median(xs: list[float]) -> float:
    ys = sorted(xs)
    n = len(ys)
    return ys[n // 2] if n % 2 else (ys[n // 2 - 1] + ys[n // 2]) / 2


def cached(name: str, make) -> Path:
    """benchmarks/generated/NAME, made by ``make(tmp_path)`` when missing (then renamed into place)."""
    GENERATED.mkdir(parents=True, exist_ok=True)
    path = GENERATED / name
    if not path.exists() or path.stat().st_size == 0:
        tmp = path.with_suffix(".x12.part")
        print(f"generating {path.name} ...", file=sys.stderr, flush=True)
        make(tmp)
        os.replace(tmp, path)
    return path


def ensure_file(kind: str, n: int) -> Path:
    return cached(f"{kind.lower()}_{n}.x12", lambda tmp: subprocess.run(
        [sys.executable, str(HERE / "generate.py"), "--claims", str(n), "--kind", kind, "--out", str(tmp)],
        check=True))


def machine_info() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GB"
                    break
    except OSError:
        pass
    try:
        import pyx12  # noqa: F401
        from importlib.metadata import version
        pyx12_v = version("pyx12")
    except Exception:  # pragma: no cover
        pyx12_v = "?"
    try:
        cores = str(len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover
        cores = str(os.cpu_count())
    try:
        load = " / ".join(f"{x:.2f}" for x in os.getloadavg()) + " (1/5/15 min, at start)"
    except OSError:  # pragma: no cover
        load = "?"
    return {
        "Load average": load,
        "CPU": cpu,
        "Cores available": cores,
        "Memory": mem,
        "Python": platform.python_implementation() + " " + platform.python_version(),
        "OS": platform.platform(),
        "pyx12": pyx12_v,
        "Date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
    }


def fmt_table(rows: list[dict]) -> list[str]:
    head = ["tool", "file", "claims", "segments", "seconds", "segments/s", "vs x12valid", "x floor",
            "instructions (G)", "peak RSS MB"]
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    for r in rows:
        ratio = r.get("ratio")
        floor = r.get("floor")
        ins = r.get("instructions")
        cells = [
            LABELS[r["tool"]], r["file"], f"{r['claims']:,}", f"{r['segments']:,}",
            "failed" if r["status"] != 0 else f"{r['seconds']:.2f}" + (
                f" ({', '.join(f'{x:.2f}' for x in r['runs'])})" if len(r.get("runs", ())) > 1 else ""),
            "" if r["status"] != 0 else f"{r['segments'] * (2 if r['tool'] == 'validate-x2' else 1) / r['seconds']:,.0f}",
            "" if ratio is None else f"{ratio:.1f}x",
            "" if floor is None else f"{floor:.1f}x",
            "" if ins is None else f"{ins:.2f}",
            f"{r['rss']:.0f}",
        ]
        out.append("| " + " | ".join(cells) + " |")
    return out


def targets(rows: list[dict]) -> list[str]:
    """Issue 16's targets, each against the rows that measure it (nothing when none do)."""
    def find(tool: str, claims: int, kind: str) -> dict | None:
        return next((r for r in rows if r["tool"] == tool and r["claims"] == claims
                     and r["file"].startswith(kind.lower()) and r["status"] == 0), None)

    out = ["| target | file | measured | met |", "|---|---|---|---|"]
    for kind in ("837P", "837I"):
        r = find("validate", 10000, kind)
        if r is not None and r.get("ratio") is not None:
            ins = (f"; instructions {r['x12_instructions'] / r['instructions']:.1f}x" if r.get("instructions")
                   and r.get("x12_instructions") else "")
            out.append(f"| validate at least 10x faster than x12valid (start-up included) | {r['file']} | "
                       f"{r['ratio']:.1f}x{ins} | {'yes' if r['ratio'] >= 10 else 'no'} |")
    for kind in ("837P", "837I"):
        r = find("lines", 100000, kind)
        if r is not None and r.get("floor") is not None:
            out.append(f"| lines within 10x the str.split floor | {r['file']} | {r['floor']:.1f}x | "
                       f"{'yes' if r['floor'] <= 10 else 'no'} |")
    for kind in ("837P", "837I"):
        for tool in ("validate", "lines"):
            r = find(tool, 1000000, kind)
            if r is not None:
                out.append(f"| {LABELS[tool]} peak RSS at most 100 MB | {r['file']} | {r['rss']:.0f} MB | "
                           f"{'yes' if r['rss'] <= 100 else 'no'} |")
    for kind in ("837P", "837I"):
        one, two = find("validate", 100000, kind), find("validate-j2", 100000, kind)
        if one is not None and two is not None:
            x = one["seconds"] / two["seconds"]
            pair = find("validate-x2", 100000, kind)
            # two one-job runs side by side do twice the work: 2 x one / pair is what two processes
            # gain on this machine at best (1.0 on one core, 2.0 on two cores that do not slow each other)
            ceiling = f" (two one-job runs side by side: {2 * one['seconds'] / pair['seconds']:.2f}x)" if pair else ""
            out.append(f"| `--jobs 2` at least 1.6x one job | {one['file']} | {x:.2f}x{ceiling} | "
                       f"{'yes' if x >= 1.6 else 'no'} |")
    return out if len(out) > 2 else []


def write_docs(rows: list[dict], info: dict[str, str], args: argparse.Namespace,
               use_cli: dict[str, bool], skipped: list[str]) -> None:
    cmdline = "python benchmarks/run.py " + " ".join(sys.argv[1:])
    lines = [
        "# Performance",
        "",
        "Generated by `benchmarks/run.py --write-docs`; do not edit the numbers by hand.",
        "",
        f"Command: `{cmdline.strip()}`",
        "",
        "## Machine",
        "",
    ]
    lines += [f"- {k}: {v}" for k, v in info.items()]
    try:
        lines.append(f"- Load average at end: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}")
    except OSError:  # pragma: no cover
        pass
    lines += ["", "A load average above the core count means other processes shared the CPUs during",
              "the run; rows measured then are slower and noisier than on an idle machine."]
    lines += [
        "",
        "## Method",
        "",
        "Synthetic files from `benchmarks/generate.py` (3 service lines per claim, 5,000 claims per ST).",
        "Each row is one fresh subprocess: wall time includes interpreter start-up and imports;",
        "peak RSS is that process's maximum resident set size as reported by GNU `/usr/bin/time -f %M`.",
        "",
        f"- edi837 validate: {'`edi837 validate FILE --format json > /dev/null`' if use_cli.get('validate') else '`Engine().run_file(FILE)`, every finding and claim verdict serialised to JSON, to /dev/null (CLI not yet available)'}",
        f"- edi837 lines: {'`edi837 lines FILE --format csv > /dev/null`' if use_cli.get('lines') else '`api.lines(FILE)` written by csv.DictWriter to /dev/null (CLI not yet available)'}",
        "- pyx12 x12valid: `x12valid FILE` (pyx12 " + info.get("pyx12", "?") + "), output to /dev/null",
        "- pyx12 X12Reader: `pyx12.x12file.X12Reader(FILE)` iterated segment by segment",
        "- str.split floor: read the whole file, `split` on the segment terminator and each segment on `*`",
        "",
        "- edi837 validate --jobs 2: the same on two worker processes",
        "- two validates at once: two one-job `edi837 validate` runs of the file side by side (a control: "
        "what two processes gain on this machine at best, 2 x one job's seconds / these seconds)",
        "- edi837 gate, gate --jobs 2: `edi837 gate FILE --jobs 1` (or 2) `--out` a new folder (every output "
        "file written: report, accepted and rejected 837s, 999, 277CA), files of 100,000 claims and more",
        "",
        f"Seconds: the median of {getattr(args, 'repeat', 1)} runs (each run in brackets), the tools of one "
        "file interleaved.",
        "`vs x12valid` = pyx12 x12valid seconds / this tool's seconds on the same file (higher is faster);",
        "empty where x12valid was not run on that file.  `x floor` = this tool's seconds / the str.split",
        "floor's on the same file.  `instructions (G)`: one run under `valgrind --tool=callgrind`",
        "(10^9 instructions, worker processes included), steadier than seconds on a shared machine.",
        *([f"Files of {', '.join(f'{int(n):,}' for n in args.large.split(',') if n)} claims (`--large`) are run "
           "with edi837 validate and lines only: the memory target."] if getattr(args, "large", "") else []),
        "",
        "## Results",
        "",
    ]
    tg = targets(rows)
    if tg:
        lines += ["### Targets (issue 16)", ""] + tg + ["", "### Every row", ""]
    lines += fmt_table(rows)
    if skipped:
        lines += ["", "Skipped: " + "; ".join(skipped)]
    lines += ["", "See benchmarks/README.md for how to run and profile.", ""]
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    # the sections other scripts write stay (each has its own command: benchmarks/service_load.py,
    # benchmarks/hostile.py); they follow this script's part
    old = DOCS.read_text(encoding="utf-8") if DOCS.exists() else ""
    starts = [i for i in (old.find("\n<!-- service-load: begin -->"), old.find("\n## Hostile input")) if i >= 0]
    if starts:
        lines.append(old[min(starts) + 1:].rstrip("\n") + "\n")
    DOCS.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {DOCS}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--kinds", default="837P,837I")
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--pyx12-max", type=int, default=10000,
                    help="largest claim count to run pyx12 x12valid on (default 10000)")
    ap.add_argument("--large", default="",
                    help="claim counts run with edi837 validate and lines only, for the memory "
                         "target (e.g. 1000000; the file is about 380 MB)")
    ap.add_argument("--large-kinds", default="",
                    help="the kinds run at the --large sizes (default: every one of --kinds)")
    ap.add_argument("--timeout", type=float, default=900.0, help="per-run time limit, seconds")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each command (median reported)")
    ap.add_argument("--instructions", type=int, default=0, metavar="MAX",
                    help="count instructions with callgrind on files of at most MAX claims (0: never)")
    ap.add_argument("--write-docs", action="store_true", help="write docs/performance.md")
    ap.add_argument("--worker", nargs=2, metavar=("TOOL", "FILE"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        _worker(*a.worker)
        return 0
    sizes = [int(s) for s in a.sizes.split(",") if s]
    large = [int(s) for s in a.large.split(",") if s]
    kinds = [k.strip().upper() for k in a.kinds.split(",") if k.strip()]
    tools = [t.strip() for t in a.tools.split(",") if t.strip()]
    for t in tools:
        if t not in TOOLS:
            ap.error(f"unknown tool {t}; choose from {', '.join(TOOLS)}")
    use_cli = {"validate": _cli_has("validate"), "lines": _cli_has("lines")}
    info = machine_info()
    for k, v in info.items():
        print(f"{k}: {v}", file=sys.stderr)
    rows: list[dict] = []
    skipped: list[str] = []
    for kind in kinds:
        large_kinds = [k.strip().upper() for k in a.large_kinds.split(",") if k.strip()] or kinds
        for n in sizes + [n for n in large if n not in sizes and kind in large_kinds]:
            path = ensure_file(kind, n)
            segs = split_count(str(path))
            file_rows = []
            todo = []
            for tool in tools:
                if n not in sizes and tool not in ("validate", "lines"):
                    continue  # a --large size: our own tools only
                if tool in ("validate-j2", "validate-x2", "gate", "gate-j2") and n < 100000:
                    continue  # the --jobs target is on one big file (and the gate beside it)
                if tool == "x12valid" and n > a.pyx12_max:
                    skipped.append(f"pyx12 x12valid on {path.name} (> --pyx12-max {a.pyx12_max})")
                    continue
                r = {"tool": tool, "file": path.name, "claims": n, "segments": segs, "runs": [],
                     "rss": 0.0, "status": 0, "ratio": None, "floor": None, "instructions": None}
                todo.append((r, command(tool, str(path), use_cli)))
                file_rows.append(r)
            # interleaved: tool 1, tool 2, ..., tool 1, ...; a --large size once (it is the memory target)
            for _ in range(max(1, a.repeat) if n in sizes else 1):
                for r, cmd in todo:
                    if r["status"] != 0:
                        continue
                    wall, rss, status = measure(cmd, a.timeout)
                    ok = status in OK_STATUS.get(r["tool"], {0})
                    r["runs"].append(wall)
                    r["rss"] = max(r["rss"], rss)
                    if not ok:
                        r["status"] = status
                    print(f"{LABELS[r['tool']]:16} {path.name:18} {wall:9.2f} s {rss:8.0f} MB"
                          + ("" if ok else f"  FAILED exit {status}"), file=sys.stderr, flush=True)
            for r, cmd in todo:
                r["seconds"] = median(r["runs"]) if r["runs"] else float("nan")
                limit = a.instructions // 10 if r["tool"] == "x12valid" else a.instructions
                if r["status"] == 0 and n <= limit:
                    r["instructions"] = instructions(cmd, a.timeout * 60)
                    print(f"{LABELS[r['tool']]:16} {path.name:18} {r['instructions'] or float('nan'):9.2f} G "
                          "instructions", file=sys.stderr, flush=True)
            base = next((r for r in file_rows if r["tool"] == "x12valid" and r["status"] == 0), None)
            floor = next((r for r in file_rows if r["tool"] == "split" and r["status"] == 0), None)
            for r in file_rows:
                if r["status"] != 0 or r["tool"] == "validate-x2":  # (two runs' time: no ratio)
                    continue
                if base is not None:
                    r["ratio"] = base["seconds"] / r["seconds"]
                    r["x12_instructions"] = base.get("instructions")
                if floor is not None:
                    r["floor"] = r["seconds"] / floor["seconds"]
            rows.extend(file_rows)
    print("\n".join(fmt_table(rows)))
    if skipped:
        print("skipped: " + "; ".join(skipped))
    if a.write_docs:
        write_docs(rows, info, a, use_cli, skipped)
    return 0


if __name__ == "__main__":
    sys.exit(main())
