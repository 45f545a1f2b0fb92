"""The config's `effects:` block as a frozen dataclass (defaults: workflow/schemas/config.schema.yaml)."""

from __future__ import annotations

from dataclasses import dataclass

from dnalens.settings import schema_defaults

_DEFAULTS = schema_defaults("effects")


@dataclass(frozen=True)
class EffectsSettings:
    """See the schema's `effects:` section for every key."""

    enabled: bool = _DEFAULTS["enabled"]
    latents: tuple[int, ...] = _DEFAULTS["latents"]
    n_controls: int = _DEFAULTS["n_controls"]
    n_windows: int = _DEFAULTS["n_windows"]
    z_threshold: float = _DEFAULTS["z_threshold"]
    seed: int = _DEFAULTS["seed"]
