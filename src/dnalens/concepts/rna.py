"""Non-coding RNA genes: tRNA, rRNA, ncRNA (one instance per transcript, mature parts only)."""

from __future__ import annotations

from dnalens.concepts.context import ConceptContext
from dnalens.concepts.model import Concept, IntervalBuilder
from dnalens.genome.model import NCRNA_TYPES

FAMILY = "rna"
TYPES = {"tRNA": frozenset({"tRNA"}), "rRNA": frozenset({"rRNA"}), "ncRNA": NCRNA_TYPES}
CONCEPTS = {
    "tRNA": "transfer RNA (mature exons; a tRNA intron is labelled intron)",
    "rRNA": "ribosomal RNA",
    "ncRNA": "other non-coding RNAs: " + ", ".join(sorted(NCRNA_TYPES)),
}


def build(ctx: ConceptContext, wanted: set[str]) -> list[Concept]:
    out = []
    for name, types in TYPES.items():
        if name not in wanted:
            continue
        b = IntervalBuilder()
        for u in ctx.units:
            if u.type in types:
                b.add([(p.seqid, p.start, p.end, p.strand) for p in u.body], u.id, u.name)
        out.append(Concept(name, FAMILY, "region", CONCEPTS[name], intervals=b.build()))
    return out
