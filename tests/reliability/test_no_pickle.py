"""No pickle anywhere in src/: every load that could unpickle is closed off, checked on the syntax tree.

- no import of pickle-based modules (pickle, cPickle, dill, cloudpickle, joblib, shelve, marshal);
- every `np.load` / `numpy.load` passes `allow_pickle=False`;
- every `torch.load` passes `weights_only=True`;
- no pandas `read_pickle` / `to_pickle`, no `allow_pickle=True` anywhere.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "dnalens"
FILES = sorted(SRC.rglob("*.py"))
PICKLE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""


def _keyword_is(call: ast.Call, name: str, value: bool) -> bool:
    return any(
        kw.arg == name and isinstance(kw.value, ast.Constant) and kw.value.value is value for kw in call.keywords
    )


def pickle_risks(source: str) -> list[str]:
    """Line-numbered findings for one module's source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"{node.lineno}: import {a.name}" for a in node.names if a.name.split(".")[0] in PICKLE_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in PICKLE_MODULES:
            found.append(f"{node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            last = name.rsplit(".", 1)[-1]
            if name in ("np.load", "numpy.load") and not _keyword_is(node, "allow_pickle", False):
                found.append(f"{node.lineno}: {name} without allow_pickle=False")
            elif name == "torch.load" and not _keyword_is(node, "weights_only", True):
                found.append(f"{node.lineno}: torch.load without weights_only=True")
            elif last in ("read_pickle", "to_pickle", "loads") and name.split(".")[0] in {"pd", "pandas", "pickle"}:
                found.append(f"{node.lineno}: {name}")
            elif _keyword_is(node, "allow_pickle", True):
                found.append(f"{node.lineno}: {name}(allow_pickle=True)")
    return found


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(SRC)) for p in FILES])
def test_no_pickle_capable_load(path):
    assert not pickle_risks(path.read_text()), f"{path.relative_to(SRC)}: {pickle_risks(path.read_text())}"


def test_the_check_finds_each_kind():
    source = "\n".join(
        [
            "import pickle",
            "from joblib import load",
            "np.load('a.npy')",
            "np.load('a.npy', allow_pickle=True)",
            "torch.load('w.pt')",
            "torch.load('w.pt', weights_only=False)",
            "pd.read_pickle('x')",
            "np.load('ok.npy', mmap_mode='r', allow_pickle=False)",
            "torch.load('ok.pt', map_location='cpu', weights_only=True)",
        ]
    )
    assert [f.split(":")[0] for f in pickle_risks(source)] == ["1", "2", "3", "4", "5", "6", "7"]
    assert len(FILES) > 50
