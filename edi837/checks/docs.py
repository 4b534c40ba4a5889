"""Generate docs/errors.md from the rule registry.

    python -m edi837.checks.docs            # rewrite docs/errors.md
    python -m edi837.checks.docs --check    # exit 1 if it is out of date

A test keeps the committed file in sync with the registry.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .registry import Rule, all_rules

SNIP_NAMES = {
    1: "SNIP 1: X12 syntax and envelope",
    2: "SNIP 2: implementation guide (TR3) requirements",
    3: "SNIP 3: balancing",
    4: "SNIP 4: situational rules across segments",
    5: "SNIP 5: external code sets",
    6: "SNIP 6: product types and lines of service",
    7: "SNIP 7: payer and coding edits (the TMS/ECT edit pack)",
}


def _cell(s: str) -> str:
    return (s or "").replace("|", "\\|").replace("\n", " ")


def render() -> str:
    rules = list(all_rules())
    out = ["# Errors: every rule edi837 checks", "",
           "Generated from the rule registry by `python -m edi837.checks.docs`; do not edit by hand.",
           "", "Each finding names its rule id. Severity `error` rejects the claim (or everything "
           "an envelope error encloses); `warning` and `info` do not. The 999 columns give the "
           "IK3 segment syntax error code (IK304) and IK4 element syntax error code (IK403) a "
           "finding maps to, where it goes into a 999.", "",
           f"{len(rules)} rules.", ""]
    by_snip: dict[int, list[Rule]] = {}
    for r in rules:
        by_snip.setdefault(r.snip, []).append(r)
    for snip in sorted(by_snip):
        out += [f"## {SNIP_NAMES.get(snip, f'SNIP {snip}')}", "",
                "| rule | severity | meaning | reads | applies to | 999 IK3 | 999 IK4 | source |",
                "|---|---|---|---|---|---|---|---|"]
        for r in by_snip[snip]:
            out.append("| " + " | ".join([
                f"`{r.id}`", r.severity.value, _cell(r.title) + (" (cross-claim)" if r.cross_claim else "")
                + (f" Replaces {', '.join(f'`{x}`' for x in sorted(r.supersedes))} at the same element."
                   if r.supersedes else ""),
                _cell(", ".join(r.reads)),
                ", ".join(r.applies_to) + _called_for(r),
                r.ik3 or "", r.ik4 or "",
                _cell(r.citation)]) + " |")
        out.append("")
    return "\n".join(out)


def _code_runs(codes: frozenset[str]) -> str:
    """``codes`` sorted, runs of consecutive numeric codes of one width written as ``a-b``."""
    runs: list[list[str]] = []
    for c in sorted(codes):
        last = runs[-1][-1] if runs else ""
        if c.isdigit() and last.isdigit() and len(c) == len(last) and int(c) == int(last) + 1:
            runs[-1].append(c)
        else:
            runs.append([c])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 2 else ", ".join(r) for r in runs)


def _called_for(r: Rule) -> str:
    """Where the engine calls the rule, from what it declares it needs (:attr:`Rule.codes`,
    :attr:`Rule.modifiers`)."""
    parts = []
    if r.codes:
        parts.append(f"{'claims with a line with' if r.scope == 'claim' else 'lines with'} {_code_runs(r.codes)}")
    if r.modifiers:
        parts.append(f"{'and' if r.codes else 'lines with'} modifier {' or '.join(sorted(r.modifiers))}")
    return ("; " + " ".join(parts)) if parts else ""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path = Path(__file__).resolve().parents[2] / "docs" / "errors.md"
    text = render()
    if "--check" in argv:
        ok = path.exists() and path.read_text(encoding="utf-8") == text
        if not ok:
            print(f"{path} is out of date: run python -m edi837.checks.docs", file=sys.stderr)
        return 0 if ok else 1
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
