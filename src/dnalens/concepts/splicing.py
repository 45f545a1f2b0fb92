"""Introns and splice sites, from consecutive transcript parts (see units.junctions for the rule)."""

from __future__ import annotations

from dnalens.concepts.context import ConceptContext
from dnalens.concepts.model import Concept, IntervalBuilder
from dnalens.concepts.units import Junction

FAMILY = "splicing"
CONCEPTS = {
    "intron": "between consecutive exons of a transcript on one strand, in order (not a trans-splice junction)",
    "splice_donor": "first 2 nt of each intron (GT in the canonical case)",
    "splice_acceptor": "last 2 nt of each intron (AG in the canonical case)",
    "exon_last_base": "last exon base before an intron",
    "exon_first_base": "first exon base after an intron",
}


def build(ctx: ConceptContext, wanted: set[str]) -> list[Concept]:
    builders = {name: IntervalBuilder() for name in CONCEPTS}
    seen: dict[str, set] = {name: set() for name in CONCEPTS}
    for u in ctx.units:
        for j in ctx.unit_junctions[u.id]:
            size = ctx.lengths[j.seqid]
            for name, parts in _sites(j, size).items():
                key = tuple(parts)
                if key not in seen[name]:
                    seen[name].add(key)
                    builders[name].add(parts, u.id, u.name)
    return [
        Concept(name, FAMILY, "region" if name == "intron" else "position", desc, intervals=builders[name].build())
        for name, desc in CONCEPTS.items()
        if name in wanted
    ]


def _sites(j: Junction, size: int) -> dict[str, list[tuple[str, int, int, str]]]:
    """Genome parts of each concept for one intron, in transcription order semantics."""
    step = -1 if j.strand == "-" else 1
    first = j.upstream_last + step  # first intron base (transcription order)
    last = j.downstream_first - step  # last intron base

    def at(*positions: int) -> list[tuple[str, int, int, str]]:
        parts = sorted({p % size for p in positions})
        out: list[tuple[str, int, int, str]] = []
        for p in parts:
            if out and out[-1][2] == p:
                out[-1] = (j.seqid, out[-1][1], p + 1, j.strand)
            else:
                out.append((j.seqid, p, p + 1, j.strand))
        return out

    donor = at(first, first + step) if j.length >= 2 else at(first)
    acceptor = at(last - step, last) if j.length >= 2 else at(last)
    return {
        "intron": [(j.seqid, s, e, j.strand) for s, e in j.parts],
        "splice_donor": donor,
        "splice_acceptor": acceptor,
        "exon_last_base": at(j.upstream_last),
        "exon_first_base": at(j.downstream_first),
    }
