"""Typed stage settings built from the workflow config; workflow/schemas/config.schema.yaml is their one source.

The schema holds every key's type, range and default. The settings dataclasses take their defaults from it
(`schema_defaults`), `from_mapping` validates a section against it with jsonschema (unknown keys are
rejected by name, so a typo never silently falls back to a default), and the workflow reads the config
that snakemake's `validate` filled with the same defaults. Rules pass one config section as JSON
(`--settings '{...}'`); `parse_settings` reads that value.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
from pathlib import Path
from typing import Any, Mapping, TypeVar

from dnalens.errors import InputError

T = TypeVar("T")
SCHEMA_NAME = "config.schema.yaml"
_HERE = Path(__file__).resolve().parent
# the wheel's copy (put there at build time by dnalens.models._bundle_build), else the source tree
SCHEMA_CANDIDATES = (_HERE / "schemas" / SCHEMA_NAME, _HERE.parents[1] / "workflow" / "schemas" / SCHEMA_NAME)

# config section -> its settings dataclass ("module:Class"); tests/reliability/test_settings_schema.py walks both
# ways. `genomes` entries follow $defs/genome.
SETTINGS_CLASSES: dict[str, str] = {
    "genomes": "dnalens.genome.prepare:GenomeSettings",
    "windows": "dnalens.genome.windows:WindowSettings",
    "concepts": "dnalens.concepts.settings:ConceptSettings",
    "model": "dnalens.models.base:ModelSpec",
    "training": "dnalens.models.training:TrainSettings",
    "extract": "dnalens.models.window_pass:ExtractSettings",
    "sae": "dnalens.sae.settings:SaeSettings",
    "sae_bench": "dnalens.sae.bench_settings:SaeBenchSettings",
    "buffer": "dnalens.buffer.build:BufferSettings",
    "probe": "dnalens.probe.settings:ProbeSettings",
    "layer_scan": "dnalens.probe.layer_scan:LayerScanSettings",
    "effects": "dnalens.effects.settings:EffectsSettings",
    "steer": "dnalens.steer.settings:SteerSettings",
    "report": "dnalens.report.options:ReportSettings",
    "explain": "dnalens.explain.settings:ExplainSettings",
    "variants": "dnalens.variants.settings:VariantSettings",
}
_SECTION_OF = {path: section for section, path in SETTINGS_CLASSES.items()}


def schema_path() -> Path:
    for path in SCHEMA_CANDIDATES:
        if path.is_file():
            return path
    raise InputError(
        f"the config schema {SCHEMA_NAME} is missing from this installation.",
        path=SCHEMA_CANDIDATES[-1],
        fix="reinstall dnalens (`pip install .` copies it into the package) or run from the repository.",
    )


@functools.cache
def config_schema() -> dict[str, Any]:
    """The workflow config schema, read once."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(schema_path().read_text(), Loader=loader)


def safe_name(value: str, key: str) -> str:
    """`value` if it may become part of a path (the schema's `safe_name`: letters, digits, _ . -, no leading dot,
    no ".."), else an InputError naming the key: a genome called `../../x` must not write outside results/."""
    import re

    pattern = config_schema()["$defs"]["safe_name"]["pattern"]
    if not isinstance(value, str) or not re.search(pattern, value):
        raise InputError(
            f"{key} {value!r} cannot name a file or folder.",
            fix="use letters, digits, '_', '.' and '-' only, not starting with '.', without '..'.",
        )
    return value


def safe_name_arg(key: str):
    """argparse `type=` for a name that becomes a path: a bad value is an argparse error naming the option."""
    import argparse

    def check(value: str) -> str:
        try:
            return safe_name(value, key)
        except InputError as err:
            raise argparse.ArgumentTypeError(f"{err.problem} Fix: {err.fix}") from None

    return check


def section_schema(section: str) -> dict[str, Any]:
    """One section's schema, standalone ($defs attached; `genomes` = one genome entry)."""
    schema = config_schema()
    if section == "genomes":
        body = schema["$defs"]["genome"]
    elif section in schema["properties"]:
        body = schema["properties"][section]
    else:
        raise KeyError(f"no section {section!r} in {SCHEMA_NAME}")
    return {"$defs": schema["$defs"], **body}


def _defaults(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Every property's default; an object default is filled with its own properties' defaults, as
    snakemake's `validate` does."""
    out = {}
    for key, sub in schema.get("properties", {}).items():
        if "default" in sub:
            value = copy.deepcopy(sub["default"])
            if isinstance(value, dict) and "properties" in sub:
                value = {**_defaults(sub), **value}
            out[key] = value
    return out


def _frozen(value: Any) -> Any:
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value


@functools.cache
def _section_defaults(section: str) -> dict[str, Any]:
    return _defaults(section_schema(section))


def schema_defaults(section: str, *, nested: str | None = None) -> dict[str, Any]:
    """{key: default} of a config section (lists as tuples, so they can be dataclass defaults);
    `nested` picks an object-valued key's own defaults (e.g. training.architecture)."""
    values = copy.deepcopy(_section_defaults(section))
    if nested is not None:
        values = values[nested]
    return {k: v if isinstance(v, dict) else _frozen(v) for k, v in values.items()}


#: config sections renamed so that a stage has one name (rule, CLI, package, section): old -> new.
RENAMED_SECTIONS = {"probing": "probe"}


def check_renamed_sections(config: Mapping[str, Any], configfiles=()) -> None:
    """A config written for an older dnalens names the section to rename instead of failing on an unknown key."""
    for old, new in RENAMED_SECTIONS.items():
        if old in config:
            raise InputError(
                f"the config section `{old}:` is now called `{new}:` (same keys).",
                path=", ".join(str(f) for f in configfiles) or None,
                fix=f"rename `{old}:` to `{new}:` in the config file.",
            )


def schema_choices(section: str, key: str) -> tuple[Any, ...]:
    """The allowed values (`enum`) of one key of a config section, for checks outside jsonschema."""
    prop = section_schema(section)["properties"][key]
    for alternative in (prop, *prop.get("anyOf", ()), *prop.get("oneOf", ())):
        if "enum" in alternative:
            return tuple(alternative["enum"])
    raise KeyError(f"{section}.{key} has no enum in {SCHEMA_NAME}")


def from_mapping(cls: type[T], data: Mapping[str, Any] | None, *, where: str = "config") -> T:
    """Build dataclass `cls` from `data`: unknown keys and values the schema refuses raise InputError."""
    data = dict(data or {})
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise InputError(
            f"unknown key(s) {', '.join(repr(k) for k in unknown)} in {where}.",
            fix=f"use one of: {', '.join(sorted(names))} (see config/README.md).",
        )
    section = _SECTION_OF.get(f"{cls.__module__}:{cls.__qualname__}")
    if section is not None:
        check_section(section, data, where=where)
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if isinstance(data.get(f.name), list) and "tuple" in str(f.type):
            data[f.name] = tuple(data[f.name])
    return cls(**data)


# Cross-key rules at a section's root (a genome needs exactly one of fasta / genbank) are left to the
# dataclass's own check, whose message says which key to drop.
_LEFT_TO_CHECK = {"anyOf", "oneOf", "if", "then", "else"}


@functools.cache
def _validator(section: str):
    from jsonschema import Draft202012Validator

    return Draft202012Validator(section_schema(section))


def check_section(section: str, data: Mapping[str, Any], *, where: str | None = None) -> None:
    """Validate one config section against the schema; the most relevant error becomes an InputError."""
    from jsonschema.exceptions import best_match

    errors = [
        e
        for e in _validator(section).iter_errors(dict(data))
        if next(iter(e.relative_schema_path), None) not in _LEFT_TO_CHECK
    ]
    error = best_match(errors)
    if error is not None:
        raise _input_error(error, data, where or section, section)


_TYPE_NAMES = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "true/false",
    "null": "null",
    "array": "a list",
    "object": "a mapping",
}


def _input_error(error, data: Mapping[str, Any], where: str, section: str) -> InputError:
    path = list(error.absolute_path)
    loc = where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
    value, kind, limit = error.instance, error.validator, error.validator_value
    if kind == "type":
        types = limit if isinstance(limit, list) else [limit]
        problem = f"{loc} must be {' or '.join(_TYPE_NAMES.get(t, t) for t in types)}, not {value!r}."
    elif kind == "enum":
        problem = f"{loc} must be one of {', '.join(map(str, limit))}, not {value!r}."
    elif kind in _BOUNDS:
        problem = f"{loc} must be {_BOUNDS[kind]} {limit}, not {value!r}."
    elif kind in ("minItems", "maxItems"):
        problem = f"{loc} must have at {'least' if kind == 'minItems' else 'most'} {limit} item(s), not {value!r}."
    elif kind == "pattern" and isinstance(value, str) and "://" in value:
        problem = f"{loc}: unsupported URL scheme in {value!r}."
    else:
        problem = f"{loc}: {error.message}."
    described = error.schema.get("description") if isinstance(error.schema, Mapping) else None
    fix = (
        f"{described.strip()} (config/README.md, section {section})"
        if described
        else f"see config/README.md, section {section}."
    )
    return InputError(problem, path=_entry_path(data, path), fix=fix)


_BOUNDS = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}


def _entry_path(data: Any, path: list) -> str | None:
    """The file of a nested entry that holds the bad value (e.g. a motif's `path`), so the message names it;
    the section's own `path` key (model.path, sae.path) is a setting, not the entry's file."""
    node, found = data, None
    for part in path[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(node, Mapping) and isinstance(node.get("path"), str):
            found = node["path"]
    return found


def parse_settings(text: str | None) -> dict[str, Any]:
    """`--settings` value: inline JSON, or a path to a .json / .yaml file."""
    if not text:
        return {}
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            return json.loads(stripped)
        except json.JSONDecodeError as err:
            raise InputError(f"--settings is not valid JSON ({err.msg} at column {err.colno}).") from None
    if stripped.startswith("["):
        raise InputError("--settings must be a JSON object ({...}), not a list.")
    path = Path(text)
    if not path.exists():
        raise InputError("settings file not found.", path=path, fix="pass inline JSON or an existing file.")
    data = _read_settings_file(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"settings must be a mapping of keys, found a {type(data).__name__}.", path=path)
    return data


def _read_settings_file(path: Path) -> Any:
    """YAML or JSON; a syntax error becomes an InputError naming the line."""
    text = path.read_text()
    if path.suffix in {".yaml", ".yml"}:
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            raise InputError(
                f"not valid YAML ({getattr(err, 'problem', None) or err}).",
                path=path,
                line=None if mark is None else mark.line + 1,
            ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"not valid JSON ({err.msg} at column {err.colno}).", path=path, line=err.lineno) from None
