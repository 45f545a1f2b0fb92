"""The probe package's layers as docs/ARCHITECTURE.md ("probe") lists them: every module in exactly one group of
the table, every import (module level or inside a function) going to its own group or a group below it, and
no two modules importing each other (directly or around a loop). The groups are read from the document, so
the document and the code cannot drift apart."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "src" / "dnalens" / "probe"


def documented_groups() -> list[set[str]]:
    """The module names of each `| **group** | |` block of the probe table, top to bottom."""
    doc = (REPO / "docs" / "ARCHITECTURE.md").read_text()
    section = doc[doc.index("### probe (src/dnalens/probe/)") :]
    section = section[: section.index("\nContracts:")]
    groups: list[set[str]] = []
    for line in section.splitlines():
        if re.match(r"\|\s*\*\*", line):
            groups.append(set())
        elif line.startswith("| `") and groups:
            groups[-1] |= {name[:-3] for name in re.findall(r"`(\w+\.py)`", line.split("|")[1])}
    return groups


def probe_imports(path: Path) -> set[str]:
    """Names of the probe modules `path` imports, wherever the import statement stands."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "dnalens.probe":
                found |= {alias.name for alias in node.names}
            elif node.module.startswith("dnalens.probe."):
                found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[2] for a in node.names if a.name.startswith("dnalens.probe.")}
    return found - {path.stem}


def test_every_module_is_in_exactly_one_documented_group():
    groups = documented_groups()
    assert len(groups) >= 4
    listed = [name for group in groups for name in group]
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert sorted(listed) == sorted(set(listed)), "a module listed in two groups"
    assert set(listed) == modules, f"undocumented: {modules - set(listed)}; gone: {set(listed) - modules}"


def test_imports_go_to_the_same_group_or_below():
    level = {name: i for i, group in enumerate(documented_groups()) for name in group}
    upward = [
        f"{path.stem} ({level[path.stem]}) imports {target} ({level[target]})"
        for path in sorted(PACKAGE.glob("*.py"))
        if path.stem != "__init__"
        for target in sorted(probe_imports(path))
        if level[target] < level[path.stem]
    ]
    assert not upward, "imports up the table:\n" + "\n".join(upward)


def test_no_import_cycle_in_the_package():
    graph = {p.stem: probe_imports(p) for p in PACKAGE.glob("*.py") if p.stem != "__init__"}

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), list(graph[start])
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            if node not in seen:
                seen.add(node)
                todo.extend(graph.get(node, ()))
        return False

    cycles = sorted(m for m in graph if reaches(m, m))
    assert not cycles, f"modules on an import cycle: {cycles}"


def test_the_checks_see_function_level_imports(tmp_path):
    """The cycle this package used to have (auroc -> auroc_torch inside a function, auroc_torch -> auroc at
    module level) is seen by the import reader."""
    path = tmp_path / "auroc.py"
    path.write_text("def f():\n    from dnalens.probe.auroc_torch import x\nfrom dnalens.probe import backend\n")
    assert probe_imports(path) == {"auroc_torch", "backend"}
