"""Settings of the report stage (config section `report:`; documented in config/README.md)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReportSettings:
    """What the biologist-facing outputs contain; defaults mirror workflow/schemas/config.schema.yaml."""

    # genome-browser files (hits.bed.gz / hits.gff3.gz, per-strand bigWigs): every annotated latent that
    # fires, at most `top_n_tracks` of them (features.tsv order), plus the latents listed here
    bigwig_features: tuple[int, ...] = ()
    top_n_tracks: int = 100
    # rows per latent in top_windows.tsv, and how many latents (features.tsv order) get them
    top_windows: int = 5
    detailed_features: int = 200
    # hits.bed.gz / hits.gff3.gz keep each latent's strongest hits up to this many (features.tsv counts all)
    max_hits_per_feature: int = 10000
    # a feature × concept pair passes when the probing stage marked it annotated (probing.min_auroc /
    # min_margin / max_q / min_instances) AND it meets every one of these that is set: an override can
    # only make the rule stricter, never pass a pair the probing stage rejected
    min_f1: float | None = None
    min_auroc: float | None = None
    max_q: float | None = None
    min_margin: float | None = None
    # fraction of a latent's max above which it is "on" when its label gives no threshold
    hit_threshold: float = 0.5
    # bases shown either side of a top window's peak (top_windows.tsv `sequence`, report cards)
    sequence_flank: int = 40
    # report.html: cards (annotated latents only), and bases either side of start codons / stops / splice sites
    max_cards: int = 24
    metagene_flank: int = 60
    max_anchors: int = 2000

    @property
    def overrides_probing(self) -> bool:
        return any(v is not None for v in (self.min_f1, self.min_auroc, self.max_q, self.min_margin))
