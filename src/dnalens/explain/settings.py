"""The config's `explain:` section (every key and default: workflow/schemas/config.schema.yaml)."""

from __future__ import annotations

from dataclasses import dataclass

from dnalens.settings import schema_defaults

_DEFAULTS = schema_defaults("explain")


@dataclass(frozen=True)
class ExplainSettings:
    """How `dnalens explain` reads and shows a sequence; see the schema for every key."""

    top: int = _DEFAULTS["top"]
    window: int | None = _DEFAULTS["window"]
    max_length: int = _DEFAULTS["max_length"]
    page_bases: int = _DEFAULTS["page_bases"]
