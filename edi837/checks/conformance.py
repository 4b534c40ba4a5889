"""SNIP 1-2 verdicts on the shared corpus, beside pyx12 4.0.0's.

``python -m edi837.checks.conformance [CORPUS_DIR] [--out docs/conformance.md]``
reads ``CORPUS_DIR/index.tsv`` (default ``../shared/corpus``, or
``$EDI837_CORPUS``), validates every listed file with ``Engine(snip="1-2")``
and writes docs/conformance.md: per file our errors by rule id beside the
``pyx12_4_0_0`` column.  Corpus files are read in place, never copied.
"""

from __future__ import annotations

import argparse
import collections
import csv
import os
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus"

#: pyx12 messages that are not implementation-guide reasons (the file's form, not its content)
NOT_GUIDE = ("does not look like an X12 data file",)

#: files where pyx12 rejects for a guide reason and we do not, with why pyx12 is wrong (or stricter)
_V4010 = ("pyx12 validated this 004010 (pre-2012, no longer HIPAA-adopted) file with its 4010 map; edi837 "
          "reads 837s only with the 005010X222A1 / 005010X223A2 guides: a 4010 837 is one error (GRM-007, "
          "issue 13) and is not read, instead of a cascade of 5010 guide errors on its 4010 segments.")
DISAGREE: dict[str, str] = {
    "files/azoner__pyx12/ordinal.txt": _V4010,
    "files/azoner__pyx12/simple_837i.txt": _V4010,
    "files/azoner__pyx12/simple_837p.txt": _V4010,
    "files/apimeister__x12-types/005010_837.edi": (
        "ST03 is 005010X222 under GS08 005010X222A1: the TR3 ST03 note makes ST03 the same as GS08, the "
        "guide's version 005010X222A1 (S2-ELE-003 at ST03, issue 11). pyx12's X222A1 map lists no ST03 code "
        "so it lets this pass, while its X223A2 map rejects the same ST03 005010X223 in an 837I; edi837 "
        "judges 837P and 837I alike."),
}

#: one-element mutations (tests/oracle.py, key ``kind:ELEMENT`` such as ``date:DTP03`` or
#: ``segment:N4``) where pyx12 reports an error and edi837 deliberately does not report one at
#: the same segment/element, with why.  tests/test_oracle.py and benchmarks/oracle.py read this
#: table: a difference not listed here fails.  Gaps edi837 still has to close are NOT listed
#: here (they are xfail cases in tests/test_oracle.py, issue 11).
ORACLE_DISAGREE: dict[str, str] = {
    "segment:HL": "a removed HL: pyx12 reports the missing loop, the HL count and the orphaned parent at the "
                  "end of the transaction (after SE); edi837 reports each where it is: S2-LOOP-001 at the HL "
                  "that lacks its child loop, S2-HL-001 at the HL02 that names a missing parent, S2-SEG-002 at "
                  "the segments left without their loop. Both reject the transaction's claims.",
}


def oracle_reason(file: str, key: str) -> str | None:
    """Why edi837 deliberately differs from pyx12 on this mutation (None: it must not)."""
    return ORACLE_DISAGREE.get(key)


#: first-message fragments of pyx12 that we knowingly do not treat as errors, with the reason
PYX12_STRICTER = {
    "has unnecessary trailing spaces": "X12.6 says trailing spaces *should* be suppressed; we warn "
                                       "(S2-ELE-005) rather than reject.",
}


def corpus_dir(arg: str | None = None) -> Path:
    return Path(arg or os.environ.get("EDI837_CORPUS") or DEFAULT_CORPUS)


def rows(corpus: Path) -> list[dict[str, str]]:
    with open(corpus / "index.tsv", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def pyx12_class(v: str) -> str:
    """'ok', 'guide' (pyx12 rejects for a guide reason), or 'n/a' (no map, crash, not X12 to it)."""
    v = (v or "").strip()
    if v == "ok":
        return "ok"
    if v.startswith("no map") or v.startswith("crash"):
        return "n/a"
    if "errors" in v.split(":", 1)[0]:
        if any(s in v for s in NOT_GUIDE):
            return "n/a"
        return "guide"
    return "n/a"


def ours(path: Path) -> tuple[collections.Counter[str], collections.Counter[str]]:
    """(errors by rule id, warnings by rule id) of SNIP 1-2 on one file."""
    from ..events import Found
    from .engine import Engine

    errs: collections.Counter[str] = collections.Counter()
    warns: collections.Counter[str] = collections.Counter()
    for ev in Engine(snip="1-2").run_file(str(path)):
        if isinstance(ev, Found):
            if ev.finding.severity.value == "error":
                errs[ev.finding.rule] += 1
            elif ev.finding.severity.value == "warning":
                warns[ev.finding.rule] += 1
    return errs, warns


def verdict(pcls: str, errs: collections.Counter[str]) -> str:
    if pcls == "ok":
        return "agree" if not errs else "disagree"
    if pcls == "guide":
        return "agree" if errs else "disagree"
    return "n/a"


def run(corpus: Path) -> Iterator[dict[str, Any]]:
    for r in rows(corpus):
        p = corpus / r["file"]
        errs, warns = ours(p)
        pcls = pyx12_class(r["pyx12_4_0_0"])
        yield {"file": r["file"], "transaction": r["transaction"], "version": r["version"],
               "pyx12": r["pyx12_4_0_0"], "pyx12_class": pcls, "errors": errs, "warnings": warns,
               "verdict": verdict(pcls, errs)}


def _fmt(c: collections.Counter[str]) -> str:
    return ", ".join(f"{k}×{v}" for k, v in sorted(c.items())) or "—"


def _cell(s: str, n: int = 110) -> str:
    s = s.replace("|", "\\|").replace("\n", " ")
    return s if len(s) <= n else s[: n - 1] + "…"


def write(results: list[dict[str, Any]], out: Path) -> None:
    tot = collections.Counter(r["verdict"] for r in results)
    by = collections.Counter((r["pyx12_class"], r["verdict"]) for r in results)
    lines = [
        "# SNIP 1-2 conformance against pyx12 4.0.0",
        "",
        "Generated by `python -m edi837.checks.conformance` from `../shared/corpus/index.tsv` "
        "(files read in place). *Ours* is `Engine(snip=\"1-2\")`: error findings by rule id "
        "(warnings in brackets). *pyx12* is the index's `pyx12_4_0_0` column.",
        "",
        "Comparison classes: **ok** — pyx12 accepted the file; **guide** — pyx12 rejected it for an "
        "implementation-guide reason; **n/a** — pyx12 could not judge it (no map for the version, "
        "a crash, or it refused the file's form: \"does not look like an X12 data file\", e.g. prose "
        "before the ISA). We *agree* on an ok file when we report no SNIP 1-2 error, and on a guide "
        "file when we report at least one.",
        "",
        "## Summary",
        "",
        f"- files: {len(results)}",
        f"- agree: {tot['agree']}; disagree: {tot['disagree']}; not comparable: {tot['n/a']}",
        f"- pyx12 ok: {by[('ok', 'agree')] + by[('ok', 'disagree')]} "
        f"(we agree on {by[('ok', 'agree')]})",
        f"- pyx12 guide rejection: {by[('guide', 'agree')] + by[('guide', 'disagree')]} "
        f"(we also reject {by[('guide', 'agree')]})",
        "",
        "## Where we differ from pyx12, and why",
        "",
    ]
    dis = [r for r in results if r["verdict"] == "disagree"]
    if not dis:
        lines.append("No disagreements.")
    for r in dis:
        why = DISAGREE.get(r["file"])
        if why is None:
            why = next((v for k, v in PYX12_STRICTER.items() if k in r["pyx12"]), "not yet explained")
        lines.append(f"- `{r['file']}`: pyx12 `{_cell(r['pyx12'], 160)}`; ours {_fmt(r['errors'])}. {why}")
    lines += ["", "## Deliberate differences on mutated files", "",
              "`tests/test_oracle.py` and `benchmarks/oracle.py` mutate one element at a time in files "
              "pyx12 accepts and require an edi837 error wherever pyx12 reports one (same segment, same "
              "element). The differences we keep on purpose:", ""]
    if not ORACLE_DISAGREE:
        lines.append("None.")
    for k, v in sorted(ORACLE_DISAGREE.items()):
        lines.append(f"- `{k}`: {v}")
    lines += ["", "## Deliberate differences by design", ""]
    lines += [f"- {v}" for v in BY_DESIGN]
    lines += ["", "## Per file", "", "| file | version | pyx12 | class | ours (errors) | [warnings] | verdict |",
              "|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {_cell(r['file'].split('/', 1)[-1], 70)} | {r['version']} | {_cell(r['pyx12'])} | "
                     f"{r['pyx12_class']} | {_fmt(r['errors'])} | {_fmt(r['warnings'])} | {r['verdict']} |")
    lines.append("")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines))
    os.replace(tmp, out)


#: differences from pyx12 that no corpus file shows, kept on purpose
BY_DESIGN = (
    "A claim of more service lines than its guide allows (837P 50, 837I 999, loop 2400): edi837 reads "
    "it up to one line past the maximum, reports that line (S2-LOOP-002, which rejects the claim) and "
    "neither holds nor checks the lines after it, so one claim of 100,000 lines costs the memory of "
    "51 (issue 14); pyx12 goes on to report the element errors of every line. The gate's rejected file "
    "still holds every line, copied from the input; `edi837 lines` exports the lines read and names the "
    "claim (GRM-008).",
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("corpus", nargs="?", default=None)
    ap.add_argument("--out", default=str(ROOT / "docs" / "conformance.md"))
    a = ap.parse_args(argv)
    c = corpus_dir(a.corpus)
    if not (c / "index.tsv").exists():
        print(f"no corpus at {c}")
        return 1
    results = list(run(c))
    write(results, Path(a.out))
    tot = collections.Counter(r["verdict"] for r in results)
    print(f"{len(results)} files: agree {tot['agree']}, disagree {tot['disagree']}, n/a {tot['n/a']} -> {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
