"""``edi837 rules``: list every rule with its id, severity, SNIP type and source."""

from __future__ import annotations

import json

import click

from ..registry import all_rules


@click.command("rules")
@click.option("--snip", "snip", default=None, help="only these SNIP types, e.g. 7 or 1-5")
@click.option("--group", default=None, help="only rules of this group (e.g. tms, ect, dx)")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def rules_command(snip: str | None, group: str | None, as_json: bool) -> None:
    """List every rule: id, severity, SNIP type, title and source."""
    from ..engine import parse_snip

    levels = parse_snip(snip) if snip else None
    rows = [r for r in all_rules() if (levels is None or r.snip in levels)
            and (group is None or r.group == group)]
    if as_json:
        click.echo(json.dumps([{"id": r.id, "severity": r.severity.value, "snip": r.snip, "title": r.title,
                                "applies_to": list(r.applies_to), "cross_claim": r.cross_claim,
                                "reads": list(r.reads), "source": r.citation} for r in rows], indent=2))
        return
    for r in rows:
        click.echo(f"{r.id:<10} {r.severity.value:<8} SNIP {r.snip}  {r.title}")
        if r.citation:
            click.echo(f"{'':<10} source: {r.citation}")


rules = rules_command
