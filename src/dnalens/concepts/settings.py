"""The `concepts:` config section as a typed dataclass (defaults: workflow/schemas/config.schema.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from dnalens.errors import InputError
from dnalens.settings import from_mapping, schema_defaults

PROMOTER_ANCHORS = ("auto", "transcript", "operon")
MOTIF_FORMATS = ("auto", "jaspar", "meme", "minimal", "pfm", "transfac", "sites")
OPERON_KINGDOMS = frozenset(
    {
        "bacteria",
        "archaea",
        "prokaryote",
        "organelle",
        "plastid",
        "chloroplast",
        "mitochondrion",
        "mitochondria",
        "plasmid",
        "phage",
        "virus",
    }
)


@dataclass(frozen=True)
class MotifSpec:
    """A PWM file scanned with Bio.motifs; each motif in it becomes concept `motif_<name>`."""

    path: str
    format: str = "auto"
    threshold: float | None = None  # relative score in [0, 1]; None = ConceptSettings.motif_threshold


@dataclass(frozen=True)
class TrackSpec:
    """A BED or GFF3 file that becomes one concept with one instance per interval."""

    path: str
    name: str | None = None
    type: tuple[str, ...] = ()  # GFF3 feature types to keep (empty = all)


_DEFAULTS = schema_defaults("concepts")  # every default: workflow/schemas/config.schema.yaml


@dataclass(frozen=True)
class ConceptSettings:
    include: tuple[str, ...] = _DEFAULTS["include"]
    exclude: tuple[str, ...] = _DEFAULTS["exclude"]
    antisense: bool = _DEFAULTS["antisense"]
    keep_empty: bool = _DEFAULTS["keep_empty"]
    promoter_upstream: int = _DEFAULTS["promoter_upstream"]
    promoter_downstream: int = _DEFAULTS["promoter_downstream"]
    promoter_anchor: str = _DEFAULTS["promoter_anchor"]
    operon_max_gap: int = _DEFAULTS["operon_max_gap"]
    gc_window: int = _DEFAULTS["gc_window"]
    gc_delta: float = _DEFAULTS["gc_delta"]
    homopolymer_min: int = _DEFAULTS["homopolymer_min"]
    builtin_motif_threshold: float = _DEFAULTS["builtin_motif_threshold"]
    motif_threshold: float = _DEFAULTS["motif_threshold"]
    motifs: tuple[Any, ...] = _DEFAULTS["motifs"]
    tracks: tuple[Any, ...] = _DEFAULTS["tracks"]
    prokaryotic_signals: tuple[str, ...] = _DEFAULTS["prokaryotic_signals"]  # kingdoms with SD + sigma70 labels

    def __post_init__(self) -> None:
        if self.promoter_anchor not in PROMOTER_ANCHORS:
            raise InputError(
                f"concepts.promoter_anchor must be one of {PROMOTER_ANCHORS}, not {self.promoter_anchor!r}."
            )
        for key in ("promoter_upstream", "promoter_downstream", "operon_max_gap"):
            if getattr(self, key) < 0:
                raise InputError(f"concepts.{key} must be >= 0.")
        if self.gc_window < 1 or self.homopolymer_min < 2:
            raise InputError("concepts.gc_window must be >= 1 and concepts.homopolymer_min >= 2.")
        for key in ("builtin_motif_threshold", "motif_threshold", "gc_delta"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise InputError(f"concepts.{key} must lie in [0, 1].")

    @property
    def motif_specs(self) -> list[MotifSpec]:
        return [_spec(MotifSpec, m, "concepts.motifs") for m in self.motifs]

    @property
    def track_specs(self) -> list[TrackSpec]:
        specs = [_spec(TrackSpec, t, "concepts.tracks") for t in self.tracks]
        return [TrackSpec(s.path, s.name, (s.type,) if isinstance(s.type, str) else tuple(s.type)) for s in specs]

    def has_prokaryotic_signals(self, kingdom: str | None) -> bool:
        """Shine–Dalgarno and sigma70 labels only for these kingdoms (unknown kingdom: none)."""
        return (kingdom or "").lower() in {k.lower() for k in self.prokaryotic_signals}

    def promoter_mode(self, kingdom: str | None) -> str:
        if self.promoter_anchor != "auto":
            return self.promoter_anchor
        return "operon" if (kingdom or "").lower() in OPERON_KINGDOMS else "transcript"


def _spec(cls, value: Any, where: str):
    if isinstance(value, (str, Path)):
        value = {"path": str(value)}
    if not isinstance(value, Mapping) or "path" not in value:
        raise InputError(f"each entry of {where} needs a `path`.", fix="write `- {path: file}` or `- file`.")
    spec = from_mapping(cls, value, where=where)
    if isinstance(spec, MotifSpec) and spec.format not in MOTIF_FORMATS:
        raise InputError(f"{where}: format must be one of {MOTIF_FORMATS}, not {spec.format!r}.", path=spec.path)
    return spec


def concept_settings(data: Mapping[str, Any] | None) -> ConceptSettings:
    return from_mapping(ConceptSettings, data, where="concepts")
