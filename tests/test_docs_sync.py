"""docs/errors.md and docs/lines.md are generated from the code; keep them in sync."""

from pathlib import Path

from edi837.checks import docs as errors_doc
from edi837.checks.registry import all_rules
from edi837.outputs.tables import COLUMNS

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_errors_md_is_generated_from_the_registry():
    assert (DOCS / "errors.md").read_text(encoding="utf-8") == errors_doc.render(), \
        "run: python -m edi837.checks.docs"


def test_every_rule_is_documented_with_meaning_and_severity():
    text = (DOCS / "errors.md").read_text(encoding="utf-8")
    rules = list(all_rules())
    assert len(rules) > 80
    for r in rules:
        assert f"`{r.id}`" in text
        assert r.title.strip(), r.id
        assert r.snip in (1, 2, 3, 4, 5, 7), r.id


def test_catalog_rules_are_all_registered():
    ids = {r.id for r in all_rules()}
    expected = ({f"TMS-00{i}" for i in range(1, 10)} | {f"DX-00{i}" for i in range(1, 6)}
                | {f"ECT-{i:03d}" for i in range(1, 11)} | {"EM-001", "MUE-001", "TEL-001", "POS-001"}
                | {f"ANE-00{i}" for i in range(1, 5)} | {f"MOD-00{i}" for i in range(1, 5)}
                | {"PA-001", "PA-002"})
    assert expected <= ids, sorted(expected - ids)


def test_lines_md_lists_every_column():
    text = (DOCS / "lines.md").read_text(encoding="utf-8")
    for name, desc in COLUMNS:
        assert f"| `{name}` | {desc} |" in text, name
