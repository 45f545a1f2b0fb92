"""Static checks of workflow/rules/*.smk: quoted paths, and log/benchmark/resources on every rule.

The rule files are read as text (no snakemake import): each `rule NAME:` block is split into its
sections; `shell:` is the concatenation of its string literals, `params:` / `resources:` /
`wildcard_constraints:` are parsed as keyword arguments with Python's own parser.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RULE_FILES = sorted((REPO / "workflow" / "rules").glob("*.smk"))
# Helpers in common.smk whose return value is already shell-quoted (checked below).
PRE_QUOTED_HELPERS = ("settings_json", "genome_settings", "model_name")
PLACEHOLDER = re.compile(
    r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))?(?:\[[^\]]*\])?(?::([^}]*))?\}(?!\})"
)
# Rules that run a model or an SAE (and so need a GPU with Evo 2-sized inputs) by their dnalens command.
GPU_COMMANDS = ("dnalens sample --", "dnalens train-sae", "dnalens encode --", "dnalens sae-quality", "dnalens probe")


def _rules() -> list[dict]:
    rules = []
    for path in RULE_FILES:
        lines = path.read_text().splitlines()
        starts = [i for i, line in enumerate(lines) if re.match(r"^rule \w+:", line)]
        for i in starts:
            end = next(
                (
                    j
                    for j in range(i + 1, len(lines))
                    if lines[j] and not lines[j][0].isspace() and not lines[j].startswith("#")
                ),
                len(lines),
            )
            rules.append({"name": lines[i][5:-1], "file": path.name, **_sections(lines[i + 1 : end])})
    return rules


def _sections(body: list[str]) -> dict[str, str]:
    sections: dict[str, list[str]] = {}
    current = None
    for line in body:
        m = re.match(r"^    (\w+):\s*(.*)$", line)
        if m:
            current = m.group(1)
            sections[current] = [m.group(2)] if m.group(2) else []
        elif current and line.strip() and not line.strip().startswith("#"):
            sections[current].append(line.strip())
    return {name: "\n".join(text) for name, text in sections.items()}


def _keywords(section: str) -> dict[str, str]:
    """`name=expr,` lines -> {name: source of expr} (parsed as a call's keyword arguments)."""
    call = ast.parse(f"f(\n{section}\n)", mode="eval").body
    return {kw.arg: ast.unparse(kw.value) for kw in call.keywords if kw.arg}


def _shell(rule: dict) -> str:
    return ast.literal_eval(" ".join(rule["shell"].splitlines()))


def _int_globals() -> set[str]:
    """Module-level names the rule files assign with int(...) (safe unquoted in a shell command)."""
    names = set()
    for path in RULE_FILES:
        names |= set(re.findall(r"^([A-Z_][A-Z0-9_]*)\s*=\s*int\(", path.read_text(), flags=re.M))
    return names


RULES = _rules()
SHELL_RULES = [r for r in RULES if "shell" in r]


def test_the_parser_sees_the_workflow():
    names = {r["name"] for r in RULES}
    assert {
        "prepare",
        "windows",
        "labels_part",
        "labels",
        "sample_part",
        "sample",
        "train_sae",
        "encode_part",
        "encode",
        "buffer",
        "probe",
        "report",
    } <= names
    assert len(SHELL_RULES) >= 15 and all(_shell(r).startswith("dnalens ") for r in SHELL_RULES)


def test_pre_quoted_helpers_really_quote():
    common = (REPO / "workflow" / "rules" / "common.smk").read_text()
    for helper in PRE_QUOTED_HELPERS:
        body = common[common.index(f"def {helper}(") :]
        body = body[: body.index("\ndef ", 1) if "\ndef " in body[1:] else len(body)]
        assert "return shlex.quote(" in body, helper


@pytest.mark.parametrize("rule", SHELL_RULES, ids=[r["name"] for r in SHELL_RULES])
def test_every_path_placeholder_is_quoted(rule):
    unquoted = _unquoted(rule)
    assert not unquoted, f"{rule['file']}: rule {rule['name']}: unquoted {unquoted}"


def test_the_quoting_check_flags_bare_paths():
    rule = {
        "shell": '"dnalens x {input.a} {output:q} {params.dir} {params.s} {params.n} {wildcards.genome}'
        ' {wildcards.part} > {log} 2>&1"',
        "params": 'dir=lambda w, output: output[0],\ns=settings_json("x"),\nn=WINDOW_PARTS,',
        "wildcard_constraints": 'part=r"\\d+",',
    }
    assert [u.split(" ")[0] for u in _unquoted(rule)] == ["{input.a}", "{params.dir}", "{wildcards.genome}", "{log}"]


def _unquoted(rule: dict) -> list[str]:
    shell = _shell(rule)
    params = _keywords(rule.get("params", ""))
    constraints = _keywords(rule.get("wildcard_constraints", ""))
    ints = _int_globals()
    unquoted = []
    for m in PLACEHOLDER.finditer(shell):
        kind, attr, fmt = m.group(1), m.group(2), m.group(3)
        if fmt == "q":
            continue
        if kind in ("input", "output", "log", "benchmark"):
            unquoted.append(m.group(0))
        elif kind == "params":
            value = params.get(attr, "")
            pre_quoted = (
                any(value.startswith(f"{h}(") or value == h for h in PRE_QUOTED_HELPERS) or "shlex.quote(" in value
            )
            if not (pre_quoted or value in ints):
                unquoted.append(f"{m.group(0)} (= {value or '?'})")
        elif kind == "wildcards" and constraints.get(attr) != repr(r"\d+"):
            unquoted.append(m.group(0))
    return unquoted


@pytest.mark.parametrize("rule", SHELL_RULES, ids=[r["name"] for r in SHELL_RULES])
def test_every_rule_has_log_benchmark_and_resources(rule):
    assert {"log", "benchmark", "resources"} <= set(rule), f"{rule['name']}: sections {sorted(rule)}"
    resources = _keywords(rule["resources"])
    assert {"mem_mb", "runtime"} <= set(resources), rule["name"]
    assert "{log" in _shell(rule), f"{rule['name']} does not write its log"
    if any(command in _shell(rule) for command in GPU_COMMANDS):
        assert "gpu" in resources, f"{rule['name']} runs a model/SAE but declares no gpu resource"
