"""What every concept family gets: the annotation, the genome arrays, the settings, shared derivations."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from dnalens.concepts.genome_data import GenomeSequence
from dnalens.concepts.settings import ConceptSettings
from dnalens.concepts.units import Junction, TranscriptUnit, junctions, transcript_units
from dnalens.genome.model import Annotation


@dataclass
class ConceptContext:
    annotation: Annotation
    genome: GenomeSequence
    settings: ConceptSettings = field(default_factory=ConceptSettings)
    base_dir: Path = field(default_factory=Path.cwd)  # relative motif/track paths resolve here

    @cached_property
    def lengths(self) -> dict[str, int]:
        return self.genome.lengths

    @cached_property
    def units(self) -> list[TranscriptUnit]:
        known = [
            u
            for u in transcript_units(self.annotation, self.lengths, self.genome.circular)
            if u.body and all(p.seqid in self.lengths for p in u.body)
        ]
        return known

    @cached_property
    def unit_junctions(self) -> dict[str, list[Junction]]:
        """Introns per unit id."""
        return {u.id: junctions(u.body, self.lengths, self.genome.circular, u.trans_spliced) for u in self.units}

    def on_genome(self, seqid: str) -> bool:
        return seqid in self.lengths

    def resolve(self, path: str) -> Path:
        p = Path(path)
        return p if p.is_absolute() else self.base_dir / p
