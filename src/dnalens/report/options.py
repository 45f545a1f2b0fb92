"""Settings of the report stage (config section `report:`; documented in config/README.md)."""

from __future__ import annotations

from dataclasses import dataclass

from dnalens.settings import schema_defaults

_DEFAULTS = schema_defaults("report")  # every default: workflow/schemas/config.schema.yaml


@dataclass(frozen=True)
class ReportSettings:
    """What the biologist-facing outputs contain (defaults: the schema, via schema_defaults)."""

    # genome-browser files (hits.bed.gz / hits.gff3.gz, per-strand bigWigs): every annotated latent that
    # fires, at most `top_n_tracks` of them (features.tsv order), plus the latents listed here
    bigwig_features: tuple[int, ...] = _DEFAULTS["bigwig_features"]
    top_n_tracks: int = _DEFAULTS["top_n_tracks"]
    # rows per latent in top_windows.tsv, and how many latents (features.tsv order) get them
    top_windows: int = _DEFAULTS["top_windows"]
    detailed_features: int = _DEFAULTS["detailed_features"]
    # hits.bed.gz / hits.gff3.gz keep each latent's strongest hits up to this many (features.tsv counts all)
    max_hits_per_feature: int = _DEFAULTS["max_hits_per_feature"]
    # a feature × concept pair passes when the probe stage marked it annotated (probe.min_auroc /
    # min_margin / max_q / min_instances) AND it meets every one of these that is set: an override can
    # only make the rule stricter, never pass a pair the probe stage rejected
    min_f1: float | None = _DEFAULTS["min_f1"]
    min_auroc: float | None = _DEFAULTS["min_auroc"]
    max_q: float | None = _DEFAULTS["max_q"]
    min_margin: float | None = _DEFAULTS["min_margin"]
    # fraction of a latent's max above which it is "on" when its label gives no threshold
    hit_threshold: float = _DEFAULTS["hit_threshold"]
    # bases shown either side of a top window's peak (top_windows.tsv `sequence`, report cards)
    sequence_flank: int = _DEFAULTS["sequence_flank"]
    # report.html: cards (annotated latents only), and bases either side of start codons / stops / splice sites
    max_cards: int = _DEFAULTS["max_cards"]
    metagene_flank: int = _DEFAULTS["metagene_flank"]
    max_anchors: int = _DEFAULTS["max_anchors"]
    # scatter: report_part jobs over latent ranges (workflow only; outputs do not depend on it)
    parts: int = _DEFAULTS["parts"]
    # the atlas across genomes: a latent "fires" in a genome when its activation frequency is above this
    atlas_min_frequency: float = _DEFAULTS["atlas_min_frequency"]
    # report.html: the share of latents that must reappear in the seed + 1 replicate (report/model_context.py)
    seed_agreement_bar: float = _DEFAULTS["seed_agreement_bar"]

    @property
    def overrides_probing(self) -> bool:
        return any(v is not None for v in (self.min_f1, self.min_auroc, self.max_q, self.min_margin))
