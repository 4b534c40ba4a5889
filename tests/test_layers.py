"""Data flows one way: a lower stage never imports a higher one.

findings < reader < grammar < model < checks < outputs < faces (cli, api, gate,
parallel, spark).  guide (the TR3 maps) and codesets (external code sets) are
reference data that any stage from grammar up may use; they import only
findings/reader-level code themselves.
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "edi837"

RANK = {"findings": 0, "cache": 0, "events": 0, "reader": 1, "guide": 1, "codesets": 1, "grammar": 2, "model": 3,
        "checks": 4, "outputs": 5, "cli": 6, "api": 6, "gate": 6, "parallel": 6, "spark": 6,
        "__init__": 7, "__main__": 7}


def stage(module_parts: list[str]) -> str:
    return module_parts[0].removesuffix(".py") if module_parts else "__init__"


def imports_of(path: Path) -> list[tuple[str, int]]:
    rel = path.relative_to(PKG).with_suffix("")
    pkg_parts = list(rel.parts[:-1]) if rel.name != "__init__" else list(rel.parts[:-1])
    out = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    # imports under `if TYPE_CHECKING:` name types for the type checker only:
    # they run nothing (edi837/events.py names every stage's payload types so)
    type_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                 and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
                 for stmt in node.body for n in ast.walk(stmt)}
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg_parts[: len(pkg_parts) - (node.level - 1)] if node.level > 1 else pkg_parts
                mod = (base + (node.module.split(".") if node.module else []))
                if not mod and node.names:
                    mod = [node.names[0].name]
            elif node.module and node.module.startswith("edi837"):
                mod = node.module.split(".")[1:]
            else:
                continue
            if mod:
                out.append((mod[0], node.lineno))
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("edi837."):
                    out.append((a.name.split(".")[1], node.lineno))
    return out


def test_no_stage_imports_a_higher_one():
    bad = []
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG)
        me = stage(list(rel.parts))
        if me not in RANK:
            bad.append(f"{rel}: unknown stage {me!r} (add it to RANK)")
            continue
        for target, line in imports_of(path):
            if target in RANK and target != me and RANK[target] > RANK[me]:
                bad.append(f"{rel}:{line} ({me}) imports {target}")
    assert bad == []
