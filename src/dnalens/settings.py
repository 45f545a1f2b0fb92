"""Typed stage settings built from the workflow config (already validated and defaulted by the schema).

Rules pass one config section as JSON (`--settings '{...}'`); `parse_settings` turns it into the
stage's dataclass and rejects unknown keys by name, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import json
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
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if isinstance(data.get(f.name), list):
            data[f.name] = tuple(data[f.name]) if "tuple" in str(f.type) else data[f.name]
    return cls(**data)


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
    path = Path(text)
    if not path.exists():
        raise InputError("settings file not found.", path=path, fix="pass inline JSON or an existing file.")
    if path.suffix in {".yaml", ".yml"}:
        import yaml

        return yaml.safe_load(path.read_text()) or {}
    return json.loads(path.read_text())
