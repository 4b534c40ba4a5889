#!/usr/bin/env python
"""Write every user-visible output of edi837 for a set of inputs into a folder,
so two commits can be compared byte for byte (``diff -r``).

    python benchmarks/golden.py OUT_DIR [--corpus ../shared/corpus] [--generated 10000]

For each input file: ``validate --format json`` and ``--format text``,
``lines --format csv``, ``parse --format json`` and ``--format jsonl``, and the
gate's output folder (fixed ``--now`` and ``--control-number``).  Across all
fixtures: one ``validate`` run (cross-claim rules see every file), the same with
``--jobs 2`` and with a fresh ``--history`` store run twice.  Generated files
(``--generated N``, 837P and 837I) get validate json, lines csv and gate.

Everything runs in one process through click's test runner; each output file
holds the command's stdout, its stderr and its exit code.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))


def _run(runner: CliRunner, args: list[str], out: Path) -> None:
    from edi837.cli import main

    res = runner.invoke(main, args, catch_exceptions=True)
    text = f"exit {res.exit_code}\n--- stdout\n{res.stdout}\n--- stderr\n{res.stderr}\n"
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        text += f"--- exception\n{type(res.exception).__name__}: {res.exception}\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8", errors="backslashreplace")


def _gate(runner: CliRunner, inputs: list[str], out: Path) -> None:
    d = out / "out"
    args = ["gate", *inputs, "--out", str(d), "--now", "2026-01-15T06:00", "--control-number", "100"]
    _run(runner, args, out / "gate.txt")


def _name(p: str) -> str:
    return p.replace(os.sep, "__").lstrip("._")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--generated", type=int, default=10000)
    ap.add_argument("--no-corpus", action="store_true")
    a = ap.parse_args(argv)
    out = Path(a.out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    runner = CliRunner()
    os.chdir(ROOT)
    fixtures = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "fixtures").rglob("*")
                      if p.is_file() and p.suffix in (".x12", ".edi", ".txt", ".837", ".dat"))
    files = list(fixtures)
    corpus = Path(a.corpus)
    if not a.no_corpus and corpus.is_dir():
        files += sorted(str(p) for p in corpus.rglob("*")
                        if p.is_file() and p.name not in ("index.tsv", "README.md") and "LICENSES" not in p.parts)
    tmp = Path(tempfile.mkdtemp(prefix="golden-gen-"))
    try:
        gen: list[str] = []
        if a.generated:
            from generate import generate

            for kind in ("837P", "837I"):
                p = tmp / f"gen_{kind}_{a.generated}.x12"
                generate(str(p), a.generated, kind, seed=0)
                gen.append(str(p))
        for f in files + gen:
            d = out / (_name(f) if f not in gen else Path(f).name)
            _run(runner, ["validate", f, "--format", "json"], d / "validate.json")
            _run(runner, ["lines", f, "--format", "csv"], d / "lines.csv")
            _gate(runner, [f], d / "gate")
            if f in gen:
                continue
            _run(runner, ["validate", f, "--format", "text", "--info"], d / "validate.txt")
            _run(runner, ["parse", f, "--format", "json"], d / "parse.json")
            _run(runner, ["parse", f, "--format", "jsonl"], d / "parse.jsonl")
        allfx = [f for f in fixtures if "invalid" not in f]
        _run(runner, ["validate", *allfx, "--format", "json"], out / "_all" / "validate.json")
        _run(runner, ["validate", *allfx, "--format", "json", "--jobs", "2"], out / "_all" / "validate.jobs2.json")
        _run(runner, ["lines", *allfx, "--format", "csv", "--jobs", "2"], out / "_all" / "lines.jobs2.csv")
        h = tmp / "h.sqlite"
        _run(runner, ["validate", *allfx, "--format", "json", "--history", str(h)], out / "_all" / "hist1.json")
        _run(runner, ["validate", *allfx, "--format", "json", "--history", str(h)], out / "_all" / "hist2.json")
        _gate(runner, allfx, out / "_all" / "gate")
        _run(runner, ["validate", *allfx, "--format", "text", "--profile", "medicare"], out / "_all" / "medicare.txt")
        if not a.no_corpus and corpus.is_dir():
            _run(runner, ["validate", str(corpus), "--format", "json"], out / "_corpus" / "validate.json")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    # temp paths in outputs would differ between runs
    for p in out.rglob("*"):
        if p.is_file():
            t = p.read_bytes().replace(str(tmp).encode(), b"<TMP>").replace(str(out).encode(), b"<OUT>")
            p.write_bytes(t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
