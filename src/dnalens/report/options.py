"""Settings of the report stage (config section `report:`; documented in config/README.md)."""

from __future__ import annotations

from dataclasses import dataclass

FALLBACK_THRESHOLDS = {"min_f1": 0.5, "min_auroc": 0.75, "max_q": 0.05}  # = the probing stage's defaults


@dataclass(frozen=True)
class ReportSettings:
    """What the biologist-facing outputs contain; defaults mirror workflow/schemas/config.schema.yaml."""

    # which features get per-nucleotide bigWig tracks; empty → the top `top_n_tracks` by held-out F1
    bigwig_features: tuple[int, ...] = ()
    top_n_tracks: int = 10
    # rows per feature in top_windows.tsv, and how many features (by held-out F1) get them
    top_windows: int = 5
    detailed_features: int = 200
    # hits.bed / hits.gff3 keep each feature's strongest hits up to this many (features.tsv counts all)
    max_hits_per_feature: int = 10000
    # a feature × concept pair passes as decided by the probing stage (its `annotated` column, from
    # probing.min_auroc / min_f1 / max_q / min_instances); any of these set → the report decides with
    # them on held-out metrics instead (an unset one falls back to FALLBACK_THRESHOLDS)
    min_f1: float | None = None
    min_auroc: float | None = None
    max_q: float | None = None
    # fraction of a feature's max above which it is "on" when it has no concept threshold
    hit_threshold: float = 0.5
    # bases shown either side of a top window's peak (top_windows.tsv `sequence`, report cards)
    sequence_flank: int = 40
    # report.html: feature cards, and bases either side of start codons / stops / splice sites
    max_cards: int = 24
    metagene_flank: int = 60
    max_anchors: int = 2000

    @property
    def overrides_probing(self) -> bool:
        return any(v is not None for v in (self.min_f1, self.min_auroc, self.max_q))

    def threshold(self, name: str) -> float:
        value = getattr(self, name)
        return FALLBACK_THRESHOLDS[name] if value is None else float(value)
