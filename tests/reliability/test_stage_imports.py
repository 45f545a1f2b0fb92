"""Stages import `formats` and the foundations (genome, concepts, models), never each other: checked on the
syntax tree of every module under src/dnalens/, relative imports and function-level imports included.

The exceptions are listed in ALLOWED and in docs/ARCHITECTURE.md ("One vocabulary"): the report loads a
dictionary (sae.io, sae.dictionary) to match latents across genomes, and effects, steer, variants and explain use
the dictionary's public API to run it on new rows.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "dnalens"
STAGES = {"labels", "sample", "sae", "buffer", "probe", "report", "effects", "steer", "variants", "explain"}
FOUNDATIONS = {"formats", "genome", "concepts", "models"}
# the dictionary's public API, for the stages that run a trained dictionary again on new rows
DICTIONARY_API = ("io", "row_bases", "encode", "encode_resume", "strand_shared")
ALLOWED = {("report", "dnalens.sae.io"), ("report", "dnalens.sae.dictionary")} | {
    (stage, f"dnalens.sae.{module}")
    for stage in ("effects", "steer", "variants", "explain")
    for module in DICTIONARY_API
}
FILES = sorted(p for p in SRC.rglob("*.py") if p.relative_to(SRC).parts[0] in STAGES | FOUNDATIONS)


def _imported(node: ast.AST, module: str) -> list[str]:
    """Absolute dotted names an import statement in `module` (dotted, e.g. dnalens.sae.fused) brings in."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:  # from ..sample import stage -> dnalens.sample.stage
        base = module.split(".")[: -node.level]
        stem = ".".join(base + ([node.module] if node.module else []))
    else:
        stem = node.module or ""
    return [f"{stem}.{a.name}" for a in node.names]  # `from dnalens import sae` names the package too


def cross_stage_imports(source: str, module: str) -> list[str]:
    """Line-numbered imports of another stage's package from `module` (not in ALLOWED)."""
    own = module.split(".")[1]
    found = []
    for node in ast.walk(ast.parse(source)):
        for name in _imported(node, module):
            parts = name.split(".")
            if parts[0] != "dnalens" or len(parts) < 2 or parts[1] == own or parts[1] not in STAGES:
                continue
            if any(name == allowed or name.startswith(allowed + ".") for who, allowed in ALLOWED if who == own):
                continue
            found.append((node.lineno, name))
    return [f"{line}: {name}" for line, name in sorted(found)]


def _module(path: Path) -> str:
    """dnalens.sae.fused; a package's __init__ keeps its name (dnalens.sae.__init__), so `from . import x`
    resolves inside the package."""
    return ".".join(path.relative_to(SRC.parent).with_suffix("").parts)


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(SRC)) for p in FILES])
def test_no_stage_imports_another_stage(path):
    found = cross_stage_imports(path.read_text(), _module(path))
    assert not found, f"{path.relative_to(SRC)} imports another stage: {found}"


def test_the_check_finds_each_form():
    bad = (
        "from dnalens.sample.stage import plan_shards\n"
        "import dnalens.sample.selection\n"
        "def f():\n    from dnalens import sample\n"
        "from ..probe import stage\n"
        "from dnalens.sae.io import load_sae\n"  # allowed for report only
    )
    assert cross_stage_imports(bad, "dnalens.sae.fused") == [
        "1: dnalens.sample.stage.plan_shards",
        "2: dnalens.sample.selection",
        "4: dnalens.sample",
        "5: dnalens.probe.stage",
    ]
    assert cross_stage_imports(bad, "dnalens.report.across") == [
        "1: dnalens.sample.stage.plan_shards",
        "2: dnalens.sample.selection",
        "4: dnalens.sample",
        "5: dnalens.probe.stage",
    ]
    assert cross_stage_imports(bad, "dnalens.probe.stage") == [
        "1: dnalens.sample.stage.plan_shards",
        "2: dnalens.sample.selection",
        "4: dnalens.sample",
        "6: dnalens.sae.io.load_sae",
    ]
    # a foundation may import no stage; a stage may import foundations and itself
    assert cross_stage_imports("from dnalens.sae.io import load_sae\n", "dnalens.models.base") == [
        "1: dnalens.sae.io.load_sae"
    ]
    fine = "from dnalens.models.window_pass import plan_shards\nfrom dnalens.formats import codes\nfrom . import io\n"
    assert cross_stage_imports(fine, "dnalens.sae.fused") == []
    assert cross_stage_imports(fine, "dnalens.sae.__init__") == []
    assert cross_stage_imports("from . import stage\n", "dnalens.probe.__init__") == []


def test_the_allowed_imports_are_the_ones_the_architecture_names():
    text = (SRC.parents[1] / "docs" / "ARCHITECTURE.md").read_text()
    for _, name in ALLOWED:
        assert f"`{name.removeprefix('dnalens.')}`" in text, name


def test_every_package_is_a_stage_or_a_foundation():
    """A renamed or new package outside both sets would escape the check above without a word."""
    packages = {p.parent.name for p in SRC.glob("*/__init__.py")}
    assert packages == STAGES | FOUNDATIONS
