"""Typed stage settings built from the workflow config (already validated and defaulted by the schema).

Rules pass one config section as JSON (`--settings '{...}'`); `parse_settings` turns it into the
stage's dataclass and rejects unknown keys by name, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, Mapping, TypeVar

from dnalens.errors import InputError

T = TypeVar("T")


def from_mapping(cls: type[T], data: Mapping[str, Any] | None, *, where: str = "config") -> T:
    """Build dataclass `cls` from `data`; unknown keys raise InputError naming them."""
    data = dict(data or {})
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise InputError(
            f"unknown key(s) {', '.join(repr(k) for k in unknown)} in {where}.",
            fix=f"use one of: {', '.join(sorted(names))} (see config/README.md).",
        )
    hints = _type_hints(cls)
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in data and not _scalar_ok(data[f.name], hints.get(f.name)):
            raise InputError(f"{where}.{f.name} must be {_type_name(hints[f.name])}, not {data[f.name]!r}.",
                             fix="see config/README.md for the key's type.")
        if isinstance(data.get(f.name), list):
            data[f.name] = tuple(data[f.name]) if "tuple" in str(f.type) else data[f.name]
    return cls(**data)


_SCALARS = (bool, int, float, str)


def _type_hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # noqa: BLE001 - unresolvable annotations: skip the type check
        return {}


def _scalar_options(hint: Any) -> tuple[type, ...] | None:
    """The scalar types a field accepts (None allowed via NoneType), or None when it is not a plain scalar."""
    if hint in _SCALARS:
        return (hint,)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if all(a in _SCALARS or a is type(None) for a in args):
            return args
    return None


def _scalar_ok(value: Any, hint: Any) -> bool:
    """A wrong scalar type (a string where a number belongs) is the user's error, not a later traceback."""
    options = _scalar_options(hint)
    if options is None:
        return True
    if value is None:
        return type(None) in options
    if isinstance(value, bool):
        return bool in options
    if isinstance(value, int):
        return int in options or float in options
    if isinstance(value, float):
        return float in options
    return isinstance(value, str) and str in options


def _type_name(hint: Any) -> str:
    names = {bool: "true/false", int: "an integer", float: "a number", str: "a string", type(None): "null"}
    return " or ".join(names[a] for a in (_scalar_options(hint) or ()))


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
            raise InputError(f"not valid YAML ({getattr(err, 'problem', None) or err}).", path=path,
                             line=None if mark is None else mark.line + 1) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"not valid JSON ({err.msg} at column {err.colno}).", path=path, line=err.lineno) from None
