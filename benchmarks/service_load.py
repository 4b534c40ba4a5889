#!/usr/bin/env python
"""A bounded load test of the gate service (issue 15): not a unit test.

    python benchmarks/service_load.py [--clients 16] [--seconds 60] [--claims 1000]
                                      [--jobs 1] [--batch 16] [--write-docs]

Starts ``edi837 serve`` on 127.0.0.1 (a subprocess, a fresh data folder),
then ``--clients`` threads each post synthetic ``--claims``-claim 837P files
(benchmarks/generate.py; every post a new interchange: its own ISA13) for
``--seconds``, each waiting for its upload to be done (long-polled status)
before posting the next.  Reports the service's throughput (claims gated per
second, over the uploads finished in the window), the latency of an upload
from its POST to done (p50, p99), and the peak memory (RSS) of the server and
its gate process.  Then runs the command-line gate (``edi837 gate`` in one
process, the same ``--jobs``) on the same uploads with a fresh history store
and reports its claims per second: the service must keep at least 90% of it.

``--write-docs`` writes the results as the "Gate service under load" section
of docs/performance.md (between its markers; the other sections are kept).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from service_server import ALPHA, Server, generated, write_config  # noqa: E402

DOCS = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- service-load: begin -->", "<!-- service-load: end -->"


def tree_rss(pid: int) -> int:
    """Resident bytes of process ``pid`` and its descendants, now."""
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(d))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += kids.get(p, [])
        try:
            with open(f"/proc/{p}/statm") as fh:
                total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            pass
    return total


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--claims", type=int, default=1000)
    ap.add_argument("--bases", type=int, default=8, help="distinct generated files (seeds) to post")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    ap.add_argument("--write-docs", action="store_true")
    a = ap.parse_args(argv)

    import httpx

    tmp = Path(tempfile.mkdtemp(prefix="edi837-load-"))
    print(f"scratch: {tmp}", file=sys.stderr)
    bases = [generated(tmp / f"base{i}.x12", a.claims, 1, seed=100 + i) for i in range(a.bases)]
    cfg = write_config(tmp / "service.toml", batch=a.batch, jobs=a.jobs, queue=max(64, 2 * a.clients),
                       max_body=64 * 1024 * 1024)
    srv = Server(tmp / "data", cfg).start()
    assert srv.proc is not None
    lock = threading.Lock()
    next_isa = [10000]
    results: list[tuple[float, float, int, str, bytes]] = []  # (post time, latency, claims, id, body)
    errors: list[str] = []
    peak = [tree_rss(srv.proc.pid)]
    stop_at = time.monotonic() + a.seconds
    t_start = time.monotonic()

    def client(k: int) -> None:
        with srv.client(ALPHA) as c:
            i = k
            while time.monotonic() < stop_at:
                with lock:
                    n = next_isa[0]
                    next_isa[0] += 1
                ctl = f"{n:09d}".encode()
                body = bases[i % len(bases)].replace(b"*00501*000000001*", b"*00501*" + ctl + b"*", 1) \
                    .replace(b"IEA*1*000000001", b"IEA*1*" + ctl)
                i += 1
                t0 = time.monotonic()
                r = c.post("/v1/interchanges", content=body)
                if r.status_code != 202:
                    errors.append(f"{r.status_code} {r.text[:100]}")
                    time.sleep(float(r.headers.get("Retry-After", "1")))
                    continue
                id = r.json()["id"]
                while True:
                    s = c.get(f"/v1/interchanges/{id}", params={"wait": 30, "report": "false"}).json()
                    if s["status"] in ("done", "failed"):
                        break
                t1 = time.monotonic()
                if s["status"] != "done":
                    errors.append(f"{id}: {s.get('error')}")
                    continue
                with lock:
                    results.append((t0, t1 - t0, s["summary"]["claims"], id, body))

    def sample() -> None:
        while time.monotonic() < stop_at + 5 and srv.proc is not None and srv.proc.poll() is None:
            peak[0] = max(peak[0], tree_rss(srv.proc.pid))
            time.sleep(0.25)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(a.clients)]
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t_start
    metrics = httpx.get(srv.url + "/metrics").text
    srv.stop()
    claims = sum(r[2] for r in results)
    lat = [r[1] for r in results]
    svc_rate = claims / elapsed
    print(f"service: {len(results)} uploads, {claims} claims in {elapsed:.1f} s: {svc_rate:.0f} claims/s; "
          f"latency p50 {pct(lat, 50):.2f} s, p99 {pct(lat, 99):.2f} s; peak RSS {peak[0] / 2**20:.0f} MB; "
          f"errors {len(errors)}", file=sys.stderr)

    # the command-line gate on the same uploads, one process, a fresh history
    cli_in = tmp / "cli-in"
    cli_in.mkdir()
    for _, _, _, id, body in results:
        (cli_in / f"{id}.x12").write_bytes(body)
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "edi837", "gate", str(cli_in), "--out", str(tmp / "cli-out"),
                        "--history", str(tmp / "cli-history.sqlite"), "--jobs", str(a.jobs), "--quiet"],
                       cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    cli_s = time.monotonic() - t0
    cli_rate = claims / cli_s
    ratio = svc_rate / cli_rate
    print(f"command-line gate: {claims} claims in {cli_s:.1f} s: {cli_rate:.0f} claims/s (exit {p.returncode}); "
          f"service/CLI = {ratio:.0%}", file=sys.stderr)
    if a.write_docs:
        write_docs(a, len(results), claims, elapsed, svc_rate, lat, peak[0], cli_s, cli_rate, ratio, errors)
    if not a.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ratio >= 0.9 and not errors else 1


def write_docs(a: argparse.Namespace, uploads: int, claims: int, elapsed: float, svc_rate: float,
               lat: list[float], peak: int, cli_s: float, cli_rate: float, ratio: float,
               errors: list[str]) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from run import machine_info

    info = machine_info()
    cmd = "python benchmarks/service_load.py " + " ".join(sys.argv[1:])
    sec = [BEGIN, "## Gate service under load", "",
           f"Generated by `{cmd.strip()}` (issue 15); do not edit the numbers by hand.", "",
           f"{a.clients} client threads on 127.0.0.1 each post a {a.claims}-claim 837P "
           "(benchmarks/generate.py, a new ISA13 each time) to `edi837 serve` and long-poll its status "
           f"until it is done, then post the next, for {a.seconds:g} s; the service runs with jobs = {a.jobs}, "
           f"batch = {a.batch} and its embedded SQLite and files.  Latency is from the POST to done.  "
           "Peak RSS: the server process and its gate process together, sampled every 0.25 s.  "
           f"The command-line gate is `edi837 gate FOLDER --history H --jobs {a.jobs}` in one fresh process "
           "on the same uploads (its start-up included).", "",
           f"- Machine: {info.get('CPU', '?')}, {info.get('Cores available', '?')} cores, "
           "load average at the end " + info.get("Load average", "?").replace(", at start", ""),
           f"- Date: {info.get('Date', '?')}", "",
           "| what | uploads | claims | seconds | claims/s | p50 s | p99 s | peak RSS MB |",
           "|---|---|---|---|---|---|---|---|",
           f"| edi837 serve | {uploads} | {claims:,} | {elapsed:.1f} | {svc_rate:,.0f} | {pct(lat, 50):.2f} "
           f"| {pct(lat, 99):.2f} | {peak / 2**20:.0f} |",
           f"| edi837 gate (CLI) | {uploads} | {claims:,} | {cli_s:.1f} | {cli_rate:,.0f} |  |  |  |", "",
           f"Service / command line: **{ratio:.0%}** of the command-line gate's claims per second "
           f"(target: at least 90%).  Errors: {len(errors)}.", "",
           "Uploads are gated one batch at a time (at most `batch` per gate run), so with 16 clients "
           "waiting for their results the latency is about one batch of 16 files, and the 60 s window "
           "holds few rounds.  A load average above the core count means other processes shared the CPUs "
           "(both rows are slower and noisier then).", END]
    text = DOCS.read_text(encoding="utf-8") if DOCS.exists() else "# Performance\n"
    if BEGIN in text and END in text:
        head, _, rest = text.partition(BEGIN)
        text = head + "\n".join(sec) + rest.partition(END)[2]
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(sec) + "\n"
    DOCS.write_text(text, encoding="utf-8")
    print(f"wrote {DOCS}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
