"""Data flows one way: a lower stage never imports a higher one.

findings, events, logs < reader < grammar < model < checks < outputs < faces (api,
progress < parallel < gate, spark, validation (edi837.validate), service, watch < cli).  guide (the TR3 maps) and codesets (external
code sets) are reference data that any stage from grammar up may use; they
import only findings/reader-level code themselves.

Inside checks/: the framework (registry, options, packs, verdicts) imports
no engine and no pack; the engine imports only the framework (never a rule
pack: packs register themselves); a pack (snip*, editpack) imports the
framework and other packs, never the engine; tools (conformance, docs) may
use anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "edi837"

RANK = {"findings": 0, "cache": 0, "events": 0, "logs": 0, "reader": 1, "guide": 1, "codesets": 1, "grammar": 2,
        "model": 3, "checks": 4, "outputs": 5, "api": 6, "progress": 6, "parallel": 7, "gate": 8, "spark": 8,
        "validation": 8, "service": 8, "watch": 8, "cli": 9,
        "__init__": 10, "__main__": 10}


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


CHECKS = PKG / "checks"
FRAMEWORK = {"registry", "options", "packs", "verdicts"}
ENGINE = {"engine", "twophase"}  # the engine and its two-phase run
TOOLS = {"conformance", "docs", "__init__"}


def checks_part(name: str) -> str:
    """framework / engine / pack / tool for a module (or package) directly under checks/."""
    if name in FRAMEWORK:
        return "framework"
    if name in ENGINE:
        return "engine"
    if name in TOOLS:
        return "tool"
    return "pack"


ALLOWED = {"framework": {"framework"}, "engine": {"framework", "engine"}, "pack": {"framework", "pack"},
           "tool": {"framework", "engine", "pack", "tool"}}


def checks_imports(path: Path, rel: tuple[str, ...]) -> list[tuple[str, int]]:
    """The modules directly under checks/ that the file ``path``, at ``rel``
    inside checks/, imports at run time."""
    depth = len(rel) - 1  # 0: a module of checks/, 1: inside checks/editpack/ ...
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                 and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
                 for stmt in node.body for n in ast.walk(stmt)}
    out = []
    for node in ast.walk(tree):
        if id(node) in type_only or not isinstance(node, ast.ImportFrom):
            continue
        parts = node.module.split(".") if node.module else []
        if node.level:
            if node.level - 1 == depth:  # relative to checks/
                out.extend((n, node.lineno) for n in (parts[:1] or [a.name for a in node.names]))
        elif parts[:2] == ["edi837", "checks"]:
            out.extend((n, node.lineno) for n in (parts[2:3] or [a.name for a in node.names]))
    return out


def layer_violations(path: Path, rel: tuple[str, ...]) -> list[str]:
    me_name = rel[0].removesuffix(".py")
    me = checks_part(me_name)
    return [f"checks/{'/'.join(rel)}:{line} ({me}) imports {target} ({checks_part(target)})"
            for target, line in checks_imports(path, rel)
            if target != me_name and checks_part(target) not in ALLOWED[me]]


def test_inside_checks_the_engine_knows_no_pack():
    bad = []
    for path in CHECKS.rglob("*.py"):
        bad += layer_violations(path, path.relative_to(CHECKS).parts)
    assert bad == []


def test_an_engine_importing_a_pack_is_caught(tmp_path):
    src = tmp_path / "engine.py"
    src.write_text("from .editpack import EditPack\nfrom .registry import RULES\n"
                   "from edi837.checks.snip1_syntax import valid_date\n", encoding="utf-8")
    assert layer_violations(src, ("engine.py",)) == [
        "checks/engine.py:1 (engine) imports editpack (pack)",
        "checks/engine.py:3 (engine) imports snip1_syntax (pack)"]
    pack = tmp_path / "tms.py"
    pack.write_text("from ..engine import Engine\nfrom ._common import say\n", encoding="utf-8")
    assert layer_violations(pack, ("editpack", "tms.py")) == [
        "checks/editpack/tms.py:1 (pack) imports engine (engine)"]
