"""Every threshold default comes from workflow/schemas/config.schema.yaml: no module of the probe or report stage
(or the foundations they read through) writes a threshold setting's value again as a literal.

The scan reads the syntax tree of each module and looks where a copy would sit: a default of a function
parameter, a field of a class (dataclass defaults), a module constant, a keyword argument or a dict entry.
It flags (1) any numeric literal given to a name that is a threshold key of the `probe:` or `report:`
section (`min_margin`, `MIN_AUROC`, ...), and (2) a literal equal to a distinctive threshold default
(`probe.min_auroc` 0.75, `max_q` / `min_margin` 0.05, `min_precision_lift` 2.0, the F1 `thresholds` list) in
one of those places under any name. Defaults such as 0.5, 5 or 10 are too common to match by value; the
name rule covers them. The first test runs the scan on planted copies, so it is known to catch them.
"""

from __future__ import annotations

import ast
from pathlib import Path

from dnalens.settings import schema_defaults

SRC = Path(__file__).resolve().parents[2] / "src" / "dnalens"
SCANNED = ("probe", "report", "formats/probe_dir.py")
THRESHOLD_KEYS = {
    "probe": (
        "thresholds",
        "min_auroc",
        "min_f1",
        "max_q",
        "min_instances",
        "min_test_instances",
        "min_margin",
        "min_precision_lift",
    ),
    "report": ("min_f1", "min_auroc", "max_q", "min_margin", "hit_threshold", "atlas_min_frequency"),
}
COMMON_VALUES = {0, 0.0, 0.5, 1, 1.0, 5, 10}  # chance AUROC, halves, small counts: matched by name only
# (module relative to src/dnalens, name): why a literal equal to a threshold default is not a copy of one
ALLOWED = {
    ("probe/nulls.py", "min_fraction"): "the shortest circular shift (5 % of the genome), not a threshold setting",
}


def _literal(node: ast.AST):
    """The number (or tuple of numbers) a node spells, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _literal(node.operand)
        return -inner if isinstance(inner, (int, float)) else None
    if isinstance(node, (ast.Tuple, ast.List)) and node.elts:
        values = tuple(_literal(e) for e in node.elts)
        return values if all(isinstance(v, (int, float)) for v in values) else None
    return None


def _placed_values(tree: ast.AST):
    """(name, value node, is a default position) for every place a setting's value could be copied to."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = node.args
            positional = args.posonlyargs + args.args
            for arg, default in zip(positional[len(positional) - len(args.defaults) :], args.defaults):
                yield arg.arg, default, True
            for arg, default in zip(args.kwonlyargs, args.kw_defaults):
                if default is not None:
                    yield arg.arg, default, True
        elif isinstance(node, (ast.Module, ast.ClassDef)):
            for stmt in node.body:
                if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
                    yield stmt.target.id, stmt.value, True
                elif isinstance(stmt, ast.Assign):
                    for target in stmt.targets:
                        if isinstance(target, ast.Name):
                            yield target.id, stmt.value, True
                        elif isinstance(target, ast.Tuple) and isinstance(stmt.value, ast.Tuple):
                            for name, value in zip(target.elts, stmt.value.elts):
                                if isinstance(name, ast.Name):
                                    yield name.id, value, True
        elif isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg:
                    yield keyword.arg, keyword.value, False
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    yield key.value, value, False


def threshold_copies(source: str, where: str) -> list[str]:
    """`where:line name = literal` for every literal copy of a threshold default in `source`."""
    names = {key for keys in THRESHOLD_KEYS.values() for key in keys}
    distinctive = set()
    for section, keys in THRESHOLD_KEYS.items():
        defaults = schema_defaults(section)
        for key in keys:
            value = defaults[key]
            if isinstance(value, tuple) or (isinstance(value, (int, float)) and value not in COMMON_VALUES):
                distinctive.add(value)
    found = []
    for name, node, is_default in _placed_values(ast.parse(source)):
        value = _literal(node)
        if value is None or (where, name) in ALLOWED:
            continue
        if name.lower() in names or (is_default and value in distinctive):
            found.append(f"{where}:{node.lineno} {name} = {value!r}")
    return found


def _modules():
    for entry in SCANNED:
        path = SRC / entry
        yield from sorted(path.rglob("*.py")) if path.is_dir() else [path]


def test_the_scan_catches_planted_copies():
    planted = """
from dataclasses import dataclass

MIN_AUROC, OTHER = 0.75, 3
F1_LEVELS = (0.0, 0.15, 0.5, 0.6, 0.8)

@dataclass
class Facts:
    min_margin: float = 0.05
    cut: float = 2.0

def rule(x, max_q=0.05, *, min_instances=10):
    return describe(x, hit_threshold=0.5, settings={"min_f1": 0.5})
"""
    found = {line.split(" ")[1] for line in threshold_copies(planted, "planted.py")}
    assert found == {"MIN_AUROC", "F1_LEVELS", "min_margin", "cut", "max_q", "min_instances", "hit_threshold", "min_f1"}
    honest = """
from dnalens.settings import schema_defaults
DEFAULTS = schema_defaults("probe")
def rule(x, max_q=DEFAULTS["max_q"], chance=0.5):
    return x if x > 0.5 else 0.5
"""
    assert threshold_copies(honest, "honest.py") == []


def test_no_threshold_default_is_written_twice():
    found = []
    for path in _modules():
        found += threshold_copies(path.read_text(), path.relative_to(SRC).as_posix())
    assert not found, "threshold defaults copied as literals (take them from schema_defaults):\n" + "\n".join(found)


def test_the_allow_list_names_real_places():
    names = {}
    for path in _modules():
        where = path.relative_to(SRC).as_posix()
        names[where] = {name for name, _, _ in _placed_values(ast.parse(path.read_text()))}
    stale = [place for place in ALLOWED if place[1] not in names.get(place[0], set())]
    assert not stale, f"allow-list entries that no longer exist: {stale}"
