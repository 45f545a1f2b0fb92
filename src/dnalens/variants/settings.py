"""The config's `variants:` section (how a genome's VCF is scored); every default comes from the schema."""

from __future__ import annotations

from dataclasses import dataclass

from dnalens.settings import schema_defaults

_DEFAULTS = schema_defaults("variants")  # every default: workflow/schemas/config.schema.yaml


@dataclass(frozen=True)
class VariantSettings:
    """Window and latent settings of `dnalens variants` (see the schema for every key)."""

    window: int = _DEFAULTS["window"]
    shared_span: int = _DEFAULTS["shared_span"]
    latent_window: int = _DEFAULTS["latent_window"]
    top_latents: int = _DEFAULTS["top_latents"]
    batch_size: int = _DEFAULTS["batch_size"]

    @property
    def max_allele(self) -> int:
        """Longest REF or ALT scored: a quarter of the window, so an indel never fills the window it is read in."""
        return self.window // 4
