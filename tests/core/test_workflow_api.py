"""The workflow's one door into dnalens: the Snakefile and every workflow/rules/*.smk import from
`dnalens.workflow_api` and nothing else of the package; that module exports only what they use, and
importing it starts no torch (the Snakefile is parsed on login nodes and in every job)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import dnalens.workflow_api as workflow_api

REPO = Path(__file__).resolve().parents[2]
WORKFLOW_FILES = [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]
IMPORT = re.compile(r"^\s*(?:from\s+(dnalens(?:\.[\w.]+)?)\s+import\s+(.+)|import\s+(dnalens(?:\.[\w.]+)?))")


def dnalens_imports(text: str) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) of every import of dnalens in a rule file (module level or inside a function)."""
    found = []
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        match = IMPORT.match(line)
        if not match:
            continue
        module = match.group(1) or match.group(3)
        names = match.group(2) or ""
        if names.strip().startswith("("):  # a parenthesised list over several lines
            names = " ".join([names, *lines[number : number + 20]]).split(")")[0]
        found.append((number, module, [n.split(" as ")[0].strip() for n in names.strip("( ").split(",") if n.strip()]))
    return found


@pytest.mark.parametrize(
    "line, module",
    [
        ("from dnalens.genome.sources import local_sources", "dnalens.genome.sources"),
        ("    from dnalens.sae import sources", "dnalens.sae"),
        ("import dnalens.models.base", "dnalens.models.base"),
        ("from dnalens import settings", "dnalens"),
        ("from dnalens.workflow_api import (\n    SOURCE_ROLES,\n    local_sources,\n)", "dnalens.workflow_api"),
    ],
)
def test_every_kind_of_import_line_is_seen(line, module):
    ((_, got, _),) = dnalens_imports(line)
    assert got == module


def test_rule_files_import_dnalens_only_through_workflow_api():
    outside = [
        f"{path.relative_to(REPO)}:{number} {module}"
        for path in WORKFLOW_FILES
        for number, module, _ in dnalens_imports(path.read_text())
        if module != "dnalens.workflow_api"
    ]
    assert not outside, "rule files importing dnalens past dnalens.workflow_api:\n" + "\n".join(outside)


def test_workflow_api_exports_exactly_what_the_rule_files_use():
    used = {
        name
        for path in WORKFLOW_FILES
        for _, module, names in dnalens_imports(path.read_text())
        if module == "dnalens.workflow_api"
        for name in names
    }
    assert used, "no rule file imports dnalens.workflow_api"
    assert used <= set(workflow_api.__all__), f"imported but not exported: {used - set(workflow_api.__all__)}"
    assert set(workflow_api.__all__) <= used, f"exported but used by no rule file: {set(workflow_api.__all__) - used}"
    assert all(hasattr(workflow_api, name) for name in workflow_api.__all__)


def test_workflow_api_imports_no_torch():
    code = "import sys, dnalens.workflow_api; print(sorted(m for m in ('torch', 'nnsight') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
